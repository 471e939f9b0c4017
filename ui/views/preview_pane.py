"""Preview of the selected photo: compare (split slider), heat map, AI view, robustness, metrics.

The pane only shows results; :mod:`ui.presenters.preview_presenter` computes them off the UI thread.
Long work shows a progress bar with a Cancel button, and every picture says which pixels it shows.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.views.compare_view import CompareView
from ui.views.metrics_bar import HeatScale, MetricsBar
from ui.views.robustness_bars import BarRow, RobustnessBars
from ui.wording import TOOLTIPS

CHECKS_IDLE = "Run the checks to see whether protection survives common clean-ups."
METER_TOP_X10 = 30  # the meter is full at 3x what random noise does (L2 latent ratio)


def _progress_bar(name: str) -> QProgressBar:
    bar = QProgressBar()
    bar.setAccessibleName(name)
    bar.setMaximumHeight(14)
    bar.setTextVisible(False)
    bar.hide()
    return bar


class PreviewPane(QWidget):
    ai_view_requested = Signal()
    checks_requested = Signal()
    checks_cancel_requested = Signal()
    preview_cancel_requested = Signal()
    detail_requested = Signal()  # show the real full-size output pixels
    export_requested = Signal()
    measure_chosen = Signal(str)  # a "Measure with" model picked by the user (registry name)
    model_install_requested = Signal(str)  # "Install…" next to a check that needs a model

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Preview")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setMinimumWidth(40)
        self.title.setWordWrap(True)
        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.status.setToolTip("The strength this picture was computed with, and how long it took")
        self.busy_bar = _progress_bar("Preview progress")
        self.busy_bar.setMaximumWidth(120)
        self.busy_cancel = QToolButton()
        self.busy_cancel.setText("Cancel")
        self.busy_cancel.setAccessibleName("Cancel the preview")
        self.busy_cancel.clicked.connect(self.preview_cancel_requested)
        self.busy_cancel.hide()

        self.compare = CompareView()
        self.compare.setAccessibleName("Before and after comparison")
        self.heat = CompareView(labels=("", ""))
        self.heat.setAccessibleName("Heat map of the change")
        self.ai = CompareView(labels=("AI sees: original", "AI sees: protected"))
        self.ai.setAccessibleName("What the image AI sees")
        self.bars = RobustnessBars()
        self.bars.setAccessibleName("Robustness check results")
        self.heat_scale = HeatScale()
        self.compare.detail_needed.connect(self.detail_requested)

        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the photo in the view (double-click the image to toggle)")
        self.actual_button = QToolButton()
        self.actual_button.setText("1:1")
        self.actual_button.setToolTip("Actual pixels of the protected file as it will be written: one photo "
                                      "pixel per screen pixel (computed at full size the first time)")
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setToolTip("Save a before/after comparison image of this photo")
        self.export_button.clicked.connect(self.export_requested)
        self.zoom_label = QLabel()
        self.zoom_label.setToolTip("Zoom: 100 % is one photo pixel per screen pixel")
        self.fit_button.clicked.connect(lambda: self._current_view().zoom_fit())
        self.actual_button.clicked.connect(self._actual_pixels)

        self.ai_button = QPushButton("Show AI view")
        self.ai_button.setToolTip("Show what an image AI rebuilds from the original and from the protected copy")
        self.ai_button.clicked.connect(self.ai_view_requested)
        self.ai_verdict = QLabel()
        self.ai_verdict.setWordWrap(True)
        self.ai_verdict.setToolTip(TOOLTIPS["meter"])
        self.ai_verdict.setAccessibleName("Protection verdict")
        self.ai_score = self.ai_verdict  # older name
        self.meter = QProgressBar()
        self.meter.setObjectName("protectionMeter")
        self.meter.setAccessibleName("Protection meter")
        self.meter.setToolTip(TOOLTIPS["meter"])
        self.meter.setRange(0, METER_TOP_X10)
        self.meter.setMinimumWidth(self.meter.fontMetrics().horizontalAdvance("Strong — 99.9× noise") + 24)
        self.meter.setMaximumWidth(320)
        self.meter.hide()
        self.measure_label = QLabel("Measure with:")
        self.measure_combo = QComboBox()
        self.measure_combo.setAccessibleName("Measure with")
        self.measure_combo.setToolTip("Which image AI's autoencoder measures the protection and shows the AI view: "
                                      "TAEF2 is small and fast; the full-size SD and FLUX VAEs are what those "
                                      "tools really use (a download of a few hundred MB, only when you choose it)")
        self.measure_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.measure_combo.setMinimumContentsLength(9)
        self.measure_combo.setMaximumWidth(260)
        self.measure_label.setBuddy(self.measure_combo)
        self.measure_combo.activated.connect(self._measure_activated)
        ai_page = QWidget()
        ai_layout = QVBoxLayout(ai_page)
        ai_layout.setContentsMargins(0, 0, 0, 0)
        ai_row = QHBoxLayout()
        self.ai_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        ai_row.addWidget(self.ai_button)
        ai_row.addWidget(self.meter, 1)
        ai_row.addStretch(0)
        ai_layout.addLayout(ai_row)
        measure_row = QHBoxLayout()  # its own row: the pane stays as narrow as before on small screens
        measure_row.addWidget(self.measure_label)
        measure_row.addWidget(self.measure_combo, 1)
        measure_row.addStretch(0)
        ai_layout.addLayout(measure_row)
        ai_layout.addWidget(self.ai_verdict)
        ai_layout.addWidget(self.ai, 1)

        heat_page = QWidget()
        heat_layout = QVBoxLayout(heat_page)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addWidget(self.heat, 1)
        heat_layout.addWidget(self.heat_scale)

        self.checks_button = QPushButton("Run robustness checks")
        self.checks_button.setToolTip("Re-saved as JPEG, shrunk, blurred, black-and-white, filter and AI clean-ups: "
                                      "does the protection survive what someone would try first?")
        self.checks_button.clicked.connect(self.checks_requested)
        self.checks_cancel = QPushButton("Cancel")
        self.checks_cancel.setAccessibleName("Cancel the robustness checks")
        self.checks_cancel.clicked.connect(self.checks_cancel_requested)
        self.checks_cancel.hide()
        self.checks_progress = _progress_bar("Robustness check progress")
        self.model_note = QLabel()
        self.model_note.setWordWrap(True)
        self.model_install_button = QPushButton("Install…")
        self.model_install_button.setAccessibleName("Install the DiffPure model")
        self.model_install_button.clicked.connect(self._install_clicked)
        self.model_note.hide()
        self.model_install_button.hide()
        self.model_to_install: str | None = None
        self.checks_note = QLabel()
        self.checks_note.setWordWrap(True)
        self.checks_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        checks_page = QWidget()
        checks_layout = QVBoxLayout(checks_page)
        checks_layout.setContentsMargins(6, 6, 6, 6)
        checks_row = QHBoxLayout()
        checks_row.addWidget(self.checks_button)
        checks_row.addWidget(self.checks_cancel)
        checks_row.addWidget(self.checks_progress, 1)
        checks_row.addStretch(0)
        self.checks_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        checks_layout.addLayout(checks_row)
        checks_layout.addWidget(self.bars)
        checks_layout.addWidget(self.checks_note)
        install_row = QHBoxLayout()
        install_row.addWidget(self.model_note, 1)
        install_row.addWidget(self.model_install_button)
        checks_layout.addLayout(install_row)
        checks_layout.addStretch(1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.compare, "Compare")
        self.tabs.addTab(heat_page, "Heat map")
        self.tabs.addTab(ai_page, "AI view")
        self.tabs.addTab(checks_page, "Robustness")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.metrics = MetricsBar()
        self.psnr, self.ssim, self.linf = self.metrics.psnr, self.metrics.ssim, self.metrics.linf
        view_row = QHBoxLayout()
        view_row.addStretch(1)
        view_row.addWidget(self.zoom_label)
        view_row.addWidget(self.fit_button)
        view_row.addWidget(self.actual_button)
        view_row.addWidget(self.export_button)

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.status)
        header.addWidget(self.busy_bar)
        header.addWidget(self.busy_cancel)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(view_row)
        layout.addWidget(self.metrics)
        for view in (self.compare, self.heat, self.ai):
            view.zoom_changed.connect(self._show_zoom)
        self.clear()

    def minimumSizeHint(self) -> QSize:
        return QSize(240, 200)

    # --- updates --------------------------------------------------------------------------------
    def clear(self, message: str = "Select a photo to preview it") -> None:
        self.title.setText("Preview")
        self.set_busy("", cancellable=False)
        self.compare.set_images(None)
        self.compare.set_message(message)
        self.heat.set_images(None)
        self.heat.set_message("The heat map shows where the change went")
        self.ai.set_images(None)
        self.ai.set_message("Click “Show AI view”")
        self.ai_verdict.setText("")
        self.meter.hide()
        self.checks_stopped(CHECKS_IDLE)
        self.metrics.clear()
        self.ai_button.setEnabled(False)
        self.checks_button.setEnabled(False)
        self.export_button.setEnabled(False)

    def show_loading(self, name: str) -> None:
        """A new photo was clicked: say so at once instead of leaving the old one under its title."""
        self.title.setText(f"{name} (loading…)")
        self.compare.set_images(None)
        self.compare.set_message(f"Computing the preview of {name}…")
        self.heat.set_images(None)
        self.ai.set_images(None)
        self.ai.set_message("Click “Show AI view”")
        self.ai_verdict.setText("")
        self.meter.hide()
        self.checks_stopped(CHECKS_IDLE)
        self.metrics.clear()

    def set_busy(self, text: str, *, cancellable: bool = False) -> None:
        self.status.setText(text)
        self.busy_bar.setVisible(cancellable)
        self.busy_bar.setRange(0, 0)
        self.busy_cancel.setVisible(cancellable)

    def show_busy_progress(self, done: int, total: int) -> None:
        self.busy_bar.setRange(0, max(total, 1))
        self.busy_bar.setValue(min(done, total))

    def show_preview(self, result) -> None:
        """Show a :class:`ui.workers.PreviewResult`."""
        h, w = result.full_size
        ph, pw = result.original.shape[-2:]
        photo = QSize(w, h)
        scaled = (ph, pw) != (h, w)
        self.title.setText(f"{result.path.name}  ({w}×{h})")
        self.set_busy(f"{result.eps * 255:.0f}/255 · {result.seconds:.2f} s", cancellable=False)
        self.compare.set_images(result.original_image, result.protected_image, photo)
        self.compare.set_pixel_note(f"preview pixels ({pw}×{ph}); 1:1 shows the real output" if scaled
                                    else "real size (the written file may differ by its encoding)")
        self.heat.set_images(result.heat_image, None, photo)
        self.heat.split_enabled = False
        self.heat_scale.set_top(result.eps * 255)
        self.metrics.show_metrics(result.metrics, f"the {pw}×{ph} preview" if scaled
                                  else f"the photo at full size ({pw}×{ph}), before saving")
        self.ai.set_images(None)
        self.ai.set_message("Click “Show AI view”")
        self.ai_verdict.setText("")
        self.meter.hide()
        self.checks_stopped(CHECKS_IDLE)
        self.ai_button.setEnabled(True)
        self.checks_button.setEnabled(True)
        self.export_button.setEnabled(True)
        self._show_zoom(self._current_view().zoom_percent())

    def show_full_output(self, full) -> None:
        """Swap in the full-size original and written output (same geometry: zoom and pan stay)."""
        h, w = full.size
        self.compare.set_images(full.original_image, full.output_image, QSize(w, h))
        self.compare.set_pixel_note(f"real output pixels ({w}×{h}, as written)")
        lossy = full.output_format in (".jpg", ".jpeg")
        self.metrics.show_metrics(full.metrics, f"the full {w}×{h} output file"
                                  + (" (JPEG: includes its encoding)" if lossy else ""))
        self.set_busy(f"{full.eps * 255:.0f}/255 · full size in {full.seconds:.1f} s", cancellable=False)

    def show_ai_view(self, view) -> None:
        self.ai.set_images(view.original_image, view.protected_image)
        self.meter.setValue(min(round(view.ratio * 10), METER_TOP_X10))
        self.meter.setFormat(f"{view.verdict} — {view.ratio:.1f}× noise")
        self.meter.setAccessibleDescription(f"{view.verdict} protection, {view.ratio:.1f} times random noise")
        self.meter.show()
        self.ai_verdict.setText(view.explanation)
        self.ai_verdict.setAccessibleDescription(view.explanation)
        self._show_zoom(self._current_view().zoom_percent())

    def checks_started(self) -> None:
        self.checks_button.setEnabled(False)
        self.checks_cancel.show()
        self.checks_progress.setRange(0, 0)
        self.checks_progress.show()
        self.bars.set_message("Running clean-ups on the preview…")
        self.checks_note.setText("")
        self.offer_model_install(None)

    def show_checks_progress(self, done: int, total: int) -> None:
        self.checks_progress.setRange(0, max(total, 1))
        self.checks_progress.setValue(min(done, total))

    def checks_stopped(self, message: str) -> None:
        self.checks_button.setEnabled(self.compare.image_a is not None)
        self.checks_cancel.hide()
        self.checks_progress.hide()
        self.bars.set_message(message)
        self.checks_note.setText("")
        self.offer_model_install(None)

    def show_checks(self, rows: list[BarRow], note: str = "") -> None:
        self.checks_stopped("")
        self.bars.set_rows(rows)
        self.checks_note.setText(note)

    def offer_model_install(self, name: str | None, what: str = "AI clean-up (diffusion)") -> None:
        """Show "Install…" beside the checks when a check could not run for want of model ``name``."""
        self.model_to_install = name
        self.model_note.setText(f"“{what}” needs a model that is not installed ({name})." if name else "")
        self.model_note.setVisible(bool(name))
        self.model_install_button.setVisible(bool(name))
        self.model_install_button.setToolTip(f"Download {name} (asks first, with its size and licence)"
                                             if name else "")

    def _install_clicked(self) -> None:
        if self.model_to_install:
            self.model_install_requested.emit(self.model_to_install)

    def set_measure_choices(self, choices: list[tuple[str, str, bool]], current: str) -> None:
        """Fill "Measure with" from (name, label, installed); a model not installed says "(install…)"."""
        self.measure_combo.blockSignals(True)
        self.measure_combo.clear()
        for name, label, installed in choices:
            self.measure_combo.addItem(label if installed else f"{label} (install…)", name)
        index = self.measure_combo.findData(current)
        self.measure_combo.setCurrentIndex(max(index, 0))
        self.measure_combo.blockSignals(False)

    def measure_choice(self) -> str:
        return self.measure_combo.currentData() or "taef2"

    def _measure_activated(self, index: int) -> None:
        name = self.measure_combo.itemData(index)
        if name:
            self.measure_chosen.emit(name)

    def _actual_pixels(self) -> None:
        view = self._current_view()
        view.zoom_actual()
        if view is self.compare:
            self.detail_requested.emit()

    def _current_view(self) -> CompareView:
        return {0: self.compare, 1: self.heat, 2: self.ai}.get(self.tabs.currentIndex(), self.compare)

    def _tab_changed(self, index: int) -> None:
        zoomable = index in (0, 1, 2)
        self.fit_button.setEnabled(zoomable)
        self.actual_button.setEnabled(zoomable)
        self._show_zoom(self._current_view().zoom_percent())

    def _show_zoom(self, percent: float) -> None:
        self.zoom_label.setText(f"{percent:.0f} %" if self._current_view().image_a is not None else "")
