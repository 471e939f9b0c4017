"""The eye-weighted visibility measure behaves like the vision facts it encodes (issue 15).

Each test compares two changes of equal energy (same PSNR), so a measure that only counted energy
would fail all of them.
"""

import math

import torch

from rid_desktop.checks.visibility import visibility_ratio, visible_energy


def _grating(period: float, size: int = 128, colour=(1.0, 1.0, 1.0)) -> torch.Tensor:
    """A vertical sine grating of the given period (px), unit rms per channel, shape (1, 3, size, size)."""
    x = torch.arange(size, dtype=torch.float32)
    wave = torch.cos(2 * math.pi * x / period) * math.sqrt(2)
    plane = wave[None, :].expand(size, size)
    return torch.stack([plane * c for c in colour])[None]


def _flat(size: int = 128, level: float = 0.5) -> torch.Tensor:
    return torch.full((1, 3, size, size), level)


def _textured(size: int = 128) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (0.5 + 0.2 * torch.randn(1, 3, size, size, generator=g)).clamp(0, 1)


def test_a_grating_at_the_eyes_peak_is_more_visible_than_the_same_energy_at_the_finest_pitch():
    peak = _grating(10.0) * 0.01  # 4 cycles/degree at 40 px/degree
    finest = _grating(2.0) * 0.01  # 20 cycles/degree
    assert visible_energy(peak, _flat()) > 4 * visible_energy(finest, _flat())


def test_viewing_magnified_moves_a_fine_pattern_into_the_visible_band():
    finest = _grating(2.0) * 0.01
    assert visible_energy(finest, _flat(), upsample=5.0) > 4 * visible_energy(finest, _flat(), upsample=1.0)


def test_texture_masks_change():
    change = _grating(10.0) * 0.01
    assert visible_energy(change, _textured()) < 0.5 * visible_energy(change, _flat())


def test_a_colour_only_change_is_less_visible_than_a_luminance_change_of_the_same_energy():
    grey = _grating(5.0) * 0.01
    red_green = _grating(5.0, colour=(1.0, -1.0, 0.0)) * 0.01
    assert visible_energy(red_green, _flat()) < 0.5 * visible_energy(grey, _flat())


def test_sign_noise_scores_one_and_a_smaller_copy_scores_its_scale():
    image = _textured()
    eps = 8 / 255
    signs = torch.randint(0, 2, image.shape, generator=torch.Generator().manual_seed(3)).float() * 2 - 1
    noise = (image + eps * signs).clamp(0, 1) - image
    same = visibility_ratio(noise, image, eps, generator=torch.Generator().manual_seed(3))
    assert abs(same.item() - 1.0) < 1e-5
    half = visibility_ratio(noise * 0.5, image, eps, generator=torch.Generator().manual_seed(3))
    assert abs(half.item() - 0.5) < 1e-5


def test_stripes_are_coherent_and_noise_is_not():
    from rid_desktop.checks.visibility import stripe_coherence

    x = torch.arange(128, dtype=torch.float32)
    diagonal = torch.cos(2 * math.pi * (x[:, None] + x[None, :]) / 12)[None, None].expand(1, 3, 128, 128) * 0.02
    noise = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * 0.02
    assert stripe_coherence(diagonal).item() > 0.9
    assert stripe_coherence(noise).item() < 0.2


def test_a_cross_hatch_is_periodic_even_where_it_is_locally_isotropic():
    from rid_desktop.checks.visibility import spectral_peakiness, stripe_coherence

    x = torch.arange(128, dtype=torch.float32)
    hatch = (torch.cos(2 * math.pi * (x[:, None] + x[None, :]) / 12)
             + torch.cos(2 * math.pi * (x[:, None] - x[None, :]) / 12))[None, None].expand(1, 3, 128, 128) * 0.02
    noise = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(1)) * 0.02
    assert stripe_coherence(hatch).item() < 0.3  # the local measure misses it ...
    assert spectral_peakiness(hatch).item() > 0.8  # ... the spectrum does not
    assert spectral_peakiness(noise).item() < 0.1
