"""Robustness results as paired bars: protection before and after each clean-up, with the verdict."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

VERDICT_COLOURS = {
    "survives": QColor(46, 160, 67),
    "weakened": QColor(214, 150, 0),
    "removed": QColor(218, 54, 51),
}


@dataclass(frozen=True)
class BarRow:
    """One purifier: protection score without clean-up (before) and after it, plus the verdict."""

    label: str
    before: float
    after: float
    verdict: str
    note: str = ""


class RobustnessBars(QWidget):
    ROW_H = 44

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.rows: list[BarRow] = []
        self.message = "Run the checks to see whether protection survives common clean-ups."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def set_rows(self, rows: list[BarRow]) -> None:
        self.rows = list(rows)
        self.message = "" if rows else "No results."
        self.setToolTip("\n".join(f"{r.label}: {r.verdict}" + (f" — {r.note}" if r.note else "") for r in rows))
        self.updateGeometry()
        self.update()

    def set_message(self, text: str) -> None:
        self.rows, self.message = [], text
        self.updateGeometry()
        self.update()

    def resizeEvent(self, event) -> None:
        self.updateGeometry()  # the legend may need a second line at this width
        super().resizeEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(360, max(60, 8 + self._legend_height() + self.ROW_H * len(self.rows)))

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 60)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.WindowText)
        if not self.rows:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        metrics = painter.fontMetrics()
        label_w = max(metrics.horizontalAdvance(r.label) for r in self.rows) + 12
        verdict_w = max(metrics.horizontalAdvance(v) for v in VERDICT_COLOURS) + 16
        bar_x = label_w
        bar_w = max(self.width() - label_w - verdict_w - 8, 40)
        top = max((r.before for r in self.rows), default=1.0)
        top = max(top, max((r.after for r in self.rows), default=0.0), 1e-12)
        before_colour = pal.color(QPalette.ColorRole.Mid)
        legend_h = self._paint_legend(painter, bar_x, bar_w + verdict_w, before_colour)
        for i, row in enumerate(self.rows):
            y = legend_h + 4 + i * self.ROW_H
            painter.setPen(text)
            painter.drawText(QRectF(0, y, label_w - 6, 32), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row.label)
            colour = VERDICT_COLOURS.get(row.verdict, pal.color(QPalette.ColorRole.Highlight))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(before_colour)
            painter.drawRoundedRect(QRectF(bar_x, y + 2, max(bar_w * row.before / top, 2), 12), 3, 3)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(bar_x, y + 18, max(bar_w * row.after / top, 2), 12), 3, 3)
            painter.setPen(colour)
            font = painter.font()
            font.setBold(True)
            painter.setFont(font)
            painter.drawText(
                QRectF(bar_x + bar_w + 8, y, verdict_w, 32), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, row.verdict
            )
            font.setBold(False)
            painter.setFont(font)

    LEGEND_SECOND = "after clean-up (colour = verdict; longer = stronger)"

    def _legend_height(self) -> int:
        """One line of keys when they fit beside each other, else two (never cut off)."""
        fm = self.fontMetrics()
        needed = fm.horizontalAdvance("before clean-up") + fm.horizontalAdvance(self.LEGEND_SECOND) + 60
        label_w = max((fm.horizontalAdvance(r.label) for r in self.rows), default=0) + 12
        return 20 if self.width() - label_w >= needed else 40

    def _paint_legend(self, painter: QPainter, x: float, width: float, before_colour: QColor) -> int:
        """Colour keys for the two bars (the after bar takes its verdict's colour); returns its height."""
        metrics = painter.fontMetrics()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(before_colour)
        painter.drawRoundedRect(QRectF(x, 5, 12, 10), 2, 2)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        first = "before clean-up"
        painter.drawText(QRectF(x + 16, 0, width, 20), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, first)
        height = self._legend_height()
        x2, y2 = (x + 16 + metrics.horizontalAdvance(first) + 14, 0) if height == 20 else (x, 20)
        for i, colour in enumerate(VERDICT_COLOURS.values()):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(QRectF(x2 + 5 * i, y2 + 5, 4, 10), 1, 1)
        painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
        second = metrics.elidedText(self.LEGEND_SECOND, Qt.TextElideMode.ElideRight, int(max(self.width() - x2 - 20, 0)))
        painter.drawText(QRectF(x2 + 18, y2, self.width() - x2 - 18, 20),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, second)
        return height
