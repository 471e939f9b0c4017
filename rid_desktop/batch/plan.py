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

from rid_desktop.batch.lock import is_marked
from rid_desktop.batch.manifest import MANIFEST_NAME, Manifest
from rid_desktop.errors import UserError
from rid_desktop.hashing import sha256_file_or_none
from rid_desktop.io.discovery import OUTPUT_FOLDER_SUFFIX, count_kinds, describe_skipped, scan_folder
from rid_desktop.io.discovery import resolved_path as _resolved
from rid_desktop.io.writer import output_path_for
from rid_desktop.settings import ProtectionSettings


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
    skipped: dict[Path, list[tuple[Path, str]]] = field(default_factory=dict)  # output root -> (file, kind)

    @property
    def pending(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == "pending"]

    @property
    def already_done(self) -> list[BatchItem]:
        return [item for item in self.items if item.state == "already-done"]

    def skipped_counts(self, output_root: Path | None = None) -> dict[str, int]:
        """Files left out as unsupported, counted by kind (for one output root, or all of them)."""
        return count_kinds(f for root, files in self.skipped.items() if output_root in (None, root) for f in files)

    def describe_skipped(self) -> str:
        """``"skipped: 3 videos, 2 RAW files (not supported)"``, or "" when nothing was left out."""
        return describe_skipped(self.skipped_counts())


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
    skipped: dict[Path, list[tuple[Path, str]]] = {}
    for root in walk_roots:
        found = scan_folder(root, recursive=recursive, skip=skip)
        roots[root].extend(found.images)
        problems.extend(found.problems)
        if found.skipped:
            skipped.setdefault(output_roots[root], []).extend(found.skipped)

    manifests = {out_root: Manifest.load(out_root) for out_root in set(output_roots.values())}
    items: list[BatchItem] = []
    seen_sources: set[Path] = set()
    for root, sources in roots.items():
        out_root = output_roots[root]
        for source in sources:
            key = _resolved(source)
            if key in seen_sources:
                continue
            seen_sources.add(key)
            items.append(BatchItem(source, out_root, root, out_root))  # output named below
    _name_outputs(items, manifests, settings, name_suffix)
    for item in items:
        if _resolved(item.output) == _resolved(item.source):
            raise UserError(f"refusing to overwrite an original: {item.source}")

    used_roots = sorted({item.output_root for item in items}, key=str)
    for out_root in used_roots:
        _check_writable(out_root)
        _refuse_foreign_files(out_root, [item.output for item in items if item.output_root == out_root])
    warnings = _mark_already_done(items, {root: manifests[root] for root in used_roots}, settings)
    return BatchPlan(items, settings, used_roots, problems, warnings, skipped)


def _name_outputs(items: list[BatchItem], manifests: dict[Path, Manifest], settings: ProtectionSettings,
                  name_suffix: str = "") -> None:
    """Give every item an output path that stays the same from run to run.

    Two sources can want one output (``a.heic`` and ``a.jpg`` both become ``a.jpg``). The plain name
    goes, in this order, to: the source the manifest already records for it (while that source still
    exists, so adding a file never renames an earlier output); a source whose own suffix is the output's
    (``a.jpg`` keeps ``a.jpg``); then walk order. The others get ``a (2).jpg``, ``a (3).jpg``, ...
    """
    used: set[Path] = set()
    recorded: dict[Path, dict[str, Path]] = {}  # per output root: source (relative) -> recorded output
    for out_root, manifest in manifests.items():
        input_roots = {item.input_root for item in items if item.output_root == out_root}
        recorded[out_root] = {}
        for key, entry in manifest.entries.items():
            source = entry.get("source")
            if entry.get("status") != "protected" or not isinstance(source, str):
                continue
            if any(os.path.lexists(root / source) for root in input_roots):  # still there: its name stays
                used.add(out_root / key)
                recorded[out_root][source] = out_root / key
    for item in sorted(items, key=lambda item: _renamed_by_format(item, settings)):  # stable sort
        natural = with_name_suffix(output_path_for(item.source, item.input_root, item.output_root, settings.output),
                                   name_suffix)
        earlier = recorded[item.output_root].get(item.relative_source)
        if earlier is not None and _same_name_family(earlier, natural):
            item.output = earlier
        else:
            item.output = _unique(natural, used)
            used.add(item.output)


def _same_name_family(earlier: Path, natural: Path) -> bool:
    """``earlier`` is ``natural`` or one of its collision variants (``a (2).jpg``): keep it. A name
    from other settings (another suffix option, another format) is not."""
    if earlier.parent != natural.parent or earlier.suffix != natural.suffix:
        return False
    return earlier.stem == natural.stem or (earlier.stem.startswith(natural.stem + " (")
                                            and earlier.stem.endswith(")"))


def _renamed_by_format(item: BatchItem, settings: ProtectionSettings) -> bool:
    """True when the output's suffix differs from the source's (``a.heic`` -> ``a.jpg``)."""
    natural = output_path_for(item.source, item.input_root, item.output_root, settings.output)
    return natural.suffix != item.source.suffix


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


def _unique(output: Path, used: set[Path]) -> Path:
    """Keep two inputs from writing the same output (e.g. a.jpg from two folders merged by -o)."""
    candidate, number = output, 2
    while candidate in used:
        candidate = output.with_name(f"{output.stem} ({number}){output.suffix}")
        number += 1
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
    """Refuse up front a folder RID Desktop never wrote to that already holds files at output paths.

    Outputs are only ever written into a folder holding our manifest and lock file (the runner creates
    both before the first image), so a folder with neither — e.g. a folder of originals chosen with
    ``-o`` — is refused before any work. In a folder we did write to, the runner checks each existing
    file at write time instead: only one the manifest records as ours (size + SHA-256), or one already
    holding exactly the new bytes (an output whose entry was lost), is ever replaced.
    """
    if os.path.lexists(out_root / MANIFEST_NAME) or is_marked(out_root):
        return
    taken = [output for output in outputs if os.path.lexists(output)]
    if taken:
        raise UserError(
            f"the output folder {out_root} already holds files RID Desktop did not write "
            f"(e.g. {taken[0].relative_to(out_root).as_posix()}); choose another output folder"
        )


def _mark_already_done(items: list[BatchItem], manifests: dict[Path, Manifest], settings: ProtectionSettings) -> list[str]:
    """Mark items the manifest shows as done; hashes only files that have a matching entry."""
    fingerprint = settings.fingerprint()
    for item in items:
        manifest = manifests[item.output_root]
        entry = manifest.candidate(item.output, fingerprint)
        if entry and os.path.isfile(item.output) and sha256_file_or_none(item.source) == entry.get("input_sha256"):
            item.state = "already-done"
    return [m.warning for m in manifests.values() if m.warning]
