"""Read any photo a person has into one canonical form: upright sRGB float pixels plus what to put back.

Every way a file can be bad — empty, truncated, not an image, animated, absurdly large — ends in an
:class:`UnsupportedImageError` whose message is one line fit for a person. Nothing else escapes
:func:`decode_image`: it is fuzzed for exactly that property.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io import formats, metadata, png16

_ALPHA_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}
_GREY_16_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


@dataclass
class LoadedImage:
    """A decoded photo, upright and in sRGB, with what the protected copy must carry back.

    Attributes:
        rgb: float32 (H, W, 3) in [0, 1], sRGB, EXIF orientation applied.
        alpha: float32 (H, W) in [0, 1], or None when the image is opaque.
        icc_profile: the original embedded ICC profile (bytes), kept on output.
        exif: the original EXIF block ("Exif\\0\\0..."), filtered on output by the metadata policy.
        source_format: "JPEG", "PNG", "WEBP", "TIFF", "BMP" or "HEIF".
        bit_depth: 8, or 16 for 16-bit PNGs read at full precision.
        size: (width, height) after orientation.
        mode: the Pillow mode the file was stored in ("RGB", "CMYK", "P", "I;16", ...), for reports.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    icc_profile: bytes | None
    exif: bytes | None
    source_format: str
    bit_depth: int
    size: tuple[int, int]
    mode: str = "RGB"


def load_image(path: str | Path) -> LoadedImage:
    """Read and decode one image file. See :func:`decode_image`; adds unreadable-file reasons."""
    return decode_image(read_image_bytes(Path(path)))


def read_image_bytes(path: Path) -> bytes:
    """Read a whole file, turning OS errors into one-line reasons."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise UnsupportedImageError("file not found (moved or deleted?)") from None
    except IsADirectoryError:
        raise UnsupportedImageError("is a folder, not an image") from None
    except PermissionError:
        raise UnsupportedImageError("permission denied: cannot read this file") from None
    except OSError as exc:
        raise UnsupportedImageError(f"cannot read this file: {exc.strerror or exc}") from None


def decode_image(data: bytes) -> LoadedImage:
    """Decode image bytes to a :class:`LoadedImage`.

    Raises:
        UnsupportedImageError: for every input that is not a single, sane, readable still image.
    """
    if not data:
        raise UnsupportedImageError("empty file (0 bytes)")
    formats.register_heif()
    try:
        with warnings.catch_warnings():
            # Decoder chatter on damaged files ("Tag data larger than file", "Corrupt EXIF data", ...)
            # would print multi-line warnings around our one-line reason; only the bomb warning matters.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return _decode(data)
    except UnsupportedImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UnsupportedImageError("image is too large to open safely (possible decompression bomb)") from None
    except MemoryError:
        raise UnsupportedImageError("not enough memory to open this image") from None
    except Exception as exc:  # any decoder failure on hostile bytes is a damaged file, never a crash
        raise UnsupportedImageError(f"damaged or unreadable image ({_short(exc)})") from None


def to_tensor(loaded: LoadedImage) -> torch.Tensor:
    """The engines' view of a photo. Shape: (1, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(loaded.rgb)).permute(2, 0, 1).unsqueeze(0).contiguous()


