"""Build the PyInstaller one-folder bundle with packaging/rid_desktop.spec and run it headless.

Linux is not an installer target; this proves the spec that the Windows and macOS builds share:
both executables start from the bundle, find the shipped weights in ``_internal/checkpoints``,
protect an image and pass ``--self-test`` without a display. Slow (minutes): ``-m "not slow"`` skips it.

The fast tests at the end execute the spec itself with PyInstaller's build classes replaced by recorders,
as it would run on macOS and on Windows, and check what it hands to PyInstaller there (no build).
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

needs_pyinstaller = pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None,
                                       reason="needs pyinstaller (a test dependency)")


def frozen(test):
    """The slow marks for tests that build the bundle (the fast spec tests below do not)."""
    for mark in (
        pytest.mark.slow,
        pytest.mark.timeout(3600),
        needs_pyinstaller,
        pytest.mark.skipif(sys.platform != "linux",
                           reason="the frozen check runs on Linux; Windows/macOS use their build scripts"),
    ):
        test = mark(test)
    return test


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
@frozen
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
    if command[0] == "RID Desktop":  # the windowed app also opens its real window (offscreen Qt plugin)
        assert any(line.startswith("[ok]") and "desktop window opened" in line and "window icon found" in line
                   for line in lines), out
    if os.environ.get("RID_DESKTOP_MODELS_DIR"):
        assert any(line.startswith("[ok]") and "surrogate encoder loaded" in line for line in lines), out
    assert lines[-1].startswith("self-test passed")


@frozen
def test_bundle_ships_the_real_weights_and_model_cards(bundle):
    for source in sorted((REPO / "checkpoints").glob("*.safetensors")) + sorted((REPO / "checkpoints").glob("*.md")):
        shipped = INTERNAL / "checkpoints" / source.name
        assert shipped.is_file(), f"{source.name} missing from the bundle"
        assert shipped.read_bytes() == source.read_bytes(), f"{source.name} in the bundle is stale"
    assert not list((INTERNAL / "checkpoints").glob("*.pt*")), "only safetensors/model cards may ship"


@frozen
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


# --- fast: the spec as it runs on macOS and Windows (no build) -----------------------------------
class _Built:
    """Stands in for one of PyInstaller's build targets (Analysis, PYZ, EXE, COLLECT, BUNDLE)."""

    made: list = []

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.console = kwargs.get("console")
        _Built.made.append(self)
        if kind == "Analysis":
            entries = [Path(p).stem for p in args[0]]
            self.scripts = [("pyi_rth_pyside6", "hook.py", "PYSOURCE")] + [(e, f"{e}.py", "PYSOURCE") for e in entries]
            self.pure = [("rid_desktop", "rid_desktop/__init__.py", "PYMODULE")]
            self.binaries = [
                ("torch/lib/libtorch_cpu.so", "x", "BINARY"),
                ("torch/bin/torch_shm_manager", "x", "BINARY"),
                ("torch/bin/protoc", "x", "BINARY"),
                ("torch/lib/libtorchbind_test.so", "x", "BINARY"),
            ]
            self.datas = list(kwargs["datas"]) + [("torch/test/cpp_api.bin", "x", "DATA")]
        if kind == "COLLECT":  # PyInstaller: COLLECT inherits `console` from the LAST EXE it is given
            self.console = [a for a in args if isinstance(a, _Built) and a.kind == "EXE"][-1].console


def _run_spec(platform: str, tmp_path: Path, monkeypatch) -> dict[str, list[_Built]]:
    """Execute packaging/rid_desktop.spec as PyInstaller would on ``platform``, with recorders."""
    from PyInstaller.utils import hooks

    monkeypatch.setattr(hooks, "collect_submodules", lambda package, **_: [f"{package}.stub"])
    monkeypatch.setattr(hooks, "collect_data_files", lambda package, **_: [])
    monkeypatch.setattr(hooks, "copy_metadata", lambda dist, **_: [])
    monkeypatch.setenv("MACOS_SIGN_IDENTITY", "Developer ID Application: Test (TEAMID)")
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the spec prepends packaging/
    _Built.made = []
    spec = REPO / "packaging" / "rid_desktop.spec"
    namespace = {"SPECPATH": str(spec.parent), "workpath": str(tmp_path / "work"), "__file__": str(spec)}
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = lambda *a, _kind=kind, **k: _Built(_kind, *a, **k)
    exec(compile(spec.read_text(encoding="utf-8"), str(spec), "exec"), namespace)
    built: dict[str, list[_Built]] = {}
    for target in _Built.made:
        built.setdefault(target.kind, []).append(target)
    return built


