"""The library: a list of added folders/files, and a thumbnail grid with a status badge per photo."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QListView,
    QListWidget,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ui.models.library_model import PROGRESS_ROLE, STATUS_ROLE, LibraryModel

# Semantic colours (readable on light and dark backgrounds alike); everything else uses the palette.
STATUS_COLOURS = {
    "pending": QColor(128, 128, 128),
    "working": QColor(33, 150, 243),
    "protected": QColor(46, 160, 67),
    "failed": QColor(218, 54, 51),
}
GRID_ICON = QSize(150, 112)


def cell_size(line_height: int) -> QSize:
    """One grid cell: the icon, a line of text (the file name) and padding, for this font."""
    return QSize(GRID_ICON.width() + 24, GRID_ICON.height() + line_height + 22)


WELCOME = (
    "<h2>Protect your photos before you post them</h2>"
    "<p>RID Desktop adds a tiny change to each photo that people do not notice but that makes AI tools "
    "(“make a fake of this person”, AI photo editing) work poorly on it. Your originals are never changed: "
    "protected copies go into a new folder next to them.</p>"
    "<p><b>1.</b> Drop a folder of photos here, or use <b>Add folder…</b> (Ctrl+O).<br>"
    "<b>2.</b> Click a photo to see the protection up close.<br>"
    "<b>3.</b> Press <b>Protect</b>.</p>"
)


class StatusBadgeDelegate(QStyledItemDelegate):
    """Draws the normal icon+name cell, then a round status badge in the thumbnail's corner.

    Badge glyphs differ in shape, not just colour (dot / ring / check / cross), for colour-blind users.
    ``sizeHint`` reserves a full text line under the icon: with uniform item sizes Qt asks the
    delegate once, and without it the file names were cut off at some font sizes.
    """

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return cell_size(option.fontMetrics.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        status = index.data(STATUS_ROLE) or "pending"
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        style = opt.widget.style() if opt.widget else None
        icon_rect = (
            style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, opt, opt.widget)
            if style
            else option.rect
        )
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(icon, QIcon):  # badge on the picture's corner, not on the empty icon box
            actual = icon.actualSize(opt.decorationSize)
            icon_rect = QStyle.alignedRect(Qt.LayoutDirection.LeftToRight, Qt.AlignmentFlag.AlignCenter, actual, icon_rect)
        d = 22
        badge = QRect(icon_rect.right() - d - 3, icon_rect.top() + 3, d, d)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = STATUS_COLOURS.get(status, STATUS_COLOURS["pending"])
        painter.setPen(QPen(QColor(255, 255, 255, 230), 2))
        painter.setBrush(colour)
        painter.drawEllipse(badge)
        pen = QPen(QColor(255, 255, 255), 2.4)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        c = QPointF(badge.center()) + QPointF(0.5, 0.5)
        if status == "protected":
            path = QPainterPath(c + QPointF(-5, 0))
            path.lineTo(c + QPointF(-1.5, 4))
            path.lineTo(c + QPointF(5.5, -4))
            painter.drawPath(path)
        elif status == "failed":
            painter.drawLine(c + QPointF(-4, -4), c + QPointF(4, 4))
            painter.drawLine(c + QPointF(-4, 4), c + QPointF(4, -4))
        elif status == "working":
            fraction = float(index.data(PROGRESS_ROLE) or 0.0)
            arc = badge.adjusted(5, 5, -5, -5)
            painter.drawArc(arc, 90 * 16, -int(max(fraction, 0.08) * 360 * 16))
        else:
            painter.setBrush(QColor(255, 255, 255))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(c, 2.5, 2.5)
        painter.restore()


class ThumbnailGrid(QListView):
    """QListView in IconMode with uniform item sizes (so Qt lays out 2,000 rows without asking data)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(200)
        self.setIconSize(GRID_ICON)
        self.setGridSize(cell_size(self.fontMetrics().height()))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setAccessibleName("Photos")
        self.setAccessibleDescription("Thumbnails of the photos in the library, with their protection status")
        self.setSpacing(4)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setItemDelegate(StatusBadgeDelegate(self))
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setAcceptDrops(False)  # drops are handled by the main window as a whole


