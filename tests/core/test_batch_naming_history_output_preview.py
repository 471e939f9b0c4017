"""Small core helpers the GUI uses: the output name suffix, reading earlier results back from the
manifests (history), and rendering the real output of one photo without writing next to it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.batch.history import recorded_results
from rid_desktop.batch.output_preview import render_output
from rid_desktop.batch.plan import check_name_suffix, with_name_suffix
from rid_desktop.errors import Cancelled, UserError
from rid_desktop.settings import OutputSettings, ProtectionSettings

SETTINGS = ProtectionSettings(eps=8 / 255)


class SignEngine:
    name = "test-sign"

    def protect(self, image, eps, *, seed=0, progress=None):
        for tile in range(3):
            if progress:
                progress(tile + 1, 3)
        return (image + eps * torch.sign(torch.sin(image * 40 + seed))).clamp(0, 1)


def _photos(folder: Path, names=("a.png", "b.jpg")) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for name in names:
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / name)
        paths.append(folder / name)
    return paths


def test_name_suffix_marks_every_copy_and_resume_still_works(tmp_path):
    _photos(tmp_path / "in")
    plan = plan_batch([tmp_path / "in"], SETTINGS, name_suffix="_protected")
    assert sorted(item.output.name for item in plan.items) == ["a_protected.png", "b_protected.jpg"]
    list(run_batch(plan, SignEngine()))
    again = plan_batch([tmp_path / "in"], SETTINGS, name_suffix="_protected")
    assert [item.state for item in again.items] == ["already-done", "already-done"]
    plain = plan_batch([tmp_path / "in"], SETTINGS)  # without the suffix: other names, so redone
    assert sorted(item.output.name for item in plain.items) == ["a.png", "b.jpg"]


@pytest.mark.parametrize("bad", ["a/b", "..\\x", "x:y", "\t", "..", "x" * 41])
def test_name_suffix_refuses_what_cannot_be_part_of_a_file_name(bad):
    with pytest.raises(UserError):
        check_name_suffix(bad)


def test_with_name_suffix_keeps_the_extension():
    assert with_name_suffix(Path("/o/IMG 1.heic.jpg"), "_cloaked") == Path("/o/IMG 1.heic_cloaked.jpg")
    assert with_name_suffix(Path("/o/a.png"), "") == Path("/o/a.png")


def test_recorded_results_read_back_protected_and_failed_photos(tmp_path):
    folder = tmp_path / "in"
    a, b = _photos(folder)
    (folder / "bad.jpg").write_bytes(b"no")
    list(run_batch(plan_batch([folder], SETTINGS), SignEngine()))
    results = recorded_results([folder], SETTINGS)
    assert results[a].status == "protected" and results[a].output == tmp_path / "in-protected" / "a.png"
    assert results[Path(os.path.abspath(folder / "bad.jpg"))].status == "failed"
    assert results[Path(os.path.abspath(folder / "bad.jpg"))].reason  # the failure's reason
    # a copy deleted, or an original edited after protection, is no longer "protected"
    (tmp_path / "in-protected" / "a.png").unlink()
    future = time.time() + 60
    os.utime(b, (future, future))
    results = recorded_results([folder], SETTINGS)
    assert a not in results and b not in results


def test_recorded_results_follow_a_chosen_output_folder_and_single_files(tmp_path):
    folder = tmp_path / "in"
    a, _b = _photos(folder)
    chosen = ProtectionSettings(eps=8 / 255, output=OutputSettings(output_dir=tmp_path / "out"))
    list(run_batch(plan_batch([a], chosen), SignEngine()))
    assert recorded_results([a], chosen)[a].output == tmp_path / "out" / "a.png"
    assert recorded_results([a], SETTINGS) == {}  # another output folder: nothing recorded there


def test_render_output_is_the_file_a_batch_writes(tmp_path):
    keyed = ProtectionSettings(eps=8 / 255, seed=1234)  # the GUI's session key: same key per photo
    folder = tmp_path / "in"
    a, b = _photos(folder)
    list(run_batch(plan_batch([folder], keyed), SignEngine()))
    for source in (a, b):  # PNG lossless and JPEG q95: the encoding is part of the output
        rendered = render_output(source, SignEngine(), keyed)
        written = np.asarray(Image.open(tmp_path / "in-protected" / source.name).convert("RGB"))
        as_bytes = (rendered.output[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        assert np.array_equal(as_bytes, written)
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.jpg"]  # nothing written beside them


def test_render_output_stops_when_cancelled(tmp_path):
    (a, _b) = _photos(tmp_path / "in")
    with pytest.raises(Cancelled):
        render_output(a, SignEngine(), SETTINGS, cancelled=lambda: True)


def test_ensure_surrogates_says_what_was_found_installed_or_failed(tmp_path, monkeypatch):
    from rid_desktop.errors import ModelError
    from rid_desktop.models import download
    from rid_desktop.models.surrogate_setup import ensure_surrogates, surrogate_names

    monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(tmp_path / "empty"))
    names = surrogate_names()
    assert names and all(n.startswith("taef2") for n in names)
    assert set(ensure_surrogates(install=False).failed) == set(names)

    def fake_install(name, **_):
        if name.endswith("decoder"):
            raise ModelError("network is unreachable")
        target = tmp_path / f"{name}.pth"
        target.write_bytes(b"x")
        return target

    monkeypatch.setattr(download, "install_model", fake_install)
    setup = ensure_surrogates()
    assert list(setup.installed) == ["taef2-encoder"] and "unreachable" in setup.failed["taef2-decoder"]
    assert not setup.ready
