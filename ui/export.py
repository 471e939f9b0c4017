"""A before/after comparison image of one photo, for sharing or a report (File ▸ Export comparison…).

Like ``rid-desktop check --grid``, but from what the window already computed: original, protected
copy and the heat map of the change side by side, each labelled, and a footer with the numbers and
what they were measured on.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from ui.views.metrics_bar import format_metrics
from ui.wording import strength_label

LABEL_H = 28
FOOTER_H = 30
GAP = 6


def comparison_image(result, full=None) -> QImage:
    """original | protected | change of a :class:`ui.workers.PreviewResult`, labelled (QImage, RGB)."""
    panels = [("Original", result.original_image), ("Protected", result.protected_image),
              ("Change (black = none, white = the strength)", result.heat_image)]
    w, h = result.original_image.width(), result.original_image.height()
    width = 3 * w + 4 * GAP
    canvas = QImage(width, h + LABEL_H + FOOTER_H + 2 * GAP, QImage.Format.Format_RGB888)
    canvas.fill(QColor(255, 255, 255))
    painter = QPainter(canvas)
    font = QFont()
    font.setPixelSize(14)
    painter.setFont(font)
    painter.setPen(QColor(0, 0, 0))
    for i, (label, image) in enumerate(panels):
        x = GAP + i * (w + GAP)
        painter.drawText(QRect(x, 0, w, LABEL_H), Qt.AlignmentFlag.AlignCenter, label)
        painter.drawImage(QRect(x, LABEL_H, w, h), image)
    source = full if full is not None and full.path == result.path else None
    metrics = format_metrics(source.metrics if source else result.metrics)
    measured = (f"the full {source.size[1]}×{source.size[0]} output file" if source
                else f"the {w}×{h} preview of a {result.full_size[1]}×{result.full_size[0]} photo")
    footer = (f"{result.path.name} · {strength_label(round(result.eps * 255))} · method {result.engine} · "
              f"PSNR {metrics['psnr']}, SSIM {metrics['ssim']}, largest change {metrics['linf']} "
              f"(measured on {measured})")
    painter.drawText(QRect(GAP, LABEL_H + h + GAP, width - 2 * GAP, FOOTER_H),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, footer)
    painter.end()
    return canvas
