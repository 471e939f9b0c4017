"""The main window: library on the left, preview in the middle, settings and Protect on the right.

It wires widgets to workers and turns core events/errors into statuses and dialogs. No protection
logic lives here: planning and running batches is :mod:`rid_desktop.batch`, decoding is
:mod:`rid_desktop.io`, metrics are :mod:`rid_desktop.checks`.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from rid_desktop.errors import ModelError, OutputError, UserError
from ui import settings_store
from ui.models.library_model import LibraryModel, Status
from ui.models.scanner import FolderScanner, is_supported
from ui.resources import app_icon
from ui.settings_store import GuiSettings
from ui.views import dialogs
from ui.views.library_view import LibraryPanel
from ui.views.preview_pane import PreviewPane
from ui.views.robustness_bars import BarRow
from ui.views.run_panel import RunPanel, format_duration
from ui.views.settings_panel import SettingsPanel
from ui.workers import BatchController, EngineFactory, PreviewService, default_engine_factory, friendly_message

PREVIEW_DEBOUNCE_MS = 200


def normalise(path: str | os.PathLike) -> Path:
    """Absolute path without resolving symlinks: the key the library and batch events share."""
    return Path(os.path.abspath(os.fspath(path)))


def available_engines() -> list[tuple[str, str, str]]:
    from rid_desktop.engines import list_engines

    return [(e.name, e.label, e.description) for e in list_engines()]


def available_devices() -> list[tuple[str, str]]:
    from rid_desktop.device import available_devices as core_devices

    return core_devices()


class MainWindow(QMainWindow):
    """The RID Desktop window.

    Args:
        engine_factory: ``factory(name, device) -> Engine``; tests inject a small fast engine.
        engines: (name, label, description) rows for the method menu; default: the core registry.
        settings_path: where GUI settings live; default under the user config folder.
        first_run_models: find or install the surrogate models in the background until that has
            succeeded once (the installed app's first run; see :meth:`ensure_surrogates`).
    """

    def __init__(
        self,
        *,
        engine_factory: EngineFactory | None = None,
        engines: list[tuple[str, str, str]] | None = None,
        settings_path: Path | None = None,
        first_run_models: bool = False,
    ):
        super().__init__()
        self.setWindowTitle("RID Desktop")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.settings_path = settings_path or settings_store.settings_path()
        self.settings: GuiSettings = settings_store.load_settings(self.settings_path)
        self.engine_factory = engine_factory or default_engine_factory
        engines = engines if engines is not None else available_engines()
        if self.settings.engine not in {name for name, _, _ in engines} and engines:
            self.settings.engine = engines[0][0]
        self.last_dialog: QMessageBox | None = None
        self.sources: list[str] = []

        self.model = LibraryModel(self)
        self.scanner = FolderScanner(self)
        self.scanner.found.connect(self._on_scan_found)
        self.scanner.done.connect(self._on_scan_done)
        self.batch = BatchController(self.engine_factory, self)
        self.batch.event.connect(self._on_batch_event)
        self.batch.step.connect(self._on_batch_step)
        self.batch.notice.connect(self._on_notice)
        self.batch.failed.connect(self._on_batch_failed)
        self.batch.finished.connect(self._on_batch_finished)
        self.preview_service = PreviewService(self.engine_factory, self)
        self.preview_service.done.connect(self._on_job_done)
        self.preview_service.error.connect(self._on_job_error)
        self._tickets: dict[str, int] = {}
        self.preview_result = None
        self._batch_state: dict = {}
        self.last_summary: dict | None = None
        self.check_specs: str | None = None  # purifier specs for the Robustness tab; None = core defaults

        self.library = LibraryPanel(self.model)
        self.library.add_folder_requested.connect(self.choose_folder)
        self.library.add_files_requested.connect(self.choose_files)
        self.library.remove_requested.connect(self.remove_sources)
        self.grid = self.library.grid
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.preview = PreviewPane()
        self.preview.ai_view_requested.connect(self.request_ai_view)
        self.preview.checks_requested.connect(self.request_checks)
        self.settings_panel = SettingsPanel(self.settings, engines, available_devices())
        self.settings_panel.changed.connect(self._settings_changed)
        self.settings_panel.strength_changed.connect(lambda _v: self.schedule_preview())
        self.run_panel = RunPanel()
        self.run_panel.protect_button.clicked.connect(self.protect)
        self.run_panel.cancel_button.clicked.connect(self.cancel)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.library)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.library.setMinimumWidth(230)  # small screens (1024 px and less) still fit the window
        self.preview.setMinimumWidth(240)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.splitter)
        self.setCentralWidget(central)

        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addWidget(self.settings_panel)
        side_layout.addStretch(1)
        side_layout.addWidget(self.run_panel)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(side)
        scroll.setMinimumWidth(260)
        self.settings_dock = QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(scroll)
        self.settings_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self.request_preview)

        self._build_menus()
        self.statusBar().showMessage("Ready")
        self._restore_geometry()
        for source in list(self.settings.library):
            if Path(source).exists():
                self.add_sources([Path(source)], remember=False)
        self.surrogate_lines: list[str] = []
        if first_run_models and not self.settings.surrogates_ready:
            QTimer.singleShot(0, self.ensure_surrogates)

    # --- menus ---------------------------------------------------------------------------------
    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self.open_folder_action = self._action("Add &folder…", self.choose_folder, [QKeySequence.StandardKey.Open],
                                               "Add a folder of photos to the library")
        self.add_files_action = self._action("Add &photos…", self.choose_files, ["Ctrl+Shift+O"])
        self.recent_menu = bar.addMenu("&File")
        file_menu = self.recent_menu
        file_menu.addAction(self.open_folder_action)
        file_menu.addAction(self.add_files_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addSeparator()
        self.open_output_action = self._action("Open &output folder", self.open_output_folder)
        self.open_output_action.setEnabled(False)
        file_menu.addAction(self.open_output_action)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, [QKeySequence.StandardKey.Quit]))

        edit_menu = bar.addMenu("&Edit")
        edit_menu.addAction(self._action("Select &all", self.grid.selectAll, [QKeySequence.StandardKey.SelectAll]))
        edit_menu.addSeparator()
        self.preferences_action = self._action("&Preferences…", self.show_preferences,
                                               [QKeySequence.StandardKey.Preferences, "Ctrl+,"])
        self.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        edit_menu.addAction(self.preferences_action)

        view_menu = bar.addMenu("&View")
        view_menu.addAction(self._action("&Fit to window", lambda: self.preview._current_view().zoom_fit(), ["Ctrl+0"]))
        view_menu.addAction(self._action("&Actual pixels (1:1)", lambda: self.preview._current_view().zoom_actual(), ["Ctrl+1"]))
        view_menu.addAction(self._action("Zoom &in", lambda: self.preview._current_view().zoom_by(1.25), [QKeySequence.StandardKey.ZoomIn]))
        view_menu.addAction(self._action("Zoom &out", lambda: self.preview._current_view().zoom_by(0.8), [QKeySequence.StandardKey.ZoomOut]))
        view_menu.addSeparator()
        view_menu.addAction(self.settings_dock.toggleViewAction())

        protect_menu = bar.addMenu("&Protect")
        self.protect_action = self._action("&Protect photos", self.protect, ["Ctrl+Return", "Ctrl+Enter", "Ctrl+R"],
                                           "Protect the selected photos (or all, when none is selected)")
        self.cancel_action = self._action("&Cancel", self.cancel, ["Esc"], "Stop after the current tile")
        self.cancel_action.setEnabled(False)
        protect_menu.addAction(self.protect_action)
        protect_menu.addAction(self.cancel_action)

        help_menu = bar.addMenu("&Help")
        about = self._action("&About RID Desktop", self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(about)
        help_menu.addAction(self._action("About &Qt", lambda: QMessageBox.aboutQt(self)))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(functools.partial(self.add_sources, [Path(folder)]))
            action.setEnabled(Path(folder).is_dir())
        if not self.settings.recent_folders:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    # --- library --------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = self.settings.recent_folders[0] if self.settings.recent_folders else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", start)
        if folder:
            self.add_sources([Path(folder)])

    def choose_files(self) -> None:
        from rid_desktop.io import SUPPORTED_SUFFIXES

        patterns = " ".join(f"*{s}" for s in sorted(SUPPORTED_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Add photos", "", f"Photos ({patterns});;All files (*)")
        if files:
            self.add_sources([Path(f) for f in files])

    def add_sources(self, paths: list[Path], remember: bool = True) -> int:
        """Add folders/files to the library; folders are scanned in the background. Returns sources added."""
        added = 0
        skipped = []
        for raw in paths:
            path = normalise(raw)
            key = str(path)
            if key in self.sources:
                continue
            if path.is_dir():
                self.scanner.scan(path)
                if remember:
                    self.settings.remember_folder(key)
            elif path.is_file() and is_supported(path):
                self.model.add_paths([path])
            else:
                skipped.append(path.name)
                continue
            self.sources.append(key)
            added += 1
        if added:
            self.library.set_sources(self.sources)
            self.settings.library = list(self.sources)
            self._save_settings()
        if skipped:
            self.statusBar().showMessage(f"Not a supported photo or folder: {', '.join(skipped[:3])}", 8000)
        return added

    def remove_sources(self, sources: list[str]) -> None:
        if self.batch.is_running():
            self.statusBar().showMessage("Wait for the batch to finish before removing photos", 5000)
            return
        for source in sources:
            if source in self.sources:
                self.sources.remove(source)
                self.model.remove_under(Path(source))
        self.library.set_sources(self.sources)
        self.settings.library = list(self.sources)
        self._save_settings()

    def _on_scan_found(self, source: str, found: list) -> None:
        if source in self.sources:
            self.model.add_paths([normalise(p) for p in found])

    def _on_scan_done(self, source: str, count: int) -> None:
        if source in self.sources:
            self.statusBar().showMessage(f"{Path(source).name}: {count} photo{'s' if count != 1 else ''}", 5000)

    # drag and drop from the OS file manager
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.add_sources(paths)
            event.acceptProposedAction()

    # --- settings -------------------------------------------------------------------------------
    def _settings_changed(self) -> None:
        self._save_settings()
        self.schedule_preview()

    def _save_settings(self) -> None:
        try:
            settings_store.save_settings(self.settings, self.settings_path)
        except OSError as exc:
            self.statusBar().showMessage(f"Could not save settings: {exc}", 8000)

    def _restore_geometry(self) -> None:
        if self.settings.geometry:
            self.restoreGeometry(QByteArray.fromBase64(self.settings.geometry.encode()))
        else:
            self.resize(QSize(1280, 800))
        if self.settings.splitter_state:
            self.splitter.restoreState(QByteArray.fromBase64(self.settings.splitter_state.encode()))
        else:  # first run: room for two thumbnail columns, the rest for the preview
            self.splitter.setSizes([420, 600])

    def show_preferences(self) -> None:
        self.settings_dock.show()
        self.settings_dock.raise_()
        self.settings_panel.engine_combo.setFocus()

    # --- protect --------------------------------------------------------------------------------
    def selected_paths(self) -> list[Path]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        entries = self.model.entries()
        return [entries[r].path for r in rows]

    def protect(self) -> None:
        """Plan and start a batch: the selected photos, or the whole library when none is selected."""
        from rid_desktop.batch import plan_batch

        if self.batch.is_running():
            return
        selected = self.selected_paths()
        inputs = selected or [Path(s) for s in self.sources]
        if not inputs or self.model.rowCount() == 0:
            self.last_dialog = dialogs.nothing_selected(self)
            return
        settings = self.settings.to_protection()
        try:
            plan = plan_batch(inputs, settings, recursive=True)
        except UserError as exc:
            if isinstance(exc, OutputError) or "output" in str(exc).lower():
                self.last_dialog = dialogs.unwritable_output(self, str(exc))
            else:
                self.last_dialog = dialogs.error(self, "Cannot start", str(exc))
            return
        if not plan.items:
            self.last_dialog = dialogs.nothing_selected(self)
            return
        roots = [Path(root) for root in plan.output_roots]
        self._batch_state = {
            "total": len(plan.items),
            "done": 0,
            "protected": 0,
            "skipped": 0,
            "failed": [],
            "started": time.monotonic(),
            "current": None,
            "cancelled": False,
            "output_folder": roots[0] if len(roots) == 1 else _common_folder(roots),
        }
        self.run_panel.start(len(plan.items))
        self.protect_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.statusBar().showMessage(f"Protecting {len(plan.items)} photos…")
        self.batch.start(plan, settings)

    def cancel(self) -> None:
        if self.batch.is_running():
            self.batch.cancel()
            self.run_panel.current.setText("Cancelling after the current step…")
            self.run_panel.cancel_button.setEnabled(False)

    def _on_batch_step(self, done: int, total: int) -> None:
        self.run_panel.show_step(done, total)
        current = self._batch_state.get("current")
        if current is not None and total:
            self.model.set_progress(current, done / total)

    def _on_batch_event(self, event) -> None:
        state = self._batch_state
        kind = event.kind
        source = normalise(event.source) if getattr(event, "source", None) else None
        if kind == "item_started" and source is not None:
            state["current"] = source
            self.model.set_status(source, Status.WORKING)
            self.run_panel.show_item(source.name, event.index, event.total)
        elif kind == "item_failed" and event.index < 0:  # a folder that could not be read
            state["failed"].append((source, event.message))
        elif kind in ("item_done", "item_skipped", "item_failed") and source is not None:
            state["done"] += 1
            state["current"] = None
            if kind == "item_failed":
                reason = event.message or "failed"
                state["failed"].append((source, reason))
                self.model.set_status(source, Status.FAILED, reason)
            else:
                state["protected" if kind == "item_done" else "skipped"] += 1
                reason = _metrics_text(getattr(event, "metrics", None))
                if kind == "item_skipped":
                    reason = event.message or "already protected with these settings"
                output = getattr(event, "output", None)
                self.model.set_status(source, Status.PROTECTED, reason, Path(output) if output else None)
            self.run_panel.show_done_count(state["done"], state["total"], time.monotonic() - state["started"])
        elif kind == "cancelled":
            state["cancelled"] = True
            for entry in self.model.entries():
                if entry.status == Status.WORKING:
                    self.model.set_status(entry.path, Status.PENDING, "cancelled before it finished")
        elif kind == "finished":
            self.last_summary = getattr(event, "summary", None)

    def _on_batch_failed(self, exc: BaseException) -> None:
        for entry in self.model.entries():
            if entry.status == Status.WORKING:
                self.model.set_status(entry.path, Status.PENDING)
        self._batch_state["aborted"] = True
        self.show_error(exc)

    def _on_batch_finished(self) -> None:
        state = self._batch_state
        self.protect_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        elapsed = time.monotonic() - state.get("started", time.monotonic())
        if state.get("aborted"):
            self.run_panel.finish("Protection could not start.")
            self.statusBar().showMessage("Protection could not start", 8000)
            return
        failed = state.get("failed", [])
        parts = [f"{state.get('protected', 0)} protected"]
        if state.get("skipped"):
            parts.append(f"{state['skipped']} already done")
        if failed:
            parts.append(f"{len(failed)} failed")
        if state.get("cancelled"):
            left = state["total"] - state["done"]
            parts.append(f"{left} not started (cancelled)")
        line = ", ".join(parts) + f" in {format_duration(elapsed)}"
        self.run_panel.finish(line)
        self.statusBar().showMessage(line, 15000)
        folder = state.get("output_folder")
        self.open_output_action.setEnabled(folder is not None)
        title = "Protection cancelled" if state.get("cancelled") else "Protection finished"
        details = "\n".join(f"{p.name}: {reason}" for p, reason in failed)
        text = line + "."
        if folder is not None:
            text += f"\n\nProtected copies are in:\n{folder}"
        box = dialogs.SummaryDialog(self, title, text, details, folder)
        box.open()
        self.last_dialog = box

    def open_output_folder(self) -> None:
        folder = self._batch_state.get("output_folder")
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def _on_notice(self, message: str) -> None:
        self.statusBar().showMessage(message, 15000)
        self.last_dialog = dialogs.gpu_fallback(self, message)

    def show_error(self, exc: BaseException) -> None:
        message = friendly_message(exc)
        if isinstance(exc, ModelError):
            box = dialogs.missing_model(self, message)
            box.install_requested.connect(self.install_model)
            self.last_dialog = box
        elif isinstance(exc, OutputError):
            self.last_dialog = dialogs.unwritable_output(self, message)
        else:
            self.last_dialog = dialogs.error(self, "Something went wrong", message)

    def install_model(self, name: str) -> None:
        """Download a registry model in the background with a progress dialog."""
        from rid_desktop.errors import Cancelled
        from rid_desktop.models.download import install_model

        progress = dialogs.download_progress(self, name)
        cancelled = {"flag": False}
        progress.canceled.connect(lambda: cancelled.update(flag=True))

        def work():
            def report(done: int, total: int | None) -> None:
                if cancelled["flag"]:
                    raise Cancelled()

            return install_model(name, progress=report)

        def finished(kind: str, result) -> None:
            progress.close()
            if kind == "error":
                if not isinstance(result, Cancelled):
                    self.last_dialog = dialogs.error(self, "Install failed", friendly_message(result))
            else:
                self.statusBar().showMessage(f"Installed {name} at {result}", 10000)
                self.schedule_preview()

        self._submit("install", work, finished)

    def ensure_surrogates(self, install: bool = True) -> None:
        """Find the surrogate models, or install them into the per-user data folder, in the background.

        Same registry and same code as ``rid-desktop models install`` / ``--self-test``. Protection
        never needs these models (the AI view and robustness checks do), so a failure (offline) is a
        status-bar note and the next start tries again; success is remembered in the settings.
        """
        from rid_desktop.selftest import SelfTestReport, check_surrogates

        def work():
            report = SelfTestReport(emit=lambda line: None)
            return check_surrogates(report, install), report

        def finished(kind: str, result) -> None:
            if kind == "error":
                self.surrogate_lines = [friendly_message(result)]
                self.statusBar().showMessage(f"Could not set up the AI-view models: {self.surrogate_lines[0]}", 15000)
                return
            available, report = result
            self.surrogate_lines = list(report.lines)
            if report.warnings:
                message = ("The AI-view models could not be installed (offline?). Protection works without "
                           "them; they are offered again when needed.")
            else:
                self.settings.surrogates_ready = True
                self._save_settings()
                installed = [line for line in report.lines if "installed to" in line]
                message = (f"Installed {len(installed)} AI-view model{'s' if len(installed) != 1 else ''} "
                           "in your data folder" if installed else "AI-view models found")
            self.statusBar().showMessage(message, 15000)

        self._submit("surrogates", work, finished)

    # --- preview --------------------------------------------------------------------------------
    def current_path(self) -> Path | None:
        index = self.grid.currentIndex()
        selected = self.grid.selectionModel().selectedIndexes()
        if selected:
            index = selected[-1] if index not in selected else index
        if not index.isValid():
            return None
        return self.model.entries()[index.row()].path

    def _selection_changed(self, *args) -> None:
        count = len(self.grid.selectionModel().selectedIndexes())
        self.run_panel.protect_button.setText(f"Protect {count} selected" if count else "Protect all")
        self.schedule_preview()

    def schedule_preview(self) -> None:
        self._preview_timer.start()

    def request_preview(self) -> None:
        path = self.current_path()
        if path is None:
            self.preview_result = None
            self.preview.clear()
            return
        s = self.settings
        self.preview.set_busy("Computing preview…")
        service = self.preview_service
        self._submit(
            "preview",
            functools.partial(service.compute_preview, path, s.engine, s.device, s.eps),
            self._preview_finished,
        )

    def _preview_finished(self, kind: str, result) -> None:
        if kind == "error":
            self.preview_result = None
            self.preview.clear(friendly_message(result))
            if isinstance(result, ModelError):
                self.show_error(result)
            return
        self.preview_result = result
        self.preview.show_preview(result)
        for notice in result.notices:
            self.statusBar().showMessage(notice, 10000)

    def request_ai_view(self) -> None:
        result = self.preview_result
        if result is None:
            return
        self.preview.ai_button.setEnabled(False)
        self.preview.ai.set_message("Asking the image autoencoder…")
        self._submit("ai", functools.partial(compute_ai_view, result), self._ai_finished)

    def _ai_finished(self, kind: str, result) -> None:
        self.preview.ai_button.setEnabled(self.preview_result is not None)
        if kind == "error":
            self.preview.ai.set_message(friendly_message(result))
            if isinstance(result, ModelError):
                self.show_error(result)
            return
        view_original, view_protected, text = result
        self.preview.show_ai_view(view_original, view_protected, text)

    def request_checks(self) -> None:
        result = self.preview_result
        if result is None:
            return
        self.preview.checks_button.setEnabled(False)
        self.preview.bars.set_message("Running clean-ups on the preview…")
        self._submit("checks", functools.partial(compute_checks, result, self.check_specs), self._checks_finished)

    def _checks_finished(self, kind: str, result) -> None:
        self.preview.checks_button.setEnabled(self.preview_result is not None)
        if kind == "error":
            self.preview.bars.set_message(friendly_message(result))
            if isinstance(result, ModelError):
                self.show_error(result)
            return
        rows, note = result
        self.preview.show_checks(rows, note)

    # background jobs: one callback per job kind; stale tickets are dropped
    def _submit(self, kind: str, fn, callback) -> None:
        ticket = self.preview_service.submit(kind, fn)
        self._tickets[kind] = ticket
        self._callbacks = getattr(self, "_callbacks", {})
        self._callbacks[ticket] = (kind, callback)

    def _on_job_done(self, ticket: int, result) -> None:
        self._dispatch(ticket, "ok", result)

    def _on_job_error(self, ticket: int, exc) -> None:
        self._dispatch(ticket, "error", exc)

    def _dispatch(self, ticket: int, outcome: str, payload) -> None:
        kind, callback = self._callbacks.pop(ticket, (None, None))
        if callback is None or self._tickets.get(kind) != ticket:
            return  # a newer request of the same kind superseded this one
        callback(outcome, payload)

    def show_about(self) -> None:
        self.last_dialog = dialogs.about(self, model_lines())

    def changeEvent(self, event) -> None:
        """Light/dark follows the OS: Qt swaps the palette; redraw what we painted from the old one."""
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            self.model.refresh_placeholder()
        super().changeEvent(event)

    # --- shutdown -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        if self.batch.is_running():
            self.batch.cancel()
            self.batch.wait(30000)
        self.scanner.pool.clear()
        self.scanner.wait(5000)
        self.model.loader.cancel_pending()
        self.model.loader.wait(5000)
        self.preview_service.pool.clear()
        self.preview_service.wait(30000)
        self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.splitter_state = bytes(self.splitter.saveState().toBase64()).decode()
        self._save_settings()
        super().closeEvent(event)


def _common_folder(folders: list[Path]) -> Path | None:
    parents = [str(p) for p in folders]
    if not parents:
        return None
    try:
        return Path(os.path.commonpath(parents))
    except ValueError:  # different drives on Windows
        return Path(parents[0])


def _metrics_text(metrics) -> str:
    if not metrics:
        return ""
    get = metrics.get if isinstance(metrics, dict) else (lambda k, d=None: getattr(metrics, k, d))
    psnr, ssim = get("psnr", get("psnr_db")), get("ssim")
    parts = []
    if psnr is not None:
        parts.append(f"PSNR {psnr:.1f} dB")
    if ssim is not None:
        parts.append(f"SSIM {ssim:.3f}")
    return ", ".join(parts)


def model_lines() -> list[str]:
    """Model rows for the About box (installed/missing and license)."""
    try:
        from rid_desktop.models.download import list_models

        rows = list_models()
    except Exception as exc:  # About must always open
        return [f"model list unavailable: {friendly_message(exc)}"]
    lines = []
    for row in rows:
        where = f" — {row.location}" if row.location else ""
        lines.append(f"{row.name} ({row.role}, {row.license}): {row.status}{where}")
    from rid_desktop import paths

    for ckpt in sorted(paths.checkpoints_dir().glob("*.safetensors")):
        lines.append(f"{ckpt.stem} (bundled generator): {ckpt.name}")
    return lines


def compute_ai_view(result):
    """Surrogate autoencoder round trip of the preview pair (runs on the preview worker thread)."""
    from rid_desktop.checks import ai_view_pair

    from ui.imaging import tensor_to_qimage

    view_o, view_p, score = ai_view_pair(result.original, result.protected)  # default TAEF2 surrogate
    text = (
        f"Latent distortion (protection score): {float(score[0]):.4f}. "
        "Left: what the AI reconstructs from the original; right: from the protected copy."
    )
    return tensor_to_qimage(view_o), tensor_to_qimage(view_p), text


def compute_checks(result, specs: str | None = None) -> tuple[list[BarRow], str]:
    """Robustness report for the preview pair, converted to bar rows (runs on the worker thread)."""
    from ui.robustness import robustness_rows

    return robustness_rows(result.original, result.protected, result.eps, specs)
