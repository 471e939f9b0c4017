"""Iterative (PGD) mode: ensembles of encoders, its knobs, expectation over JPEG/resize, tiling, determinism.

Uses tiny random convolutional encoders so every case runs in well under a second; the TAEF2
surrogate case ("well beyond random noise") is in test_engines.py.
"""

import math
import random

import pytest
import torch
from torch import nn

from rid_desktop.engines import create_engine
from rid_desktop.engines.chroma_ops import image_subbands
from rid_desktop.engines.iterative import pgd_attack
from rid_desktop.engines.objectives import Augmentation, SurrogateObjective, sample_augmentation
from rid_desktop.engines.wavelets import CB_LIMIT, CR_LIMIT, rgb_to_ycbcr

EPS = 8 / 255


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_encoder(seed: int) -> nn.Module:
    """(B,3,H,W) -> (B,8,H/4,W/4): a stand-in latent encoder, frozen like the real surrogate."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.Tanh(), nn.Conv2d(16, 8, 3, stride=2, padding=1))
    return net.eval().requires_grad_(False)


def image(h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    smooth = torch.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * xx * yy])[None]
    return (smooth + 0.03 * torch.randn(1, 3, h, w, generator=g)).clamp(0, 1)


def distortion(encoder, protected, x):
    with torch.no_grad():
        return float((encoder(protected) - encoder(x)).pow(2).mean())


def sign_noise(x, eps=EPS, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (x + eps * (torch.randint(0, 2, x.shape, generator=g).float() * 2 - 1)).clamp(0, 1)


def test_objective_of_an_ensemble_is_the_sum_over_its_encoders():
    a, b = tiny_encoder(1), tiny_encoder(2)
    x, y = image(seed=0), sign_noise(image(seed=0))
    both = SurrogateObjective([a, b])
    alone_a, alone_b = SurrogateObjective([a]), SurrogateObjective([b])
    total = both(y, both.reference(x))
    assert total.shape == (1,)
    assert torch.allclose(total, alone_a(y, alone_a.reference(x)) + alone_b(y, alone_b.reference(x)))
    with pytest.raises(ValueError):
        SurrogateObjective([])


def test_ensemble_pgd_attacks_every_encoder_beyond_noise():
    a, b = tiny_encoder(1), tiny_encoder(2)
    x = image()
    engine = create_engine("iterative", encoders=[a, b], steps=8, robust=False)
    assert engine.objective.encoders == [a, b]
    protected = engine.protect(x, EPS, seed=0)
    noise = sign_noise(x)
    assert (protected - x).abs().max() <= EPS + 1e-6
    for enc in (a, b):
        assert distortion(enc, protected, x) > 2 * distortion(enc, noise, x)


def test_iterative_is_deterministic_for_a_seed_and_varies_with_it():
    enc = tiny_encoder(3)
    x = image(20, 28)
    engine = create_engine("iterative", encoders=[enc], steps=4, robust=True)
    first = engine.protect(x, EPS, seed=5)
    assert torch.equal(first, engine.protect(x, EPS, seed=5))
    assert not torch.equal(first, engine.protect(x, EPS, seed=6))


def test_steps_step_size_and_random_start_are_honoured():
    enc = tiny_encoder(4)
    objective = SurrogateObjective([enc])
    x = image()
    inside = (x > EPS) & (x < 1 - EPS)  # pixels that [0, 1] clipping cannot touch
    near = pgd_attack(x, objective, EPS, steps=0, random_start=False, seed=1)
    started = pgd_attack(x, objective, EPS, steps=0, random_start=True, seed=1)
    assert (near - x).abs().max() <= 0.01 * EPS + 1e-7  # no random start: (almost) at the image
    assert (started - x).abs().max() > 0.9 * EPS  # random start: anywhere in the box
    calls = []
    one = pgd_attack(x, objective, EPS, steps=1, step_size=0.25, random_start=False,
                     progress=lambda d, t: calls.append((d, t)))
    # one signed step of 0.25 * eps: every pixel moves by 0.25 * eps (+- the 1 % start)
    moved = (one - x).abs()[inside]
    assert moved.min() >= 0.24 * EPS - 1e-7 and moved.max() <= 0.26 * EPS + 1e-7
    assert calls == [(1, 1)]
    more = pgd_attack(x, objective, EPS, steps=10, random_start=False)
    assert distortion(enc, more, x) > 2 * distortion(enc, one, x)
    assert distortion(enc, more, x) > 2 * distortion(enc, sign_noise(x), x)
    with pytest.raises(ValueError):
        pgd_attack(x, objective, EPS, steps=-1)


def test_expectation_over_transformation_samples_jpeg_and_resize_and_differentiates_through_them():
    rng = random.Random(0)
    kinds = {sample_augmentation(rng).kind for _ in range(200)}
    assert kinds == {"none", "jpeg", "resize"}
    x = image(17, 33).requires_grad_(True)
    for aug in (Augmentation("jpeg", quality=70), Augmentation("resize", scale=0.6)):
        out = aug(x)
        assert out.shape == x.shape
        (grad,) = torch.autograd.grad(out.sum(), x)
        assert grad.abs().sum() > 0
    tiny = torch.rand(1, 3, 1, 1)
    assert Augmentation("resize", scale=0.5)(tiny).shape == tiny.shape  # rounds to >= 1 px, not 0


def test_robust_pgd_calls_the_objective_through_the_washes():
    enc = tiny_encoder(5)
    objective = SurrogateObjective([enc])
    seen = []
    original_call = SurrogateObjective.__call__

    class Recording(SurrogateObjective):
        def __call__(self, protected, references, augmentation=None):
            seen.append(augmentation.kind if augmentation else "none")
            return original_call(self, protected, references, augmentation)

    recording = Recording(objective.encoders)
    x = image()
    protected = pgd_attack(x, recording, EPS, steps=30, robust=True, seed=0)
    assert {"jpeg", "resize"} <= set(seen)
    assert (protected - x).abs().max() <= EPS + 1e-6
    seen.clear()
    pgd_attack(x, recording, EPS, steps=10, robust=False, seed=0)
    assert set(seen) == {"none"}


def test_large_images_are_optimised_tile_by_tile_within_budget():
    enc = tiny_encoder(6)
    x = image(40, 70)
    progress = []
    engine = create_engine("iterative", encoders=[enc], steps=3, robust=False, tile=32, overlap=8)
    protected = engine.protect(x, EPS, seed=0, progress=lambda d, t: progress.append((d, t)))
    assert protected.shape == x.shape
    assert (protected - x).abs().max() <= EPS + 1e-6
    total = progress[-1][1]
    assert total > 3 and progress[-1] == (total, total)  # several tiles x 3 steps, reported to the end
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)


def test_iterative_chroma_only_moves_cb_cr_sub_bands():
    enc = tiny_encoder(7)
    x = image(24, 30)
    engine = create_engine("iterative-chroma", encoders=[enc], steps=4, robust=False)
    assert engine.name == "iterative-chroma"
    protected = engine.protect(x, EPS, seed=0)
    assert (protected - x).abs().max() <= EPS + 1e-6
    bands_in, bands_out = image_subbands(x), image_subbands(protected)
    change = (bands_out - bands_in).abs()
    assert change[:, 0].max() < 1e-4  # every luma sub-band untouched (float32 BT.601 round-off)
    assert change[:, 1:].max() > 0.2 * EPS
    assert (rgb_to_ycbcr(protected)[:, 1] - rgb_to_ycbcr(x)[:, 1]).abs().max() <= CB_LIMIT * EPS + 1e-4
    assert (rgb_to_ycbcr(protected)[:, 2] - rgb_to_ycbcr(x)[:, 2]).abs().max() <= CR_LIMIT * EPS + 1e-4


def test_an_rms_cap_keeps_every_step_at_the_generators_visibility():
    """``rms_cap`` bounds the change's energy after every step (a PSNR floor), not only its L-inf."""
    enc = tiny_encoder(6)
    objective = SurrogateObjective([enc])
    x = image(24, 24)

    def rms(y):
        return float((y - x).pow(2).mean().sqrt())

    free = pgd_attack(x, objective, EPS, steps=6, random_start=True, seed=2)
    capped = pgd_attack(x, objective, EPS, steps=6, random_start=True, seed=2, rms_cap=0.55)
    assert rms(free) > 0.7 * EPS  # sign steps fill the box
    assert rms(capped) <= 0.55 * EPS + 1e-6
    assert (capped - x).abs().max() <= EPS + 1e-6
    assert distortion(enc, capped, x) > 2 * distortion(enc, sign_noise(x), x)


