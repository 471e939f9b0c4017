"""Issue 9, interruption: SIGTERM and SIGKILL a real `rid-desktop protect` mid-batch, then resume.

The subprocess runs the real CLI; only the engine is a slow test engine (registered under "rid" inside
that subprocess, never for users) that logs a checksum of every image it finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
from PIL import Image

from rid_desktop.batch import MANIFEST_NAME
from rid_desktop.batch.lock import LOCK_NAME
from rid_desktop.io import load_image, to_tensor

REPO = Path(__file__).resolve().parents[2]
DRIVER = textwrap.dedent(
    """
    import sys, time, torch
    from rid_desktop.engines import base
    LOG = sys.argv[1]

    class SlowEngine:
        name = "test-slow"
        def __init__(self, device=None):
            pass
        def protect(self, image, eps, *, seed=0, progress=None):
            for step in range(8):
                time.sleep(0.04)
                if progress:
                    progress(step + 1, 8)
            out = (image + eps * torch.sign(torch.sin(image * 40))).clamp(0, 1)
            with open(LOG, "a") as log:
                log.write(f"{float(image.double().sum()):.6f}\\n")
            return out

    base.register_engine("rid", "test", "test-only slow engine")(SlowEngine)
    from rid_desktop.cli import main
    sys.exit(main(sys.argv[2:]))
    """
)


def checksum(path: Path) -> str:
    return f"{float(to_tensor(load_image(path)).double().sum()):.6f}"


def log_lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def start(tmp_path: Path, log: Path, folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(tmp_path / "driver.py"), str(log), "protect", str(folder), "--device", "cpu"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )


def wait_for(log: Path, count: int, proc: subprocess.Popen, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while len(log_lines(log)) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the batch did not progress"
        time.sleep(0.02)


def outputs_are_whole(out: Path, *, allow_temp=False) -> list[Path]:
    """Every visible output decodes completely; hidden temp files only where a SIGKILL may leave one."""
    files = [p for p in out.rglob("*") if p.is_file() and p.name not in (MANIFEST_NAME, LOCK_NAME)]
    temps = [p for p in files if p.name.startswith(".") and p.name.endswith(".rid-tmp")]
    assert allow_temp or not temps, f"left-over temporary files {temps}"
    files = [p for p in files if p not in temps]
    for path in files:
        with Image.open(path) as image:
            image.load()  # a torn file would fail here
    json.loads((out / MANIFEST_NAME).read_text())  # the manifest is never torn either
    return files


def done_in_manifest(out: Path) -> set[str]:
    images = json.loads((out / MANIFEST_NAME).read_text())["images"]
    return {key for key, entry in images.items() if entry["status"] == "protected"}


def test_sigterm_then_sigkill_then_resume(tmp_path):
    (tmp_path / "driver.py").write_text(DRIVER)
    folder, out = tmp_path / "photos", tmp_path / "photos-protected"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(folder / f"p{i:02d}.png")
    sums = {checksum(p): p.name for p in folder.iterdir()}
    assert len(sums) == 10

    # 1) SIGTERM: a clean cancel, exit 130, finished images kept, the rest resumable
    log1 = tmp_path / "run1.log"
    proc = start(tmp_path, log1, folder)
    # The engine logs an image when it returns, before the batch writes it (a cancel then still drops
    # it, by design): three logged images mean the first two are written.
    wait_for(log1, 3, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Cancelled" in stdout and "Traceback" not in stderr
    after_term = done_in_manifest(out)
    assert {p.name for p in outputs_are_whole(out)} == after_term and 2 <= len(after_term) < 10

    # 2) SIGKILL: no handler runs; outputs and manifest must still be whole
    log2 = tmp_path / "run2.log"
    proc = start(tmp_path, log2, folder)
    wait_for(log2, 2, proc)
    proc.kill()
    proc.wait(timeout=60)
    redone = {sums[s] for s in log_lines(log2)} & after_term
    assert not redone, f"images done before were processed again: {redone}"
    after_kill = done_in_manifest(out)
    outputs_are_whole(out, allow_temp=True)  # a kill mid-write leaves a hidden temp file, never a torn output

    # 3) resume to the end: every image exactly once more at most, none of the finished ones again
    log3 = tmp_path / "run3.log"
    proc = start(tmp_path, log3, folder)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stdout + stderr
    third = [sums[s] for s in log_lines(log3)]
    assert len(third) == len(set(third))
    assert not set(third) & after_kill, "images recorded as done were processed again"
    assert after_term | after_kill | set(third) == set(sums.values())
    files = outputs_are_whole(out)
    assert sorted(p.name for p in files) == sorted(sums.values())
    assert not [p for p in out.iterdir() if p.name.endswith(".rid-tmp")]
    # at most the single image in flight when SIGKILL hit can have been computed twice
    assert len(set(sums[s] for s in log_lines(log2)) & set(third)) <= 1
