"""Thumbnails made off the UI thread and cached on disk, so a 2,000-photo folder opens instantly.

A cache entry is keyed by (absolute path, mtime, size): editing or replacing a photo makes a new key,
so a stale thumbnail is never shown. Decoding uses Pillow's JPEG draft mode (decodes at 1/2..1/8
scale) and applies the EXIF orientation, so the grid shows photos the right way up.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from rid_desktop import paths
from rid_desktop.io.formats import pil_open_formats, register_heif

THUMB_SIZE = 192  # longest side in device-independent pixels; the grid scales down from this


def init_image_plugins() -> None:
    """Load Pillow's plugins (and HEIF) once, on the UI thread, before any worker decodes.

    Pillow registers plugins lazily and not thread-safely: two threads opening their first image at
    the same time can see a half-filled registry and misread a PNG. Doing it up front avoids that.
    """
    register_heif()
    Image.init()
    pil_open_formats()


init_image_plugins()


def thumbnail_cache_dir() -> Path:
    """Per-user cache folder; follows RID_DESKTOP_DATA_DIR so tests stay isolated."""
    override = os.environ.get("RID_DESKTOP_CACHE_DIR")
    if override:
        return Path(override) / "thumbnails"
    if os.environ.get("RID_DESKTOP_DATA_DIR"):
        return paths.user_data_dir() / "cache" / "thumbnails"
    return Path(platformdirs.user_cache_dir(paths.APP_SLUG, appauthor=False)) / "thumbnails"


def cache_key(path: Path) -> str:
    """sha1 of path + mtime + size; raises OSError when the file is gone."""
    stat = path.stat()
    blob = f"{path.resolve()}|{stat.st_mtime_ns}|{stat.st_size}|{THUMB_SIZE}"
    return hashlib.sha1(blob.encode()).hexdigest()


def make_thumbnail(path: Path, cache_dir: Path | None = None) -> QImage:
    """Return a thumbnail QImage for ``path`` (from the disk cache when fresh). Safe off the UI thread.

    Raises:
        OSError / PIL errors: unreadable or non-image file (the caller shows a placeholder).
    """
    cache_dir = cache_dir or thumbnail_cache_dir()
    cached = cache_dir / f"{cache_key(path)}.png"
    if cached.is_file():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    with Image.open(path, formats=pil_open_formats()) as im:
        im.draft("RGB", (THUMB_SIZE, THUMB_SIZE))  # JPEG: decode at reduced scale, much faster
        im = ImageOps.exif_transpose(im)
        im = im.convert("RGBA" if "A" in im.getbands() else "RGB")
        im.thumbnail((THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        im.save(tmp, format="PNG", optimize=False)
        os.replace(tmp, cached)
    image = QImage(str(cached))
    if image.isNull():
        raise OSError(f"could not read back thumbnail for {path.name}")
    return image


class _ThumbnailSignals(QObject):
    ready = Signal(str, QImage)
    failed = Signal(str, str)


class _ThumbnailTask(QRunnable):
    def __init__(self, path: str, cache_dir: Path, signals: _ThumbnailSignals):
        super().__init__()
        self.path, self.cache_dir, self.signals = path, cache_dir, signals

    def run(self) -> None:
        try:
            image = make_thumbnail(Path(self.path), self.cache_dir)
        except Exception as exc:  # any undecodable file just gets the placeholder
            self.signals.failed.emit(self.path, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return
        self.signals.ready.emit(self.path, image)


class ThumbnailLoader(QObject):
    """Makes thumbnails on its own small thread pool; the most recently requested go first.

    Newest-first matters while scrolling: the rows just scrolled into view are requested last, and
    should not wait behind rows that already scrolled away.
    """

    ready = Signal(str, QImage)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None, *, threads: int = 2, cache_dir: Path | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self.cache_dir = cache_dir or thumbnail_cache_dir()
        self._signals = _ThumbnailSignals(self)
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        self._pending: set[str] = set()
        self._priority = 0

    def request(self, path: str) -> None:
        if path in self._pending:
            return
        self._pending.add(path)
        self._priority = (self._priority + 1) % 1_000_000_000
        self.pool.start(_ThumbnailTask(path, self.cache_dir, self._signals), self._priority)

    def pending_count(self) -> int:
        return len(self._pending)

    def wait(self, msecs: int = 5000) -> bool:
        """Block until queued thumbnails are made (shutdown and tests only)."""
        return self.pool.waitForDone(msecs)

    def cancel_pending(self) -> None:
        self.pool.clear()
        self._pending.clear()

    def _on_ready(self, path: str, image: QImage) -> None:
        self._pending.discard(path)
        self.ready.emit(path, image)

    def _on_failed(self, path: str, reason: str) -> None:
        self._pending.discard(path)
        self.failed.emit(path, reason)
