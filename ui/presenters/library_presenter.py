"""The library side of the window: sources, folder scans, statuses remembered from manifests, context menu.

Statuses survive a restart because they are read back from the manifests the batches wrote
(:func:`rid_desktop.batch.history.recorded_results`) as each source finishes scanning, not from a
cache of our own that could drift from what is on disk.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMenu

from ui.models.library_model import Status
from ui.models.scanner import FolderScanner, is_supported
from ui.presenters.batch_presenter import normalise
from ui.views import dialogs


def skipped_summary(skipped: list[tuple[str, str]]) -> str:
    """'skipped: 3 videos, 2 RAW files (not supported)' from (path, reason) pairs, most common first."""
    if not skipped:
        return ""
    counts = Counter(reason for _path, reason in skipped)
    parts = [f"{n} {reason}" for reason, n in counts.most_common()]
    return "skipped: " + ", ".join(parts) + " (not supported)"


class LibraryPresenter(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.sources: list[str] = []
        self.skipped: dict[str, list[tuple[str, str]]] = {}  # source -> (path, reason) not listed
        self.scanner = FolderScanner(self)
        self.scanner.found.connect(self._on_found)
        self.scanner.done.connect(self._on_done)
        self.scanner.skipped.connect(self._on_skipped_counts)
        self.skipped_counts: dict[str, dict[str, int]] = {}  # source -> {kind: count} from the core's walk
        grid = window.library.grid
        grid.customContextMenuRequested.connect(self.show_context_menu)

    # --- sources ----------------------------------------------------------------------------------
    def add_sources(self, paths: list[Path], remember: bool = True) -> int:
        """Add folders/files to the library; folders are scanned in the background. Returns sources added."""
        w = self.window
        added, refused = 0, []
        for raw in paths:
            path = normalise(raw)
            key = str(path)
            if key in self.sources:
                continue
            if path.is_dir():
                self.scanner.scan(path)
                if remember:
                    w.settings.remember_folder(key)
            elif path.is_file() and is_supported(path):
                w.model.add_paths([path])
            else:
                refused.append(path.name)
                continue
            self.sources.append(key)
            added += 1
            if path.is_file():
                self.restore_statuses([key])
        if added:
            w.library.set_sources(self.sources)
            w.settings.library = list(self.sources)
            w.save_settings()
            w.refresh_scope()
        if refused:
            w.statusBar().showMessage(f"Not a supported photo or folder: {', '.join(refused[:3])}", 8000)
        return added

    def remove_sources(self, sources: list[str]) -> None:
        w = self.window
        if w.batch.is_running():
            w.statusBar().showMessage("Wait for the batch to finish before removing photos", 5000)
            return
        for source in sources:
            if source in self.sources:
                self.sources.remove(source)
                self.skipped.pop(source, None)
                self.skipped_counts.pop(source, None)
                w.model.remove_under(Path(source))
        w.library.set_sources(self.sources)
        w.settings.library = list(self.sources)
        w.save_settings()
        self._show_skipped()
        w.refresh_scope()

    def _on_found(self, source: str, found: list) -> None:
        if source in self.sources:
            self.window.model.add_paths([normalise(p) for p in found])

    def _on_done(self, source: str, count: int, skipped: list | None = None) -> None:
        if source not in self.sources:
            return
        self.restore_statuses([source])
        if skipped is not None:
            self.set_skipped(source, skipped)
        self.window.statusBar().showMessage(f"{Path(source).name}: {count} photo{'s' if count != 1 else ''}", 5000)
        self.window.refresh_scope()

    def set_skipped(self, source: str, skipped: list[tuple[str, str]]) -> None:
        """Files a scan did not list, with their reason (from the core's discovery function)."""
        self.skipped[source] = list(skipped)
        self._show_skipped()

    def _on_skipped_counts(self, source: str, counts: dict) -> None:
        """The scanner's counts by kind (``io.discovery``): "skipped: 3 videos, 2 RAW files (not supported)"."""
        self.skipped_counts[source] = dict(counts)
        self._show_skipped()

    def _show_skipped(self) -> None:
        from rid_desktop.io.discovery import count_kinds, describe_skipped

        everything = [pair for pairs in self.skipped.values() for pair in pairs]
        counted = {s: c for s, c in self.skipped_counts.items() if c and s not in self.skipped}
        if counted and not everything:
            text = describe_skipped(count_kinds((), *counted.values()))
            detail = "\n".join(f"{Path(s).name}: {describe_skipped(c)}" for s, c in counted.items())
            self.window.library.set_skipped_text(text, detail)
            return
        self.window.library.set_skipped_text(skipped_summary(everything),
                                             "\n".join(f"{Path(p).name}: {r}" for p, r in everything[:40]))

    # --- statuses from earlier runs -------------------------------------------------------------------
    def restore_statuses(self, sources: list[str]) -> int:
        """Show what earlier batches recorded for photos under ``sources``; returns photos updated."""
        from rid_desktop.batch.history import recorded_results

        w = self.window
        try:
            results = recorded_results([Path(s) for s in sources], w.settings.to_protection())
        except Exception as exc:  # a damaged manifest must never stop the window from opening
            w.statusBar().showMessage(f"Could not read earlier results: {exc}", 8000)
            return 0
        updated = 0
        for path, result in results.items():
            entry = w.model.entry(path)
            if entry is None or entry.status == Status.WORKING:
                continue
            status = Status.PROTECTED if result.status == "protected" else Status.FAILED
            w.model.set_status(path, status, result.reason, result.output)
            updated += 1
        return updated

    # --- context menu ---------------------------------------------------------------------------------
    def show_context_menu(self, pos: QPoint) -> QMenu | None:
        w = self.window
        grid = w.library.grid
        index = grid.indexAt(pos)
        if not index.isValid():
            return None
        if not grid.selectionModel().isSelected(index):
            grid.setCurrentIndex(index)
        entry = w.model.entries()[index.row()]
        menu = QMenu(grid)
        menu.setObjectName("thumbnail-menu")
        has_output = entry.output is not None and entry.output.is_file()
        open_copy = menu.addAction("Open protected copy", functools.partial(self.open_file, entry.output))
        open_copy.setEnabled(has_output)
        shown = menu.addAction("Show in folder",
                               functools.partial(self.open_file, (entry.output if has_output else entry.path).parent))
        shown.setEnabled(True)
        menu.addSeparator()
        menu.addAction(w.protect_selected_action)
        menu.addAction("Compare", functools.partial(w.show_compare_tab))
        menu.addSeparator()
        remove = menu.addAction("Remove from library", functools.partial(self.remove_entry, entry.path))
        remove.setEnabled(not w.batch.is_running())
        w.last_menu = menu
        menu.popup(grid.viewport().mapToGlobal(pos))
        return menu

    def open_file(self, path: Path | None) -> bool:
        if path is None or not Path(path).exists() or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.window.last_dialog = dialogs.error(
                self.window, "Cannot open", f"Could not open {path}. It may have been moved or deleted.")
            return False
        return True

    def remove_entry(self, path: Path) -> None:
        """Remove one photo: its own source if it was added alone, else just its row (files untouched)."""
        key = str(path)
        if key in self.sources:
            self.remove_sources([key])
        else:
            self.window.model.remove_under(path)
            self.window.refresh_scope()
