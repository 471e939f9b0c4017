"""Load weights without ever executing code from a file.

``.safetensors`` is read with :mod:`safetensors`; ``.pth``/``.pt`` only with
``torch.load(weights_only=True)``, which refuses pickled objects other than tensors and containers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from safetensors or a weights-only PyTorch file; ModelError on anything odd."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a usable weights file"
        raise ModelError(f"cannot read model file {path.name}: {_short(exc)}") from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"model file {path.name} does not contain a plain tensor state dict")
    return state


def load_into(module: nn.Module, path: str | Path, *, strict: bool = True) -> nn.Module:
    """Load weights into ``module`` with exact key matching; ModelError lists what does not match."""
    state = load_state_dict(path)
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise ModelError(f"model file {Path(path).name} does not fit this network: {_short(exc)}") from exc
    return module


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
