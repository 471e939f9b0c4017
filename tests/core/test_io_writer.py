"""Writing protected copies: format, 4:4:4 JPEG, 16-bit, alpha, ICC, metadata policy, atomic writes."""

from __future__ import annotations

import errno
import io
import os

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, JpegImagePlugin

from rid_desktop.errors import OutputError
from rid_desktop.io import decode_image, load_image, output_path_for, save_protected, to_tensor
from rid_desktop.io import png16, writer
from rid_desktop.settings import OutputSettings
from tests.conftest import encode, synthetic_rgb


def photo(h=40, w=56, seed=0) -> np.ndarray:
    return synthetic_rgb(h, w, seed, checker=64, noise=0.03)  # smooth: JPEG error stays small


def gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0112] = 1
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    exif[0x8769] = {0x9003: "2021:06:01 10:00:00", 0x927C: b"maker-note-with-preview"}
    return exif.tobytes()


def nudged(loaded, amount=3 / 255) -> torch.Tensor:
    x = to_tensor(loaded)
    return (x + amount * torch.sign(torch.sin(x * 40))).clamp(0, 1)


def test_output_path_mirrors_subfolders_and_keeps_the_name(tmp_path):
    out = OutputSettings()
    root = tmp_path / "photos"
    assert output_path_for(root / "a" / "IMG 1.JPG", root, tmp_path / "o", out) == tmp_path / "o" / "a" / "IMG 1.JPG"
    assert output_path_for(root / "x.heic", root, tmp_path / "o", out) == tmp_path / "o" / "x.jpg"
    assert output_path_for(root / "x.png", root, tmp_path / "o", OutputSettings(format="jpeg")).name == "x.jpg"
    assert output_path_for(root / "x.jpeg", root, tmp_path / "o", OutputSettings(format="jpeg")).name == "x.jpeg"
    assert output_path_for(root / "x.tif", root, tmp_path / "o", OutputSettings(format="png")).name == "x.png"


def test_jpeg_is_written_444_at_the_chosen_quality_same_size(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "JPEG", quality=90))
    dst = save_protected(loaded, nudged(loaded), tmp_path / "out.jpg", OutputSettings(jpeg_quality=93))
    with Image.open(dst) as written:
        assert written.format == "JPEG" and written.size == (56, 40)
        assert JpegImagePlugin.get_sampling(written) == 0  # 4:4:4: chroma perturbations survive
        assert abs(written.quantization[0][0] - Image.open(io.BytesIO(encode(Image.fromarray(photo()), "JPEG", quality=93))).quantization[0][0]) == 0


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif"), ("BMP", ".bmp")])
def test_lossless_formats_store_the_protected_pixels_exactly(tmp_path, fmt, suffix):
    loaded = decode_image(encode(Image.fromarray(photo()), fmt))
    protected = nudged(loaded)
    dst = save_protected(loaded, protected, tmp_path / f"out{suffix}", OutputSettings())
    back = load_image(dst)
    assert back.source_format == fmt
    expected = np.round(protected[0].permute(1, 2, 0).numpy() * 255)
    np.testing.assert_array_equal(np.round(back.rgb * 255), expected)


def test_heic_input_is_written_as_jpeg(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "HEIF", quality=95))
    dst = output_path_for(tmp_path / "in" / "p.heic", tmp_path / "in", tmp_path / "out", OutputSettings())
    save_protected(loaded, nudged(loaded), dst, OutputSettings())
    with Image.open(dst) as written:
        assert dst.suffix == ".jpg" and written.format == "JPEG" and written.size == (56, 40)


def test_alpha_round_trips(tmp_path):
    alpha = np.tile(np.arange(56, dtype=np.uint8) * 4, (40, 1))
    loaded = decode_image(encode(Image.fromarray(np.dstack([photo(), alpha]), "RGBA"), "PNG"))
    dst = save_protected(loaded, nudged(loaded), tmp_path / "a.png", OutputSettings())
    with Image.open(dst) as written:
        assert written.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(written)[..., 3], alpha)


def test_alpha_is_flattened_onto_white_only_when_jpeg_is_forced(tmp_path):
    rgba = np.dstack([photo(), np.zeros((40, 56), np.uint8)])
    loaded = decode_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    dst = save_protected(loaded, to_tensor(loaded), tmp_path / "a.jpg", OutputSettings(format="jpeg"))
    assert np.asarray(Image.open(dst)).min() > 245  # fully transparent -> white


def test_16bit_png_stays_16bit(tmp_path):
    pixels = np.random.default_rng(3).integers(0, 65536, (12, 9, 3), dtype=np.uint16)
    loaded = decode_image(png16.encode_png16(pixels))
    protected = to_tensor(loaded) + 1e-4  # far below 1/255: lost if anything went through 8 bits
    dst = save_protected(loaded, protected.clamp(0, 1), tmp_path / "deep.png", OutputSettings())
    data = dst.read_bytes()
    assert png16.is_png16(data)
    expected = np.round(np.clip(pixels / 65535 + 1e-4, 0, 1) * 65535)
    np.testing.assert_allclose(png16.decode_png16(data), expected, atol=1)


