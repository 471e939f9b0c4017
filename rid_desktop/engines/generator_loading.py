"""Build a ready-to-run generator from a weights file: ours (safetensors + config) or official RID.

Which one is decided by the file's content (our config in safetensors metadata, else the official
RID/DiT key layout), never by its suffix: official weights come as ``.bin``, ``.pt`` and ``.safetensors``.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError
from rid_desktop.models.loading import load_into, looks_like_safetensors, read_weights, split_part
from rid_desktop.models.registry import locate

DEFAULT_PIXEL_MODEL = "rid-compact-pixel"
DEFAULT_CHROMA_MODEL = "rid-compact-chroma"
GENERATOR_TILE = 1024
GENERATOR_TILE_OVERLAP = 256
"""Tiles of our compact generators overlap by 256 px, so each keeps a 128 px halo: their receptive field
is wide (six dilated blocks at 1/8 resolution), and with a 32 px halo the stitched change near tile
borders was 1.45x the untiled one, with 128 px it is identical (docs/tiling.md). A 12 MP photo still
takes 20 tiles of 1024 px."""


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
def _load_cached(path_str: str, mtime: float, part: str | None) -> nn.Module:
    """Decide by content, not by suffix: our config in safetensors metadata, else the official key layout."""
    from rid_desktop.engines import rid_dit

    path = Path(path_str)
    config = _our_config(path)
    if config is not None:
        if part is not None:
            raise ModelError(f"{path.name} is an RID Desktop generator with one set of weights: "
                             f"use it without :{part}")
        from rid_desktop.engines.generator_net import build_generator

        net = build_generator(config)
        load_into(net, path)
        return net.eval().requires_grad_(False)
    weights = read_weights(path, part)
    if not rid_dit.looks_like_official_rid(weights.state):
        raise ModelError(
            f"{path.name} is neither an RID Desktop generator (no config in its metadata) nor an official "
            f"RID checkpoint (its keys are not the RID/DiT layout)"
        )
    net = rid_dit.load_official_rid(weights.state, name=path.name)
    if weights.part:  # a training checkpoint: say which weights were used
        net.weights_note = f"{path.name}: official RID checkpoint, {weights.describe(path.name)}"
    return net


def _our_config(path: Path):
    """Our generator config when ``path`` is a safetensors file carrying one, else None."""
    if not looks_like_safetensors(path):
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot read model file {path.name}: {exc}") from exc
    return read_generator_config(path) if "kind" in meta else None


def load_generator(model: str | Path | None, default_name: str) -> nn.Module:
    """Generator network on CPU, eval mode, frozen.

    ``model``: a registry name, a path (``FILE:ema`` / ``FILE:model`` picks that part of a training
    checkpoint; ``ema`` is preferred by default), or None (the default generator). An official RID
    network loaded from a wrapped checkpoint carries ``weights_note``, a line saying which part was used.
    """
    part = None
    if model is None:
        path = locate(default_name)
    else:
        model, part = split_part(str(model))
        if not Path(model).suffix and not Path(model).is_file():
            path = locate(model)
        else:
            path = Path(model)
            if not path.is_file():
                raise ModelError(f"model file not found: {path}")
            if path.suffix not in {".safetensors", ".pt", ".pth", ".ckpt", ".bin"}:
                raise ModelError(f"unsupported model file type {path.suffix!r}: use .safetensors, .pt or .pth")
    return _load_cached(str(path.resolve()), path.stat().st_mtime, part)


def tile_alignment(net: nn.Module) -> int:
    """Pixel period of one of our generators: tiles offset by multiples of it see the untiled grid.

    Pixel: the pixel-unshuffle factor and the universal pattern's period; chroma: the unshuffle factor
    on the half-resolution Haar sub-bands, in pixels. 1 for networks without a config (official RID).
    """
    config = getattr(net, "config", None)
    if config is None:
        return 1
    if config.kind == "chroma":
        return 2 * max(1, config.scale // 2)
    return math.lcm(config.scale, max(1, config.pattern))


def to_device(net: nn.Module, device: torch.device) -> nn.Module:
    """Generators are cached on CPU; engines move a shallow copy to their device."""
    if device.type == "cpu":
        return net
    import copy

    return copy.deepcopy(net).to(device)