def _decode(data: bytes) -> LoadedImage:
    try:
        image = Image.open(io.BytesIO(data), formats=formats.pil_open_formats())
    except UnidentifiedImageError:
        raise UnsupportedImageError(_unidentified_reason(data)) from None
    with image:
        fmt = _check_format(image)
        _check_single_frame(image, fmt)
        _check_size(image.size, formats.image_data_bytes(data, fmt))
        icc = image.info.get("icc_profile") or None
        if fmt == "PNG" and png16.is_png16(data) and metadata.is_srgb_profile(icc):
            pixels = png16.decode_png16(data)
            exif = metadata.read_exif(image)
            return _from_uint16(pixels, icc, exif, image.mode)
        try:
            image.load()
        except OSError as exc:
            raise UnsupportedImageError(f"damaged or truncated image ({_short(exc)})") from None
        exif = metadata.read_exif(image)
        rgb, alpha, depth = _to_float(image, icc)
    orientation = metadata.exif_orientation(exif)
    rgb = np.ascontiguousarray(metadata.apply_orientation(rgb, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(metadata.apply_orientation(alpha, orientation))
    return LoadedImage(rgb, alpha, icc, exif, fmt, depth, (rgb.shape[1], rgb.shape[0]), image.mode)


def _from_uint16(pixels: np.ndarray, icc: bytes | None, exif: bytes | None, mode: str) -> LoadedImage:
    """(H, W, C) uint16 from the 16-bit PNG codec -> LoadedImage at full precision."""
    values = pixels.astype(np.float32) / 65535.0
    channels = values.shape[2]
    colour = values[..., :3] if channels >= 3 else np.repeat(values[..., :1], 3, axis=2)
    alpha = values[..., -1] if channels in (2, 4) else None
    orientation = metadata.exif_orientation(exif)
    rgb = np.ascontiguousarray(metadata.apply_orientation(colour, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(metadata.apply_orientation(alpha, orientation))
    return LoadedImage(rgb, alpha, icc, exif, "PNG", 16, (rgb.shape[1], rgb.shape[0]), mode)


def _to_float(image: Image.Image, icc: bytes | None) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pillow image in any supported mode -> (rgb (H,W,3), alpha (H,W) or None, bit depth), sRGB, [0, 1]."""
    mode = image.mode
    if mode == "F":
        raise UnsupportedImageError("32-bit floating-point images are not supported")
    if mode in _GREY_16_MODES:
        grey = np.asarray(image, dtype=np.float32)
        grey = np.clip(grey / 65535.0, 0.0, 1.0)
        return np.repeat(grey[..., None], 3, axis=2), None, 16
    alpha = None
    has_transparency = "transparency" in image.info and mode in ("P", "L", "RGB")
    if mode in _ALPHA_MODES or has_transparency:
        with_alpha = image.convert("LA" if mode in ("LA", "La") else "RGBA")
        alpha = np.asarray(with_alpha.getchannel("A"), dtype=np.float32) / 255.0
    if mode in ("CMYK", "RGB", "L"):
        colour = image
    elif mode in ("1", "LA", "La"):
        colour = image.convert("L")
    else:  # P, PA, RGBA, RGBa, RGBX, YCbCr, LAB, ...
        colour = image.convert("RGB")
    if icc and not metadata.is_srgb_profile(icc):
        colour = metadata.to_srgb(colour, icc)
    if colour.mode != "RGB":
        colour = colour.convert("RGB")
    rgb = np.asarray(colour, dtype=np.float32) / 255.0
    return rgb, alpha, 8


def _check_format(image: Image.Image) -> str:
    fmt = formats.PIL_FORMATS.get(image.format or "")
    if fmt is None:
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            raise UnsupportedImageError(f"animated {image.format} ({frames} frames) is not supported")
        raise UnsupportedImageError(f"{image.format} images are not supported; convert it to PNG or JPEG first")
    return fmt


def _check_single_frame(image: Image.Image, fmt: str) -> None:
    if image.format == "MPO":  # camera JPEG with an extra preview frame: the first frame is the photo
        return
    frames = getattr(image, "n_frames", 1)
    if getattr(image, "is_animated", False) or frames > 1:
        kind = "animated" if fmt in ("WEBP", "PNG") else "multi-frame"
        raise UnsupportedImageError(f"{kind} {fmt} ({frames} frames) is not supported; export a single still image")


def _check_size(size: tuple[int, int], data_bytes: int) -> None:
    """Refuse from the header alone, before any pixel is decoded: absurd sizes, bombs, too little memory."""
    width, height = size
    pixels = width * height
    if width < 1 or height < 1:
        raise UnsupportedImageError(f"image has no pixels ({width}x{height})")
    if width > formats.MAX_SIDE or height > formats.MAX_SIDE:
        raise UnsupportedImageError(
            f"image is too large ({width}x{height}); the limit is {formats.MAX_SIDE:,} pixels on a side"
        )
    if pixels > formats.MAX_PIXELS:
        raise UnsupportedImageError(
            f"image is too large ({width}x{height}); the limit is {formats.MAX_PIXELS // 1_000_000} megapixels"
        )
    if pixels > formats.BOMB_MIN_PIXELS and pixels > formats.BOMB_PIXELS_PER_BYTE * data_bytes:
        raise UnsupportedImageError(
            f"refused a possible decompression bomb: {width}x{height} pixels in {data_bytes} bytes of image data"
        )
    needed = pixels * formats.PEAK_BYTES_PER_PIXEL
    available = formats.available_memory()
    if available is not None and needed > available:
        raise UnsupportedImageError(
            f"not enough memory to protect this {width}x{height} image (needs about {needed / 2**30:.1f} GB, "
            f"{available / 2**30:.1f} GB available)"
        )


def _unidentified_reason(data: bytes) -> str:
    head = data[:64]
    try:
        head.decode("utf-8")
        looks_text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    except UnicodeDecodeError:
        looks_text = False
    if looks_text:
        return "not an image (the file contains text)"
    return "not an image we can read (unknown or unsupported format)"


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