class LibraryPanel(QWidget):
    """Sources (folders/files) with Add/Remove buttons above the thumbnail grid."""

    add_folder_requested = Signal()
    add_files_requested = Signal()
    remove_requested = Signal(list)  # [source path str]

    def __init__(self, model: LibraryModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = model
        self.sources = QListWidget()
        self.sources.setObjectName("librarySources")
        self.sources.setMaximumHeight(96)
        self.sources.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.sources.setToolTip("Folders and files in your library. Drop more here from your file manager.")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_files_button = QPushButton("Add photos…")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected folders/files from the library (files on disk are untouched)")
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.remove_button.clicked.connect(self._remove_selected)
        self.sources.itemSelectionChanged.connect(
            lambda: self.remove_button.setEnabled(bool(self.sources.selectedItems()))
        )
        self.remove_button.setEnabled(False)

        buttons = QGridLayout()  # two rows when the pane is narrow (1024 px at 150 %)
        buttons.addWidget(self.add_folder_button, 0, 0)
        buttons.addWidget(self.add_files_button, 0, 1)
        buttons.setColumnStretch(2, 1)
        buttons.addWidget(self.remove_button, 0, 3)
        self._buttons = buttons

        self.grid = ThumbnailGrid()
        self.grid.setModel(model)
        self.empty_hint = QLabel(WELCOME)
        self.empty_hint.setObjectName("welcome")
        self.empty_hint.setAccessibleName("Getting started")
        self.empty_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setMargin(12)
        self.count_label = QLabel()
        self.count_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.count_label.setWordWrap(True)
        self.skipped_label = QLabel()
        self.skipped_label.setObjectName("skipped")
        self.skipped_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.skipped_label.setWordWrap(True)
        self.skipped_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.sources)
        layout.addWidget(self.empty_hint, 1)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.count_label)
        layout.addWidget(self.skipped_label)
        model.rowsInserted.connect(self.refresh)
        model.modelReset.connect(self.refresh)
        model.dataChanged.connect(self._maybe_count)
        self.refresh()

    def set_sources(self, sources: list[str]) -> None:
        self.sources.clear()
        self.sources.addItems(sources)
        for i, text in enumerate(sources):
            self.sources.item(i).setToolTip(text)

    def resizeEvent(self, event) -> None:
        """Move Remove to a second row when the three buttons no longer fit side by side."""
        needed = sum(b.sizeHint().width() for b in (self.add_folder_button, self.add_files_button,
                                                     self.remove_button)) + 24
        row, column = (0, 3) if event.size().width() >= needed else (1, 0)
        if self._buttons.getItemPosition(self._buttons.indexOf(self.remove_button))[:2] != (row, column):
            self._buttons.removeWidget(self.remove_button)
            self._buttons.addWidget(self.remove_button, row, column)
        super().resizeEvent(event)

    def refresh(self, *args) -> None:
        empty = self.model.rowCount() == 0
        self.empty_hint.setVisible(empty)
        self.grid.setVisible(not empty)
        self._update_count()

    def _maybe_count(self, top_left, bottom_right, roles=()) -> None:
        if not roles or STATUS_ROLE in roles:
            self._update_count()

    def _update_count(self) -> None:
        counts = self.model.status_counts()
        total = sum(counts.values())
        if not total:
            self.count_label.setText("")
            return
        parts = [f"{total} photo{'s' if total != 1 else ''}"]
        parts += [f"{n} {name}" for name, n in counts.items() if n and name != "pending"]
        self.count_label.setText(" · ".join(parts))
        self.grid.setAccessibleDescription("Photos: " + ", ".join(parts))

    def set_skipped_text(self, text: str, details: str = "") -> None:
        """'skipped: 3 videos, 2 RAW files (not supported)'; the file names are in the tooltip."""
        self.skipped_label.setText(text)
        self.skipped_label.setToolTip(details)
        self.skipped_label.setVisible(bool(text))

    def _remove_selected(self) -> None:
        chosen = [item.text() for item in self.sources.selectedItems()]
        if chosen:
            self.remove_requested.emit(chosen)
