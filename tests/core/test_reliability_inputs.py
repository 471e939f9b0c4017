"""Issue 9, bad inputs: every strange file gets a one-line reason and the batch goes on."""

from __future__ import annotations

import builtins
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io import decode_image, load_image
from rid_desktop.io import formats
from rid_desktop.settings import ProtectionSettings
from tests.conftest import SignEngine

SETTINGS = ProtectionSettings()


def png_bytes(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(h=32, w=48) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


def png_header_claiming(width: int, height: int, bit_depth=1, ctype=0) -> bytes:
    """A tiny PNG whose header claims a huge image (a decompression-bomb shape)."""

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, ctype, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def animated(fmt: str) -> bytes:
    frames = [Image.fromarray(np.full((8, 8, 3), v, np.uint8)) for v in (0, 128, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format=fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def reason(data: bytes) -> str:
    with pytest.raises(UnsupportedImageError) as info:
        decode_image(data)
    message = str(info.value)
    assert message and "\n" not in message and len(message) < 200
    return message


def test_zero_byte_file():
    assert "empty" in reason(b"")


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_jpeg_and_png(cut):
    jpeg = jpeg_bytes()
    png = png_bytes(np.random.default_rng(1).integers(0, 256, (32, 48, 3), dtype=np.uint8))
    assert reason(jpeg[: int(len(jpeg) * cut)])
    assert reason(png[: int(len(png) * cut)])


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "holiday.jpg"
    path.write_text("this is a shopping list, not a photo\n")
    with pytest.raises(UnsupportedImageError, match="not an image"):
        load_image(path)


def test_unsupported_formats_are_named():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="GIF")
    assert "GIF" in reason(buffer.getvalue())
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="PPM")
    assert "not an image we can read" in reason(buffer.getvalue())


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG"])
def test_animated_images_are_refused(fmt):
    assert "animated" in reason(animated(fmt))


def test_multi_page_tiff_is_refused():
    assert "multi-frame" in reason(animated("TIFF"))


def test_decompression_bomb_and_absurd_dimensions():
    assert "too large" in reason(png_header_claiming(100_000, 100_000))
    assert "too large" in reason(png_header_claiming(70_000, 10))  # one side beyond JPEG's limit
    assert "decompression bomb" in reason(png_header_claiming(6_000, 6_000))  # 36 MP in ~1 kB


def test_bomb_limits_are_what_the_docs_say():
    assert formats.MAX_PIXELS == 200_000_000 and formats.MAX_SIDE == 65_535


@pytest.mark.parametrize("shape", [(1, 1), (1, 257), (300, 1), (2, 3)])
def test_tiny_and_thin_images_are_protected(tmp_path, shape):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "thin.png").write_bytes(png_bytes(np.full((*shape, 3), 100, np.uint8)))
    events = list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))
    assert events[-1].summary.done == 1
    with Image.open(tmp_path / "p-protected" / "thin.png") as out:
        assert out.size == (shape[1], shape[0])


@pytest.mark.parametrize("mode", ["CMYK", "I;16", "P", "LA", "RGBA", "1", "L"])
def test_every_pixel_mode_goes_through_a_batch(tmp_path, mode):
    folder = tmp_path / "p"
    folder.mkdir()
    base = Image.fromarray(np.random.default_rng(2).integers(0, 256, (20, 24, 3), dtype=np.uint8))
    image = base.convert("L").convert("I;16") if mode == "I;16" else base.convert(mode)
    name = "m.tif" if mode == "CMYK" else "m.png"
    image.save(folder / name)
    summary = list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))[-1].summary
    assert summary.done == 1, summary.failed
    with Image.open(tmp_path / "p-protected" / name) as out:
        assert out.size == (24, 20)
        assert ("A" in out.mode) == (mode in ("LA", "RGBA"))


@pytest.mark.parametrize("name", ["with space.jpg", "naïve café.jpg", "日本語の写真.jpg", "party 🎉🥳.jpg"])
def test_unusual_file_names(tmp_path, name):
    folder = tmp_path / "p p"
    folder.mkdir()
    (folder / name).write_bytes(jpeg_bytes())
    summary = list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))[-1].summary
    assert summary.done == 1 and (tmp_path / "p p-protected" / name).is_file()


def test_very_long_paths(tmp_path):
    folder = tmp_path
    for i in range(12):
        folder = folder / (f"{i:02d}" + "x" * 60)
    folder.mkdir(parents=True)
    (folder / ("y" * 200 + ".jpg")).write_bytes(jpeg_bytes())
    summary = list(run_batch(plan_batch([tmp_path / ("00" + "x" * 60)], SETTINGS), SignEngine()))[-1].summary
    assert summary.done == 1 and len(str(next((tmp_path / ("00" + "x" * 60 + "-protected")).rglob("*.jpg")))) > 900


