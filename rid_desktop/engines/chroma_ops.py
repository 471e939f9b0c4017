"""Shared maths of the DWT-chrominance method: sub-bands in, bounded luma-preserving RGB change out.

The perturbation lives only in the Haar sub-bands of Cb and Cr (YCbCr, BT.601), where the eye is
least sensitive. Three bounds apply in order:
1. in the wavelet domain, each Cb (Cr) coefficient is within ``CB_LIMIT*eps`` (``CR_LIMIT*eps``);
2. after the inverse DWT, the chroma change per pixel is clamped to the same limits, which keeps
   the RGB change within eps (|dB| = 1.773|dCb|, |dR| = 1.403|dCr|, |dG| <= 0.70 eps);
3. the chroma vector is scaled per pixel to stay inside [0, 1] (:func:`fit_chroma_delta_in_gamut`)
   instead of clipping channels, so luma is exactly unchanged.
"""

from __future__ import annotations

import torch

from rid_desktop.engines.wavelets import (
    CB_LIMIT,
    CR_LIMIT,
    chroma_delta_to_rgb,
    fit_chroma_delta_in_gamut,
    haar_dwt2,
    haar_idwt2,
    rgb_to_ycbcr,
)


def chroma_limits(eps: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Per-channel (Cb, Cr) bound, shape (B or 1, 2, 1, 1)."""
    eps_t = torch.as_tensor(eps, dtype=like.dtype, device=like.device).reshape(-1, 1, 1, 1)
    limits = torch.tensor([CB_LIMIT, CR_LIMIT], dtype=like.dtype, device=like.device).reshape(1, 2, 1, 1)
    return eps_t * limits


def image_subbands(image: torch.Tensor) -> torch.Tensor:
    """Haar sub-bands of Y, Cb, Cr. Shape: (B,3,H,W) -> (B,3,4,ceil(H/2),ceil(W/2))."""
    return haar_dwt2(rgb_to_ycbcr(image))


def apply_chroma_bands(image: torch.Tensor, unit_bands: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """Protected image from a unit Cb/Cr sub-band perturbation.

    Args:
        image: (B, 3, H, W) RGB in [0, 1].
        unit_bands: (B, 2, 4, h, w) values in [-1, 1] (generator tanh output or PGD variable).
        eps: L-inf budget in [0, 1] pixel units.

    Returns:
        (B, 3, H, W) in [0, 1], RGB change <= eps, luma unchanged.
    """
    limits = chroma_limits(eps, image)
    band_delta = unit_bands.clamp(-1, 1) * limits.unsqueeze(2)
    delta_cbcr = haar_idwt2(band_delta, size=tuple(image.shape[-2:]))
    delta_cbcr = torch.maximum(torch.minimum(delta_cbcr, limits), -limits)
    delta_rgb = fit_chroma_delta_in_gamut(image, chroma_delta_to_rgb(delta_cbcr))
    return image + delta_rgb
