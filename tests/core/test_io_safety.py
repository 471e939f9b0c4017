"""Issue 17, unsafe or wrong inputs and privacy: bombs, 16-bit transparency, big ICC profiles,
high-entropy JPEGs, identifying EXIF, stray warnings, Ctrl+C before the parser."""

from __future__ import annotations

import io
import struct
import sys
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop import cli
from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io import decode_image, formats, metadata, png16
from rid_desktop.io.writer import encode_image
from rid_desktop.settings import OutputSettings, ProtectionSettings


class SignEngine:
    name = "test-sign"

    def protect(self, image, eps, *, seed=0, progress=None):
        return (image + eps * torch.sign(torch.sin(image * 40))).clamp(0, 1)


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width: int, height: int, *, depth=1, ctype=0, idat=b"", extra=()) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, 0)
    body = b"".join(chunk(kind, payload) for kind, payload in extra)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + body + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def refusal(data: bytes) -> str:
    with pytest.raises(UnsupportedImageError) as info:
        decode_image(data)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    return message


# --- 6. decompression bombs --------------------------------------------------------------------
def test_a_bomb_padded_with_a_big_metadata_chunk_is_refused_from_its_header():
    """14000x14000 (196 MP) in a 200 kB file passed "pixels per byte of file"; its image data is 1 kB."""
    padding = (b"Comment", b"\0" + bytes(np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8)))
    data = png(14_000, 14_000, idat=zlib.compress(b"\0" * 4000), extra=[(b"tEXt", b"".join(padding))])
    assert len(data) > 196_000
    started = time.monotonic()
    assert "decompression bomb" in refusal(data)
    assert time.monotonic() - started < 1.0


def test_a_jpeg_padded_with_app_segments_counts_only_its_scan_data():
    buffer = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buffer, "JPEG")
    plain = buffer.getvalue()
    padded = plain[:2] + (b"\xff\xe9" + struct.pack(">H", 65_000) + b"\0" * 64_998) * 3 + plain[2:]
    assert formats.image_data_bytes(padded, "JPEG") == formats.image_data_bytes(plain, "JPEG") > len(plain) - 100
    assert formats.image_data_bytes(plain, "PNG") == 0  # not a PNG: no IDAT found


def test_a_photo_needing_more_memory_than_available_is_refused_before_decoding(monkeypatch):
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(buffer, "PNG")
    monkeypatch.setattr(formats, "available_memory", lambda: 1_000_000)  # 1 MB left
    message = refusal(buffer.getvalue())
    assert "not enough memory" in message and "400x300" in message


def test_a_too_long_side_is_named_as_such():
    message = refusal(png(70_000, 1, idat=zlib.compress(b"\0" * 8751)))
    assert "65,535 pixels on a side" in message and "megapixels" not in message


# --- 8. high-entropy JPEG, 16-bit transparency, big ICC profiles ---------------------------------
def loaded_from(array: np.ndarray, fmt: str = "PNG", **save):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **save)
    return decode_image(buffer.getvalue())


def test_a_high_entropy_photo_is_written_as_jpeg_at_top_quality():
    noise = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    loaded = loaded_from(noise)
    for quality in (95, 100):
        data = encode_image(loaded, loaded.rgb, "JPEG", OutputSettings(jpeg_quality=quality))
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            assert image.size == (256, 256)


def test_a_smooth_photo_still_gets_optimised_huffman_tables():
    smooth = np.tile(np.linspace(0, 255, 256, dtype=np.uint8)[None, :, None], (256, 1, 3))
    loaded = loaded_from(smooth)
    ours = encode_image(loaded, loaded.rgb, "JPEG", OutputSettings(jpeg_quality=95))
    plain = io.BytesIO()
    Image.fromarray(smooth).save(plain, "JPEG", quality=95, subsampling=0)
    assert len(ours) < len(plain.getvalue())


@pytest.mark.parametrize("ctype,key", [(0, (1000,)), (2, (1000, 2000, 3000))])
def test_a_16bit_png_transparency_key_becomes_alpha_and_survives(ctype, key):
    channels = len(key)
    pixels = np.random.default_rng(0).integers(0, 65536, (6, 5, channels), dtype=np.uint16)
    pixels[0, 0] = key
    pixels[3, 2] = key
    raw = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(6, -1)
    rows = np.concatenate([np.zeros((6, 1), np.uint8), raw], axis=1).tobytes()
    data = png(5, 6, depth=16, ctype=ctype, idat=zlib.compress(rows), extra=[(b"tRNS", struct.pack(f">{channels}H", *key))])
    loaded = decode_image(data)
    assert loaded.bit_depth == 16 and loaded.alpha is not None
    assert loaded.alpha[0, 0] == 0 and loaded.alpha[3, 2] == 0 and loaded.alpha.sum() == 28
    written = png16.decode_png16(encode_image(loaded, loaded.rgb, "PNG", OutputSettings()))
    assert written.shape[2] == 4 and written[0, 0, 3] == 0 and written[1, 1, 3] == 65535


