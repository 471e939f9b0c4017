"""Which files we read and write, and the size limits that keep a hostile file from exhausting memory.

HEIC/HEIF support comes from pillow-heif, registered here once. HEIC/HEIF inputs are written back as
JPEG (quality from the settings, 4:4:4 chroma): HEIC encoders are not available everywhere and their
4:2:0 chroma would blur away a chroma perturbation.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

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
