"""A small, exact codec for 16-bit-per-channel PNGs, which Pillow reduces to 8 bits.

Pillow has no 16-bit RGB(A) mode, so it silently drops the low byte of 16-bit colour PNGs. This module
decodes and encodes them with numpy + zlib so 16-bit inputs keep their precision end to end. It handles
non-interlaced files of colour types 0 (grey), 2 (RGB), 4 (grey+alpha) and 6 (RGBA), including a
grey/RGB transparency key (tRNS), which becomes an alpha channel; anything else is left to Pillow
(at 8-bit precision).
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

from rid_desktop.errors import UnsupportedImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunks(data: bytes):
    """Yield (type, payload) for each chunk; stops quietly at the end or at a damaged length."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        if len(payload) != length:
            raise UnsupportedImageError("damaged or truncated PNG (a chunk is cut short)")
        yield kind, payload
        if kind == b"IEND":
            return
        pos += 12 + length


def is_png16(data: bytes) -> bool:
    """True for a non-interlaced 16-bit PNG of a colour type this module decodes."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return False
    depth, ctype, interlace = data[24], data[25], data[28]
    return depth == 16 and ctype in _CHANNELS and interlace == 0


def decode_png16(data: bytes) -> np.ndarray:
    """Decode a 16-bit PNG (see :func:`is_png16`) to uint16 of shape (H, W, C), C in {1, 2, 3, 4}.

    Raises:
        UnsupportedImageError: damaged data (bad zlib stream, wrong size, unknown row filter).
    """
    width, height = struct.unpack(">II", data[16:24])
    channels = _CHANNELS[data[25]]
    bpp = 2 * channels  # bytes per pixel; PNG row filters work on bytes `bpp` apart
    expected = height * (1 + width * bpp)
    chunks = list(_chunks(data))
    idat = b"".join(payload for kind, payload in chunks if kind == b"IDAT")
    transparent = next((payload for kind, payload in chunks if kind == b"tRNS"), None)
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(idat, expected)  # bounded: a bomb cannot inflate past the image size
    except zlib.error:
        raise UnsupportedImageError("damaged PNG (its compressed data is corrupt)") from None
    if len(raw) != expected:
        raise UnsupportedImageError("damaged or truncated PNG (image data is incomplete)")
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * bpp)
    filters = rows[:, 0].copy()
    if filters.max(initial=0) > 4:
        raise UnsupportedImageError("damaged PNG (unknown row filter)")
    unfiltered = _unfilter(rows[:, 1:].reshape(height, width, bpp), filters)
    pixels = unfiltered.reshape(height, width * bpp).view(">u2").reshape(height, width, channels).astype(np.uint16)
    return _apply_transparency_key(pixels, transparent)


def _apply_transparency_key(pixels: np.ndarray, trns: bytes | None) -> np.ndarray:
    """A tRNS chunk on grey or RGB names one colour as fully transparent: add it as an alpha channel.

    Grey (C=1) becomes grey+alpha (C=2), RGB (C=3) becomes RGBA (C=4); other images are returned as is.
    """
    channels = pixels.shape[2]
    if trns is None or channels not in (1, 3) or len(trns) < 2 * channels:
        return pixels
    key = np.frombuffer(trns[: 2 * channels], ">u2").astype(np.uint16)
    opaque = np.any(pixels != key, axis=2, keepdims=True)
    alpha = np.where(opaque, np.uint16(65535), np.uint16(0)).astype(np.uint16)
    return np.concatenate([pixels, alpha], axis=2)


def _unfilter(filtered: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Undo PNG row filters. filtered: (H, W, bpp) uint8; returns the same shape.

    Average and Paeth depend on the pixel to the left *and* the row above, so rows cannot be done one
    vectorised step each; instead we sweep anti-diagonals (H + W steps), where every pixel's three
    neighbours are already known.
    """
    height, width, bpp = filtered.shape
    if np.all(filters <= 2):
        return _unfilter_rows(filtered, filters)
    out = np.zeros((height + 1, width + 1, bpp), np.int16)  # one row/column of zero padding
    src = filtered.astype(np.int16)
    row_filter = filters.astype(np.int16)
    for step in range(height + width - 1):
        ys = np.arange(max(0, step - width + 1), min(height - 1, step) + 1)
        xs = step - ys
        a = out[ys + 1, xs]  # left
        b = out[ys, xs + 1]  # up
        c = out[ys, xs]  # up-left
        f = row_filter[ys][:, None]
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        pred = np.select([f == 1, f == 2, f == 3, f == 4], [a, b, (a + b) >> 1, paeth], 0)
        out[ys + 1, xs + 1] = (src[ys, xs] + pred) & 255
    return out[1:, 1:].astype(np.uint8)


def _unfilter_rows(filtered: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Fast path for files using only None/Sub/Up filters: one vectorised step per row."""
    out = np.empty_like(filtered)
    previous = np.zeros_like(filtered[0])
    for y, kind in enumerate(filters):
        row = filtered[y]
        if kind == 1:
            row = np.cumsum(row, axis=0, dtype=np.uint8)
        elif kind == 2:
            row = row + previous
        out[y] = row
        previous = out[y]
    return out


def encode_png16(
    image: np.ndarray, *, icc_profile: bytes | None = None, exif: bytes | None = None, level: int = 6
) -> bytes:
    """Encode uint16 (H, W, C), C in {1, 2, 3, 4}, as a 16-bit PNG with optional ICC and EXIF chunks."""
    if image.dtype != np.uint16 or image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected uint16 (H, W, C) with C in 1..4, got {image.dtype} {image.shape}")
    height, width, channels = image.shape
    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = np.ascontiguousarray(image.astype(">u2")).view(np.uint8).reshape(height, width, 2 * channels)
    sub = raw.copy()
    sub[:, 1:] -= raw[:, :-1]  # "Sub" filter (uint8 arithmetic wraps mod 256 as PNG requires)
    rows = np.concatenate([np.ones((height, 1), np.uint8), sub.reshape(height, -1)], axis=1)
    parts = [PNG_SIGNATURE, _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, ctype, 0, 0, 0))]
    if icc_profile:
        parts.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    if exif:
        parts.append(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    parts.append(_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
