"""Pick the compute device: CUDA, then Apple MPS, then CPU ("auto"), or what the user asked for."""

from __future__ import annotations

import torch

from rid_desktop.errors import UserError


def available_devices() -> list[tuple[str, str]]:
    """(device string, human label) for each device that exists on this machine, CPU last."""
    found: list[tuple[str, str]] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            found.append((f"cuda:{i}", f"GPU: {torch.cuda.get_device_name(i)}"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append(("mps", "Apple GPU (Metal)"))
    found.append(("cpu", "CPU"))
    return found


def resolve_device(name: str = "auto") -> torch.device:
    """Turn 'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps' into a torch.device that exists here."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device(available_devices()[0][0])
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError("no CUDA GPU is available on this machine; use --device cpu or auto")
        return torch.device(name)
    if name == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError("no Apple GPU (MPS) is available on this machine; use --device cpu or auto")
        return torch.device("mps")
    raise UserError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