def test_refined_keeps_its_own_cap_when_the_generator_is_less_visible(monkeypatch):
    """A default generator shipped at a lower rms cap must not make "Strong" weaker."""
    import copy

    from rid_desktop.engines import rid
    from rid_desktop.engines.iterative import STRONG_RMS_CAP

    quiet = copy.deepcopy(rid.load_generator(None, rid.DEFAULT_PIXEL_MODEL))
    quiet.config.rms_cap = 0.3
    monkeypatch.setattr(rid, "load_generator", lambda *args: quiet)
    refined = create_engine("refined", encoders=[tiny_encoder(7)])
    assert refined.generator.net.config.rms_cap == 0.3 and refined.rms_cap == STRONG_RMS_CAP


def test_refined_engine_refines_the_generators_change_within_its_rms_cap():
    """``refined`` = the keyed generator's change + a few PGD steps, at its own 35 dB cap whatever the
    generator's (a less visible default must not weaken "Strong")."""
    from rid_desktop.engines.iterative import STRONG_RMS_CAP

    enc = tiny_encoder(7)
    x = image(40, 48, seed=3)
    refined = create_engine("refined", encoders=[enc])
    generator = refined.generator
    cap = STRONG_RMS_CAP
    assert refined.steps == 4 and refined.rms_cap == cap and -20 * math.log10(cap * EPS) >= 35.0
    start = generator.protect(x, EPS, seed=9)
    y = refined.protect(x, EPS, seed=9)
    assert (y - x).abs().max() <= EPS + 1e-6
    assert float((y - x).pow(2).mean().sqrt()) <= cap * EPS * 1.02  # bicubic back to native size: ~equal
    assert distortion(enc, y, x) > 1.5 * distortion(enc, start, x)
    assert not torch.equal(y, refined.protect(x, EPS, seed=10))  # keyed like the generator it starts from
