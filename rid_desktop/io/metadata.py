"""EXIF and ICC handling: what a protected copy keeps of the original's metadata, and why.

This is a privacy app, so EXIF is rebuilt from an allow-list, never copied: by default a protected copy
keeps what photographers want — orientation (reset to 1: pixels are already upright), capture time,
camera and lens model, exposure settings, colour space — and drops whatever identifies a person or a
place: serial numbers, owner / artist / copyright names, free-text descriptions and comments, GPS,
unique image IDs, maker notes (which can also hide an unprotected preview) and the EXIF thumbnail.
XMP and IPTC are never copied. GPS is kept only on request; all EXIF can be dropped. The ICC profile
is always kept (it is colour, not identity). :func:`metadata_policy` describes the policy in words
for the GUI and the docs.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
MAKER_NOTE = 0x927C

# IFD0 tags kept: which camera, which software, when. (Artist 0x013B, Copyright 0x8298 and
# ImageDescription 0x010E name or describe people: dropped.)
KEEP_IFD0 = (
    0x010F,  # Make
    0x0110,  # Model
    0x0131,  # Software
    0x0132,  # DateTime
)
# Exif sub-IFD tags kept: capture time and exposure. Everything else is dropped, notably
# UserComment 0x9286, MakerNote 0x927C, ImageUniqueID 0xA420, CameraOwnerName 0xA430,
# BodySerialNumber 0xA431, LensSerialNumber 0xA435 and SubjectLocation 0xA214.
KEEP_EXIF_IFD = (
    0x829A,  # ExposureTime
    0x829D,  # FNumber
    0x8822,  # ExposureProgram
    0x8827,  # ISOSpeedRatings / PhotographicSensitivity
    0x8830,  # SensitivityType
    0x8832,  # RecommendedExposureIndex
    0x9000,  # ExifVersion
    0x9003,  # DateTimeOriginal
    0x9004,  # DateTimeDigitized
    0x9010,  # OffsetTime
    0x9011,  # OffsetTimeOriginal
    0x9012,  # OffsetTimeDigitized
    0x9201,  # ShutterSpeedValue
    0x9202,  # ApertureValue
    0x9203,  # BrightnessValue
    0x9204,  # ExposureBiasValue
    0x9205,  # MaxApertureValue
    0x9207,  # MeteringMode
    0x9208,  # LightSource
    0x9209,  # Flash
    0x920A,  # FocalLength
    0x9290,  # SubSecTime
    0x9291,  # SubSecTimeOriginal
    0x9292,  # SubSecTimeDigitized
    0xA001,  # ColorSpace
    0xA402,  # ExposureMode
    0xA403,  # WhiteBalance
    0xA404,  # DigitalZoomRatio
    0xA405,  # FocalLengthIn35mmFilm
    0xA406,  # SceneCaptureType
    0xA408,  # Contrast
    0xA409,  # Saturation
    0xA40A,  # Sharpness
    0xA432,  # LensSpecification
    0xA433,  # LensMake
    0xA434,  # LensModel
)

KEPT_BY_DEFAULT = (
    "orientation (applied to the pixels)",
    "capture date and time",
    "camera make and model, lens model",
    "exposure settings (shutter, aperture, ISO, focal length, flash, white balance)",
    "colour profile (ICC)",
)
ALWAYS_DROPPED = (
    "camera and lens serial numbers",
    "owner, artist and copyright names",
    "descriptions and comments",
    "unique image IDs",
    "maker notes and the EXIF thumbnail",
    "XMP and IPTC (including XMP location)",
)


def metadata_policy(*, strip_gps: bool = True, strip_all: bool = False) -> dict[str, list[str]]:
    """What a protected copy keeps and drops under these settings, in words (for the GUI and docs)."""
    if strip_all:
        kept = ["colour profile (ICC)"]
        dropped = [item for item in KEPT_BY_DEFAULT if "ICC" not in item] + ["GPS location", *ALWAYS_DROPPED]
    else:
        kept = list(KEPT_BY_DEFAULT) + ([] if strip_gps else ["GPS location"])
        dropped = (["GPS location"] if strip_gps else []) + list(ALWAYS_DROPPED)
    return {"kept": kept, "dropped": dropped}


@contextlib.contextmanager
def _quiet():
    """Damaged EXIF makes Pillow warn ("Possibly corrupt EXIF data ..."); the person sees our one line only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


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
        with _quiet():
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
    """EXIF for a protected copy: allow-listed tags only, orientation reset to 1 (pixels are already upright).

    Returns None when nothing is to be kept or the original EXIF cannot be parsed.
    """
    if strip_all or not exif_bytes:
        return None
    try:
        with _quiet():
            source = Image.Exif()
            source.load(exif_bytes)
            kept = Image.Exif()
            for tag in KEEP_IFD0:
                if tag in source:
                    kept[tag] = source[tag]
            kept[ORIENTATION] = 1
            exif_ifd = source.get_ifd(EXIF_IFD)
            details = {tag: exif_ifd[tag] for tag in KEEP_EXIF_IFD if tag in exif_ifd}
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
        with _quiet():
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
