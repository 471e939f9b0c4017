"""Build a ready-to-run generator from a weights file: ours (safetensors + config) or official RID."""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError
from rid_desktop.models.loading import load_into, load_state_dict
from rid_desktop.models.registry import locate

DEFAULT_PIXEL_MODEL = "rid-compact-pixel"
DEFAULT_CHROMA_MODEL = "rid-compact-chroma"


def read_generator_config(path: Path):
    """Config stored in our safetensors metadata; ModelError if the file is not one of ours."""
    from safetensors import safe_open

    from rid_desktop.engines.generator_net import GeneratorConfig

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot read generator file {path.name}: {exc}") from exc
    if "kind" not in meta:
        raise ModelError(f"{path.name} is not an RID Desktop generator (no config in its metadata)")
    return GeneratorConfig.from_metadata(meta)


@functools.lru_cache(maxsize=8)
def _load_cached(path_str: str, mtime: float) -> nn.Module:
    path = Path(path_str)
    if path.suffix != ".safetensors":
        return _load_official(path)
    from rid_desktop.engines.generator_net import build_generator

    config = read_generator_config(path)
    net = build_generator(config)
    load_into(net, path)
    return net.eval().requires_grad_(False)


def _load_official(path: Path) -> nn.Module:
    from rid_desktop.engines import rid_dit

    return rid_dit.load_official_rid(load_state_dict(path), name=path.name)


def load_generator(model: str | Path | None, default_name: str) -> nn.Module:
    """Generator network on CPU, eval mode, frozen. ``model``: a path, a registry name, or None (default)."""
    if model is None:
        path = locate(default_name)
    elif isinstance(model, str) and not Path(model).suffix:
        path = locate(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        if path.suffix == ".safetensors":
            pass
        elif path.suffix not in {".pt", ".pth", ".ckpt", ".bin"}:
            raise ModelError(f"unsupported model file type {path.suffix!r}: use .safetensors, .pt or .pth")
    net = _load_cached(str(path.resolve()), path.stat().st_mtime)
    return net


def to_device(net: nn.Module, device: torch.device) -> nn.Module:
    """Generators are cached on CPU; engines move a shallow copy to their device."""
    if device.type == "cpu":
        return net
    import copy

    return copy.deepcopy(net).to(device)
