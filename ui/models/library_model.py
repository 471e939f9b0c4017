"""The photo library as a Qt list model: one row per image, with its protection status.

The model never decodes an image itself. ``DecorationRole`` answers at once with a cached pixmap
or a placeholder and asks the :class:`ThumbnailLoader` for the real one; Qt only asks for rows that
are visible, so opening 2,000 photos costs 2,000 list entries, not 2,000 decodes.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

from ui.models.thumbnails import THUMB_SIZE, ThumbnailLoader


class Status(str, Enum):
    PENDING = "pending"
    WORKING = "working"
    PROTECTED = "protected"
    FAILED = "failed"


STATUS_ROLE = Qt.ItemDataRole.UserRole + 1
PATH_ROLE = Qt.ItemDataRole.UserRole + 2
REASON_ROLE = Qt.ItemDataRole.UserRole + 3
OUTPUT_ROLE = Qt.ItemDataRole.UserRole + 4
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 5

MAX_PIXMAPS = 800  # in-memory LRU; the disk cache holds the rest


@dataclass
class ImageEntry:
    path: Path
    status: Status = Status.PENDING
    reason: str = ""
    output: Path | None = None
    progress: float = 0.0  # 0..1 within the image while WORKING


class LibraryModel(QAbstractListModel):
    """Rows are images; statuses are set by the main window from batch events."""

    def __init__(self, parent: QObject | None = None, loader: ThumbnailLoader | None = None):
        super().__init__(parent)
        self._entries: list[ImageEntry] = []
        self._row_of: dict[str, int] = {}
        # QIcon, not QPixmap: a pixmap decoration is drawn at its own size, an icon is scaled to the
        # view's iconSize (keeping the aspect ratio) and picks the right resolution on high-DPI screens.
        self._pixmaps: OrderedDict[str, QIcon] = OrderedDict()
        self._broken: set[str] = set()
        self.loader = loader or ThumbnailLoader(self)
        self.loader.ready.connect(self._on_thumbnail)
        self.loader.failed.connect(self._on_thumbnail_failed)
        self._placeholder: QIcon | None = None

    # --- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._entries):
            return None
        entry = self._entries[index.row()]
        key = str(entry.path)
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.path.name
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self._pixmaps.get(key)
            if pixmap is not None:
                self._pixmaps.move_to_end(key)
                return pixmap
            if key not in self._broken:
                self.loader.request(key)
            return self.placeholder()
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"{entry.path}\nStatus: {entry.status.value}"
            if entry.reason:
                text += f"\n{entry.reason}"
            if entry.output:
                text += f"\nSaved as: {entry.output}"
            return text
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{entry.path.name}, {entry.status.value}"
        if role == Qt.ItemDataRole.AccessibleDescriptionRole:
            return entry.reason or f"{entry.status.value}"
        if role == STATUS_ROLE:
            return entry.status.value
        if role == PATH_ROLE:
            return key
        if role == REASON_ROLE:
            return entry.reason
        if role == OUTPUT_ROLE:
            return str(entry.output) if entry.output else ""
        if role == PROGRESS_ROLE:
            return entry.progress
        return None

    # --- library edits ------------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> int:
        """Append images not already present; returns how many were added."""
        new = []
        seen = set(self._row_of)
        for p in paths:
            key = str(p)
            if key not in seen:
                seen.add(key)
                new.append(ImageEntry(Path(p)))
        if not new:
            return 0
        first = len(self._entries)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for i, entry in enumerate(new):
            self._entries.append(entry)
            self._row_of[str(entry.path)] = first + i
        self.endInsertRows()
        return len(new)

    def remove_under(self, root: Path) -> int:
        """Drop every image that is ``root`` or inside it (removing a library source)."""
        root = Path(root)
        keep = [e for e in self._entries if not (e.path == root or root in e.path.parents)]
        removed = len(self._entries) - len(keep)
        if removed:
            self.beginResetModel()
            self._entries = keep
            self._row_of = {str(e.path): i for i, e in enumerate(keep)}
            self.endResetModel()
        return removed

    def clear(self) -> None:
        self.beginResetModel()
        self._entries, self._row_of = [], {}
        self.endResetModel()

    # --- status -------------------------------------------------------------------------------
    def set_status(self, path: Path | str, status: Status, reason: str = "", output: Path | None = None) -> None:
        row = self._row_of.get(str(path))
        if row is None:
            return
        entry = self._entries[row]
        entry.status, entry.reason, entry.progress = status, reason, 0.0
        if output is not None:
            entry.output = Path(output)
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, [STATUS_ROLE, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.AccessibleTextRole])

    def set_progress(self, path: Path | str, fraction: float) -> None:
        row = self._row_of.get(str(path))
        if row is not None:
            self._entries[row].progress = fraction
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [PROGRESS_ROLE])

    def entries(self) -> list[ImageEntry]:
        return list(self._entries)

    def entry(self, path: Path | str) -> ImageEntry | None:
        row = self._row_of.get(str(path))
        return None if row is None else self._entries[row]

    def paths(self) -> list[Path]:
        return [e.path for e in self._entries]

    def status_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for e in self._entries:
            counts[e.status.value] += 1
        return counts

    def has_thumbnail(self, path: Path | str) -> bool:
        return str(path) in self._pixmaps

    # --- thumbnails ---------------------------------------------------------------------------
    def placeholder(self) -> QIcon:
        """A neutral frame drawn from the palette (works in light and dark mode)."""
        if self._placeholder is None:
            pixmap = QPixmap(QSize(THUMB_SIZE, THUMB_SIZE * 3 // 4))
            palette = QApplication.palette() if QApplication.instance() else QPalette()
            pixmap.fill(palette.color(QPalette.ColorRole.AlternateBase))
            painter = QPainter(pixmap)
            pen = QColor(palette.color(QPalette.ColorRole.Mid))
            painter.setPen(pen)
            painter.drawRect(pixmap.rect().adjusted(0, 0, -1, -1))
            painter.end()
            self._placeholder = QIcon(pixmap)
        return self._placeholder

    def refresh_placeholder(self) -> None:
        """Redraw the placeholder from the current palette (the OS switched light/dark)."""
        self._placeholder = None
        if self._entries:
            self.dataChanged.emit(self.index(0), self.index(len(self._entries) - 1), [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail(self, path: str, image: QImage) -> None:
        self._pixmaps[path] = QIcon(QPixmap.fromImage(image))
        while len(self._pixmaps) > MAX_PIXMAPS:
            self._pixmaps.popitem(last=False)
        row = self._row_of.get(path)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def _on_thumbnail_failed(self, path: str, reason: str) -> None:
        self._broken.add(path)
        row = self._row_of.get(path)
        if row is not None and not self._entries[row].reason:
            self._entries[row].reason = f"cannot preview: {reason}"
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.ToolTipRole])
