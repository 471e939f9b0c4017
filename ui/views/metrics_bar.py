"""The numbers under the preview, and the heat map's colour scale.

Each number has a tooltip that says what is good, and the bar always says what the numbers were
measured on (the ~1 MP preview, or the full-size file as written) so a figure is never mistaken for
the other one's.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from ui.wording import TOOLTIPS


def format_metrics(metrics) -> dict[str, str]:
    psnr = metrics.psnr_db
    return {
        "psnr": "∞ dB" if math.isinf(psnr) else f"{psnr:.1f} dB",
        "ssim": f"{metrics.ssim:.3f}",
        "linf": f"{metrics.linf_255:.1f}/255",
    }


class MetricsBar(QWidget):
    """Closeness · similarity · largest change, captions above values, then "measured on …" (wraps).

    A grid rather than one line: at 1024 px the preview pane is narrow, and a single row cut the
    numbers off ("35.8 d"). Each value label is as wide as its widest possible text.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.psnr, self.ssim, self.linf = QLabel("—"), QLabel("—"), QLabel("—")
        self.measured_on = QLabel()
        self.measured_on.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.measured_on.setWordWrap(True)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(14)
        grid.setVerticalSpacing(0)
        widest = {"psnr": "∞ 99.9 dB", "ssim": "0.000", "linf": "32.0/255"}
        for column, (key, caption_text, label) in enumerate((("psnr", "Closeness", self.psnr),
                                                             ("ssim", "Similarity", self.ssim),
                                                             ("linf", "Max change", self.linf))):
            caption = QLabel(caption_text)
            caption.setWordWrap(True)  # "Max change" may take two lines on a narrow pane, never get cut
            caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            label.setToolTip(TOOLTIPS[key])
            caption.setToolTip(TOOLTIPS[key])
            label.setAccessibleName(caption_text)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setMinimumWidth(label.fontMetrics().horizontalAdvance(widest[key]) + 4)
            grid.addWidget(caption, 0, column)
            grid.addWidget(label, 1, column)
        grid.setColumnStretch(3, 1)
        grid.addWidget(self.measured_on, 2, 0, 1, 4)

    def clear(self) -> None:
        for label in (self.psnr, self.ssim, self.linf):
            label.setText("—")
        self.measured_on.setText("")

    def show_metrics(self, metrics, measured_on: str) -> None:
        values = format_metrics(metrics)
        self.psnr.setText(values["psnr"])
        self.ssim.setText(values["ssim"])
        self.linf.setText(values["linf"])
        self.measured_on.setText(f"measured on {measured_on}")
        self.measured_on.setToolTip(f"These numbers were measured on {measured_on}.")
        for label, key in ((self.psnr, "psnr"), (self.ssim, "ssim"), (self.linf, "linf")):
            label.setAccessibleDescription(f"{label.text()}, measured on {measured_on}")


class HeatScale(QWidget):
    """The heat map's key: black (unchanged) to white (the largest change the strength allows)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.top_text = "8/255"
        self.setToolTip(TOOLTIPS["heat"])
        self.setAccessibleName("Heat map scale")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_top(self, eps_255: float) -> None:
        self.top_text = f"{eps_255:.0f}/255 (the strength)"
        self.setAccessibleDescription(f"black = unchanged, white = {self.top_text}")
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, self.fontMetrics().height() + 16)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        fm = self.fontMetrics()
        left, right = "unchanged", self.top_text
        lw, rw = fm.horizontalAdvance(left) + 8, fm.horizontalAdvance(right) + 8
        bar = QRectF(lw, 4, max(self.width() - lw - rw, 20), self.height() - 8)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for stop, colour in ((0.0, QColor(0, 0, 0)), (1 / 3, QColor(255, 0, 0)), (2 / 3, QColor(255, 255, 0)),
                             (1.0, QColor(255, 255, 255))):
            gradient.setColorAt(stop, colour)
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawRect(bar)
        align = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRectF(0, 0, lw, self.height()), align | Qt.AlignmentFlag.AlignLeft, left)
        painter.drawText(QRectF(bar.right() + 6, 0, rw, self.height()), align | Qt.AlignmentFlag.AlignLeft, right)
