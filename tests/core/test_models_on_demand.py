"""Optional models on demand, offline: a bounded HTTP server on 127.0.0.1 serves tiny diffusers models
made here (an AutoencoderKL as safetensors, a UNet2DModel as a PyTorch .bin like the real DDPM), and
they go through the same install, scoring, DiffPure and attack code a real model takes.
"""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rid_desktop.models as models_api
from rid_desktop import cli, paths
from rid_desktop.checks import diffpure
from rid_desktop.commands import models as models_cmd
from rid_desktop.errors import Cancelled, ModelError
from rid_desktop.models import fetch, registry
from rid_desktop.models.registry import ModelSpec
from tests.model_fixtures import TINY_VAE_CONFIG, _safetensors_bytes, _tiny_unet_state, _tiny_vae_state, serve_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def run_models(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rid-desktop")
    models_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    return args.handler(args)


def user_models() -> list[str]:
    folder = paths.user_data_dir() / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# -- install, progress, cancel, resume, wrong hash, disk full, licence --------------------------


def test_install_shows_size_and_licence_first_and_builds_a_verified_model_folder(tiny_vae, server, capsys):
    assert run_models("install", tiny_vae.name) == 0
    out, err = capsys.readouterr()
    first = err.splitlines()[0]
    assert first.startswith("installing tiny-vae:") and "licence TEST-LICENCE-1.0" in first
    assert fetch.format_size(tiny_vae.size_bytes) in first
    folder = registry.locate(tiny_vae.name)
    assert folder == paths.user_data_dir() / "models" / "tiny-vae"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "diffusion_pytorch_model.safetensors", registry.INSTALL_RECEIPT]
    receipt = json.loads((folder / registry.INSTALL_RECEIPT).read_text())
    assert receipt["source_sha256"] == tiny_vae.sha256 and receipt["license"] == "TEST-LICENCE-1.0"
    assert user_models() == ["tiny-vae"]  # no .part, no staging folder left
    assert run_models("verify", tiny_vae.name) == 0 and "tiny-vae: ok" in capsys.readouterr().out
    (folder / "config.json").write_text("{}")  # damaged after install: verify says so
    assert run_models("verify", tiny_vae.name) == 1 and "damaged" in capsys.readouterr().err


def test_progress_counts_bytes_and_cancel_leaves_nothing(tiny_vae, monkeypatch):
    monkeypatch.setattr(fetch, "CHUNK_BYTES", 4096)
    seen = []
    path = models_api.install(tiny_vae.name, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, tiny_vae.size_bytes) and seen[-1] == (tiny_vae.size_bytes, tiny_vae.size_bytes)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and len(seen) > 3
    models_api.remove(tiny_vae.name)

    stop = threading.Event()
    calls = []

    def stop_after_two(done, total):
        calls.append(done)
        if len(calls) == 2:
            stop.set()

    with pytest.raises(Cancelled):
        models_api.install(tiny_vae.name, progress=stop_after_two, cancel=stop)
    assert user_models() == []  # no partial file, no staging folder
    with pytest.raises(ModelError, match="not installed"):
        registry.locate(tiny_vae.name)
    assert path.name == "tiny-vae"


def test_an_interrupted_download_resumes_from_where_it_stopped(tiny_vae, server, monkeypatch):
    monkeypatch.setattr(fetch, "CHUNK_BYTES", 4096)
    _, base, log = server
    cut_url = tiny_vae.url.replace(base, base + "/cut")
    monkeypatch.setitem(registry.MODELS, tiny_vae.name, _replace(tiny_vae, url=cut_url))
    with pytest.raises(ModelError, match="cut short.*run the same command again to resume"):
        models_api.install(tiny_vae.name)
    partial_files = list((paths.user_data_dir() / "models").rglob("*.part"))
    assert len(partial_files) == 1
    have = partial_files[0].stat().st_size
    assert 0 < have < tiny_vae.size_bytes

    monkeypatch.setitem(registry.MODELS, tiny_vae.name, tiny_vae)
    log.clear()
    folder = models_api.install(tiny_vae.name)
    assert log == [("/tiny-vae/diffusion_pytorch_model.safetensors", f"bytes={have}-")]  # only the rest
    assert registry.locate(tiny_vae.name) == folder
    assert models_api.describe(tiny_vae.name).startswith("tiny-vae:")


def test_a_file_with_the_wrong_hash_is_refused_and_deleted(server, monkeypatch, tmp_path, capsys):
    spec = serve_model(monkeypatch, server, "bad-vae", kind="diffusers-vae", role="scoring-vae",
                       config=TINY_VAE_CONFIG, payload=_safetensors_bytes(_tiny_vae_state(), tmp_path),
                       remote="diffusion_pytorch_model.safetensors", sha256="0" * 64)
    assert run_models("install", spec.name) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not match its published SHA-256" in errors[0] and "deleted" in errors[0]
    assert not any(p.is_file() for p in (paths.user_data_dir() / "models").rglob("*"))


