"""Decoding every format a person has into upright sRGB floats (rid_desktop.io.loader)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io import LoadedImage, decode_image, load_image, to_tensor
from rid_desktop.io import png16
from tests.conftest import encode, synthetic_rgb


def photo(h=40, w=56, seed=0) -> np.ndarray:
    return synthetic_rgb(h, w, seed, checker=64, noise=0.03)  # smooth: JPEG error stays small


def icc_rgb_profile(description="Test wide-gamut RGB", gamma=2.2) -> bytes:
    """A minimal ICC v2 matrix/TRC RGB profile with Adobe-RGB-like primaries (D50), built by hand."""

    def s15(v):
        return struct.pack(">i", int(round(v * 65536)))

    def xyz(x, y, z):
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    text = description.encode() + b"\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(text)) + text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", int(gamma * 256)) + b"\0\0"
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.6097, 0.3111, 0.0195)),
        (b"gXYZ", xyz(0.2053, 0.6257, 0.0609)),
        (b"bXYZ", xyz(0.1492, 0.0632, 0.7446)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + b"\0" * 4 + b"none\0\0\0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, blobs = b"", b""
    for sig, blob in tags:
        while len(blob) % 4:
            blob += b"\0"
        table += sig + struct.pack(">II", offset + len(blobs), len(blob))
        blobs += blob
    size = offset + len(blobs)
    header = (
        struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ "
        + b"\0" * 12 + b"acsp" + b"\0" * 24 + struct.pack(">I", 0)
        + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + blobs


@pytest.mark.parametrize(
    "fmt,options,exact",
    [
        ("JPEG", {"quality": 95}, False),
        ("PNG", {}, True),
        ("WEBP", {"lossless": True}, True),
        ("TIFF", {}, True),
        ("BMP", {}, True),
        ("HEIF", {"quality": 95}, False),
    ],
)
def test_every_format_decodes_to_srgb_float(tmp_path, fmt, options, exact):
    pixels = photo()
    path = tmp_path / f"photo.{fmt.lower()}"
    path.write_bytes(encode(Image.fromarray(pixels), fmt, **options))
    loaded = load_image(path)
    assert loaded.source_format == fmt
    assert loaded.rgb.dtype == np.float32 and loaded.rgb.shape == (40, 56, 3)
    assert loaded.size == (56, 40) and loaded.bit_depth == 8 and loaded.alpha is None
    assert 0.0 <= loaded.rgb.min() and loaded.rgb.max() <= 1.0
    error = np.abs(loaded.rgb * 255 - pixels).mean()
    assert error < (1e-3 if exact else 6.0)
    tensor = to_tensor(loaded)
    assert tensor.shape == (1, 3, 40, 56) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0].permute(1, 2, 0), torch.from_numpy(loaded.rgb))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_exif_transpose(orientation):
    image = Image.fromarray(photo(24, 36))
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(image, "PNG", exif=exif.tobytes())
    loaded = decode_image(data)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), np.float32) / 255
    assert loaded.rgb.shape == expected.shape
    np.testing.assert_allclose(loaded.rgb, expected, atol=1e-6)
    assert loaded.size == (expected.shape[1], expected.shape[0])


def test_alpha_is_separated_not_flattened():
    rgba = np.dstack([photo(), np.tile(np.arange(56, dtype=np.uint8) * 4, (40, 1))])
    loaded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.alpha is not None and loaded.alpha.shape == (40, 56)
    np.testing.assert_allclose(loaded.alpha * 255, rgba[..., 3], atol=1e-3)
    np.testing.assert_allclose(loaded.rgb * 255, rgba[..., :3], atol=1e-3)  # colour under alpha kept


def test_palette_with_transparency_keeps_alpha_and_colours():
    image = Image.fromarray(photo()).quantize(16)
    image.info["transparency"] = 0
    loaded = decode_image(encode(image, "PNG", transparency=0))
    assert loaded.alpha is not None
    assert set(np.unique(loaded.alpha)) <= {0.0, 1.0} and loaded.alpha.min() == 0.0
    reference = np.asarray(image.convert("RGB"), np.float32) / 255
    np.testing.assert_allclose(loaded.rgb, reference, atol=1e-6)


def test_grayscale_becomes_three_equal_channels():
    grey = photo()[..., 0]
    loaded = decode_image(encode(Image.fromarray(grey, "L"), "PNG"))
    assert loaded.rgb.shape == (40, 56, 3)
    for c in range(3):
        np.testing.assert_allclose(loaded.rgb[..., c] * 255, grey, atol=1e-3)


def test_cmyk_jpeg_is_converted_to_rgb():
    rgb = photo()
    cmyk = Image.fromarray(rgb).convert("CMYK")
    loaded = decode_image(encode(cmyk, "JPEG", quality=95))
    assert loaded.mode == "CMYK" and loaded.rgb.shape == (40, 56, 3)
    assert np.abs(loaded.rgb * 255 - rgb).mean() < 8


def test_embedded_rgb_profile_is_converted_for_processing_and_kept():
    icc = icc_rgb_profile()
    pixels = photo()
    loaded = decode_image(encode(Image.fromarray(pixels), "PNG", icc_profile=icc))
    assert loaded.icc_profile == icc
    reference = ImageCms.profileToProfile(
        Image.fromarray(pixels), ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"),
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC, outputMode="RGB",
    )
    np.testing.assert_allclose(loaded.rgb * 255, np.asarray(reference, np.float32), atol=1e-3)
    assert np.abs(loaded.rgb * 255 - pixels).max() > 5  # it really was converted, not passed through


def write_png_with_filters(pixels: np.ndarray, filters: list[int]) -> bytes:
    """Reference 16-bit PNG encoder using any PNG row filter per row (pure Python, small images)."""
    h, w, c = pixels.shape
    bpp = 2 * c
    raw = pixels.astype(">u2").tobytes()
    stride = w * bpp
    out, prev = b"", bytes(stride)
    for y in range(h):
        row = raw[y * stride : (y + 1) * stride]
        ft = filters[y]
        enc = bytearray()
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            if ft == 0:
                pred = 0
            elif ft == 1:
                pred = a
            elif ft == 2:
                pred = b
            elif ft == 3:
                pred = (a + b) // 2
            else:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else cc)
            enc.append((x - pred) % 256)
        out += bytes([ft]) + bytes(enc)
        prev = row
    import zlib

    ctype = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    return (
        png16.PNG_SIGNATURE
        + png16._chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
        + png16._chunk(b"IDAT", zlib.compress(out))
        + png16._chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_keeps_full_precision_with_every_row_filter(channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 65536, (10, 7, channels), dtype=np.uint16)
    data = write_png_with_filters(pixels, [y % 5 for y in range(10)])
    np.testing.assert_array_equal(png16.decode_png16(data), pixels)
    loaded = decode_image(data)
    assert loaded.bit_depth == 16 and loaded.source_format == "PNG"
    colour = pixels[..., :3] if channels >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    np.testing.assert_allclose(loaded.rgb * 65535, colour, atol=0.02)  # < 1/65535: nothing truncated
    if channels in (2, 4):
        np.testing.assert_allclose(loaded.alpha * 65535, pixels[..., -1], atol=0.02)


def test_png16_encoder_round_trips_exactly():
    pixels = np.random.default_rng(1).integers(0, 65536, (9, 13, 4), dtype=np.uint16)
    data = png16.encode_png16(pixels)
    np.testing.assert_array_equal(png16.decode_png16(data), pixels)
    assert Image.open(io.BytesIO(data)).size == (13, 9)  # a valid PNG for other readers too


def test_mpo_camera_jpeg_reads_its_main_frame():
    first, second = Image.fromarray(photo(seed=1)), Image.fromarray(photo(seed=2))
    data = encode(first, "MPO", save_all=True, append_images=[second], quality=95)
    loaded = decode_image(data)
    assert loaded.source_format == "JPEG"
    assert np.abs(loaded.rgb * 255 - photo(seed=1)).mean() < 6


def test_loaded_image_is_a_plain_dataclass():
    loaded = decode_image(encode(Image.fromarray(photo()), "PNG"))
    assert isinstance(loaded, LoadedImage) and loaded.exif is None and loaded.icc_profile is None


def test_decode_errors_are_unsupported_image_errors():
    with pytest.raises(UnsupportedImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(UnsupportedImageError, match="not an image"):
        decode_image(b"hello, this is text")


def test_icc_profile_is_kept_on_output_and_pixels_put_back_in_its_space(tmp_path):
    from rid_desktop.io import save_protected
    from rid_desktop.settings import OutputSettings

    icc = icc_rgb_profile()
    pixels = (60 + photo() // 2).astype(np.uint8)  # inside the sRGB gamut: the round trip is exact-ish
    loaded = decode_image(encode(Image.fromarray(pixels), "PNG", icc_profile=icc))
    dst = save_protected(loaded, to_tensor(loaded), tmp_path / "wide.png", OutputSettings())
    with Image.open(dst) as written:
        assert written.info.get("icc_profile") == icc  # original profile kept
        # Unchanged sRGB pixels went back into the profile's space: close to the original file's values.
        assert np.abs(np.asarray(written, np.float32) - pixels).mean() < 1.0
    again = load_image(dst)
    error = np.abs(again.rgb - loaded.rgb) * 255  # two 8-bit roundings in different spaces
    assert error.mean() < 1.0 and np.percentile(error, 99) <= 4


@pytest.mark.parametrize("fmt", ["TIFF", "PNG"])
def test_16bit_grey_keeps_its_values(fmt):
    values = np.random.default_rng(4).integers(0, 65536, (9, 11), dtype=np.uint16)
    image = Image.frombytes("I;16", (11, 9), values.astype("<u2").tobytes())
    loaded = decode_image(encode(image, fmt))
    assert loaded.bit_depth == 16 and loaded.rgb.shape == (9, 11, 3)
    np.testing.assert_allclose(loaded.rgb[..., 1] * 65535, values, atol=0.02)
