"""Official RID weights in every form users have them, made here with random weights in the official layout.

EMA-nested and model+EMA training checkpoints (EMA preferred, ``FILE:ema|model`` chooses, the CLI says
which ran), official-layout ``.safetensors`` (decided by content, not suffix), and the
facebookresearch/DiT training checkpoint with a pickled ``argparse.Namespace`` (refused in one clean
line whose extraction recipe really works).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from rid_desktop import cli
from rid_desktop.engines import create_engine, rid_dit
from rid_desktop.engines.generator_loading import load_generator
from rid_desktop.engines.rid_dit import OfficialRIDGenerator
from rid_desktop.errors import ModelError
from rid_desktop.models.loading import read_weights, split_part

SMALL_512 = dict(hidden_size=32, depth=1, num_heads=2, num_classes=10)  # official input (512) and patch (16)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def small_official_arch(monkeypatch):
    """The loader builds the reduced-width network the test files were made with."""
    monkeypatch.setattr(rid_dit, "load_official_rid", partial(rid_dit.load_official_rid, **SMALL_512))


def state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = OfficialRIDGenerator(**SMALL_512)
    with torch.no_grad():
        net.final_layer.linear.weight.mul_(50.0)  # outputs that differ visibly between seeds
    return net.state_dict()


EMA, MODEL = state(1), state(2)


def same_weights(net, expected) -> bool:
    return all(torch.equal(net.state_dict()[k], v) for k, v in expected.items())


def test_split_part_leaves_paths_and_drive_letters_alone():
    assert split_part("rid.pt:ema") == ("rid.pt", "ema")
    assert split_part("C:\\w\\rid.pt:model") == ("C:\\w\\rid.pt", "model")
    assert split_part("C:\\w\\rid.pt") == ("C:\\w\\rid.pt", None)
    assert split_part("odd:name.pt") == ("odd:name.pt", None)


def test_ema_only_checkpoint_loads(tmp_path):
    path = tmp_path / "ema_only.pt"
    torch.save({"ema": EMA, "step": 1000}, path)
    net = load_generator(str(path), "rid-compact-pixel")
    assert same_weights(net, EMA)
    assert "ema weights" in net.weights_note


def test_model_and_ema_prefers_ema_and_says_so(tmp_path):
    path = tmp_path / "train.pt"
    torch.save({"model": MODEL, "ema": EMA, "opt": {"param_groups": [{"lr": 1e-4}]}}, path)
    net = load_generator(str(path), "rid-compact-pixel")
    assert same_weights(net, EMA)
    assert net.weights_note == ("train.pt: official RID checkpoint, ema weights "
                                "(the file also holds: model; choose with train.pt:model)")
    chosen = load_generator(f"{path}:model", "rid-compact-pixel")
    assert same_weights(chosen, MODEL) and chosen.weights_note.startswith("train.pt: official RID checkpoint, model")
    assert same_weights(load_generator(f"{path}:ema", "rid-compact-pixel"), EMA)


def test_asking_for_a_part_the_file_lacks_is_one_line(tmp_path):
    wrapped, plain = tmp_path / "m.pt", tmp_path / "plain.pt"
    torch.save({"model": MODEL}, wrapped)
    torch.save(MODEL, plain)
    with pytest.raises(ModelError, match=r"m.pt has no 'ema' weights \(it holds: model\)"):
        load_generator(f"{wrapped}:ema", "rid-compact-pixel")
    with pytest.raises(ModelError, match="single set of weights, use plain.pt without :ema"):
        load_generator(f"{plain}:ema", "rid-compact-pixel")
    assert read_weights(plain).part is None and read_weights(wrapped).part == "model"


@pytest.mark.parametrize("name", ["rid.safetensors", "noise_model_modules.bin"])
def test_official_layout_safetensors_runs_whatever_its_suffix(tmp_path, name):
    path = tmp_path / name
    save_file(EMA, str(path))  # no config metadata: the content (keys) says "official RID"
    engine = create_engine("rid", model_path=str(path))
    assert isinstance(engine.net, OfficialRIDGenerator) and engine.official
    assert same_weights(engine.net, EMA)


def test_a_safetensors_file_that_is_neither_is_refused_in_one_line(tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"conv.weight": torch.zeros(3, 3, 1, 1)}, str(path))
    with pytest.raises(ModelError, match="neither an RID Desktop generator .* nor an official RID checkpoint"):
        load_generator(str(path), "rid-compact-pixel")


def _photo(folder):
    folder.mkdir()
    path = folder / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(path)
    return path


def test_cli_protects_with_official_safetensors_and_names_the_ema_part(tmp_path, capsys):
    photo = _photo(tmp_path / "in")
    st = tmp_path / "rid.safetensors"
    save_file(EMA, str(st))
    assert cli.main(["protect", str(photo), "--model", str(st), "-o", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "p.png").is_file()

    ckpt = tmp_path / "train.pt"
    torch.save({"model": MODEL, "ema": EMA}, ckpt)
    capsys.readouterr()
    assert cli.main(["protect", str(photo), "--model", f"{ckpt}:model", "-o", str(tmp_path / "b")]) == 0
    assert "model: train.pt: official RID checkpoint, model weights" in capsys.readouterr().err


def dit_training_checkpoint(path):
    """What facebookresearch/DiT's train.py saves: model, ema, optimizer state and the argparse args."""
    torch.save({"model": MODEL, "ema": EMA, "opt": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0]}]},
                "args": argparse.Namespace(model="DiT-XL/2", image_size=512, global_seed=0)}, path)
    return path


def test_dit_training_checkpoint_is_refused_in_one_clean_line(tmp_path, capsys):
    ckpt = dit_training_checkpoint(tmp_path / "0050000.pt")
    photo = _photo(tmp_path / "in")
    assert cli.main(["protect", str(photo), "--model", str(ckpt), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert "\x1b" not in line and not line.endswith("...")
    assert "training checkpoint" in line and "argparse.Namespace" in line and "can run code" in line
    assert "0050000-ema.pt" in line
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_extraction_recipe_in_the_refusal_works(tmp_path):
    ckpt = dit_training_checkpoint(tmp_path / "0050000.pt")
    with pytest.raises(ModelError) as err:
        read_weights(ckpt)
    command = re.search(r'python -c "([^"]+)"', str(err.value)).group(1)
    subprocess.run([sys.executable, "-c", command], cwd=tmp_path, check=True, timeout=120)
    net = load_generator(str(tmp_path / "0050000-ema.pt"), "rid-compact-pixel")
    assert same_weights(net, EMA)


def test_dit_under_bf16_autocast_still_computes_in_fp32():
    """The rid engine wraps calls in bf16 autocast on CUDA; the DiT opts out (official inference is fp32).

    Checked with CPU autocast, which exercises the same switch.
    """
    torch.manual_seed(0)
    net = OfficialRIDGenerator(input_size=64, hidden_size=48, depth=2, num_heads=4).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        reference = net(x, 8 / 255)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under_autocast = net(x, 8 / 255)
    assert under_autocast.dtype == torch.float32
    assert torch.equal(under_autocast, reference)
