"""EXIF and ICC handling: what a protected copy keeps of the original's metadata, and why.

Policy (see OutputSettings): the ICC profile is always kept; GPS is dropped unless asked for; all EXIF
can be dropped. Whatever is kept is rebuilt from a short allow-list rather than copied byte for byte:
an EXIF thumbnail (IFD1) or a maker-note preview would carry the *unprotected* picture into the
protected copy, and TIFF inputs mix file-layout tags into their EXIF.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
MAKER_NOTE = 0x927C

# IFD0 tags worth keeping: who made the picture, with what, and when.
KEEP_IFD0 = (
    0x010E,  # ImageDescription
    0x010F,  # Make
    0x0110,  # Model
    0x0131,  # Software
    0x0132,  # DateTime
    0x013B,  # Artist
    0x8298,  # Copyright
)


def read_exif(image: Image.Image) -> bytes | None:
    """The image's EXIF as bytes ("Exif\\0\\0" + TIFF block), or None when it has none or it is unreadable."""
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw if raw.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + raw
    try:
        exif = image.getexif()
        return exif.tobytes() if len(exif) else None
    except Exception:  # damaged EXIF never stops a photo from being protected
        return None


def exif_orientation(exif_bytes: bytes | None) -> int:
    """The EXIF orientation tag (1..8); 1 when absent or unreadable."""
    if not exif_bytes:
        return 1
    try:
        exif = Image.Exif()
        exif.load(exif_bytes)
        value = int(exif.get(ORIENTATION, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels (H, W, ...) upright as EXIF orientation 1..8 says (same maths as ImageOps.exif_transpose)."""
    if orientation == 2:
        return pixels[:, ::-1]
    if orientation == 3:
        return pixels[::-1, ::-1]
    if orientation == 4:
        return pixels[::-1]
    if orientation == 5:
        return pixels.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(pixels, k=-1)
    if orientation == 7:
        return pixels[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(pixels, k=1)
    return pixels


def sanitize_exif(exif_bytes: bytes | None, *, strip_gps: bool = True, strip_all: bool = False) -> bytes | None:
    """EXIF for a protected copy: allow-listed tags, orientation reset to 1 (pixels are already upright).

    Returns None when nothing is to be kept or the original EXIF cannot be parsed.
    """
    if strip_all or not exif_bytes:
        return None
    try:
        source = Image.Exif()
        source.load(exif_bytes)
        kept = Image.Exif()
        for tag in KEEP_IFD0:
            if tag in source:
                kept[tag] = source[tag]
        kept[ORIENTATION] = 1
        details = {tag: value for tag, value in source.get_ifd(EXIF_IFD).items() if tag not in (MAKER_NOTE, INTEROP_IFD)}
        if details:
            kept[EXIF_IFD] = details
        if not strip_gps:
            gps = dict(source.get_ifd(GPS_IFD))
            if gps:
                kept[GPS_IFD] = gps
        return kept.tobytes()
    except Exception:  # odd tag types: drop the EXIF rather than fail the photo
        return None


def has_sub_ifds(exif_bytes: bytes | None) -> bool:
    """True when EXIF bytes (e.g. from :func:`sanitize_exif`) hold an EXIF or GPS sub-IFD."""
    if not exif_bytes:
        return False
    try:
        exif = Image.Exif()
        exif.load(exif_bytes)
        return EXIF_IFD in exif or GPS_IFD in exif
    except Exception:
        return False


# --- ICC --------------------------------------------------------------------------------------------

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
SRGB_ICC: bytes = _SRGB.tobytes()
_INTENT = ImageCms.Intent.RELATIVE_COLORIMETRIC


def open_profile(icc: bytes) -> ImageCms.ImageCmsProfile | None:
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except Exception:
        return None


def profile_colour_space(icc: bytes | None) -> str | None:
    """'RGB', 'CMYK', 'GRAY', ... for an ICC profile; None when absent or unreadable."""
    profile = open_profile(icc) if icc else None
    if profile is None:
        return None
    return profile.profile.xcolor_space.strip().upper()


def is_srgb_profile(icc: bytes | None) -> bool:
    """True for no profile or an sRGB one (pixels need no conversion)."""
    if not icc:
        return True
    profile = open_profile(icc)
    if profile is None:
        return True  # unreadable: we treat the pixels as sRGB, as a browser would
    description = (profile.profile.profile_description or "").lower()
    return "srgb" in description.replace(" ", "") or "iec61966-2" in description


def to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert an RGB / CMYK / L image with the given embedded profile to sRGB ('RGB' mode).

    Falls back to Pillow's plain conversion when the profile is unreadable or does not fit the mode.
    """
    profile = open_profile(icc)
    expected = {"RGB": "RGB", "CMYK": "CMYK", "L": "GRAY"}.get(image.mode)
    if profile is not None and expected and profile_colour_space(icc) == expected:
        try:
            return ImageCms.profileToProfile(image, profile, _SRGB, renderingIntent=_INTENT, outputMode="RGB")
        except Exception:
            pass
    return image.convert("RGB")


def from_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert an sRGB 'RGB' image back into an RGB ICC profile's space (for an output that embeds it)."""
    profile = open_profile(icc)
    if profile is None:
        return image
    try:
        return ImageCms.profileToProfile(image, _SRGB, profile, renderingIntent=_INTENT, outputMode="RGB")
    except Exception:
        return image
