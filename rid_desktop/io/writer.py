"""Write protected copies: same size, same name, chosen format, metadata policy, and atomically.

An output file either exists complete or not at all: bytes are encoded in memory, written to a hidden
temporary file beside the destination, flushed to disk, then renamed over the destination with
``os.replace``. A crash, a cancel or a full disk leaves at most a hidden ``.*.rid-tmp`` file, which the
next run removes. Originals are never opened for writing.

A protected copy never replaces a file we did not write: :func:`atomic_write_bytes` takes a
``may_replace`` judge, and when no file is expected it links the new file into place with
``os.link``, which fails rather than overwrite one that appeared in the meantime.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFile

from rid_desktop.errors import OutputError
from rid_desktop.io import formats, metadata, png16
from rid_desktop.io.loader import LoadedImage
from rid_desktop.settings import OutputSettings

TEMP_SUFFIX = ".rid-tmp"
_CHUNK = 1 << 20
_JPEG_BUFFER_LOCK = threading.Lock()
_TEMP_NAME_BYTES = 200  # of the destination's name kept in the temp name: 255-byte names must still work

ReplaceJudge = Callable[[Path, bytes], bool]
"""``may_replace(existing_path, new_bytes)``: may the file already at the destination be replaced?"""


class NotOursError(OutputError):
    """The destination holds a file RID Desktop did not write; it was left untouched."""


def output_path_for(source: Path, input_root: Path, output_root: Path, output: OutputSettings) -> Path:
    """Where the protected copy of ``source`` goes: mirrored under ``output_root``, original name kept.

    The suffix changes only when the output format differs (HEIC -> .jpg, or ``--format``).
    """
    source = Path(source)
    try:
        relative = source.relative_to(input_root)
    except ValueError:
        relative = Path(source.name)
    source_format = formats.format_for_suffix(source) or "PNG"
    fmt = formats.output_format(source_format, output.format)
    return Path(output_root) / relative.with_name(relative.stem + formats.output_suffix(source, fmt))


def save_protected(
    loaded: LoadedImage,
    protected: torch.Tensor | np.ndarray,
    dst: Path,
    output: OutputSettings,
    *,
    may_replace: ReplaceJudge | None = None,
) -> Path:
    """Encode and atomically write a protected copy.

    Args:
        loaded: the decoded original (for alpha, ICC, EXIF, bit depth, format).
        protected: sRGB in [0, 1], shape (1, 3, H, W) / (3, H, W) tensor or (H, W, 3) array, same H, W.
        dst: destination; its suffix decides the format (see :func:`output_path_for`).
        output: quality and metadata policy.
        may_replace: when given, an existing ``dst`` is replaced only if it says yes (see
            :func:`atomic_write_bytes`); None replaces freely (a caller that owns the folder).

    Returns:
        ``dst``.

    Raises:
        OutputError: the folder is not writable, the disk is full, ... (nothing partial is left behind).
        NotOursError: ``dst`` exists and ``may_replace`` said no (it is left untouched).
    """
    dst = Path(dst)
    rgb = _as_hwc(protected)
    if rgb.shape != loaded.rgb.shape:
        raise ValueError(f"protected image has shape {rgb.shape}, the original {loaded.rgb.shape}")
    fmt = formats.SUFFIX_FORMATS.get(dst.suffix.lower())
    if fmt is None or fmt == "HEIF":
        fmt = formats.output_format(loaded.source_format, output.format)
    data = encode_image(loaded, rgb, fmt, output)
    atomic_write_bytes(dst, data, may_replace=may_replace)
    return dst


def encode_image(loaded: LoadedImage, rgb: np.ndarray, fmt: str, output: OutputSettings) -> bytes:
    """Encode (H, W, 3) float sRGB pixels as ``fmt`` with the original's alpha, ICC and allowed EXIF.

    Pillow's encoder chatter about odd metadata ("Metadata Warning, tag ... had too many entries")
    is silenced: the person sees our one-line outcome only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _encode(loaded, rgb, fmt, output)


