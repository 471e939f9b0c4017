"""Issue 17, hostile model files: NaN weights never give "protected" black photos, bundled generators
are checksummed, and generator metadata is validated field by field with one-line errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import save_file

from rid_desktop import paths
from rid_desktop.batch import MANIFEST_NAME, plan_batch, run_batch
from rid_desktop.cli import main
from rid_desktop.engines.base import create_engine
from rid_desktop.engines.generator_net import CONFIG_RULES, GeneratorConfig, PixelGenerator
from rid_desktop.errors import ModelError
from rid_desktop.models import registry
from rid_desktop.models.download import verify_model
from rid_desktop.settings import ProtectionSettings

REPO = Path(__file__).resolve().parents[2]


def tiny_generator_file(path: Path, *, poison: float | None = None, where="body.tail.bias", **meta_overrides) -> Path:
    config = GeneratorConfig(kind="pixel", width=4, depth=1, rms_cap=0.0)
    net = PixelGenerator(config)
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    if poison is not None:
        state[where].fill_(poison)
    meta = {**config.to_metadata(), **meta_overrides}
    save_file(state, str(path), metadata=meta)
    return path


# --- 4. NaN / Inf weights -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "poison,where", [(float("nan"), "body.tail.bias"), (float("inf"), "body.head.weight")], ids=["nan", "inf"]
)
def test_a_generator_with_non_finite_weights_fails_each_photo_instead_of_writing_it(tmp_path, poison, where):
    """NaN used to pass the L-inf clamp and be written as a black photo reported "protected"."""
    model = tiny_generator_file(tmp_path / "poisoned.safetensors", poison=poison, where=where)
    folder = tmp_path / "p"
    folder.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(folder / "a.png")
    engine = create_engine("rid", model_path=str(model))
    summary = list(run_batch(plan_batch([folder], ProtectionSettings()), engine))[-1].summary
    assert summary.done == 0 and len(summary.failed) == 1 and "NaN or infinity" in summary.failed[0][1]
    assert not (tmp_path / "p-protected" / "a.png").exists()
    entry = json.loads((tmp_path / "p-protected" / MANIFEST_NAME).read_text())["images"]["a.png"]
    assert entry["status"] == "failed"


def test_every_bundled_generator_has_a_matching_checksum():
    """Fails after retraining until: python -m rid_desktop.models.registry --write-bundled-checksums"""
    sums = registry.bundled_checksums()
    for spec in registry.MODELS.values():
        if spec.bundled:
            path = paths.checkpoints_dir() / spec.filename
            assert sums.get(spec.filename) == registry.sha256_file(path), (
                f"checkpoints/SHA256SUMS is stale for {spec.filename}; run "
                "python -m rid_desktop.models.registry --write-bundled-checksums"
            )


@pytest.fixture
def tampered_checkpoints(tmp_path, monkeypatch):
    """A copy of checkpoints/ whose pixel generator has one tensor value set to NaN."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(REPO / "checkpoints", folder)
    from safetensors import safe_open

    target = folder / "rid-compact-pixel.safetensors"
    with safe_open(str(target), framework="pt") as handle:
        meta = handle.metadata()
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    state["body.tail.bias"][0] = float("nan")
    save_file(state, str(target), metadata=meta)
    monkeypatch.setattr(paths, "checkpoints_dir", lambda: folder)
    monkeypatch.delenv(registry.MODELS_DIR_ENV, raising=False)
    return folder


def test_models_verify_reports_a_tampered_bundled_generator(tampered_checkpoints, capsys):
    result = verify_model("rid-compact-pixel")
    assert not result.ok and "damaged" in result.message
    assert verify_model("rid-compact-chroma").ok
    assert main(["models", "verify", "rid-compact-pixel"]) == 1
    assert "damaged" in capsys.readouterr().err


def test_a_tampered_bundled_generator_is_refused_on_load(tampered_checkpoints):
    with pytest.raises(ModelError, match="checksum mismatch"):
        create_engine("rid")


# --- 7. metadata validation -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "field,value,expected",
    [
        ("kind", "evil", "must be one of pixel, chroma"),
        ("width", "abc", "must be a whole number"),
        ("width", "1e7", "must be a whole number"),
        ("width", "10000000", "between 1 and 1024"),
        ("width", "0", "between 1 and 1024"),
        ("depth", "99", "between 1 and 8"),
        ("scale", "-8", "between 1 and 32"),
        ("pattern", "100000", "between 0 and 1024"),
        ("rms_cap", "nan", "between 0 and 1"),
        ("mask_floor", "inf", "between 0 and 1"),
        ("mask_contrast", "0", "between 1e-06 and 1"),
    ],
)
def test_hostile_generator_metadata_is_one_line_model_error(field, value, expected):
    with pytest.raises(ModelError) as info:
        GeneratorConfig.from_metadata({**GeneratorConfig().to_metadata(), field: value})
    message = str(info.value)
    assert expected in message and field in message and "\n" not in message and len(message) < 200


def test_hostile_metadata_in_a_file_gives_a_clean_cli_error(tmp_path, capsys):
    model = tiny_generator_file(tmp_path / "evil.safetensors", width="1e7")
    folder = tmp_path / "p"
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "a.png")
    assert main(["protect", str(folder), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "width" in err and len(err.strip().splitlines()) == 1


def test_unknown_metadata_fields_are_ignored_and_known_ones_parsed():
    config = GeneratorConfig.from_metadata({"kind": "chroma", "width": "32", "rms_cap": "0.5",
                                            "work_size": "512", "trained_on": "2 CPUs"})
    assert (config.kind, config.width, config.rms_cap, config.depth) == ("chroma", 32, 0.5, GeneratorConfig().depth)


def test_every_config_field_has_a_validation_rule():
    """Adding a GeneratorConfig field (e.g. key_channels) needs its bounds in CONFIG_RULES."""
    assert {field.name for field in dataclasses.fields(GeneratorConfig)} == set(CONFIG_RULES)


def test_the_shipped_generators_pass_validation():
    from safetensors import safe_open

    for name in ("rid-compact-pixel", "rid-compact-chroma"):
        with safe_open(str(REPO / "checkpoints" / f"{name}.safetensors"), framework="pt") as handle:
            config = GeneratorConfig.from_metadata(handle.metadata())
        assert config.kind in ("pixel", "chroma")
