"""Preview of the selected photo: compare (split slider), heat map, AI view, robustness, metrics.

The pane only shows results; :class:`ui.workers.PreviewService` computes them off the UI thread.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ui.views.compare_view import CompareView
from ui.views.robustness_bars import BarRow, RobustnessBars


def format_metrics(metrics) -> dict[str, str]:
    psnr = metrics.psnr_db
    return {
        "psnr": "∞ dB" if math.isinf(psnr) else f"{psnr:.1f} dB",
        "ssim": f"{metrics.ssim:.3f}",
        "linf": f"{metrics.linf_255:.1f}/255",
    }


class PreviewPane(QWidget):
    ai_view_requested = Signal()
    checks_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Preview")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.compare = CompareView()
        self.heat = CompareView(labels=("", ""))
        self.ai = CompareView(labels=("AI sees: original", "AI sees: protected"))
        self.ai.set_message("")
        self.bars = RobustnessBars()

        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the photo in the view (double-click the image to toggle)")
        self.actual_button = QToolButton()
        self.actual_button.setText("1:1")
        self.actual_button.setToolTip("Actual pixels: one photo pixel per screen pixel")
        self.zoom_label = QLabel()
        self.fit_button.clicked.connect(lambda: self._current_view().zoom_fit())
        self.actual_button.clicked.connect(lambda: self._current_view().zoom_actual())

        self.ai_button = QPushButton("Show AI view")
        self.ai_button.setToolTip("Round-trip both images through the surrogate image autoencoder")
        self.ai_button.clicked.connect(self.ai_view_requested)
        self.ai_score = QLabel()
        self.ai_score.setWordWrap(True)
        ai_page = QWidget()
        ai_layout = QVBoxLayout(ai_page)
        ai_layout.setContentsMargins(0, 0, 0, 0)
        ai_row = QHBoxLayout()
        ai_row.addWidget(self.ai_button)
        ai_row.addWidget(self.ai_score, 1)
        ai_layout.addLayout(ai_row)
        ai_layout.addWidget(self.ai, 1)

        self.checks_button = QPushButton("Run robustness checks")
        self.checks_button.setToolTip("JPEG, IWMF, resize, grayscale (and DiffPure when a model is configured)")
        self.checks_button.clicked.connect(self.checks_requested)
        self.checks_note = QLabel()
        self.checks_note.setWordWrap(True)
        self.checks_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        checks_page = QWidget()
        checks_layout = QVBoxLayout(checks_page)
        checks_layout.setContentsMargins(6, 6, 6, 6)
        checks_row = QHBoxLayout()
        checks_row.addWidget(self.checks_button)
        checks_row.addStretch(1)
        checks_layout.addLayout(checks_row)
        checks_layout.addWidget(self.bars)
        checks_layout.addWidget(self.checks_note)
        checks_layout.addStretch(1)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.compare, "Compare")
        self.tabs.addTab(self.heat, "Heat map")
        self.tabs.addTab(ai_page, "AI view")
        self.tabs.addTab(checks_page, "Robustness")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.psnr = QLabel("—")
        self.ssim = QLabel("—")
        self.linf = QLabel("—")
        for label, tip in (
            (self.psnr, "Peak signal-to-noise ratio: above about 40 dB the change is hard to see"),
            (self.ssim, "Structural similarity: 1.000 means identical"),
            (self.linf, "Largest change of any pixel value, in 255ths (never above the strength)"),
        ):
            label.setToolTip(tip)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        metrics_row = QHBoxLayout()
        for name, label in (("PSNR", self.psnr), ("SSIM", self.ssim), ("L∞", self.linf)):
            caption = QLabel(f"{name}:")
            caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            metrics_row.addWidget(caption)
            metrics_row.addWidget(label)
            metrics_row.addSpacing(12)
        metrics_row.addStretch(1)
        metrics_row.addWidget(self.zoom_label)
        metrics_row.addWidget(self.fit_button)
        metrics_row.addWidget(self.actual_button)

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.status)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(metrics_row)
        for view in (self.compare, self.heat, self.ai):
            view.zoom_changed.connect(self._show_zoom)
        self.clear()

    # --- updates --------------------------------------------------------------------------------
    def clear(self, message: str = "Select a photo to preview it") -> None:
        self.title.setText("Preview")
        self.status.setText("")
        self.compare.set_images(None)
        self.compare.set_message(message)
        self.heat.set_images(None)
        self.heat.set_message("The heat map shows where the change went")
        self.ai.set_images(None)
        self.ai.set_message("Click “Show AI view”")
        self.ai_score.setText("")
        self.bars.set_message("Run the checks to see whether protection survives common clean-ups.")
        self.checks_note.setText("")
        for label in (self.psnr, self.ssim, self.linf):
            label.setText("—")
        self.ai_button.setEnabled(False)
        self.checks_button.setEnabled(False)

    def set_busy(self, text: str) -> None:
        self.status.setText(text)

    def show_preview(self, result) -> None:
        """Show a :class:`ui.workers.PreviewResult`."""
        h, w = result.full_size
        ph, pw = result.original.shape[-2:]
        scale_note = "" if (ph, pw) == (h, w) else f", preview {pw}×{ph}"
        self.title.setText(f"{result.path.name}  ({w}×{h}{scale_note})")
        self.status.setText(f"{result.eps * 255:.0f}/255 · {result.seconds:.2f} s")
        self.compare.set_images(result.original_image, result.protected_image)
        self.heat.set_images(result.heat_image)
        self.heat.split_enabled = False
        values = format_metrics(result.metrics)
        self.psnr.setText(values["psnr"])
        self.ssim.setText(values["ssim"])
        self.linf.setText(values["linf"])
        self.ai.set_images(None)
        self.ai.set_message("Click “Show AI view”")
        self.ai_score.setText("")
        self.bars.set_message("Run the checks to see whether protection survives common clean-ups.")
        self.checks_note.setText("")
        self.ai_button.setEnabled(True)
        self.checks_button.setEnabled(True)
        self._show_zoom(self._current_view().zoom_percent())

    def show_ai_view(self, view_original: QImage, view_protected: QImage, score_text: str) -> None:
        self.ai.set_images(view_original, view_protected)
        self.ai_score.setText(score_text)
        self._show_zoom(self._current_view().zoom_percent())

    def show_checks(self, rows: list[BarRow], note: str = "") -> None:
        self.bars.set_rows(rows)
        self.checks_note.setText(note)

    def _current_view(self) -> CompareView:
        return {0: self.compare, 1: self.heat, 2: self.ai}.get(self.tabs.currentIndex(), self.compare)

    def _tab_changed(self, index: int) -> None:
        zoomable = index in (0, 1, 2)
        self.fit_button.setEnabled(zoomable)
        self.actual_button.setEnabled(zoomable)
        self._show_zoom(self._current_view().zoom_percent())

    def _show_zoom(self, percent: float) -> None:
        self.zoom_label.setText(f"{percent:.0f} %" if self._current_view().image_a is not None else "")
