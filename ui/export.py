"""A before/after comparison image of one photo, for sharing or a report (File ▸ Export comparison…).

Like ``rid-desktop check --grid``, but from what the window already computed: original, protected
copy and the heat map of the change side by side, each labelled, and a footer with the numbers and
what they were measured on.
"""

from __future__ import annotations

from pathlib import Path

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


def export_comparison(window) -> Path | None:
    """Ask where, then save :func:`comparison_image` of the window's preview; returns the file or None."""
    from PySide6.QtWidgets import QFileDialog

    from ui.views import dialogs

    result = window.preview_result
    if result is None:
        window.statusBar().showMessage("Select a photo first: the comparison is made from its preview", 6000)
        return None
    folders = window.settings.recent_folders
    suggested = str(Path(folders[0] if folders else Path.home()) / f"{result.path.stem}-comparison.png")
    target, _ = QFileDialog.getSaveFileName(window, "Export comparison", suggested, "PNG image (*.png)")
    if not target:
        return None
    if not comparison_image(result, window.preview_presenter.full).save(target, "PNG"):
        window.last_dialog = dialogs.error(window, "Export failed", f"Could not write {target}.")
        return None
    window.statusBar().showMessage(f"Comparison saved as {target}", 8000)
    return Path(target)
