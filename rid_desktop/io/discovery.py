"""Find the photos under the folders a person gave, and say which files were left out and why.

One walk for every front end (the batch planner, the GUI's library scanner, ``check``), so they all
agree: sorted, depth-first, every real folder visited once (a symlink loop or a second link to a
folder does not list its photos twice), hidden entries ignored, our own output folders never entered.
Files the app does not handle are not dropped silently: each is returned with the kind of file it is,
so the CLI summary, the manifest and the GUI can say "skipped: 3 videos, 2 RAW files (not supported)".
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterable, Iterator

from rid_desktop.io.formats import SUPPORTED_SUFFIXES

MANIFEST_NAME = "rid-manifest.json"  # marks a folder RID Desktop writes into (see rid_desktop.batch.manifest)
OUTPUT_FOLDER_SUFFIX = "-protected"
LOCK_NAME = ".rid-desktop.lock"  # written by rid_desktop.batch.lock; marks a folder we write into

# What an unsupported file is, by suffix; anything else is an "other file".
SKIP_KINDS: dict[str, frozenset[str]] = {
    "raw": frozenset({".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".dng", ".raf", ".orf",
                      ".rw2", ".rwl", ".pef", ".srw", ".x3f", ".raw", ".3fr", ".erf", ".kdc", ".mrw", ".dcr",
                      ".iiq", ".mef", ".mos"}),
    "video": frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".wmv", ".3gp", ".mts", ".m2ts",
                        ".mpg", ".mpeg", ".flv", ".vob", ".lrv", ".insv"}),
    "gif": frozenset({".gif"}),
    "sidecar": frozenset({".xmp", ".aae", ".thm", ".pp3", ".dop", ".on1", ".xml", ".json"}),
}
# How a count of each kind reads (singular, plural).
KIND_WORDS: dict[str, tuple[str, str]] = {
    "video": ("video", "videos"),
    "raw": ("RAW file", "RAW files"),
    "gif": ("GIF", "GIFs"),
    "sidecar": ("sidecar file", "sidecar files"),
    "other": ("other file", "other files"),
}


def skip_kind(path: Path) -> str | None:
    """None for a supported image; otherwise the kind of file it is ("raw", "video", "gif", ...)."""
    suffix = Path(path).suffix.lower()
    if suffix in SUPPORTED_SUFFIXES:
        return None
    for kind, suffixes in SKIP_KINDS.items():
        if suffix in suffixes:
            return kind
    return "other"


@dataclass
class Discovery:
    """What a walk found.

    Attributes:
        images: supported image files, in walk order.
        skipped: (file, kind) for each file left out because the app does not handle it.
        problems: (folder, reason) for each folder that could not be read.
    """

    images: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def skipped_counts(self) -> dict[str, int]:
        """Skipped files counted by kind, most common first (plain data for the GUI and the manifest)."""
        return count_kinds(self.skipped)

    def extend(self, other: "Discovery") -> None:
        self.images.extend(other.images)
        self.skipped.extend(other.skipped)
        self.problems.extend(other.problems)


def count_kinds(skipped: Iterable[tuple[Path, str]] = (), *counts: dict[str, int]) -> dict[str, int]:
    """Skipped files counted by kind, plus any earlier counts, most common first: ``{"video": 3, "raw": 2}``."""
    total: Counter[str] = Counter(kind for _, kind in skipped)
    for more in counts:
        total.update(more)
    order = list(KIND_WORDS)
    return dict(sorted(total.items(), key=lambda kv: (-kv[1], order.index(kv[0]) if kv[0] in order else len(order))))


def describe_skipped(counts: dict[str, int]) -> str:
    """``"skipped: 3 videos, 2 RAW files (not supported)"``; empty when nothing was skipped."""
    parts = []
    for kind, count in counts.items():
        one, many = KIND_WORDS.get(kind, (f"{kind} file", f"{kind} files"))
        parts.append(f"{count} {one if count == 1 else many}")
    return f"skipped: {', '.join(parts)} (not supported)" if parts else ""


def is_output_folder(path: Path, skip: Collection[Path] = ()) -> bool:
    """Our own outputs are never inputs: chosen with -o, or holding our manifest or lock file.

    A folder that is merely *named* ``*-protected`` (the user's own "Wedding-protected") is walked
    like any other.
    """
    if skip and resolved_path(path) in skip:
        return True
    # False when unreadable: the walk then reports the folder
    return os.path.lexists(path / MANIFEST_NAME) or os.path.lexists(path / LOCK_NAME)


def scan_folder(root: Path, *, recursive: bool = True, skip: Collection[Path] = ()) -> Discovery:
    """Walk ``root``: its images, the files it skipped and the folders it could not read.

    Args:
        root: the folder to walk.
        recursive: include sub-folders.
        skip: resolved folders not to enter besides the usual output folders (e.g. the chosen -o).
    """
    found = Discovery()
    for _ in iter_folder(root, found, recursive=recursive, skip=skip):
        pass
    return found


def iter_folder(root: Path, found: Discovery, *, recursive: bool = True,
                skip: Collection[Path] = ()) -> Iterator[Path]:
    """Like :func:`scan_folder`, yielding each image as soon as it is found (the GUI fills in as it goes).

    ``found`` collects everything (images, skipped files, problems) along the way.
    """
    visited: set[tuple[int, int]] = set()
    skip = {resolved_path(Path(p)) for p in skip}
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            found.problems.append((folder, f"cannot read folder: {exc.strerror or exc}"))
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
                if recursive and not is_output_folder(path, skip):
                    subfolders.append(path)
            elif is_file:
                kind = skip_kind(path)
                if kind is None:
                    found.images.append(path)
                    yield path
                elif entry.name != MANIFEST_NAME:
                    found.skipped.append((path, kind))
        stack.extend(reversed(subfolders))


def discover(paths: Collection[Path], *, recursive: bool = True) -> Discovery:
    """Images among ``paths``: folders walked, files kept when supported (else skipped with their kind)."""
    found = Discovery()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(scan_folder(path, recursive=recursive))
        elif path.is_file():
            kind = skip_kind(path)
            if kind is None:
                found.images.append(path)
            else:
                found.skipped.append((path, kind))
    return found


def resolved_path(path: Path) -> Path:
    """The real path (links followed); the absolute path when that fails (a loop, a vanished parent)."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
