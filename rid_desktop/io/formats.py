"""Which files we read and write, and the size limits that keep a hostile file from exhausting memory.

HEIC/HEIF support comes from pillow-heif, registered here once. HEIC/HEIF inputs are written back as
JPEG (quality from the settings, 4:4:4 chroma): HEIC encoders are not available everywhere and their
4:2:0 chroma would blur away a chroma perturbation.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from PIL import Image, PngImagePlugin

# Suffix (lower case) -> the format we report as `LoadedImage.source_format`.
SUFFIX_FORMATS: dict[str, str] = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".jfif": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".heic": "HEIF",
    ".heif": "HEIF",
    ".hif": "HEIF",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(SUFFIX_FORMATS)

# Pillow plugin name -> our format name. MPO is what Pillow calls many camera JPEGs that carry a
# second (preview/stereo) frame; we read its first, main frame as an ordinary JPEG.
PIL_FORMATS: dict[str, str] = {
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "PNG": "PNG",
    "WEBP": "WEBP",
    "TIFF": "TIFF",
    "BMP": "BMP",
    "HEIF": "HEIF",
}
# Formats we let Pillow identify only to refuse them with a precise message.
REFUSED_PIL_FORMATS: tuple[str, ...] = ("GIF",)

# Formats we write, with the suffix an output gets when its format differs from the input's.
WRITE_SUFFIX: dict[str, str] = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}

# Size limits. 200 MP admits today's largest phone sensors (16320 x 12240); 65535 is JPEG's own side limit.
MAX_PIXELS = 200_000_000
MAX_SIDE = 65_535
# Above BOMB_MIN_PIXELS, more than this many pixels per byte of file cannot come from a photograph
# (zlib tops out near 1032:1 even for flat 8-bit grey); it is the signature of a decompression bomb.
BOMB_MIN_PIXELS = 16_000_000
BOMB_PIXELS_PER_BYTE = 1_000

# Pillow's own bomb check must not fire before ours (its default of ~89 MP refuses 108 MP phone photos).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Peak memory of one photo through decode, engine and encode, per pixel: measured 80 B/px (916 MiB
# of peak RSS growth) for a 12 MP JPEG through run_batch and the default generator (float32 copies of
# the original, the engine's tiles and result, the bounded result and its difference, 8-bit buffers).
# A photo whose estimate exceeds the memory the system has available is refused before it is decoded.
PEAK_BYTES_PER_PIXEL = 80
# ICC profiles (LUT-based printer profiles reach a few MB) are compressed text chunks in PNG; Pillow
# caps those at 1 MB to stop zlib bombs. 16 MB admits every real profile and still bounds the inflate.
PNG_MAX_TEXT_CHUNK = 16 * 1024 * 1024

PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, PNG_MAX_TEXT_CHUNK)
PngImagePlugin.MAX_TEXT_MEMORY = max(PngImagePlugin.MAX_TEXT_MEMORY, 4 * PNG_MAX_TEXT_CHUNK)

_heif_registered = False
_open_formats: list[str] | None = None


def register_heif() -> None:
    """Teach Pillow to open HEIC/HEIF (pillow-heif); safe to call repeatedly."""
    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True


def pil_open_formats() -> list[str]:
    """Pillow plugins allowed to parse input bytes: ours plus GIF (to refuse it by name). Fewer parsers,
    less attack surface. MPO is reached through the JPEG plugin, so it is not listed itself."""
    global _open_formats
    if _open_formats is None:
        Image.init()
        register_heif()
        wanted = [*PIL_FORMATS, *REFUSED_PIL_FORMATS]
        _open_formats = [name for name in wanted if name in Image.OPEN]
    return list(_open_formats)


def format_for_suffix(path: Path) -> str | None:
    """The format a file's suffix promises, or None when we do not read that suffix."""
    return SUFFIX_FORMATS.get(path.suffix.lower())


def output_format(source_format: str, requested: str) -> str:
    """The format a protected copy is written in.

    Args:
        source_format: our name of the input's format ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "HEIF").
        requested: the OutputSettings.format choice: "same", "jpeg" or "png".
    """
    requested = (requested or "same").lower()
    if requested == "jpeg":
        return "JPEG"
    if requested == "png":
        return "PNG"
    if requested != "same":
        raise ValueError(f"unknown output format {requested!r}: use same, jpeg or png")
    return "JPEG" if source_format == "HEIF" else source_format


def output_suffix(source: Path, fmt: str) -> str:
    """Keep the original suffix (e.g. '.JPG', '.jpeg') when it already names ``fmt``, else the standard one."""
    if SUFFIX_FORMATS.get(source.suffix.lower()) == fmt:
        return source.suffix
    return WRITE_SUFFIX[fmt]


def image_data_bytes(data: bytes, fmt: str) -> int:
    """Bytes of ``data`` that hold pixels, for the pixels-per-byte bomb check.

    Padding a file with metadata (a big PNG text chunk, JPEG APP/COM segments) must not buy it a
    larger pixel allowance: for PNG only IDAT chunks count, for JPEG everything but APPn/COM segments.
    Other formats count whole.
    """
    if fmt == "PNG":
        return _png_idat_bytes(data)
    if fmt == "JPEG":
        return len(data) - _jpeg_metadata_bytes(data)
    return len(data)


def _png_idat_bytes(data: bytes) -> int:
    total, pos = 0, 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            total += min(length, len(data) - pos - 8)
        elif kind == b"IEND":
            break
        pos += 12 + length
    return total


def _jpeg_metadata_bytes(data: bytes) -> int:
    """Total length of the APPn and COM segments before the first scan."""
    skipped, pos = 0, 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end of image: pixels follow
            break
        if 0xD0 <= marker <= 0xD8 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if 0xE0 <= marker <= 0xEF or marker == 0xFE:
            skipped += length + 2
        pos += 2 + length
    return min(skipped, len(data))


def available_memory() -> int | None:
    """Bytes of memory the system can give this process now (None when the platform does not say)."""
    try:
        with open("/proc/meminfo", "rb") as handle:
            for line in handle:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if os.name == "nt":  # pragma: no cover - Windows only
        return _windows_available_memory()
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # macOS: total, not free
    except (ValueError, OSError, AttributeError):
        return None


def _windows_available_memory() -> int | None:  # pragma: no cover - Windows only
    import ctypes

    class MemoryStatus(ctypes.Structure):
        _fields_ = [("length", ctypes.c_ulong), ("load", ctypes.c_ulong), ("total", ctypes.c_ulonglong),
                    ("available", ctypes.c_ulonglong), ("total_page", ctypes.c_ulonglong),
                    ("available_page", ctypes.c_ulonglong), ("total_virtual", ctypes.c_ulonglong),
                    ("available_virtual", ctypes.c_ulonglong), ("extended", ctypes.c_ulonglong)]

    status = MemoryStatus()
    status.length = ctypes.sizeof(MemoryStatus)
    if not ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):
        return None
    return int(status.available)
