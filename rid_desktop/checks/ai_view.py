"""The "AI view": what a diffusion model's image autoencoder makes of a photo, and how much it is misled.

Personalization and editing start by encoding the photo into a latent. We show the surrogate's round
trip decode(encode(x)) of the original and of the protected copy, and score protection as the latent
distortion ``mean((E(protected) - E(original))^2)`` — the same quantity the engines raise
(:func:`rid_desktop.engines.objectives.latent_distortion`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rid_desktop.engines.objectives import latent_distortion


@torch.no_grad()
def protection_score(encoder: nn.Module, protected: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Latent distortion of ``protected`` against ``reference`` (usually the original), per image.

    Shape:
        protected, reference: (B, 3, H, W) in [0, 1] -> (B,), >= 0 (0 = the AI sees no difference)
    """
    if protected.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(protected.shape)} vs {tuple(reference.shape)}")
    return latent_distortion(encoder, protected, encoder(reference))


@torch.no_grad()
def ai_round_trip(encoder: nn.Module, decoder: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """decode(encode(image)) at the input's size: the image as the surrogate autoencoder sees it.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]
    """
    decoded = decoder(encoder(image))
    if decoded.shape[-2:] != image.shape[-2:]:
        decoded = F.interpolate(decoded, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return decoded.clamp(0.0, 1.0)


@torch.no_grad()
def ai_view_pair(
    encoder: nn.Module, decoder: nn.Module, original: torch.Tensor, protected: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """AI views of original and protected plus the protection score, in one pass.

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (view_original, view_protected, score (B,))
    """
    both = torch.cat([original, protected])
    latents = encoder(both)
    ref, prot = latents.chunk(2)
    score = (prot - ref).pow(2).flatten(1).mean(1)
    views = decoder(latents)
    if views.shape[-2:] != original.shape[-2:]:
        views = F.interpolate(views, size=original.shape[-2:], mode="bilinear", align_corners=False)
    view_original, view_protected = views.clamp(0.0, 1.0).chunk(2)
    return view_original, view_protected, score
