"""Reduced precision for the feed-forward generators, in one place (shared by every generator engine)."""

from __future__ import annotations

import contextlib

import torch


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


def bf16_autocast(device: torch.device):
    """bf16 autocast on ``device`` (CPU or CUDA), for passes whose inputs are made channels-last."""
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
