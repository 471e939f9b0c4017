"""Tiny autoencoders (TAESD family, MIT) used as surrogate image encoders.

The app attacks the *latent* an image autoencoder produces, because personalization (DreamBooth,
LoRA) and diffusion editing all start by encoding the photo with such a VAE. TAEF2 is a distilled
FLUX.2 VAE small enough to run on a laptop CPU, so it is our default surrogate.

Layout follows the upstream ``taesd.py`` ``nn.Sequential`` (so state-dict keys match exactly); TAEF2
adds a "pool" branch — 1x1 conv (64->256), GroupNorm(4), ReLU, 1x1 conv (256->64) — added to the input
of the three lowest-resolution blocks.
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Clamp(nn.Module):
    """Soft clamp of latents to about [-3, 3] before decoding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


class Block(nn.Module):
    """Residual conv block; ``pool=True`` adds TAEF2's per-pixel MLP branch on the input."""

    def __init__(self, n_in: int, n_out: int, pool: bool = False):
        super().__init__()
        self.conv = nn.Sequential(_conv(n_in, n_out), nn.ReLU(), _conv(n_out, n_out), nn.ReLU(), _conv(n_out, n_out))
        self.skip = nn.Conv2d(n_in, n_out, 1, bias=False) if n_in != n_out else nn.Identity()
        self.fuse = nn.ReLU()
        if pool:
            self.pool = nn.Sequential(
                nn.Conv2d(n_in, 4 * n_in, 1, bias=False),
                nn.GroupNorm(4, 4 * n_in),
                nn.ReLU(),
                nn.Conv2d(4 * n_in, n_in, 1, bias=False),
            )
        else:
            self.pool = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + self.skip(x))


def build_encoder(latent_channels: int = 32, pooled: bool = True) -> nn.Sequential:
    """TAESD-style encoder: image (B,3,H,W) in [0,1] -> latent (B,C,H/8,W/8)."""
    low = pooled
    return nn.Sequential(
        _conv(3, 64), Block(64, 64),
        _conv(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        _conv(64, 64, stride=2, bias=False), Block(64, 64), Block(64, 64), Block(64, 64),
        _conv(64, 64, stride=2, bias=False), Block(64, 64, low), Block(64, 64, low), Block(64, 64, low),
        _conv(64, latent_channels),
    )


def build_decoder(latent_channels: int = 32, pooled: bool = True) -> nn.Sequential:
    """TAESD-style decoder: latent (B,C,h,w) -> image (B,3,8h,8w), roughly in [0,1]."""
    low = pooled
    return nn.Sequential(
        Clamp(), _conv(latent_channels, 64), nn.ReLU(),
        Block(64, 64, low), Block(64, 64, low), Block(64, 64, low), nn.Upsample(scale_factor=2), _conv(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), _conv(64, 64, bias=False),
        Block(64, 64), Block(64, 64), Block(64, 64), nn.Upsample(scale_factor=2), _conv(64, 64, bias=False),
        Block(64, 64), _conv(64, 3),
    )
