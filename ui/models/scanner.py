"""Find the photos under the folders/files a person added, off the UI thread.

A deep folder tree on a slow or network drive can take seconds to walk, so the walk runs on a
worker and hands rows to the model in chunks; the window stays responsive and fills in as it goes.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from rid_desktop.io import SUPPORTED_SUFFIXES

CHUNK = 500


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES and not path.name.startswith(".")


def iter_images(root: Path, recursive: bool = True):
    """Yield supported image files under ``root`` in a stable (sorted) order.

    Hidden files/folders and our own ``*-protected`` output folders are skipped, so protected
    copies never show up as new work.
    """
    root = Path(root)
    if root.is_file():
        if is_supported(root):
            yield root
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name.lower())
    except OSError:
        return
    subdirs = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if recursive and not entry.name.endswith("-protected"):
                    subdirs.append(Path(entry.path))
            elif entry.is_file() and is_supported(Path(entry.name)):
                yield Path(entry.path)
        except OSError:
            continue
    for sub in subdirs:
        yield from iter_images(sub, recursive)


class _ScanSignals(QObject):
    found = Signal(str, list)  # source, [Path, ...]
    done = Signal(str, int)  # source, total found


class _ScanTask(QRunnable):
    def __init__(self, source: Path, recursive: bool, signals: _ScanSignals):
        super().__init__()
        self.source, self.recursive, self.signals = source, recursive, signals

    def run(self) -> None:
        chunk: list[Path] = []
        total = 0
        for path in iter_images(self.source, self.recursive):
            chunk.append(path)
            if len(chunk) >= CHUNK:
                self.signals.found.emit(str(self.source), chunk)
                total += len(chunk)
                chunk = []
        if chunk:
            self.signals.found.emit(str(self.source), chunk)
            total += len(chunk)
        self.signals.done.emit(str(self.source), total)


class FolderScanner(QObject):
    """``scan(path)`` emits ``found(source, paths)`` chunks then ``done(source, count)``."""

    found = Signal(str, list)
    done = Signal(str, int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one disk walk at a time keeps the order of sources
        self._signals = _ScanSignals(self)
        self._signals.found.connect(self.found)
        self._signals.done.connect(self._on_done)
        self._active = 0

    def scan(self, source: Path, recursive: bool = True) -> None:
        self._active += 1
        self.pool.start(_ScanTask(Path(source), recursive, self._signals))

    def busy(self) -> bool:
        return self._active > 0

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    def _on_done(self, source: str, count: int) -> None:
        self._active -= 1
        self.done.emit(source, count)