def test_not_enough_disk_space_is_refused_before_downloading(tiny_vae, server, monkeypatch):
    _, _, log = server

    class Usage:
        free = 1000

    monkeypatch.setattr(fetch.shutil, "disk_usage", lambda path: Usage)
    with pytest.raises(ModelError, match="not enough disk space for tiny-vae") as err:
        models_api.install(tiny_vae.name)
    assert "\n" not in str(err.value)
    assert not any(p.is_file() for p in (paths.user_data_dir() / "models").rglob("*"))


def test_a_disk_that_fills_up_mid_download_leaves_nothing(tiny_vae, monkeypatch):
    import errno

    real_open = open

    class FullDisk:
        def __init__(self, *args, **kwargs):
            self.fh = real_open(*args, **kwargs)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, block):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fetch, "open", FullDisk, raising=False)
    with pytest.raises(ModelError, match="the disk is full"):
        models_api.install(tiny_vae.name)
    assert not any(p.is_file() for p in (paths.user_data_dir() / "models").rglob("*"))


def test_remove_frees_the_space_and_never_touches_other_folders(tiny_vae, capsys, monkeypatch, tmp_path):
    models_api.install(tiny_vae.name)
    assert run_models("remove", tiny_vae.name) == 0
    assert "tiny-vae: removed" in capsys.readouterr().out and user_models() == []
    assert run_models("remove", tiny_vae.name) == 1
    assert "not installed" in capsys.readouterr().err
    elsewhere = tmp_path / "mine" / "tiny-vae"  # a copy in $RID_DESKTOP_MODELS_DIR is the user's own
    elsewhere.mkdir(parents=True)
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(elsewhere.parent))
    assert run_models("remove", tiny_vae.name) == 1 and elsewhere.is_dir()


def test_a_model_without_a_verified_hash_is_listed_but_never_downloaded(server, capsys):
    assert run_models("install", "sdxl-vae-fp16-fix") == 1
    assert "no checksum" in capsys.readouterr().err
    assert run_models("list") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("sdxl-vae-fp16-fix"))
    assert "not installable" in line
    assert server[2] == []  # nothing was requested


def test_a_pickled_unet_is_converted_to_safetensors_at_install(tiny_unet):
    folder = models_api.install(tiny_unet.name)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["config.json", "diffusion_pytorch_model.safetensors", registry.INSTALL_RECEIPT,
                     "scheduler_config.json"]
    from safetensors.torch import load_file

    state = load_file(str(folder / "diffusion_pytorch_model.safetensors"))
    assert all(torch.equal(state[k], v) for k, v in _tiny_unet_state().items())


def test_weights_that_do_not_fit_the_recorded_architecture_are_not_installed(server, monkeypatch, tmp_path):
    wrong = dict(TINY_VAE_CONFIG, latent_channels=8)
    spec = serve_model(monkeypatch, server, "odd-vae", kind="diffusers-vae", role="scoring-vae", config=wrong,
                       payload=_safetensors_bytes(_tiny_vae_state(), tmp_path),
                       remote="diffusion_pytorch_model.safetensors")
    with pytest.raises(ModelError, match="does not fit its recorded architecture"):
        models_api.install(spec.name)
    assert not (paths.user_data_dir() / "models" / "odd-vae").exists()


# -- using them: full-size VAE scoring, DiffPure by default, attacking a full-size VAE -----------


def _photo(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64]
    img = np.stack([xx * 3, yy * 3, (xx + yy) * 2], -1) + rng.integers(0, 20, (64, 64, 3))
    path = folder / "p.png"
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(path)
    return path


def test_check_scores_with_a_full_size_vae(tiny_vae, shared_models, tmp_path, capsys):
    models_api.install(tiny_vae.name)
    photo = _photo(tmp_path / "in")
    out_vae, out_taef2 = tmp_path / "vae.json", tmp_path / "taef2.json"
    grid = tmp_path / "grid.png"
    assert cli.main(["check", str(photo), "--purifiers", "jpeg:75", "--score-with", "tiny-vae",
                     "--json", str(out_vae), "--grid", str(grid)]) == 0
    assert Image.open(grid).size[0] > 64  # the AI view row was decoded by the full-size VAE's decoder
    assert "encoder: tiny-vae" in capsys.readouterr().out
    assert cli.main(["check", str(photo), "--purifiers", "jpeg:75", "--json", str(out_taef2)]) == 0
    vae, taef2 = json.loads(out_vae.read_text()), json.loads(out_taef2.read_text())
    assert vae["info"]["scored with"] == "tiny-vae" and taef2["info"]["scored with"] == "taef2"

    from rid_desktop.models.diffusers_models import load_vae_pair

    encoder, _ = load_vae_pair("tiny-vae")
    assert encoder.vae.config.latent_channels == 4 and encoder.scale == 0.5
    assert vae["score_before"] != taef2["score_before"]  # a different encoder measured it


