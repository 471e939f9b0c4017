"""Strength presets map to the documented budgets; "auto" picks CUDA, then Apple MPS, then the CPU."""

import pytest
import torch

from rid_desktop import device as device_mod
from rid_desktop.device import available_devices, resolve_device
from rid_desktop.errors import UserError
from rid_desktop.strength import DEFAULT_STRENGTH, MAX_EPS, PRESETS, describe, parse_strength


def test_presets_are_the_documented_budgets_in_0_1_pixel_units():
    assert PRESETS == {"low": 4 / 255, "medium": 8 / 255, "high": 12 / 255}
    assert DEFAULT_STRENGTH == "medium"
    for name, eps in PRESETS.items():
        assert parse_strength(name) == eps
        assert parse_strength(f"  {name.upper()} ") == eps
        assert describe(eps) == f"{name} ({round(eps * 255)}/255)"


@pytest.mark.parametrize("text, eps", [("6", 6 / 255), ("6/255", 6 / 255), ("2.5", 2.5 / 255), ("32", 32 / 255)])
def test_custom_budgets_are_255ths(text, eps):
    assert parse_strength(text) == pytest.approx(eps)
    assert describe(parse_strength(text)) == f"{eps * 255:g}/255"


def test_numbers_are_taken_as_eps_and_out_of_range_values_refused():
    assert parse_strength(0.02) == 0.02
    for bad in ("0", "-3", "40", MAX_EPS + 0.01, "extreme", ""):
        with pytest.raises(ValueError):
            parse_strength(bad)


@pytest.fixture
def fake_hardware(monkeypatch):
    """Pretend CUDA / MPS are present or not; returns a setter."""

    def set_hardware(cuda: bool, mps: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Fake GPU")
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)

    return set_hardware


@pytest.mark.parametrize(
    "cuda, mps, expected",
    [(True, True, "cuda:0"), (True, False, "cuda:0"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_prefers_cuda_then_mps_then_cpu(fake_hardware, cuda, mps, expected):
    fake_hardware(cuda, mps)
    assert resolve_device("auto") == torch.device(expected)
    assert resolve_device(None) == torch.device(expected)
    assert available_devices()[-1] == ("cpu", "CPU")


def test_asking_for_a_missing_device_is_a_user_error(fake_hardware):
    fake_hardware(False, False)
    assert resolve_device("CPU") == torch.device("cpu")
    for name in ("cuda", "cuda:1", "mps", "tpu"):
        with pytest.raises(UserError):
            resolve_device(name)
    assert device_mod.available_devices() == [("cpu", "CPU")]
