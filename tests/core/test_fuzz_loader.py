"""Issue 9, fuzzing: mutated real image bytes either load or raise UnsupportedImageError — nothing else.

A short, fixed-seed run lives here; ``FUZZ_EXAMPLES=2000`` runs the longer one reported in
docs/reliability.md.
"""

from __future__ import annotations

import io
import os

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.errors import UnsupportedImageError
from rid_desktop.io import LoadedImage, decode_image, register_heif
from rid_desktop.settings import ProtectionSettings
from tests.conftest import SignEngine

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))


def _seeds() -> list[bytes]:
    register_heif()
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (12, 16, 4), dtype=np.uint8), "RGBA")
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x8825] = {1: "N"}
    cases = [
        (rgb, "JPEG", {"quality": 90, "exif": exif.tobytes()}),
        (rgb, "PNG", {}),
        (rgba, "PNG", {}),
        (rgb.convert("P"), "PNG", {}),
        (rgb, "WEBP", {"lossless": True}),
        (rgb, "TIFF", {}),
        (rgb, "BMP", {}),
        (rgb, "HEIF", {"quality": 80}),
        (rgb.convert("CMYK"), "JPEG", {}),
        (rgb.convert("L").convert("I;16"), "PNG", {}),
    ]
    blobs = []
    for image, fmt, options in cases:
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        blobs.append(buffer.getvalue())
    return blobs


SEEDS = _seeds()


@st.composite
def mutated_images(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        action = draw(st.sampled_from(["flip", "set", "cut", "insert", "delete", "header"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif action == "set" and data:
            data[pos] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, draw(st.integers(0, 255))]))
        elif action == "cut":
            del data[pos:]
        elif action == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[pos : pos + draw(st.integers(1, 32))]
        elif action == "header" and len(data) > 8:  # hit width/height/length fields near the start
            offset = draw(st.integers(0, min(40, len(data) - 1)))
            data[offset] = draw(st.integers(0, 255))
    return bytes(data)


def _fuzz_settings(examples: int):
    return settings(
        derandomize=True, max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@_fuzz_settings(EXAMPLES)
@given(mutated_images())
def test_loader_only_ever_loads_or_refuses(data):
    try:
        loaded = decode_image(data)
    except UnsupportedImageError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(loaded, LoadedImage)
    h, w, c = loaded.rgb.shape
    assert c == 3 and loaded.size == (w, h) and loaded.rgb.dtype == np.float32
    assert np.isfinite(loaded.rgb).all() and loaded.rgb.min() >= 0 and loaded.rgb.max() <= 1


@_fuzz_settings(max(10, EXAMPLES // 4))
@given(st.lists(mutated_images(), min_size=1, max_size=3))
def test_batch_runner_survives_mutated_files(tmp_path_factory, blobs):
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    folder.mkdir()
    suffixes = [".jpg", ".png", ".webp", ".tif", ".bmp", ".heic"]
    for i, blob in enumerate(blobs):
        (folder / f"f{i}{suffixes[i % len(suffixes)]}").write_bytes(blob)
    events = list(run_batch(plan_batch([folder], ProtectionSettings()), SignEngine()))
    summary = events[-1].summary
    assert summary.done + len(summary.failed) == len(blobs)
    for _, reason in summary.failed:
        assert not reason.startswith("unexpected error"), reason
