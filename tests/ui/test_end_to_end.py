"""The whole story as a person lives it, in two real app processes (issue 19's scripted session):
add folder -> preview -> change strength -> protect -> quit mid-batch -> (process exits) -> reopen ->
statuses restored -> resume -> finish -> quit (process exits)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _session(phase: str, folder: Path, settings: Path, env: dict) -> dict:
    result = subprocess.run([sys.executable, str(HERE / "e2e_session.py"), phase, str(folder), str(settings)],
                            env=env, capture_output=True, text=True, timeout=120)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0 and lines, result.stdout + result.stderr[-3000:]
    return json.loads(lines[-1])


def test_add_preview_protect_quit_reopen_resume_finish(tmp_path, make_rgb):
    folder = tmp_path / "Holiday"
    folder.mkdir()
    for i in range(5):
        Image.fromarray(make_rgb(96, 128, seed=i)).save(folder / f"photo_{i:02d}.png")
    (folder / "broken.jpg").write_bytes(b"not a photo")
    settings = tmp_path / "gui-settings.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")

    first = _session("first", folder, settings, env)
    assert "timeout" not in first, first
    assert first["preview_linf"] == "8.0/255" and first["preview_linf_after"] == "4.0/255"
    assert first["scope"] == "Protect all 6"
    assert first["asked"] and 2 <= first["protected_at_quit"] < 5
    assert first["visible_windows"] == []  # the process ended with nothing left open

    out = tmp_path / "Holiday-protected"
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == first["protected_at_quit"]  # no partial file from the photo that was stopped

    second = _session("second", folder, settings, env)
    assert "timeout" not in second, second
    assert second["restored"] == first["protected_at_quit"]  # remembered from the manifest
    left = 6 - first["protected_at_quit"]
    assert second["scope"] == f"Resume — {left} left"
    assert second["strength"] == 4  # the strength chosen before quitting
    assert second["final"]["protected"] == 5 and second["final"]["failed"] == 1
    assert f"{first['protected_at_quit']} already done" in second["summary"]
    assert second["visible_windows"] == []
    assert sorted(p.name for p in out.glob("*.png")) == [f"photo_{i:02d}.png" for i in range(5)]
