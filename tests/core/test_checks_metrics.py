"""Visible-change metrics: PSNR/SSIM/norms in the units the UI shows, and the heat maps."""

import math

import pytest
import torch

from rid_desktop.checks.metrics import (
    amplified_perturbation,
    compute_metrics,
    perturbation_heatmap,
    perturbation_norms_255,
    psnr_per_image,
    ssim_per_image,
)


def _image(seed=0, size=48):
    g = torch.Generator().manual_seed(seed)
    base = torch.linspace(0.2, 0.8, size).view(1, 1, 1, size).expand(2, 3, size, size)
    return (base + 0.05 * torch.randn(2, 3, size, size, generator=g)).clamp(0, 1)


def test_identical_images_have_infinite_psnr_unit_ssim_and_zero_change():
    x = _image()
    metrics = compute_metrics(x, x.clone())
    assert len(metrics) == 2
    for m in metrics:
        assert math.isinf(m.psnr_db)
        assert m.ssim == pytest.approx(1.0, abs=1e-5)
        assert m.linf_255 == 0 and m.l2_255 == 0


def test_uniform_offset_gives_textbook_psnr_and_norms_in_255ths():
    x = _image() * 0.5 + 0.25
    y = x + 2 / 255
    psnr = psnr_per_image(x, y)
    expected = 10 * math.log10(1 / (2 / 255) ** 2)
    assert psnr.tolist() == pytest.approx([expected, expected], abs=1e-3)
    linf, l2 = perturbation_norms_255(x, y)
    assert linf.tolist() == pytest.approx([2.0, 2.0], abs=1e-3)
    assert l2.tolist() == pytest.approx([2.0, 2.0], abs=1e-3)


def test_metrics_are_per_image_and_order_by_damage():
    x = _image()
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(x.shape, generator=g)
    y = x.clone()
    y[0] = (x[0] + 2 / 255 * noise[0]).clamp(0, 1)
    y[1] = (x[1] + 12 / 255 * noise[1]).clamp(0, 1)
    psnr = psnr_per_image(x, y)
    ssim = ssim_per_image(x, y)
    assert psnr[0] > psnr[1] + 10
    assert 1 >= ssim[0] > ssim[1] > 0


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError):
        compute_metrics(_image(size=48), _image(size=40))


def test_heatmap_is_brightest_where_the_change_is_largest():
    x = torch.full((1, 3, 16, 16), 0.5)
    y = x.clone()
    y[..., 4, 4] += 8 / 255
    y[..., 10, 10] += 2 / 255
    heat = perturbation_heatmap(x, y, scale=8 / 255)
    assert heat.shape == x.shape and heat.min() >= 0 and heat.max() <= 1
    brightness = heat.sum(1)[0]
    assert brightness[4, 4] == pytest.approx(3.0, abs=1e-4)  # full scale = white
    assert 0 < brightness[10, 10] < brightness[4, 4]
    assert brightness[0, 0] == 0


def test_amplified_perturbation_is_grey_where_nothing_changed_and_keeps_the_sign():
    x = torch.full((1, 3, 8, 8), 0.5)
    y = x.clone()
    y[0, 0, 2, 2] += 4 / 255
    y[0, 2, 5, 5] -= 4 / 255
    amp = amplified_perturbation(x, y, gain=10)
    assert amp[0, 1].allclose(torch.full((8, 8), 0.5))
    assert amp[0, 0, 2, 2] > 0.6 and amp[0, 2, 5, 5] < 0.4