def test_gps_is_stripped_by_default_other_exif_kept(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "JPEG", exif=gps_exif()))
    dst = save_protected(loaded, nudged(loaded), tmp_path / "g.jpg", OutputSettings())
    exif = Image.open(dst).getexif()
    assert exif.get(0x010F) == "TestCam"
    assert not exif.get_ifd(0x8825)
    assert exif.get_ifd(0x8769).get(0x9003) == "2021:06:01 10:00:00"
    assert 0x927C not in exif.get_ifd(0x8769)  # maker notes can hide an unprotected preview


def test_gps_kept_when_asked_and_all_exif_stripped_when_asked(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "JPEG", exif=gps_exif()))
    keep = save_protected(loaded, nudged(loaded), tmp_path / "k.jpg", OutputSettings(strip_gps=False))
    assert Image.open(keep).getexif().get_ifd(0x8825).get(1) == "N"
    bare = save_protected(loaded, nudged(loaded), tmp_path / "b.jpg", OutputSettings(strip_exif=True))
    with Image.open(bare) as written:
        assert "exif" not in written.info and len(written.getexif()) == 0


def test_orientation_tag_is_reset_after_pixels_were_turned(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = decode_image(encode(Image.fromarray(photo()), "JPEG", exif=exif.tobytes()))
    assert loaded.size == (40, 56)
    dst = save_protected(loaded, nudged(loaded), tmp_path / "r.jpg", OutputSettings())
    with Image.open(dst) as written:
        assert written.size == (40, 56) and written.getexif().get(0x0112, 1) == 1


def test_output_is_created_atomically_and_nothing_partial_survives_a_failed_write(tmp_path, monkeypatch):
    loaded = decode_image(encode(Image.fromarray(photo()), "PNG"))
    dst = tmp_path / "out" / "x.png"
    real_write = os.write

    def half_then_disk_full(fd, data):
        real_write(fd, bytes(data[: max(1, len(data) // 2)]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.os, "write", half_then_disk_full)
    with pytest.raises(OutputError, match="disk full"):
        save_protected(loaded, nudged(loaded), dst, OutputSettings())
    assert list(dst.parent.iterdir()) == []  # neither the image nor a temp file


def test_a_failed_rewrite_keeps_the_previous_complete_output(tmp_path, monkeypatch):
    loaded = decode_image(encode(Image.fromarray(photo()), "PNG"))
    dst = save_protected(loaded, nudged(loaded), tmp_path / "x.png", OutputSettings())
    before = dst.read_bytes()
    monkeypatch.setattr(writer, "_write_all", lambda fd, data: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OutputError):
        save_protected(loaded, to_tensor(loaded), dst, OutputSettings())
    assert dst.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_outputs_get_normal_permissions(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "PNG"))
    old = os.umask(0o022)
    try:
        dst = save_protected(loaded, nudged(loaded), tmp_path / "p.png", OutputSettings())
    finally:
        os.umask(old)
    assert dst.stat().st_mode & 0o777 == 0o644


def test_stale_temp_files_are_removed(tmp_path):
    (tmp_path / ".x.png.abcd1234.rid-tmp").write_bytes(b"half")
    (tmp_path / "keep.png").write_bytes(b"x")
    assert writer.remove_stale_temp_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


@pytest.mark.parametrize("keep_gps", [False, True])
def test_tiff_with_camera_exif_is_written_with_its_metadata_policy(tmp_path, keep_gps):
    """Camera TIFFs carry EXIF and GPS sub-IFDs, which libtiff (TIFF compression) cannot write."""
    source = Image.fromarray(photo())
    data = encode(source, "TIFF", exif=gps_exif(), icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    loaded = decode_image(data)
    protected = nudged(loaded)
    dst = save_protected(loaded, protected, tmp_path / "scan.tif", OutputSettings(strip_gps=not keep_gps))
    with Image.open(dst) as written:
        assert written.format == "TIFF" and written.size == (56, 40)
        assert written.info.get("icc_profile") == loaded.icc_profile
        exif = written.getexif()
        assert exif.get(0x010F) == "TestCam"
        assert exif.get_ifd(0x8769).get(0x9003) == "2021:06:01 10:00:00"
        assert bool(exif.get_ifd(0x8825)) == keep_gps
    expected = np.round(protected[0].permute(1, 2, 0).numpy() * 255)
    np.testing.assert_array_equal(np.round(load_image(dst).rgb * 255), expected)


def test_default_jpeg_output_is_quality_95_and_444(tmp_path):
    loaded = decode_image(encode(Image.fromarray(photo()), "JPEG", quality=80, subsampling=2))
    dst = save_protected(loaded, nudged(loaded), tmp_path / "d.jpg", OutputSettings())
    reference = Image.open(io.BytesIO(encode(Image.fromarray(photo()), "JPEG", quality=95)))
    with Image.open(dst) as written:
        assert JpegImagePlugin.get_sampling(written) == 0
        assert written.quantization == reference.quantization
