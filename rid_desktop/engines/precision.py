"""Reduced precision in one place: the generators' autocast, and bf16 encoder passes for optimising."""

from __future__ import annotations

import contextlib
from typing import Callable, TypeVar

import torch

T = TypeVar("T")


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (generators are tanh-bounded, so reduced precision is safe); none on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 convolutions run natively on ``device``: a CUDA GPU with bf16, or a CPU with
    AVX-512 BF16 or AMX. Elsewhere bfloat16 is emulated and slower than float32, so it is not used."""
    device = torch.device(device)
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # private probes: an older or newer torch may lack them
        return False
    return False


def run_in_bf16(fn: Callable[[torch.Tensor], T], x: torch.Tensor) -> T:
    """``fn(x)`` in bfloat16 autocast on a channels-last ``x``, its tensor (or tuple of tensors) back in
    float32. One way for every optimising pass (training's loss, PGD's objective) to use bf16, so the
    layout and the float32 hand-back cannot differ between them; measuring passes never call it."""
    with torch.autocast(x.device.type, dtype=torch.bfloat16):
        out = fn(x.contiguous(memory_format=torch.channels_last))
    if isinstance(out, tuple):
        return tuple(t.float() for t in out)
    return out.float()
