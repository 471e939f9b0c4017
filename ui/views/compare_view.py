"""Before/after image view: a draggable split line, zoom (fit or 1:1) and pan.

Left of the split shows image A (original), right shows image B (protected). Drag the handle to
move the split, drag elsewhere to pan, wheel to zoom. "1:1" means one image pixel per *device*
pixel, so on a high-DPI screen it really is 1:1 (the logical scale is divided by devicePixelRatio).

Geometry is in the *photo's* pixels (``photo_size``), whatever the size of the images shown: a
downscaled preview is drawn stretched over the full photo's rectangle, so zoom and pan stay put when
the real full-size pixels arrive. When the view is zoomed in past what the shown images hold, it
emits ``detail_needed`` and says so in a chip; the chip always names which pixels are on screen.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPalette, QPen, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

HANDLE_GRAB_PX = 10


class CompareView(QWidget):
    zoom_changed = Signal(float)  # zoom in percent: 100 = one photo pixel per device pixel
    detail_needed = Signal()  # zoomed in further than the shown images have pixels

    def __init__(self, parent: QWidget | None = None, *, labels: tuple[str, str] = ("Original", "Protected")):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self.setMouseTracking(True)
        self.labels = labels
        self.image_a: QImage | None = None
        self.image_b: QImage | None = None
        self.split = 0.5  # fraction of the widget width
        self.split_enabled = True
        self.fit = True
        self.scale = 1.0  # logical px per image px when not fitting
        self.center = QPointF(0.5, 0.5)  # image point (normalised) at the widget centre
        self.message = ""
        self.photo_size = QSize()  # size of the photo on disk; the images may be smaller (preview)
        self.pixel_note = ""  # which pixels are shown, e.g. "preview pixels (1155×866)"
        self._drag: str | None = None
        self._last = QPointF()

    # --- content ------------------------------------------------------------------------------
    def set_images(self, a: QImage | None, b: QImage | None = None, photo_size: QSize | None = None) -> None:
        """Show ``a`` | ``b`` (or just ``a``) over a photo of ``photo_size`` (default: a's size).

        Keeps zoom/pan when the photo size is unchanged.
        """
        size = QSize(photo_size) if photo_size is not None else (a.size() if a is not None else QSize())
        same_size = self.image_a is not None and a is not None and self.photo_size == size
        self.image_a, self.image_b, self.photo_size = a, b, size
        if a is None:
            self.pixel_note = ""
        self.setAccessibleDescription(self.pixel_note or self.message)
        if not same_size:
            self.fit, self.center = True, QPointF(0.5, 0.5)
        self.message = ""
        self.update()

    def set_message(self, text: str) -> None:
        self.message = text
        self.setAccessibleDescription(text or self.pixel_note)
        self.update()

    def set_pixel_note(self, text: str) -> None:
        self.pixel_note = text
        self.setAccessibleDescription(text)
        self.update()

    def needs_detail(self) -> bool:
        """True when zoomed in so far that the shown image's pixels are being enlarged."""
        if self.image_a is None or self.image_a.width() >= self.photo_size.width():
            return False
        shown = self.image_a.width() / max(self.photo_size.width(), 1)
        return self.current_scale() * self.devicePixelRatioF() > shown * 1.05

    def zoom_fit(self) -> None:
        self.fit, self.center = True, QPointF(0.5, 0.5)
        self._emit_zoom()
        self.update()

    def zoom_actual(self) -> None:
        """1:1 — one image pixel per device pixel."""
        self.fit = False
        self.scale = 1.0 / self.devicePixelRatioF()
        self._emit_zoom()
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        if self.image_a is None:
            return
        old = self.current_scale()
        new = min(max(old * factor, 0.02), 32.0)
        if anchor is not None and not self.fit:
            # keep the image point under the cursor fixed
            img_pt = self._to_image(anchor)
            self.scale = new
            w, h = self.photo_size.width(), self.photo_size.height()
            self.center = QPointF(
                (img_pt.x() - (anchor.x() - self.width() / 2) / new) / w,
                (img_pt.y() - (anchor.y() - self.height() / 2) / new) / h,
            )
        self.fit, self.scale = False, new
        self._emit_zoom()
        self.update()

    def current_scale(self) -> float:
        """Logical widget px per image px."""
        if self.image_a is None:
            return 1.0
        if self.fit:
            w, h = self.photo_size.width(), self.photo_size.height()
            return min(self.width() / max(w, 1), self.height() / max(h, 1))
        return self.scale

    def zoom_percent(self) -> float:
        """Zoom as users read it: 100 % = one image pixel per device pixel."""
        return self.current_scale() * self.devicePixelRatioF() * 100

    def image_rect(self) -> QRectF:
        """Where the image lies in widget coordinates."""
        if self.image_a is None:
            return QRectF()
        s = self.current_scale()
        w, h = self.photo_size.width() * s, self.photo_size.height() * s
        if self.fit:
            return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
        cx, cy = self.center.x() * w, self.center.y() * h
        return QRectF(self.width() / 2 - cx, self.height() / 2 - cy, w, h)

    # --- painting -----------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        if self.image_a is None:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.message or "Select a photo to preview it")
            return
        shown = self.image_a.width() / max(self.photo_size.width(), 1)
        smooth = self.current_scale() * self.devicePixelRatioF() < shown
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        target = self.image_rect()
        source = QRectF(0, 0, self.image_a.width(), self.image_a.height())
        if self.image_b is None or not self.split_enabled:
            painter.drawImage(target, self.image_a, source)
        else:
            x = self.split * self.width()
            painter.save()
            painter.setClipRect(QRectF(0, 0, x, self.height()))
            painter.drawImage(target, self.image_a, source)
            painter.setClipRect(QRectF(x, 0, self.width() - x, self.height()))
            painter.drawImage(target, self.image_b, source)
            painter.restore()
            self._paint_handle(painter, x)
        if self.pixel_note:
            self._paint_chip(painter, QPointF(8, self.height() - 8), self.pixel_note, bottom=True)
        if self.message:
            self._paint_chip(painter, QPointF(self.width() / 2, self.height() / 2), self.message, center=True)

    def _paint_handle(self, painter: QPainter, x: float) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(Qt.GlobalColor.white, 2))
        painter.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        painter.setPen(QPen(Qt.GlobalColor.black, 1))
        painter.setBrush(Qt.GlobalColor.white)
        painter.drawEllipse(QPointF(x, self.height() / 2), 9, 9)
        painter.drawText(QRectF(x - 9, self.height() / 2 - 9, 18, 18), Qt.AlignmentFlag.AlignCenter, "⇔")
        self._paint_chip(painter, QPointF(8, 8), self.labels[0])
        self._paint_chip(painter, QPointF(self.width() - 8, 8), self.labels[1], right=True)

    def _paint_chip(self, painter: QPainter, at: QPointF, text: str, *, right=False, center=False,
                    bottom=False) -> None:
        """A dark rounded label; long text wraps inside the view instead of running off its edge."""
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        rect = self.chip_rect(text, at, right=right, center=center, bottom=bottom)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Qt.GlobalColor.black)
        painter.setOpacity(0.55)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setOpacity(1.0)
        painter.setPen(Qt.GlobalColor.white)
        painter.drawText(rect, flags, text)

    def chip_rect(self, text: str, at: QPointF, *, right=False, center=False, bottom=False) -> QRectF:
        """Where a chip with ``text`` goes: at most the view's width less margins, as tall as the wrapped text."""
        metrics = self.fontMetrics()
        limit = max(self.width() - 24, 40)
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        bounds = metrics.boundingRect(QRect(0, 0, limit - 12, 10000), flags, text)
        w, h = bounds.width() + 12, bounds.height() + 4
        x = at.x() - w if right else (at.x() - w / 2 if center else at.x())
        y = at.y() - h / 2 if center else (at.y() - h if bottom else at.y())
        return QRectF(x, y, w, h)

    # --- interaction --------------------------------------------------------------------------
    def _near_handle(self, pos: QPointF) -> bool:
        return self.image_b is not None and self.split_enabled and abs(pos.x() - self.split * self.width()) <= HANDLE_GRAB_PX

    def _to_image(self, pos: QPointF) -> QPointF:
        rect, s = self.image_rect(), self.current_scale()
        return QPointF((pos.x() - rect.x()) / s, (pos.y() - rect.y()) / s)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.image_a is not None:
            pos = event.position()
            if self._near_handle(pos) or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self._drag = "split"
                self.set_split(pos.x() / max(self.width(), 1))
            else:
                self._drag = "pan"
                if self.fit:  # start panning from the fitted view
                    self.scale, self.fit = self.current_scale(), False
                self.setCursor(Qt.CursorShape.ClosedHandCursor)
            self._last = pos

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "split":
            self.set_split(pos.x() / max(self.width(), 1))
        elif self._drag == "pan" and self.image_a is not None:
            s = self.current_scale()
            d = pos - self._last
            self.center = QPointF(
                self.center.x() - d.x() / (self.photo_size.width() * s),
                self.center.y() - d.y() / (self.photo_size.height() * s),
            )
            self.update()
        else:
            shape = Qt.CursorShape.SplitHCursor if self._near_handle(pos) else Qt.CursorShape.OpenHandCursor
            self.setCursor(shape if self.image_a is not None else Qt.CursorShape.ArrowCursor)
        self._last = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.fit:
            self.zoom_actual()
        else:
            self.zoom_fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.25**steps, event.position())

    def set_split(self, fraction: float) -> None:
        self.split = min(max(fraction, 0.0), 1.0)
        self.update()

    def _emit_zoom(self) -> None:
        self.zoom_changed.emit(self.zoom_percent())
        if self.needs_detail():
            self.detail_needed.emit()