def test_score_with_an_unknown_or_missing_model_is_one_line(tiny_vae, tmp_path, capsys):
    photo = _photo(tmp_path / "in")
    assert cli.main(["check", str(photo), "--score-with", "tiny-vae"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not installed" in err and "models install tiny-vae" in err
    assert cli.main(["check", str(photo), "--score-with", "ddpm-celebahq-256"]) == 2
    assert "not a full-size VAE for scoring" in capsys.readouterr().err


def test_diffpure_runs_by_default_in_check_once_a_model_is_installed(tiny_unet, shared_models, tmp_path,
                                                                    monkeypatch, capsys):
    monkeypatch.delenv(diffpure.DIFFPURE_MODEL_ENV, raising=False)
    monkeypatch.setattr(diffpure, "DEFAULT_STEPS", 2)
    photo = _photo(tmp_path / "in")
    report = tmp_path / "r.json"
    assert cli.main(["check", str(photo), "--json", str(report)]) == 0  # default purifiers, no DiffPure model
    before = {r["spec"]: r for r in json.loads(report.read_text())["purifiers"]}
    assert before["diffpure:0.1"]["status"] == diffpure.NOT_CONFIGURED

    assert run_models("install", tiny_unet.name) == 0
    capsys.readouterr()
    assert cli.main(["check", str(photo), "--json", str(report)]) == 0
    table = capsys.readouterr().out
    after = {r["spec"]: r for r in json.loads(report.read_text())["purifiers"]}
    assert after["diffpure:0.1"]["status"] == "ok" and after["diffpure:0.1"]["verdict"]
    assert "diffpure:0.1" in table and diffpure.NOT_CONFIGURED not in table


def test_the_iterative_engine_attacks_a_full_size_vae(tiny_vae):
    from rid_desktop.engines import create_engine
    from rid_desktop.models.diffusers_models import load_vae_pair

    models_api.install(tiny_vae.name)
    engine = create_engine("iterative", steps=6, robust=False, targets=["tiny-vae"])
    encoder, _ = load_vae_pair("tiny-vae")
    assert engine.objective.encoders == [encoder]  # the full-size VAE is what PGD differentiates through
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    eps = 8 / 255
    protected = engine.protect(x, eps, seed=0)
    assert (protected - x).abs().max() <= eps + 1e-6
    noise = (x + eps * torch.sign(torch.randn(x.shape, generator=torch.Generator().manual_seed(1)))).clamp(0, 1)
    with torch.no_grad():
        ref = encoder(x)
        attacked = (encoder(protected) - ref).pow(2).mean()
        random = (encoder(noise) - ref).pow(2).mean()
    assert attacked > 1.5 * random


def _replace(spec: ModelSpec, **changes) -> ModelSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


def test_protect_attacks_the_models_named_by_attack_with(tiny_vae, tmp_path, monkeypatch, capsys):
    from rid_desktop.models import surrogates

    photo = _photo(tmp_path / "in")
    assert cli.main(["protect", str(photo), "--engine", "iterative", "--attack-with", "tiny-vae", "--seed", "1"]) == 2
    err = capsys.readouterr().err.strip()  # not installed yet: one line that says how to get it
    assert err.count("\n") == 0 and "not installed" in err and "models install tiny-vae" in err

    models_api.install(tiny_vae.name)
    asked = []
    real = surrogates.load_target_encoders
    monkeypatch.setattr(surrogates, "load_target_encoders",
                        lambda targets, device="cpu": asked.append(list(targets)) or real(targets, device))
    assert cli.main(["protect", str(photo), "--engine", "iterative", "--attack-with", "tiny-vae", "--seed", "1",
                     "-o", str(tmp_path / "out")]) == 0
    assert asked == [["tiny-vae"]]  # the engine optimised against the full-size VAE, not TAEF2
    protected = np.asarray(Image.open(tmp_path / "out" / "p.png"), dtype=np.int16)
    original = np.asarray(Image.open(photo), dtype=np.int16)
    assert 0 < np.abs(protected - original).max() <= 8


@pytest.mark.parametrize("engine", ["rid", "dwt-chroma", "both"])
def test_engines_that_cannot_attack_a_model_refuse_attack_with_in_one_line(engine, tmp_path, capsys):
    photo = _photo(tmp_path / "in")
    assert cli.main(["protect", str(photo), "--engine", engine, "--attack-with", "sd-vae-ft-mse"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"engine {engine!r} does not take models to attack (--attack-with)" in err
    assert "iterative, iterative-chroma" in err
    assert not (tmp_path / "in-protected").exists()


def test_attack_targets_change_the_fingerprint_only_when_set():
    from rid_desktop.settings import ProtectionSettings

    plain = ProtectionSettings(engine="iterative", eps=6 / 255)
    assert plain.fingerprint() == "593c8fee6b255383"  # as before targets existed: old manifests still resume
    assert ProtectionSettings(engine="iterative", eps=6 / 255, targets=("sd-vae-ft-mse",)).fingerprint() \
        != plain.fingerprint()
