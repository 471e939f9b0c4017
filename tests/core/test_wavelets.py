"""Haar DWT matches PyWavelets, inverts exactly, and chroma maps leave luma alone."""

import numpy as np
import pytest
import pywt
import torch

from rid_desktop.engines.wavelets import (
    chroma_delta_to_rgb,
    fit_chroma_delta_in_gamut,
    haar_dwt2,
    haar_idwt2,
    rgb_to_ycbcr,
    ycbcr_to_rgb,
)


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (31, 64), (1, 5)])
def test_haar_matches_pywt(shape):
    x = torch.rand(2, 3, *shape, dtype=torch.float64)
    bands = haar_dwt2(x)
    h, w = shape
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (0, h % 2), (0, w % 2)), mode="edge")
    ca, (ch, cv, cd) = pywt.dwt2(padded, "haar", axes=(-2, -1))
    for i, ref in enumerate([ca, ch, cv, cd]):
        np.testing.assert_allclose(bands[:, :, i].numpy(), ref, atol=1e-5)


def test_haar_inverse_is_exact_and_differentiable():
    x = torch.rand(1, 2, 15, 22, dtype=torch.float64, requires_grad=True)
    y = haar_idwt2(haar_dwt2(x), size=(15, 22))
    assert torch.allclose(y, x, atol=1e-12)
    assert torch.autograd.gradcheck(lambda t: haar_idwt2(haar_dwt2(t) * 1.5, size=(15, 22)), (x[..., :6, :6].detach().requires_grad_(),))


def test_chroma_delta_keeps_luma():
    rgb = 0.2 + 0.6 * torch.rand(1, 3, 16, 16)  # away from 0/1, where kornia clamps
    delta = torch.randn(1, 2, 16, 16) * 0.02
    ycc = rgb_to_ycbcr(rgb)
    moved = ycc.clone()
    moved[:, 1:] += delta
    assert torch.allclose(ycbcr_to_rgb(moved) - rgb, chroma_delta_to_rgb(delta), atol=1e-4)
    luma_change = rgb_to_ycbcr(rgb + chroma_delta_to_rgb(delta))[:, 0] - ycc[:, 0]
    assert luma_change.abs().max() < 1e-4


def test_gamut_fit_scales_instead_of_clipping():
    rgb = torch.tensor([0.99, 0.5, 0.01]).reshape(1, 3, 1, 1)
    delta = chroma_delta_to_rgb(torch.tensor([0.05, 0.05]).reshape(1, 2, 1, 1))
    fitted = fit_chroma_delta_in_gamut(rgb, delta)
    out = rgb + fitted
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6
    # still a pure chroma direction: proportional to the original delta
    assert torch.allclose(fitted / delta, (fitted / delta)[:, :1].expand_as(delta), atol=1e-5)


def test_chroma_bands_move_only_cb_cr_sub_bands_within_their_bounds():
    from rid_desktop.engines.chroma_ops import apply_chroma_bands, chroma_limits, image_subbands

    eps = 8 / 255
    rgb = 0.3 + 0.4 * torch.rand(1, 3, 16, 20, dtype=torch.float64)  # mid-range: no gamut scaling needed
    unit = torch.rand(1, 2, 4, 8, 10, dtype=torch.float64) * 1.6 - 0.8  # inside [-1, 1]
    unit[..., 1:, :, :] *= 0.25  # small detail bands: the pixel-domain clamp never engages
    out = apply_chroma_bands(rgb, unit, eps)
    change = image_subbands(out) - image_subbands(rgb)
    assert change[:, 0].abs().max() < 1e-3 * eps  # luma: none of its 4 sub-bands moves
    limits = chroma_limits(eps, rgb).unsqueeze(2)
    # Cb/Cr sub-bands move by exactly unit * limit (kornia's BT.601 matrices agree to ~1e-3)
    assert torch.allclose(change[:, 1:], unit * limits, rtol=2e-3, atol=1e-4 * eps)
    saturated = apply_chroma_bands(rgb, torch.full_like(unit, 50.0), eps)  # out-of-range input is clamped
    assert (saturated - rgb).abs().max() <= eps + 1e-9
