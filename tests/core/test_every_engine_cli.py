"""Every engine that ``protect --help`` offers protects a real file through the CLI and the batch runner.

Why: the engines' own tests call ``engine.protect`` directly, so a wrapper in the runner that broke
some of them (``torch.inference_mode`` around PGD's gradients) went unnoticed. The list of engines is
read from the parser, so a new engine is covered the day it is offered.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rid_desktop import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread", "surrogates_for_optimising_engines")


def offered_engines() -> list[str]:
    """The ``--engine`` choices of ``rid-desktop protect``."""
    parser = cli.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            protect = action.choices["protect"]
            (engine,) = [a for a in protect._actions if "--engine" in a.option_strings]
            return list(engine.choices)
    raise AssertionError("no protect command")


ENGINES = offered_engines()


def test_the_cli_offers_every_registered_engine():
    from rid_desktop.engines import list_engines

    assert ENGINES == [info.name for info in list_engines()]
    assert {"rid", "dwt-chroma", "both", "iterative", "iterative-chroma"} <= set(ENGINES)


@pytest.mark.parametrize("name", ENGINES)
def test_every_offered_engine_protects_a_photo_through_the_cli(name, tmp_path, capsys, make_rgb):
    folder = tmp_path / "album"
    folder.mkdir()
    source = folder / "photo.png"
    Image.fromarray(make_rgb(32, 40, seed=3)).save(source)
    before = hashlib.sha256(source.read_bytes()).hexdigest()

    code = cli.main(["protect", str(folder), "--engine", name, "--device", "cpu", "--strength", "8"])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert "failed:" not in captured.err and "Traceback" not in captured.err
    output = tmp_path / "album-protected" / "photo.png"
    with Image.open(source) as a, Image.open(output) as b:
        original, protected = (np.asarray(im.convert("RGB"), dtype=np.int16) for im in (a, b))
    change = np.abs(protected - original)
    assert protected.shape == original.shape
    assert 0 < change.max() <= 8, f"{name}: max change {change.max()}/255"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # the original is untouched
    assert Path(tmp_path / "album-protected" / "rid-manifest.json").is_file()


@pytest.mark.parametrize("engine", [n for n in ENGINES if n not in ("rid", "both")])
def test_a_model_file_for_an_engine_that_takes_none_is_one_line(engine, tmp_path, capsys, make_rgb):
    (tmp_path / "a").mkdir()
    Image.fromarray(make_rgb(16, 16)).save(tmp_path / "a" / "p.png")
    code = cli.main(["protect", str(tmp_path / "a"), "--engine", engine, "--model", str(tmp_path / "x.safetensors")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and "--model" in err and "rid, both" in err
    assert not (tmp_path / "a-protected").exists()  # refused before any work


def test_the_help_says_which_engines_take_a_model_file(capsys):
    assert cli.main(["protect", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "fits --engine rid, both" in help_text
