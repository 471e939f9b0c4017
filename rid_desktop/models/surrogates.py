"""Surrogate autoencoders, loaded once and cached: what protection attacks and what checks measure."""

from __future__ import annotations

import functools

import torch
from torch import nn

from rid_desktop.models.loading import load_into
from rid_desktop.models.registry import locate
from rid_desktop.models.taesd import build_decoder, build_encoder


@functools.lru_cache(maxsize=4)
def _load(name: str, device: str) -> nn.Module:
    if name == "taef2-encoder":
        module = build_encoder(32)
    elif name == "taef2-decoder":
        module = build_decoder(32)
    else:
        raise ValueError(f"{name} is not a surrogate autoencoder")
    load_into(module, locate(name))
    module.eval().requires_grad_(False)
    return module.to(device)


def load_encoder(name: str = "taef2-encoder", device: torch.device | str = "cpu") -> nn.Module:
    """Frozen encoder image (B,3,H,W) in [0,1] -> latent (B,32,H/8,W/8)."""
    return _load(name, str(torch.device(device)))


def load_decoder(name: str = "taef2-decoder", device: torch.device | str = "cpu") -> nn.Module:
    """Frozen decoder latent -> image; used for the 'AI view' preview."""
    return _load(name, str(torch.device(device)))


def load_target_encoders(targets, device: torch.device | str = "cpu") -> list[nn.Module]:
    """Encoders to attack or score with, by name: "taef2" (the surrogate), an installed full-size VAE
    from the registry (e.g. "sd-vae-ft-mse"), or a diffusers VAE folder. Several = an ensemble."""
    from rid_desktop.models.diffusers_models import load_vae_pair

    encoders: list[nn.Module] = []
    for target in targets:
        if str(target) in ("taef2", "taef2-encoder"):
            encoders.append(load_encoder(device=device))
        else:
            encoders.append(load_vae_pair(target, device)[0])
    return encoders
