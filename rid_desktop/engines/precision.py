"""Reduced precision for the feed-forward generators, in one place (shared by every generator engine)."""

from __future__ import annotations

import contextlib

import torch


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (generators are tanh-bounded, so reduced precision is safe); none on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
