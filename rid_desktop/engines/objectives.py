"""What "protection" optimises: distortion of surrogate encoders' latents, robust to re-compression.

Used by iterative PGD, by generator training and by the checks, so the number a user sees in the
preview is the number the engines were built to raise.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from kornia.enhance import jpeg_codec_differentiable
from torch import nn


def latent_distortion(encoder: nn.Module, protected: torch.Tensor, reference_latent: torch.Tensor) -> torch.Tensor:
    """Mean squared latent difference per image — the protection score.

    Shape:
        protected: (B, 3, H, W) in [0, 1]; reference_latent: (B, C, h, w) -> (B,)
    """
    return latent_distance(encoder(protected), reference_latent)


def latent_distance(latent: torch.Tensor, reference_latent: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two latents per image: (B, C, h, w) x 2 -> (B,)."""
    return (latent - reference_latent).pow(2).flatten(1).mean(1)


@dataclass
class Augmentation:
    """A differentiable wash (JPEG or down/up resize) applied identically to clean and protected."""

    kind: str = "none"  # "none" | "jpeg" | "resize"
    quality: float = 75.0
    scale: float = 0.75

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "jpeg":
            q = torch.full((x.shape[0],), float(self.quality), device=x.device)
            return jpeg_codec_differentiable(x, q).clamp(0, 1)
        if self.kind == "resize":
            h, w = x.shape[-2:]
            # An explicit size of at least 1 px: scale_factor would round a tiny tile down to 0 px.
            small_size = (max(1, round(h * self.scale)), max(1, round(w * self.scale)))
            small = F.interpolate(x, size=small_size, mode="bilinear", antialias=True, align_corners=False)
            return F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        return x


def sample_augmentation(rng: random.Random, p_jpeg: float = 0.35, p_resize: float = 0.15) -> Augmentation:
    """Expectation-over-transformation: a random wash per step, so protection survives re-saving."""
    u = rng.random()
    if u < p_jpeg:
        return Augmentation("jpeg", quality=rng.uniform(60, 95))
    if u < p_jpeg + p_resize:
        return Augmentation("resize", scale=rng.uniform(0.5, 0.9))
    return Augmentation("none")


class SurrogateObjective:
    """Sum of latent distortions over a list of encoders (ensemble), optionally after a wash.

    Args:
        encoders: frozen image encoders (B,3,H,W) in [0,1] -> latents; more than one = ensemble.
        low_precision: run the encoders in bfloat16 (channels-last), latents back in float32. For
            optimising, where the hardware has native bf16 (``precision.native_bf16``): the encoder's
            forward and backward are most of a PGD step and take 2.6x less time on such a CPU, with
            gradients at cosine 0.99 of float32's. Never for measuring: the checks keep float32.
    """

    def __init__(self, encoders: Sequence[nn.Module], low_precision: bool = False):
        if not encoders:
            raise ValueError("the objective needs at least one surrogate encoder")
        self.encoders = list(encoders)
        self.low_precision = low_precision

    def _encode(self, encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if not self.low_precision:
            return encoder(x)
        from rid_desktop.engines.precision import run_in_bf16

        return run_in_bf16(encoder, x)

    @torch.no_grad()
    def reference(self, image: torch.Tensor, augmentation: Augmentation | None = None) -> list[torch.Tensor]:
        """Clean latents for each encoder (after the same wash, if any)."""
        washed = augmentation(image) if augmentation else image
        return [self._encode(enc, washed) for enc in self.encoders]

    def __call__(
        self,
        protected: torch.Tensor,
        references: list[torch.Tensor],
        augmentation: Augmentation | None = None,
    ) -> torch.Tensor:
        """Per-image distortion summed over encoders. Shape: (B,)."""
        washed = augmentation(protected) if augmentation else protected
        total = 0
        for enc, ref in zip(self.encoders, references):
            total = total + latent_distance(self._encode(enc, washed), ref)
        return total