def test_a_png_with_a_2mb_icc_profile_is_read_and_keeps_it():
    profile = bytes(np.random.default_rng(0).integers(0, 256, 2_000_000, dtype=np.uint8))
    loaded = loaded_from(np.full((8, 8, 3), 77, np.uint8), icc_profile=profile)
    assert loaded.icc_profile == profile
    with Image.open(io.BytesIO(encode_image(loaded, loaded.rgb, "PNG", OutputSettings()))) as image:
        assert image.info["icc_profile"] == profile


# --- 10. privacy ---------------------------------------------------------------------------------
def camera_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif[0x0110] = "EOS R5"
    exif[0x0132] = "2024:05:01 10:00:00"
    exif[0x013B] = "Jane Doe"  # Artist
    exif[0x8298] = "(c) Jane Doe"  # Copyright
    exif[0x010E] = "Jane's house, 12 Elm Street"  # ImageDescription
    exif[metadata.EXIF_IFD] = {
        0x829A: 0.004,  # ExposureTime
        0x8827: 400,  # ISO
        0x9003: "2024:05:01 10:00:00",  # DateTimeOriginal
        0x920A: 35.0,  # FocalLength
        0xA434: "RF 35mm",  # LensModel
        0xA430: "Jane Doe",  # CameraOwnerName
        0xA431: "0123456789",  # BodySerialNumber
        0xA435: "LENS-42",  # LensSerialNumber
        0xA420: "a1b2c3d4e5f6",  # ImageUniqueID
        0x9286: b"ASCII\0\0\0at home with the kids",  # UserComment
    }
    exif[metadata.GPS_IFD] = {1: "N", 2: (52.0, 22.0, 0.0)}
    return exif.tobytes()


def test_identifying_exif_is_dropped_and_what_photographers_want_is_kept():
    kept = Image.Exif()
    kept.load(metadata.sanitize_exif(b"Exif\0\0" + camera_exif()))
    details = kept.get_ifd(metadata.EXIF_IFD)
    assert kept[0x010F] == "Canon" and kept[0x0110] == "EOS R5" and kept[0x0132].startswith("2024")
    assert details[0x8827] == 400 and details[0x9003].startswith("2024") and details[0xA434] == "RF 35mm"
    for tag in (0x013B, 0x8298, 0x010E):
        assert tag not in kept
    for tag in (0xA430, 0xA431, 0xA435, 0xA420, 0x9286, metadata.MAKER_NOTE):
        assert tag not in details
    assert not kept.get_ifd(metadata.GPS_IFD)


def test_the_privacy_policy_is_described_in_words():
    policy = metadata.metadata_policy()
    assert any("serial" in item for item in policy["dropped"]) and any("GPS" in item for item in policy["dropped"])
    assert any("capture" in item for item in policy["kept"])
    assert any("GPS" in item for item in metadata.metadata_policy(strip_gps=False)["kept"])
    assert metadata.metadata_policy(strip_all=True)["kept"] == ["colour profile (ICC)"]


def test_a_protected_jpeg_carries_no_serial_or_owner_in_its_bytes(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "a.jpg", exif=camera_exif())
    assert list(run_batch(plan_batch([folder], ProtectionSettings()), SignEngine()))[-1].summary.done == 1
    data = (tmp_path / "p-protected" / "a.jpg").read_bytes()
    for secret in (b"Jane", b"0123456789", b"LENS-42", b"a1b2c3d4e5f6", b"kids", b"Elm Street"):
        assert secret not in data
    assert b"EOS R5" in data


# --- 12. stray warnings, Ctrl+C -------------------------------------------------------------------
def test_a_damaged_exif_block_prints_no_pillow_warning_while_writing(tmp_path, capfd):
    folder = tmp_path / "p"
    folder.mkdir()
    exif = (b"Exif\0\0" + camera_exif())[:300]  # cut short: tags now point past the end
    pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "a.jpg", exif=bytes(exif))
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summary = list(run_batch(plan_batch([folder], ProtectionSettings()), SignEngine()))[-1].summary
    assert summary.done == 1
    assert not [w for w in caught if "PIL" in (w.filename or "") or "EXIF" in str(w.message)]


def test_ctrl_c_before_the_parser_exists_is_a_clean_cancel(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["protect", "x"]) == cli.EXIT_CANCELLED
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "cancelled" in captured.err


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="only Linux file systems take non-UTF-8 names")
def test_the_cli_prints_a_failed_non_utf8_name_without_crashing(tmp_path, monkeypatch):
    import os
    import subprocess

    folder = tmp_path / "p"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"bad \xff.jpg"), "wb") as handle:
        handle.write(b"not an image")
    result = subprocess.run(
        [sys.executable, "-m", "rid_desktop.cli", "protect", str(folder), "--engine", "dwt-chroma"],
        capture_output=True, env={**os.environ, "PYTHONIOENCODING": "utf-8"}, timeout=120,
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert b"Traceback" not in result.stderr and b"bad \xff.jpg" in result.stdout
