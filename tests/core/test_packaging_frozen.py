"""Build the PyInstaller one-folder bundle with packaging/rid_desktop.spec and run it headless.

Linux is not an installer target; this proves the spec that the Windows and macOS builds share:
both executables start from the bundle, find the shipped weights in ``_internal/checkpoints``,
protect an image and pass ``--self-test`` without a display. Slow (minutes): ``-m "not slow"`` skips it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "build" / "dist"
WORK = REPO / "build" / "work"
APP_DIR = DIST / "RID Desktop"
INTERNAL = APP_DIR / "_internal"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(3600),
    pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None, reason="needs pyinstaller (a test dependency)"),
    pytest.mark.skipif(sys.platform != "linux", reason="the frozen check runs on Linux; Windows/macOS use their build scripts"),
]


def _du_mib(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 2**20


@pytest.fixture(scope="module")
def bundle() -> Path:
    """Build (incrementally: PyInstaller reuses build/work when nothing changed) and report time/size."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
         "--distpath", str(DIST), "--workpath", str(WORK), str(REPO / "packaging" / "rid_desktop.spec")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-8000:]
    print(f"\nfrozen build: {time.perf_counter() - start:.0f} s, bundle {_du_mib(APP_DIR):.0f} MiB at {APP_DIR}")
    return APP_DIR


def _headless_env(tmp_path: Path) -> dict[str, str]:
    """No display at all (a QApplication would abort), fresh per-user folders, surrogates from ../shared."""
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
    env["RID_DESKTOP_DATA_DIR"] = str(tmp_path / "data")
    env["RID_DESKTOP_CONFIG_DIR"] = str(tmp_path / "config")
    return env


def _self_test_args() -> list[str]:
    # Offline machines: without ../shared/models the surrogate download would only time out.
    return [] if os.environ.get("RID_DESKTOP_MODELS_DIR") else ["--no-download"]


@pytest.mark.parametrize(
    "command",
    [["rid-desktop", "--self-test"], ["rid-desktop", "self-test"], ["RID Desktop", "--self-test"]],
    ids=["cli-flag", "cli-subcommand", "gui-flag"],
)
def test_frozen_executable_passes_self_test(bundle, command, tmp_path):
    exe = bundle / command[0]
    result = subprocess.run([str(exe), *command[1:], *_self_test_args()], cwd=tmp_path,
                            env=_headless_env(tmp_path), capture_output=True, text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-4000:]
    lines = out.strip().splitlines()
    assert "(frozen bundle;" in lines[0]
    assert any(line.startswith("[ok]") and "engine 'rid' loaded" in line
               and "rid-compact-chroma.safetensors, rid-compact-pixel.safetensors" in line for line in lines)
    assert any(line.startswith("[ok]") and "wrote and re-read" in line for line in lines)
    if os.environ.get("RID_DESKTOP_MODELS_DIR"):
        assert any(line.startswith("[ok]") and "surrogate encoder loaded" in line for line in lines), out
    assert lines[-1].startswith("self-test passed")


def test_bundle_ships_the_real_weights_and_model_cards(bundle):
    for source in sorted((REPO / "checkpoints").glob("*.safetensors")) + sorted((REPO / "checkpoints").glob("*.md")):
        shipped = INTERNAL / "checkpoints" / source.name
        assert shipped.is_file(), f"{source.name} missing from the bundle"
        assert shipped.read_bytes() == source.read_bytes(), f"{source.name} in the bundle is stale"
    assert not list((INTERNAL / "checkpoints").glob("*.pt*")), "only safetensors/model cards may ship"


def test_bundle_has_headless_qt_plugins_and_no_unused_qt_modules(bundle):
    qt = INTERNAL / "PySide6" / "Qt"
    plugins = {p.name for p in (qt / "plugins" / "platforms").iterdir()}
    assert any("offscreen" in name for name in plugins) and any("minimal" in name for name in plugins)
    assert any((qt / "plugins" / "imageformats").iterdir())
    libs = " ".join(p.name for p in (qt / "lib").iterdir()) if (qt / "lib").is_dir() else ""
    for unused in ("Qt6WebEngine", "Qt6Quick", "Qt6Qml", "Qt6Multimedia", "Qt6Pdf", "Qt6Sql", "Qt6Test", "Qt63D"):
        assert unused not in libs, f"{unused} should be excluded from the bundle"
    assert not (INTERNAL / "tkinter").exists() and not (INTERNAL / "_pytest").exists()
    assert not (INTERNAL / "torch" / "test").exists(), "torch's C++ test binaries should be filtered out"