@needs_pyinstaller
def test_spec_on_macos_makes_a_foreground_signed_app_with_both_executables(tmp_path, monkeypatch):
    from PIL import Image

    sys.path.insert(0, str(REPO / "packaging"))
    from version_info import read_version

    built = _run_spec("darwin", tmp_path, monkeypatch)
    gui, cli = built["EXE"]
    assert (gui.kwargs["name"], gui.console) == ("RID Desktop", False)
    assert (cli.kwargs["name"], cli.console) == ("rid-desktop", True)
    # each executable runs only its own entry script (plus PyInstaller's runtime hooks)
    assert [s[0] for s in gui.args[1]] == ["pyi_rth_pyside6", "entry_gui"]
    assert [s[0] for s in cli.args[1]] == ["pyi_rth_pyside6", "entry_cli"]
    for exe in (gui, cli):
        assert exe.kwargs["exclude_binaries"] is True and exe.kwargs["upx"] is False  # one-folder, no UPX
        assert exe.kwargs["codesign_identity"].startswith("Developer ID Application")
        assert exe.kwargs["entitlements_file"].endswith("entitlements.plist")
        assert exe.kwargs["icon"].endswith(".icns")
    (coll,) = built["COLLECT"]
    assert coll.args[0] is gui  # the first executable becomes the .app's CFBundleExecutable
    (bundle,) = built["BUNDLE"]
    plist = bundle.kwargs["info_plist"]
    # PyInstaller writes LSBackgroundOnly=True when the COLLECT's (last) EXE is a console one, which
    # would hide the GUI's Dock icon and menu bar: the spec must override it.
    assert coll.console is True and plist.get("LSBackgroundOnly") is False
    assert plist["NSHighResolutionCapable"] is True
    assert plist["CFBundleShortVersionString"] == bundle.kwargs["version"] == read_version(REPO)
    with Image.open(bundle.kwargs["icon"]) as icns:
        assert icns.format == "ICNS" and icns.size[0] >= 512
    # what ships and what is left out
    (analysis,) = built["Analysis"]
    shipped = {Path(src).name for src, _dest in analysis.kwargs["datas"]}
    assert {p.name for p in (REPO / "checkpoints").glob("*.safetensors")} | {"SHA256SUMS"} <= shipped
    assert "icon.png" in shipped and not any(name.endswith(".py") for name in shipped)
    excludes = set(analysis.kwargs["excludes"])
    assert {"pytest", "_pytest", "tkinter", "IPython", "PySide6.QtWebEngineCore", "PySide6.QtQml"} <= excludes
    kept = [dest for dest, *_ in analysis.binaries + analysis.datas]
    assert "torch/bin/torch_shm_manager" in kept and "torch/lib/libtorch_cpu.so" in kept
    assert not [d for d in kept if "protoc" in d or "torchbind_test" in d or d.startswith("torch/test/")]


@needs_pyinstaller
def test_spec_on_windows_writes_the_version_resource_and_ico(tmp_path, monkeypatch):
    from PIL import Image

    sys.path.insert(0, str(REPO / "packaging"))
    from version_info import read_version, version_tuple

    built = _run_spec("win32", tmp_path, monkeypatch)
    assert "BUNDLE" not in built
    version = read_version(REPO)
    for exe in built["EXE"]:
        text = Path(exe.kwargs["version"]).read_text(encoding="utf-8")
        assert f"filevers={version_tuple(version)}" in text and f"'ProductVersion', '{version}'" in text
        assert exe.kwargs["icon"].endswith(".ico")
    with Image.open(built["EXE"][0].kwargs["icon"]) as ico:
        assert ico.format == "ICO" and (256, 256) in ico.info["sizes"] and (16, 16) in ico.info["sizes"]
