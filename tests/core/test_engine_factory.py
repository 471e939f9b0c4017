"""The one engine factory (:func:`rid_desktop.engines.make_engine`), the registry and the CPU fallback."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch

import rid_desktop.engines.factory as factory
from rid_desktop.engines import (
    CpuFallbackEngine,
    create_engine,
    engine_names,
    engines_taking,
    is_out_of_memory,
    list_engines,
    make_engine,
)
from rid_desktop.errors import UserError
from rid_desktop.settings import ProtectionSettings


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


def test_make_engine_on_a_gpu_finishes_a_cli_batch_on_the_cpu(monkeypatch):
    """The fallback is the core's, so the CLI (not only the GUI) survives an out-of-memory."""
    monkeypatch.setattr(factory, "resolve_device", lambda name="auto": torch.device(name if name == "cpu" else "cuda"))
    built, notices = [], []

    def build(settings):
        built.append(settings.device)
        return _GpuThatRunsOut(torch.cuda.OutOfMemoryError("out of memory")) if settings.device != "cpu" else _Cpu()

    engine = make_engine(ProtectionSettings(device="cuda"), notify=notices.append, build=build)
    out = engine.protect(torch.zeros(1, 3, 4, 4), 2 / 255)
    assert built == ["cuda", "cpu"] and len(notices) == 1 and torch.allclose(out, torch.full_like(out, 2 / 255))
    plain = make_engine(ProtectionSettings(device="cpu"), build=build)
    assert isinstance(plain, _Cpu)  # no wrapper on the CPU


def test_engine_names_come_from_the_registry_and_options_from_signatures():
    assert engine_names() == [info.name for info in list_engines()]
    assert engines_taking("model_path") == ["rid", "both"]
    assert engines_taking("chroma_model_path") == ["dwt-chroma", "both"]
    info = {i.name: i for i in list_engines()}
    assert "steps" in info["iterative"].options and "steps" in info["iterative-chroma"].options


@pytest.mark.parametrize("name, option", [("rid", "steps"), ("dwt-chroma", "model_path"), ("iterative", "tile_batch"),
                                          ("both", "steps"), ("iterative-chroma", "model_path")])
def test_engines_refuse_options_they_do_not_take(name, option):
    with pytest.raises(UserError, match=f"does not take {option}"):
        create_engine(name, **{option: 1})


def test_make_engine_refuses_a_model_file_for_an_engine_without_one():
    with pytest.raises(UserError) as caught:
        make_engine(ProtectionSettings(engine="dwt-chroma", model_path="x.safetensors", device="cpu"))
    assert "--model" in str(caught.value) and "rid, both" in str(caught.value)


def test_make_engine_passes_the_model_file(monkeypatch):
    seen = []
    monkeypatch.setattr(factory, "create_engine", lambda name, device, **options: seen.append((name, options)))
    make_engine(ProtectionSettings(engine="both", model_path="m.safetensors", device="cpu"))
    assert seen == [("both", {"model_path": "m.safetensors"})]


def test_a_registered_factory_must_name_its_options():
    from rid_desktop.engines.base import register_engine

    with pytest.raises(TypeError):
        register_engine("catch-all", "x", "x")(lambda device, **options: None)
    assert "catch-all" not in engine_names()


def test_the_engine_package_imports_without_a_cycle():
    """A fresh interpreter imports the package (whose __init__ registers every engine) without a cycle,
    and base.py, which every engine imports, imports none of them."""
    code = "import rid_desktop.engines.base as b; print(','.join(b.engine_names()))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == ",".join(engine_names())
    text = open(importlib.import_module("rid_desktop.engines.base").__file__, encoding="utf-8").read()
    assert not any(f"engines.{m}" in text or f"engines import {m}" in text
                   for m in ("rid", "dwt_chroma", "combined", "iterative"))


def test_downscale_keeps_aspect_and_small_images():
    from rid_desktop.checks.preview import downscale_to_pixels

    small = torch.rand(1, 3, 100, 200)
    assert downscale_to_pixels(small) is small
    big = torch.rand(1, 3, 2000, 3000)
    out = downscale_to_pixels(big, 1_000_000)
    h, w = out.shape[-2:]
    assert h * w <= 1_000_000 and h * w > 0.98e6 and abs(w / h - 1.5) < 0.01
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_protect_on_a_gpu_that_runs_out_of_memory_finishes_on_the_cpu_and_says_so(tmp_path, monkeypatch, capsys,
                                                                                   make_rgb):
    from PIL import Image

    from rid_desktop import cli
    from tests.conftest import SignEngine

    monkeypatch.setattr(factory, "resolve_device", lambda name="auto": torch.device("cpu" if name == "cpu" else "cuda"))
    built = []

    def create(name, *, device, **options):
        built.append(device.type)
        if device.type == "cuda":
            return _GpuThatRunsOut(torch.cuda.OutOfMemoryError("CUDA out of memory"))
        return SignEngine()

    monkeypatch.setattr(factory, "create_engine", create)
    (tmp_path / "a").mkdir()
    for i in range(2):
        Image.fromarray(make_rgb(16, 16, seed=i)).save(tmp_path / "a" / f"p{i}.png")
    assert cli.main(["protect", str(tmp_path / "a"), "--device", "cuda"]) == 0
    err = capsys.readouterr().err
    assert built == ["cuda", "cpu"]  # the GPU engine once, then the CPU engine for good
    assert err.count("switched to the CPU") == 1
    assert len(list((tmp_path / "a-protected").glob("*.png"))) == 2


def test_an_engine_that_takes_the_seed_at_construction_gets_the_settings_seed(monkeypatch):
    from rid_desktop.engines import base

    class Keyed:
        name = "keyed"

        def __init__(self, device=None, seed: int = 0):
            self.device, self.seed = device, seed

    monkeypatch.setitem(base._ENGINES, "keyed", base.EngineInfo("keyed", "k", "test only", Keyed, ("seed",)))
    assert make_engine(ProtectionSettings(engine="keyed", seed=7, device="cpu")).seed == 7
    assert not hasattr(make_engine(ProtectionSettings(engine="dwt-chroma", seed=7, device="cpu")), "seed")