def test_symlink_loops_are_walked_once(tmp_path):
    folder = tmp_path / "p"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "x.jpg").write_bytes(jpeg_bytes())
    os.symlink(folder, folder / "a" / "loop")
    os.symlink(folder / "a", folder / "again")
    plan = plan_batch([folder], SETTINGS)
    assert [item.source.name for item in plan.items] == ["x.jpg"]
    assert plan.problems == []  # each folder walked once: never down the loop until the OS says ELOOP


def test_file_vanishing_during_the_batch(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (folder / name).write_bytes(jpeg_bytes())
    plan = plan_batch([folder], SETTINGS)
    (folder / "a.jpg").unlink()
    events = list(run_batch(plan, SignEngine()))
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert failed.source.name == "a.jpg" and "not found" in failed.message
    assert events[-1].summary.done == 1


def test_file_changing_while_read_is_not_protected_from_torn_bytes(tmp_path, monkeypatch):
    from rid_desktop.batch import runner

    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes())
    real_read = runner.read_image_bytes

    def read_then_change(path):
        data = real_read(path)
        path.write_bytes(jpeg_bytes(40, 40))  # a sync client rewrites the file mid-read
        return data

    monkeypatch.setattr(runner, "read_image_bytes", read_then_change)
    events = list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert "changed while being read" in failed.message
    assert not (tmp_path / "p-protected" / "a.jpg").exists()


def test_unreadable_file(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    folder.mkdir()
    secret, fine = folder / "secret.jpg", folder / "fine.jpg"
    secret.write_bytes(jpeg_bytes())
    fine.write_bytes(jpeg_bytes())
    secret.chmod(0)
    if os.access(secret, os.R_OK):  # running as root: permissions do not block reads, so simulate them
        real_open = builtins.open

        def guarded_open(file, *args, **kwargs):
            if Path(str(file)) == secret:
                raise PermissionError(13, "Permission denied", str(file))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
    try:
        events = list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))
    finally:
        secret.chmod(0o644)
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert failed.source == secret and "permission denied" in failed.message
    assert events[-1].summary.done == 1


def test_directly_named_unsupported_file_fails_with_its_reason(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    events = list(run_batch(plan_batch([notes], SETTINGS), SignEngine()))
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert "not an image" in failed.message


def test_damaged_files_print_no_decoder_warnings():
    """Pillow warns on some damaged files; a person must see our one line only, not library warnings."""
    import warnings

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="TIFF")
    data = bytearray(buffer.getvalue())
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        if struct.unpack("<H", data[entry : entry + 2])[0] == 258:  # BitsPerSample: claim far more values
            data[entry + 4 : entry + 8] = struct.pack("<I", 100_000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert reason(bytes(data))
    assert [str(w.message) for w in caught] == []


def _deny(monkeypatch, locked: Path) -> None:
    """Make ``locked`` (a folder) unreadable and untraversable, simulated when running as root."""
    locked.chmod(0)
    if not os.access(locked, os.R_OK):
        return  # a normal user: the real permissions do it
    real_stat, real_scandir = os.stat, os.scandir

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(locked) + os.sep):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    def scandir(path="."):
        if str(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_sub_folder_is_reported_and_the_batch_continues(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    (folder / "locked").mkdir(parents=True)
    (folder / "fine.jpg").write_bytes(jpeg_bytes())
    (folder / "locked" / "hidden-away.jpg").write_bytes(jpeg_bytes())
    try:
        _deny(monkeypatch, folder / "locked")
        plan = plan_batch([folder], SETTINGS)
        events = list(run_batch(plan, SignEngine()))
    finally:
        (folder / "locked").chmod(0o755)
    (failed,) = [e for e in events if e.kind == "item_failed"]
    assert failed.source == folder / "locked" and "permission denied" in failed.message.lower()
    assert "\n" not in failed.message and events[-1].summary.done == 1


def test_input_inside_an_unreadable_folder_is_a_one_line_usage_error(tmp_path, monkeypatch):
    from rid_desktop.errors import UserError

    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.jpg").write_bytes(jpeg_bytes())
    try:
        _deny(monkeypatch, locked)
        with pytest.raises(UserError, match="permission denied"):
            plan_batch([locked / "x.jpg"], SETTINGS)
    finally:
        locked.chmod(0o755)


def test_a_link_pointing_at_itself_is_a_one_line_usage_error(tmp_path):
    from rid_desktop.errors import UserError

    os.symlink(tmp_path / "self.jpg", tmp_path / "self.jpg")
    with pytest.raises(UserError, match="self.jpg"):
        plan_batch([tmp_path / "self.jpg"], SETTINGS)
