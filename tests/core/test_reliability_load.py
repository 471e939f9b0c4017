"""Issue 9, load: 1,000 small images and 20 large ones complete with flat memory (RSS from /proc)."""

from __future__ import annotations

import ctypes
import gc
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.settings import ProtectionSettings
from tests.conftest import SignEngine


def rss_mib() -> float:
    """Resident memory of this process (Linux /proc; no psutil needed).

    Freed heap is first handed back to the OS (glibc ``malloc_trim``), so the figure tracks live
    memory rather than allocator caches left by earlier tests in the same process.
    """
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("needs /proc/self/status (Linux) to measure memory")


def run_and_sample(folder: Path, warmup: int, engine=None) -> tuple[int, float, float, float]:
    """Run the batch; RSS after ``warmup`` images and at the end. Returns (done, rss_warm, rss_end, seconds)."""
    start = time.monotonic()
    done, rss_warm = 0, None
    for event in run_batch(plan_batch([folder], ProtectionSettings()), engine or SignEngine()):
        if event.kind == "item_done":
            done += 1
            if done == warmup:
                gc.collect()
                rss_warm = rss_mib()
    gc.collect()
    return done, rss_warm, rss_mib(), time.monotonic() - start


def test_thousand_small_images_flat_memory(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(1000):
        Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    done, warm, end, seconds = run_and_sample(folder, warmup=100)
    print(f"1000 small images: {seconds:.1f} s, RSS {warm:.1f} -> {end:.1f} MiB")
    assert done == 1000
    assert end - warm < 25, f"memory grew by {end - warm:.1f} MiB over 900 images"


@pytest.mark.slow  # minutes on a busy 2-core machine; its figure is in docs/reliability.md and bench's batch memory
def test_twenty_large_images_flat_memory(tmp_path):
    """20 camera-sized (7.7 MP) photos through the real default generator, tiled at native size."""
    from rid_desktop.engines import create_engine

    folder = tmp_path / "large"
    folder.mkdir()
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    for i in range(20):
        tile = np.kron(np.roll(base, i, axis=1), np.ones((25, 25, 1), np.uint8))  # 3200 x 2400
        Image.fromarray(tile).save(folder / f"big{i:02d}.jpg", quality=90)
    done, warm, end, seconds = run_and_sample(folder, warmup=5, engine=create_engine("rid"))
    print(f"20 large images: {seconds:.1f} s, RSS {warm:.1f} -> {end:.1f} MiB")
    assert done == 20
    assert end - warm < 60, f"memory grew by {end - warm:.1f} MiB over 15 large images"
    protected = sorted((tmp_path / "large-protected").glob("*.jpg"))
    assert len(protected) == 20 and Image.open(protected[0]).size == (3200, 2400)
