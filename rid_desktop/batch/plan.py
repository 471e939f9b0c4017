"""Build a whole batch plan before any work starts (Vorta's ``prepare()``), so it can be checked and tested.

The plan walks the given files and folders, decides every output path, refuses unusable output
folders up front, and marks images the manifest says are already protected (same bytes, same
settings, output still present) so a re-run resumes instead of starting over.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from rid_desktop.batch.manifest import MANIFEST_NAME, Manifest, sha256_file
from rid_desktop.errors import UserError
from rid_desktop.io.formats import SUPPORTED_SUFFIXES
from rid_desktop.io.writer import output_path_for
from rid_desktop.settings import ProtectionSettings

OUTPUT_FOLDER_SUFFIX = "-protected"


@dataclass
class BatchItem:
    """One image to protect.

    Attributes:
        source: the original (never written).
        output: where its protected copy goes.
        input_root: the folder ``source`` is mirrored from.
        output_root: the folder holding ``output`` and the manifest.
        state: "pending" or "already-done" (skipped by the runner).
    """

    source: Path
    output: Path
    input_root: Path
    output_root: Path
    state: str = "pending"

    @property
    def relative_source(self) -> str:
        try:
            return self.source.relative_to(self.input_root).as_posix()
        except ValueError:
            return self.source.name


@dataclass
class BatchPlan:
    """Everything the runner needs; nothing has been written when it exists."""

    items: list[BatchItem]
    settings: ProtectionSettings
    output_roots: list[Path]
    problems: list[tuple[Path, str]] = field(default_factory=list)  # e.g. unreadable sub-folders
    warnings: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == "pending"]

    @property
    def already_done(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == "already-done"]


def plan_batch(
    inputs: list[Path], settings: ProtectionSettings, *, recursive: bool = True, name_suffix: str = ""
) -> BatchPlan:
    """Plan protecting ``inputs`` (files and/or folders) with ``settings``.

    Folders are walked (recursively unless ``recursive=False``) for supported images, skipping hidden
    entries, our own output folders and symlink loops. Files named directly are always included (an
    unsupported one then fails with its reason). Default output: ``<folder>-protected`` beside each
    input folder (for files: beside their folder), mirroring sub-folders. ``name_suffix`` marks each
    copy's name (``"_protected"``: ``a.jpg`` -> ``a_protected.jpg``), see :func:`with_name_suffix`.

    Raises:
        UserError: no inputs, a path that does not exist or cannot be opened, an output folder that
            cannot be used, or one that already holds files RID Desktop did not write at the planned
            output paths (never overwritten).
    """
    if not inputs:
        raise UserError("no files or folders given")
    roots: dict[Path, list[Path]] = {}
    walk_roots: list[Path] = []
    for raw in inputs:
        path = Path(os.path.abspath(Path(raw).expanduser()))
        if _input_kind(path) == "folder":
            roots.setdefault(path, [])
            walk_roots.append(path)
        else:
            roots.setdefault(path.parent, []).append(path)

    output_roots = _output_roots(list(roots), settings)
    skip = {_resolved(root) for root in output_roots.values()}
    problems: list[tuple[Path, str]] = []
    for root in walk_roots:
        roots[root].extend(_walk(root, recursive=recursive, skip=skip, problems=problems))

    items: list[BatchItem] = []
    seen_sources: set[Path] = set()
    used_outputs: set[Path] = set()
    for root, sources in roots.items():
        out_root = output_roots[root]
        for source in sources:
            key = _resolved(source)
            if key in seen_sources:
                continue
            seen_sources.add(key)
            output = with_name_suffix(output_path_for(source, root, out_root, settings.output), name_suffix)
            output = _unique(output, used_outputs)
            if _resolved(output) == key:
                raise UserError(f"refusing to overwrite an original: {source}")
            items.append(BatchItem(source, output, root, out_root))

    used_roots = sorted({item.output_root for item in items}, key=str)
    for out_root in used_roots:
        _check_writable(out_root)
        _refuse_foreign_files(out_root, [item.output for item in items if item.output_root == out_root])
    warnings = _mark_already_done(items, used_roots, settings)
    return BatchPlan(items, settings, used_roots, problems, warnings)


# --- output naming option (kept separate from the planning rules above) ---------------------------
NAME_SUFFIX_MAX = 40


def check_name_suffix(suffix: str) -> str:
    """The suffix as given when it can be part of a file name; UserError with the reason otherwise."""
    if len(suffix) > NAME_SUFFIX_MAX:
        raise UserError(f"the name suffix is too long ({len(suffix)} characters; at most {NAME_SUFFIX_MAX})")
    bad = sorted({c for c in suffix if c in '/\\:*?"<>|' or ord(c) < 32})
    if bad:
        raise UserError(f"the name suffix cannot contain {' '.join(repr(c) for c in bad)}")
    if suffix.strip(". ") == "" and suffix:
        raise UserError("the name suffix needs a letter or digit")
    return suffix


def with_name_suffix(output: Path, suffix: str) -> Path:
    """``photo.jpg`` -> ``photo_protected.jpg`` for ``suffix="_protected"`` (Fawkes writes ``_cloaked``),
    so copies are not mistaken for originals when posted; an empty suffix keeps the original name."""
    if not suffix:
        return output
    return output.with_name(f"{output.stem}{check_name_suffix(suffix)}{output.suffix}")


def _input_kind(path: Path) -> str:
    """'folder' or 'file' for a path given by the user; UserError with a one-line reason otherwise."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        if os.path.lexists(path):
            raise UserError(f"not a file or folder (broken link?): {path}") from None
        raise UserError(f"no such file or folder: {path}") from None
    except PermissionError:
        raise UserError(f"permission denied: cannot open {path}") from None
    except OSError as exc:  # ELOOP (a link pointing at itself), ENAMETOOLONG, I/O errors
        raise UserError(f"cannot open {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    if stat.S_ISREG(info.st_mode):
        return "file"
    raise UserError(f"not a file or folder: {path}")


def _output_roots(roots: list[Path], settings: ProtectionSettings) -> dict[Path, Path]:
    chosen = settings.output.output_dir
    result: dict[Path, Path] = {}
    names: set[str] = set()
    for root in roots:
        if chosen is None:
            out = root.parent / f"{root.name or 'photos'}{OUTPUT_FOLDER_SUFFIX}"
        else:
            base = Path(os.path.abspath(Path(chosen).expanduser()))
            if len(roots) == 1:
                out = base
            else:  # several input folders share -o: keep them apart by folder name
                name = root.name or "photos"
                while name in names:
                    name += "-2"
                names.add(name)
                out = base / name
        if _resolved(out) == _resolved(root):
            raise UserError(f"the output folder must differ from the input folder: {root}")
        result[root] = out
    return result


def _walk(root: Path, *, recursive: bool, skip: set[Path], problems: list[tuple[Path, str]]) -> list[Path]:
    """Supported image files under ``root``, sorted, depth-first, each folder visited once."""
    found: list[Path] = []
    visited: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            problems.append((folder, f"cannot read folder: {exc.strerror or exc}"))
            continue
        identity = (info.st_dev, info.st_ino)
        if identity in visited:  # a symlink loop or a second link to a folder already walked
            continue
        visited.add(identity)
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
                is_file = not is_dir and entry.is_file()
            except OSError:
                continue
            path = Path(entry.path)
            if is_dir:
                if recursive and not _is_output_folder(path, skip):
                    subfolders.append(path)
            elif is_file and path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(path)
        stack.extend(reversed(subfolders))
    return found


def _is_output_folder(path: Path, skip: set[Path]) -> bool:
    """Our own outputs are never inputs: named ``*-protected``, holding a manifest, or chosen with -o."""
    if path.name.endswith(OUTPUT_FOLDER_SUFFIX) or _resolved(path) in skip:
        return True
    return os.path.lexists(path / MANIFEST_NAME)  # False when unreadable: the walk then reports the folder


def _unique(output: Path, used: set[Path]) -> Path:
    """Keep two inputs from writing the same output (e.g. a.jpg from two folders merged by -o)."""
    candidate, number = output, 2
    while candidate in used:
        candidate = output.with_name(f"{output.stem} ({number}){output.suffix}")
        number += 1
    used.add(candidate)
    return candidate


def _check_writable(folder: Path) -> None:
    try:
        _check_writable_folder(folder)
    except OSError as exc:  # e.g. a parent folder we may not even look into
        raise UserError(f"cannot use the output folder {folder}: {exc.strerror or exc}") from None


def _check_writable_folder(folder: Path) -> None:
    if folder.exists():
        if not folder.is_dir():
            raise UserError(f"the output path exists and is not a folder: {folder}")
        target = folder
    else:
        target = folder.parent
        while not target.exists() and target != target.parent:
            target = target.parent
        if not target.is_dir():
            raise UserError(f"cannot create the output folder {folder}: {target} is not a folder")
    if not os.access(target, os.W_OK | os.X_OK):
        raise UserError(f"the output folder is not writable: {target}")


def _refuse_foreign_files(out_root: Path, outputs: list[Path]) -> None:
    """Never overwrite a file RID Desktop did not write.

    Outputs are only ever written into a folder holding our manifest (the runner creates it before the
    first image), so an existing output path in a folder *without* one belongs to someone else — e.g.
    a folder of originals chosen with ``-o``.
    """
    if os.path.lexists(out_root / MANIFEST_NAME):
        return
    taken = [output for output in outputs if os.path.lexists(output)]
    if taken:
        raise UserError(
            f"the output folder {out_root} already holds files RID Desktop did not write "
            f"(e.g. {taken[0].relative_to(out_root).as_posix()}); choose another output folder"
        )


def _mark_already_done(items: list[BatchItem], roots: list[Path], settings: ProtectionSettings) -> list[str]:
    """Mark items the manifest shows as done; hashes only files that have a matching entry."""
    fingerprint = settings.fingerprint()
    manifests = {root: Manifest.load(root) for root in roots}
    for item in items:
        manifest = manifests[item.output_root]
        entry = manifest.candidate(item.output, fingerprint)
        if entry and os.path.isfile(item.output) and sha256_file(item.source) == entry.get("input_sha256"):
            item.state = "already-done"
    return [m.warning for m in manifests.values() if m.warning]


def _resolved(path: Path) -> Path:
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
