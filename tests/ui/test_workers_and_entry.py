"""Workers without a window: GPU out-of-memory fallback, preview downscaling; the gui entry points."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest
import torch

from ui.workers import CpuFallbackEngine, downscale_to_pixels, is_out_of_memory


class _GpuThatRunsOut:
    name = "fake-gpu"
    device = torch.device("cpu")  # stands in for cuda:0 on machines without a GPU

    def __init__(self, error: Exception):
        self.error, self.calls = error, 0

    def protect(self, image, eps, *, seed=0, progress=None):
        self.calls += 1
        raise self.error


class _Cpu:
    name = "cpu"

    def protect(self, image, eps, *, seed=0, progress=None):
        return (image + eps).clamp(0, 1)


@pytest.mark.parametrize(
    "error",
    [torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
     RuntimeError("MPS backend out of memory (MPS allocated: 8 GB)")],
)
def test_gpu_out_of_memory_falls_back_to_cpu_once_and_says_so(error):
    gpu, notices, made = _GpuThatRunsOut(error), [], []

    def make_cpu():
        made.append(1)
        return _Cpu()

    engine = CpuFallbackEngine(gpu, make_cpu, notices.append)
    x = torch.full((1, 3, 8, 8), 0.5)
    for _ in range(3):
        out = engine.protect(x, 4 / 255)
        assert torch.allclose(out, x + 4 / 255)
    assert gpu.calls == 1 and len(made) == 1  # switched for good, not retried per image
    assert len(notices) == 1 and "CPU" in notices[0]
    assert engine.device == torch.device("cpu")


def test_other_engine_errors_are_not_hidden_by_the_fallback():
    engine = CpuFallbackEngine(_GpuThatRunsOut(ValueError("bad shape")), _Cpu, lambda m: None)
    with pytest.raises(ValueError):
        engine.protect(torch.zeros(1, 3, 4, 4), 0.01)
    assert not is_out_of_memory(RuntimeError("size mismatch"))


def test_downscale_keeps_aspect_and_small_images():
    small = torch.rand(1, 3, 100, 200)
    assert downscale_to_pixels(small) is small
    big = torch.rand(1, 3, 2000, 3000)
    out = downscale_to_pixels(big, 1_000_000)
    h, w = out.shape[-2:]
    assert h * w <= 1_000_000 and h * w > 0.98e6 and abs(w / h - 1.5) < 0.01
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_gui_subcommand_registers_and_core_stays_free_of_qt():
    from rid_desktop.commands import gui

    parser = argparse.ArgumentParser()
    gui.register(parser.add_subparsers())
    args = parser.parse_args(["gui", "a", "b"])
    assert args.handler is gui.run and args.paths == ["a", "b"]
    code = (
        "import sys, rid_desktop.commands.gui; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'superqt', 'shiboken6')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_gui_entry_point_is_wired(qtbot, monkeypatch, tmp_path):
    """``ui.app.main`` builds the window, adds command-line paths and runs the event loop."""
    from PySide6.QtWidgets import QApplication

    import ui.app
    from ui.main_window import MainWindow

    shown = []
    monkeypatch.setattr(QApplication, "exec", lambda self=None: 0)
    monkeypatch.setattr(MainWindow, "show", lambda self: shown.append(self))
    (tmp_path / "p.png").write_bytes(b"")
    assert ui.app.main([str(tmp_path / "p.png")]) == 0
    window = shown[0]
    qtbot.addWidget(window)
    assert window.model.rowCount() == 1
    assert not window.windowIcon().isNull()
    assert QApplication.instance().style().name().lower() == "fusion"
    window.close()
