"""The "AI view": what a diffusion model's image autoencoder makes of a photo, and how much it is misled.

Personalization and editing start by encoding the photo into a latent. We show the surrogate's round
trip decode(encode(x)) of the original and of the protected copy, and score protection as the latent
distortion ``mean((E(protected) - E(original))^2)`` — the same quantity the engines raise
(:func:`rid_desktop.engines.objectives.latent_distortion`).

``encoder`` / ``decoder`` default to the TAEF2 surrogate
(:func:`rid_desktop.models.surrogates.load_encoder` / ``load_decoder``, cached) on the image's device.
:func:`load_scorer` gives the pair for a name ("taef2", or an installed full-size VAE such as
"sd-vae-ft-mse"), so a caller can measure with the encoder an attacker would actually use.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rid_desktop.engines.objectives import latent_distance, latent_distortion


SURROGATE = "taef2"
"""The default measuring model: the small TAEF2 surrogate (fast, always available once set up)."""


def load_scorer(name: str | None, device: torch.device | str = "cpu") -> tuple[nn.Module, nn.Module]:
    """(encoder, decoder) to measure protection with: ``None``/"taef2" -> the TAEF2 surrogate, else an
    installed full-size VAE by registry name (e.g. "sd-vae-ft-mse") or a diffusers VAE folder.

    Raises:
        rid_desktop.errors.ModelError: not installed (the message says how to install it) or unusable.
    """
    if name in (None, "", SURROGATE, "taef2-encoder"):
        from rid_desktop.models.surrogates import load_decoder, load_encoder

        return load_encoder(device=device), load_decoder(device=device)
    from rid_desktop.models.diffusers_models import load_vae_pair

    return load_vae_pair(name, device)


def _encoder(encoder: nn.Module | None, image: torch.Tensor) -> nn.Module:
    if encoder is not None:
        return encoder
    from rid_desktop.models.surrogates import load_encoder

    return load_encoder(device=image.device)


def _decoder(decoder: nn.Module | None, image: torch.Tensor) -> nn.Module:
    if decoder is not None:
        return decoder
    from rid_desktop.models.surrogates import load_decoder

    return load_decoder(device=image.device)


@torch.no_grad()
def protection_score(
    protected: torch.Tensor, reference: torch.Tensor, encoder: nn.Module | None = None
) -> torch.Tensor:
    """Latent distortion of ``protected`` against ``reference`` (usually the original), per image.

    Shape:
        protected, reference: (B, 3, H, W) in [0, 1] -> (B,), >= 0 (0 = the AI sees no difference)
    """
    if protected.shape != reference.shape:
        raise ValueError(f"shapes differ: {tuple(protected.shape)} vs {tuple(reference.shape)}")
    encoder = _encoder(encoder, reference)
    return latent_distortion(encoder, protected, encoder(reference))


@torch.no_grad()
def ai_round_trip(
    image: torch.Tensor, encoder: nn.Module | None = None, decoder: nn.Module | None = None
) -> torch.Tensor:
    """decode(encode(image)) at the input's size: the image as the surrogate autoencoder sees it.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]
    """
    decoded = _decoder(decoder, image)(_encoder(encoder, image)(image))
    if decoded.shape[-2:] != image.shape[-2:]:
        decoded = F.interpolate(decoded, size=image.shape[-2:], mode="bilinear", align_corners=False)
    return decoded.clamp(0.0, 1.0)


@torch.no_grad()
def ai_view_pair(
    original: torch.Tensor,
    protected: torch.Tensor,
    encoder: nn.Module | None = None,
    decoder: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """AI views of original and protected plus the protection score, in one pass (for the preview).

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (view_original, view_protected, score (B,))
    """
    if original.shape != protected.shape:
        raise ValueError(f"shapes differ: {tuple(original.shape)} vs {tuple(protected.shape)}")
    latents = _encoder(encoder, original)(torch.cat([original, protected]))
    reference, attacked = latents.chunk(2)
    score = latent_distance(attacked, reference)
    views = _decoder(decoder, original)(latents)
    if views.shape[-2:] != original.shape[-2:]:
        views = F.interpolate(views, size=original.shape[-2:], mode="bilinear", align_corners=False)
    view_original, view_protected = views.clamp(0.0, 1.0).chunk(2)
    return view_original, view_protected, score
