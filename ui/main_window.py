"""The main window: library on the left, preview in the middle, settings and Protect on the right.

The window builds widgets and wires them to one presenter per feature (as Vorta splits its views):
:mod:`ui.presenters.library_presenter` (sources, scans, statuses from manifests, context menu),
:mod:`ui.presenters.batch_presenter` (protect, cancel, resume, quit mid-batch),
:mod:`ui.presenters.preview_presenter` (preview, real 1:1 output, AI view, checks) and
:mod:`ui.presenters.model_setup` (model downloads). Background work runs on :mod:`ui.jobs`.
No protection logic lives here: that is :mod:`rid_desktop`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QMessageBox, QScrollArea, QSplitter, QVBoxLayout, QWidget

from rid_desktop.errors import ModelError, OutputError
from ui import settings_store
from ui.jobs import JobService
from ui.menus import build_menus
from ui.models.library_model import LibraryModel
from ui.presenters.batch_presenter import BatchPresenter
from ui.presenters.library_presenter import LibraryPresenter
from ui.presenters.model_setup import ModelSetup, model_lines
from ui.presenters.preview_presenter import PreviewPresenter
from ui.resources import app_icon
from ui.settings_store import GuiSettings
from ui.views import dialogs
from ui.views.library_view import LibraryPanel
from ui.views.preview_pane import PreviewPane
from ui.views.run_panel import RunPanel
from ui.views.settings_panel import SettingsPanel
from ui.workers import EngineFactory, default_engine_factory, friendly_message


def available_engines() -> list[tuple[str, str, str]]:
    from rid_desktop.engines import list_engines

    return [(e.name, e.label, e.description) for e in list_engines()]


def available_devices() -> list[tuple[str, str]]:
    from rid_desktop.device import available_devices as core_devices

    return core_devices()


class MainWindow(QMainWindow):
    """The RID Desktop window.

    Args:
        engine_factory: ``factory(settings) -> Engine``; tests inject a small fast engine.
        engines: (name, label, description) rows for the method menu; default: the core registry.
        settings_path: where GUI settings live; default under the user config folder.
        first_run_models: find or install the surrogate models in the background until that has
            succeeded once (the installed app's first run).
    """

    def __init__(self, *, engine_factory: EngineFactory | None = None, engines: list[tuple[str, str, str]] | None = None,
                 settings_path: Path | None = None, first_run_models: bool = False):
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
        self.last_menu = None

        self.model = LibraryModel(self)
        self.jobs = JobService(self)
        self.library = LibraryPanel(self.model)
        self.grid = self.library.grid
        self.preview = PreviewPane()
        self.settings_panel = SettingsPanel(self.settings, engines, available_devices())
        self.run_panel = RunPanel()
        self._build_layout()
        build_menus(self)

        self.library_presenter = LibraryPresenter(self)
        self.batch_presenter = BatchPresenter(self, self.engine_factory)
        self.batch = self.batch_presenter.controller
        self.preview_presenter = PreviewPresenter(self, self.jobs, self.engine_factory)
        self.model_setup = ModelSetup(self, self.jobs)

        self.library.add_folder_requested.connect(self.choose_folder)
        self.library.add_files_requested.connect(self.choose_files)
        self.library.remove_requested.connect(self.remove_sources)
        self.grid.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.rowsInserted.connect(self.refresh_scope)
        self.settings_panel.changed.connect(self._settings_changed)
        self.settings_panel.strength_changed.connect(lambda _v: self.schedule_preview())
        self.run_panel.protect_button.clicked.connect(self.protect)
        self.run_panel.selected_button.clicked.connect(self.protect_selected)
        self.run_panel.cancel_button.clicked.connect(self.cancel)

        self.statusBar().showMessage("Ready")
        self._restore_geometry()
        for source in list(self.settings.library):
            if Path(source).exists():
                self.add_sources([Path(source)], remember=False)
        self.refresh_scope()
        if first_run_models and not self.settings.surrogates_ready:
            QTimer.singleShot(0, self.ensure_surrogates)

    def _build_layout(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.library)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.library.setMinimumWidth(190)  # small screens (1024 px at 150 %: 683 px) still fit the window
        self.preview.setMinimumWidth(230)
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
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)  # scroll, never cut off
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(side)
        scroll.setMinimumWidth(220)
        self.settings_dock = QDockWidget("Settings", self)
        self.settings_dock.setObjectName("settingsDock")
        self.settings_dock.setWidget(scroll)
        self.settings_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.settings_dock)

    # --- state other parts read -----------------------------------------------------------------
    @property
    def sources(self) -> list[str]:
        return self.library_presenter.sources

    @property
    def preview_result(self):
        return self.preview_presenter.result

    @property
    def preview_service(self):
        return self.preview_presenter.computer

    @property
    def surrogate_lines(self) -> list[str]:
        return self.model_setup.surrogate_lines

    @property
    def check_specs(self) -> str | None:
        return self.preview_presenter.check_specs

    @check_specs.setter
    def check_specs(self, specs: str | None) -> None:
        self.preview_presenter.check_specs = specs

    @property
    def last_summary(self):
        return self.batch_presenter.last_summary

    def selected_paths(self) -> list[Path]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        entries = self.model.entries()
        return [entries[r].path for r in rows]

    def current_path(self) -> Path | None:
        index = self.grid.currentIndex()
        selected = self.grid.selectionModel().selectedIndexes()
        if selected:
            index = selected[-1] if index not in selected else index
        if not index.isValid():
            return None
        return self.model.entries()[index.row()].path

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
        return self.library_presenter.add_sources(paths, remember)

    def remove_sources(self, sources: list[str]) -> None:
        self.library_presenter.remove_sources(sources)

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

    # --- protect --------------------------------------------------------------------------------
    def protect(self) -> None:
        """Main button / Ctrl+R: resume the stopped batch, else protect the whole library."""
        self.batch_presenter.protect_default()

    def protect_selected(self) -> None:
        self.batch_presenter.protect_selected()

    def cancel(self) -> None:
        self.batch_presenter.cancel()

    def refresh_scope(self, *args) -> None:
        self.batch_presenter.refresh_scope()

    def open_output_folder(self) -> None:
        self.batch_presenter.open_output_folder()

    # --- preview --------------------------------------------------------------------------------
    def _selection_changed(self, *args) -> None:
        self.refresh_scope()
        self.schedule_preview()

    def schedule_preview(self) -> None:
        self.preview_presenter.schedule()

    def request_ai_view(self) -> None:
        self.preview_presenter.request_ai_view()

    def request_checks(self) -> None:
        self.preview_presenter.request_checks()

    def show_compare_tab(self) -> None:
        self.preview.tabs.setCurrentIndex(0)
        self.schedule_preview()

    def export_comparison(self) -> Path | None:
        """File ▸ Export comparison…: the photo on screen as a labelled before | after | change PNG."""
        from ui.export import export_comparison

        return export_comparison(self)

    # --- settings, models, dialogs --------------------------------------------------------------
    def _settings_changed(self) -> None:
        self.save_settings()
        self.schedule_preview()

    def save_settings(self) -> None:
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

    def install_model(self, name: str) -> None:
        self.model_setup.install_model(name)

    def ensure_surrogates(self, install: bool = True) -> None:
        self.model_setup.ensure_surrogates(install)

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

    def show_about(self) -> None:
        self.last_dialog = dialogs.about(self, model_lines())

    def changeEvent(self, event) -> None:
        """Light/dark follows the OS: Qt swaps the palette; redraw what we painted from the old one."""
        if event.type() in (QEvent.Type.ApplicationPaletteChange, QEvent.Type.PaletteChange):
            self.model.refresh_placeholder()
        super().changeEvent(event)

    # --- shutdown -------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        """Mid-batch, ask first (the batch presenter closes the window once the batch has stopped)."""
        if self.batch_presenter.is_running():
            event.ignore()
            if not self.batch_presenter.quit_when_done:
                self.batch_presenter.confirm_quit()
            return
        self.jobs.shutdown(10000)
        scanner = self.library_presenter.scanner
        scanner.pool.clear()
        scanner.wait(5000)
        self.model.loader.cancel_pending()
        self.model.loader.wait(5000)
        self.settings.geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.splitter_state = bytes(self.splitter.saveState().toBase64()).decode()
        self.save_settings()
        super().closeEvent(event)