def _encode(loaded: LoadedImage, rgb: np.ndarray, fmt: str, output: OutputSettings) -> bytes:
    exif = metadata.sanitize_exif(loaded.exif, strip_gps=output.strip_gps, strip_all=output.strip_exif)
    alpha = loaded.alpha
    if alpha is not None and fmt == "JPEG":  # JPEG has no alpha: flatten onto white, as viewers show it
        rgb = rgb * alpha[..., None] + (1.0 - alpha[..., None])
        alpha = None
    icc = loaded.icc_profile
    colour_space = metadata.profile_colour_space(icc)
    if icc and colour_space not in (None, "RGB"):
        icc = metadata.SRGB_ICC  # a CMYK/grey profile cannot describe our RGB output
    if loaded.bit_depth == 16 and fmt == "PNG" and metadata.is_srgb_profile(icc):
        planes = [rgb] if alpha is None else [rgb, alpha[..., None]]
        pixels = np.round(np.clip(np.concatenate(planes, axis=2), 0, 1) * 65535).astype(np.uint16)
        return png16.encode_png16(pixels, icc_profile=icc, exif=exif)
    image = Image.fromarray(_to_uint8(rgb), "RGB")
    if icc and not metadata.is_srgb_profile(icc):
        image = metadata.from_srgb(image, icc)  # back into the space the embedded profile describes
    if alpha is not None:
        image.putalpha(Image.fromarray(_to_uint8(alpha), "L"))
    options: dict = {}
    if icc:
        options["icc_profile"] = icc
    if exif and fmt != "BMP":
        options["exif"] = exif
    if fmt == "JPEG":
        options.update(quality=int(output.jpeg_quality), subsampling=0)
    elif fmt == "WEBP":
        options.update(lossless=True, quality=80, method=4)  # lossy WebP is 4:2:0, which erases chroma work
    elif fmt == "TIFF":
        # Compression goes through libtiff, which cannot write the EXIF / GPS sub-IFDs a camera TIFF
        # carries ("Error setting from dictionary"); Pillow's own writer can, uncompressed.
        options.update(compression="raw" if metadata.has_sub_ifds(exif) else "tiff_adobe_deflate")
    elif fmt == "BMP":
        options.pop("icc_profile", None)
    if fmt == "JPEG":
        return _encode_jpeg(image, options)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _encode_jpeg(image: Image.Image, options: dict) -> bytes:
    """JPEG with optimised Huffman tables, whatever the photo's entropy.

    Optimising makes libjpeg write the whole image into one buffer, which Pillow sizes at 1-2 bytes
    per pixel (``ImageFile.MAXBLOCK`` is its floor); a high-entropy photo at quality 95+ with 4:4:4
    chroma needs up to about 3, and failed with "broken data stream". We raise the floor to 4 bytes
    per pixel for this one save (under a lock, as it is Pillow's module setting); should it still
    fail, the plain encoding, which streams, is just as valid.
    """
    width, height = image.size
    needed = 4 * width * height + len(options.get("icc_profile") or b"") + len(options.get("exif") or b"") + _CHUNK
    buffer = io.BytesIO()
    with _JPEG_BUFFER_LOCK:
        floor = ImageFile.MAXBLOCK
        ImageFile.MAXBLOCK = max(floor, needed)
        try:
            image.save(buffer, format="JPEG", optimize=True, **options)
            return buffer.getvalue()
        except OSError:
            pass
        finally:
            ImageFile.MAXBLOCK = floor
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def atomic_write_bytes(
    dst: Path, data: bytes, *, durable: bool = True, may_replace: ReplaceJudge | None = None
) -> None:
    """Write ``data`` to ``dst`` so that ``dst`` is either the old file or the complete new one.

    Creates missing parent folders. ``durable`` also flushes the data to disk before the rename
    (survives a power cut, costs a few ms). With ``may_replace``, a file already at ``dst`` is only
    replaced when ``may_replace(dst, data)`` is true; otherwise NotOursError, and it is untouched.
    Raises OutputError with a one-line reason on failure.
    """
    dst = Path(dst)
    temp = temp_path_for(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _write_all(fd, data)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        if may_replace is None:
            os.replace(temp, dst)
        else:
            _move_into_place_guarded(temp, dst, data, may_replace)
    except NotOursError:
        _remove_quietly(temp)
        raise
    except OSError as exc:
        _remove_quietly(temp)
        raise OutputError(describe_write_error(exc, dst)) from None
    except BaseException:
        _remove_quietly(temp)
        raise


def temp_path_for(dst: Path) -> Path:
    """The hidden temporary file written before ``dst``; short enough for a 255-byte ``dst`` name."""
    name = os.fsencode(dst.name)[:_TEMP_NAME_BYTES]
    readable = name.decode("utf-8", "ignore")  # a name cut inside a character just loses that character
    return dst.with_name(f".{readable}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _move_into_place_guarded(temp: Path, dst: Path, data: bytes, may_replace: ReplaceJudge) -> None:
    """Rename ``temp`` to ``dst`` unless ``dst`` holds a file ``may_replace`` refuses."""
    try:
        os.link(temp, dst)  # atomic "create only if absent": never clobbers a file that just appeared
    except FileExistsError:
        pass
    except OSError:  # no hard links here (FAT, some network shares): check, then rename
        if not os.path.lexists(dst):
            os.replace(temp, dst)
            return
    else:
        os.unlink(temp)
        return
    if not may_replace(dst, data):
        raise NotOursError(
            f"{dst.name} already exists in {dst.parent} and was not written by RID Desktop; "
            "it was not overwritten (move it away or choose another output folder)"
        )
    os.replace(temp, dst)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_CHUNK])
        view = view[written:]


def remove_stale_temp_files(folder: Path) -> int:
    """Delete temporary files a killed run left in ``folder`` (not recursive). Returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False):
            removed += _remove_quietly(Path(entry.path))
    return removed


def describe_write_error(exc: OSError, dst: Path) -> str:
    """One line saying why ``dst`` could not be written."""
    folder = dst.parent
    if exc.errno == errno.ENOSPC or exc.errno == getattr(errno, "EDQUOT", -1):
        return f"disk full: no space left to write {dst.name} in {folder}"
    if exc.errno == errno.EROFS:
        return f"output folder is on a read-only disk: {folder}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: cannot write to {folder}"
    if exc.errno == errno.ENAMETOOLONG:
        return f"file name or path too long to write: {dst.name}"
    return f"cannot write {dst.name} in {folder}: {exc.strerror or exc}"


def _as_hwc(protected: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(protected, torch.Tensor):
        tensor = protected.detach().to("cpu", torch.float32)
        if tensor.ndim == 4:
            if tensor.shape[0] != 1:
                raise ValueError(f"expected one image (1, 3, H, W), got {tuple(tensor.shape)}")
            tensor = tensor[0]
        if tensor.ndim != 3 or tensor.shape[0] != 3:
            raise ValueError(f"expected (3, H, W), got {tuple(tensor.shape)}")
        return tensor.permute(1, 2, 0).numpy()
    array = np.asarray(protected, dtype=np.float32)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] == 3 and array.shape[2] != 3:
        array = array.transpose(1, 2, 0)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3), got {array.shape}")
    return array


def _remove_quietly(path: Path) -> int:
    try:
        os.unlink(path)
        return 1
    except OSError:
        return 0


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> uint8, rounding, with one float temporary (not three) for 12 MP photos."""
    scaled = np.clip(values, 0, 1)
    scaled *= 255
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint8)
