"""Model files are untrusted input: wrong hash, truncation and code-carrying pickles are all refused.

Nothing from a model file may ever run: the pickle payloads here would create a marker file if
unpickled normally (the control test proves the payload is live), and the loader must refuse them
with a ModelError while the marker never appears.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shlex
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from rid_desktop.errors import ModelError
from rid_desktop.models import registry
from rid_desktop.models.loading import load_into, load_state_dict
from rid_desktop.models.registry import ModelSpec


class RunsCodeWhenUnpickled:
    """What a malicious checkpoint carries: unpickling calls ``os.system`` (here it only touches a file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        code = f"open({str(self.marker)!r}, 'w').close()"
        return os.system, (f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}",)


def small_state() -> dict[str, torch.Tensor]:
    return {"weight": torch.randn(4, 3), "bias": torch.zeros(4)}


def malicious_checkpoint(path: Path, marker: Path, *, legacy: bool = False) -> Path:
    state = {**small_state(), "payload": RunsCodeWhenUnpickled(marker)}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    assert not marker.exists()
    return path


@pytest.fixture
def registered(monkeypatch, tmp_path):
    """A registry model with a known checksum whose search folder is a temp dir; yields (spec, folder, bytes)."""
    good = tmp_path / "reference.pth"
    torch.save(small_state(), good)
    data = good.read_bytes()
    spec = ModelSpec(
        name="safety-fake", filename="safety-fake.pth", sha256=hashlib.sha256(data).hexdigest(),
        url=None, license="test", purpose="test", role="surrogate-encoder",
    )
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(folder))
    return spec, folder, data


def test_locate_accepts_the_exact_file(registered):
    spec, folder, data = registered
    (folder / spec.filename).write_bytes(data)
    assert registry.locate(spec.name) == folder / spec.filename


def test_locate_refuses_a_wrong_hash(registered):
    spec, folder, data = registered
    torch.save({"weight": torch.ones(4, 3), "bias": torch.zeros(4)}, folder / spec.filename)  # same layout, other values
    with pytest.raises(ModelError, match="checksum mismatch"):
        registry.locate(spec.name)


def test_locate_refuses_a_truncated_file(registered):
    spec, folder, data = registered
    (folder / spec.filename).write_bytes(data[: len(data) - 100])
    with pytest.raises(ModelError, match="damaged"):
        registry.locate(spec.name)


def test_locate_checks_an_explicit_path_too(registered, tmp_path):
    spec, _, data = registered
    other = tmp_path / "elsewhere.pth"
    other.write_bytes(data + b"\0")
    with pytest.raises(ModelError, match="checksum mismatch"):
        registry.locate(spec.name, other)


def test_control_the_payload_really_runs_code_when_unpickled_unsafely(tmp_path):
    """Proves the refusal tests below can fail: an unsafe load does execute the payload."""
    marker = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / "evil.pth", marker)
    torch.load(path, weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".bin"])
@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path, suffix, legacy):
    marker = tmp_path / "pwned"
    path = malicious_checkpoint(tmp_path / f"evil{suffix}", marker, legacy=legacy)

    with pytest.raises(ModelError, match="cannot read model file"):
        load_state_dict(path)
    with pytest.raises(ModelError):
        load_into(nn.Linear(3, 4), path)
    assert not marker.exists()


def test_raw_pickle_disguised_as_safetensors_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(RunsCodeWhenUnpickled(marker)))

    with pytest.raises(ModelError, match="cannot read model file"):
        load_state_dict(path)
    assert not marker.exists()


def test_pth_checkpoint_renamed_to_safetensors_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    pth = malicious_checkpoint(tmp_path / "evil.pth", marker)
    disguised = pth.rename(tmp_path / "evil.safetensors")
    with pytest.raises(ModelError):
        load_state_dict(disguised)
    assert not marker.exists()


def test_truncated_safetensors_is_refused(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "w.safetensors"
    save_file(small_state(), str(path))
    data = path.read_bytes()
    assert set(load_state_dict(path)) == {"weight", "bias"}  # the intact file loads

    path.write_bytes(data[: len(data) - 8])
    with pytest.raises(ModelError, match="cannot read model file"):
        load_state_dict(path)


def test_safetensors_with_a_forged_header_length_is_refused(tmp_path):
    path = tmp_path / "forged.safetensors"
    path.write_bytes((10**15).to_bytes(8, "little") + b"{}")
    with pytest.raises(ModelError, match="cannot read model file"):
        load_state_dict(path)


def test_truncated_pth_is_refused(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(small_state(), path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ModelError, match="cannot read model file"):
        load_state_dict(path)


def test_non_tensor_content_is_refused(tmp_path):
    path = tmp_path / "odd.pth"
    torch.save({"weight": torch.zeros(2), "note": "not a tensor"}, path)  # allowed by weights_only, not by us
    with pytest.raises(ModelError, match="plain tensor state dict"):
        load_state_dict(path)


def test_weights_that_do_not_fit_the_network_are_refused(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(small_state(), path)
    with pytest.raises(ModelError, match="does not fit"):
        load_into(nn.Linear(5, 4), path)
    assert torch.equal(load_into(nn.Linear(3, 4), path).weight, torch.load(path, weights_only=True)["weight"])
