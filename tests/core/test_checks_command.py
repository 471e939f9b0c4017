"""``rid-desktop check``: table on stdout, JSON and PNG grid, clear one-line errors."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop.cli import main


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _save(path, array):
    Image.fromarray(array).save(path)
    return path


@pytest.fixture
def photo_pair(tmp_path, make_rgb):
    """An original PNG and a copy with +-6/255 random noise (a stand-in protected file)."""
    rgb = make_rgb(72, 88, seed=1)
    rng = np.random.default_rng(0)
    noisy = np.clip(rgb.astype(int) + rng.choice([-6, 6], size=rgb.shape), 0, 255).astype(np.uint8)
    return _save(tmp_path / "photo.png", rgb), _save(tmp_path / "photo-protected.png", noisy)


class SignNoiseEngine:
    """Test-only engine: random sign noise at the full budget (never registered for users)."""

    name = "test-sign-noise"

    def __init__(self):
        self.shapes = []

    def protect(self, image, eps, *, seed=0, progress=None):
        self.shapes.append(tuple(image.shape))
        g = torch.Generator().manual_seed(seed)
        signs = torch.randint(0, 2, image.shape, generator=g).float() * 2 - 1
        return (image + eps * signs).clamp(0, 1)


def test_check_a_protected_copy_writes_table_json_and_grid(shared_models, photo_pair, tmp_path, capsys):
    original, protected = photo_pair
    out_json, out_grid = tmp_path / "out" / "report.json", tmp_path / "grid.png"
    code = main(["check", str(original), "--protected", str(protected), "--strength", "6",
                 "--purifiers", "jpeg:75,grayscale,diffpure", "--json", str(out_json), "--grid", str(out_grid),
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "jpeg:75" in captured.out and "grayscale" in captured.out and "model not configured" in captured.out
    data = json.loads(out_json.read_text())
    assert data["name"] == "photo.png" and data["eps_255"] == pytest.approx(6.0)
    assert data["info"]["protected"] == str(protected)
    specs = {p["spec"]: p for p in data["purifiers"]}
    assert specs["diffpure:0.1"]["status"] == "model not configured"
    assert specs["jpeg:75"]["verdict"] == "removed"  # random noise is not protection
    assert data["metrics"]["linf_255"] == pytest.approx(6.0, abs=0.01)
    with Image.open(out_grid) as grid:
        assert grid.format == "PNG"


def test_check_protects_each_image_of_a_folder_with_the_engine(
    shared_models, photo_pair, tmp_path, monkeypatch, capsys
):
    import rid_desktop.engines.factory as engines

    engine = SignNoiseEngine()
    monkeypatch.setattr(engines, "create_engine", lambda name, device="cpu", **options: engine)
    folder = tmp_path / "photos"
    folder.mkdir()
    _save(folder / "a.png", np.asarray(Image.open(photo_pair[0])))
    _save(folder / "b.png", np.asarray(Image.open(photo_pair[0]))[:40, :48])
    code = main(["check", str(folder), "--purifiers", "jpeg:90", "--max-side", "32", "--json",
                 str(tmp_path / "r.json"), "--grid", str(tmp_path / "g.png"), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "r.json").read_text())
    assert [item["name"] for item in data["images"]] == ["a.png", "b.png"]
    assert all(item["info"]["engine"] == "test-sign-noise" for item in data["images"])
    assert (tmp_path / "g-a.png").is_file() and (tmp_path / "g-b.png").is_file()
    # only the scored centre crop (plus context) is protected: 32 + 2 * 32 margin at most
    assert engine.shapes[0] == (1, 3, 72, 88)
    assert all(h <= 96 and w <= 96 for *_, h, w in engine.shapes)
    assert data["images"][0]["image_size"] == [32, 32]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["check", "{missing}"], "no such file"),
        (["check", "{orig}", "--purifiers", "sharpen"], "unknown purifier"),
        (["check", "{orig}", "{orig}", "--protected", "{prot}"], "exactly one IMAGE"),
        (["check", "{orig}", "--strength", "extreme"], "unknown strength"),
        (["check", "{orig}", "--diffpure-model", "{missing}", "--protected", "{prot}"], "not found"),
    ],
)
def test_usage_errors_are_one_line(argv, message, photo_pair, tmp_path, capsys):
    original, protected = photo_pair
    values = {"orig": str(original), "prot": str(protected), "missing": str(tmp_path / "nope")}
    code = main([arg.format(**values) for arg in argv])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error:") and message in err and "\n" not in err


def test_a_protected_copy_of_another_size_fails_that_image(shared_models, photo_pair, tmp_path, capsys):
    original, _ = photo_pair
    other = _save(tmp_path / "small.png", np.zeros((16, 16, 3), np.uint8))
    code = main(["check", str(original), "--protected", str(other), "--purifiers", "jpeg:90", "--device", "cpu"])
    assert code == 1
    assert "failed:" in capsys.readouterr().err


def test_every_registered_engine_can_be_checked():
    import argparse

    from rid_desktop.cli import build_parser
    from rid_desktop.engines import engine_names

    (commands,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    (engine,) = [a for a in commands.choices["check"]._actions if "--engine" in a.option_strings]
    assert list(engine.choices) == engine_names()


def test_an_option_the_engine_does_not_take_is_one_line(photo_pair, capsys):
    code = main(["check", str(photo_pair[0]), "--engine", "dwt-chroma", "--model", "x.safetensors"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--model" in err and "rid" in err
