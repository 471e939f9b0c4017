"""Find the photos under the folders/files a person added, off the UI thread.

A deep folder tree on a slow or network drive can take seconds to walk, so the walk runs on a
worker and hands rows to the model in chunks; the window stays responsive and fills in as it goes.
The walk itself is the core's (:mod:`rid_desktop.io.discovery`), the same one the batch planner
uses: each folder once (symlink loops included), our own output folders never listed, and every
unsupported file counted by kind so the window can say "skipped: 3 videos, 2 RAW files".
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from rid_desktop.io.discovery import Discovery, count_kinds, describe_skipped, iter_folder, skip_kind

CHUNK = 500


def is_supported(path: Path) -> bool:
    return skip_kind(path) is None and not path.name.startswith(".")


def iter_images(root: Path, found: Discovery, recursive: bool = True):
    """Yield the images under ``root`` (or ``root`` itself when it is a supported file), in walk order.

    ``found`` collects what was skipped and which folders could not be read.
    """
    root = Path(root)
    if root.is_file():
        if is_supported(root):
            found.images.append(root)
            yield root
        elif not root.name.startswith("."):
            found.skipped.append((root, skip_kind(root)))
        return
    yield from iter_folder(root, found, recursive=recursive)


class _ScanSignals(QObject):
    found = Signal(str, list)  # source, [Path, ...]
    skipped = Signal(str, dict)  # source, {kind: count}
    done = Signal(str, int)  # source, total found


class _ScanTask(QRunnable):
    def __init__(self, source: Path, recursive: bool, signals: _ScanSignals):
        super().__init__()
        self.source, self.recursive, self.signals = source, recursive, signals

    def run(self) -> None:
        chunk: list[Path] = []
        total = 0
        found = Discovery()
        for path in iter_images(self.source, found, self.recursive):
            chunk.append(path)
            if len(chunk) >= CHUNK:
                self.signals.found.emit(str(self.source), chunk)
                total += len(chunk)
                chunk = []
        if chunk:
            self.signals.found.emit(str(self.source), chunk)
            total += len(chunk)
        self.signals.skipped.emit(str(self.source), found.skipped_counts())
        self.signals.done.emit(str(self.source), total)


class FolderScanner(QObject):
    """``scan(path)`` emits ``found(source, paths)`` chunks, ``skipped(source, counts)`` then ``done(source, count)``.

    ``skipped_counts[source]`` keeps each source's unsupported files by kind (``{"video": 3, "raw": 2}``),
    and :meth:`skipped_summary` says it in words, for the window to show.
    """

    found = Signal(str, list)
    skipped = Signal(str, dict)
    done = Signal(str, int)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one disk walk at a time keeps the order of sources
        self._signals = _ScanSignals(self)
        self._signals.found.connect(self.found)
        self._signals.skipped.connect(self._on_skipped)
        self._signals.done.connect(self._on_done)
        self._active = 0
        self.skipped_counts: dict[str, dict[str, int]] = {}

    def scan(self, source: Path, recursive: bool = True) -> None:
        self._active += 1
        self.pool.start(_ScanTask(Path(source), recursive, self._signals))

    def busy(self) -> bool:
        return self._active > 0

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)

    def skipped_summary(self) -> str:
        """``"skipped: 3 videos, 2 RAW files (not supported)"`` over every source scanned; "" if none."""
        return describe_skipped(count_kinds((), *self.skipped_counts.values()))

    def _on_skipped(self, source: str, counts: dict) -> None:
        self.skipped_counts[source] = counts
        self.skipped.emit(source, counts)

    def _on_done(self, source: str, count: int) -> None:
        self._active -= 1
        self.done.emit(source, count)
