"""The generators we ship in checkpoints/ do what their model cards claim, on real photos.

Smaller than the card's evaluation (a few 192 px crops, no PGD) so it runs in seconds, with margins
below the card's means: it catches a checkpoint that was swapped, untrained or broken by a code
change, not a few percent of drift.
"""

from __future__ import annotations

import pytest
import torch

from rid_desktop.engines import create_engine
from rid_desktop.engines.baselines import random_chroma_noise, random_sign_noise
from rid_desktop.engines.objectives import SurrogateObjective
from rid_desktop.engines.wavelets import rgb_to_ycbcr
from rid_desktop.models.surrogates import load_encoder
from rid_desktop.training.data import center_crops
from rid_desktop.training.evaluate import quantize

pytestmark = pytest.mark.usefixtures("one_torch_thread")
EPS = 8 / 255


@pytest.fixture
def photos(eval_images):
    """Six 192 px centre crops of the real evaluation photos (faces and scenes)."""
    return center_crops(eval_images[0].parent, 192, limit=6)


def _ratio(objective: SurrogateObjective, photos: torch.Tensor, protected: torch.Tensor, noise: torch.Tensor) -> float:
    refs = objective.reference(photos)
    with torch.no_grad():
        return (objective(quantize(protected), refs) / objective(quantize(noise), refs)).mean().item()


def test_default_pixel_generator_beats_noise_within_the_psnr_floor(photos, shared_models):
    protected = create_engine("rid").protect(photos, EPS)
    mse = (protected - photos).pow(2).flatten(1).mean(1)
    psnr = 10 * torch.log10(1 / mse)
    assert psnr.min() >= 35.0  # the rms cap: >= 35 dB at 8/255 by construction
    assert (protected - photos).abs().max() <= EPS + 1e-6
    noise = random_sign_noise(photos, EPS, torch.Generator().manual_seed(0))
    ratio = _ratio(SurrogateObjective([load_encoder()]), photos, protected, noise)
    assert ratio > 2.5, f"default generator only {ratio:.2f}x random noise (card: 3.19x on 33 photos)"


def test_chroma_generator_beats_chroma_noise_and_keeps_luma(photos, shared_models):
    protected = create_engine("dwt-chroma").protect(photos, EPS)
    luma_change = (rgb_to_ycbcr(protected)[:, 0] - rgb_to_ycbcr(photos)[:, 0]).abs().max()
    assert luma_change <= 1 / 255
    noise = random_chroma_noise(photos, EPS, torch.Generator().manual_seed(0))
    ratio = _ratio(SurrogateObjective([load_encoder()]), photos, protected, noise)
    assert ratio > 2.5, f"chroma generator only {ratio:.2f}x chroma noise (card: 3.98x on 33 photos)"


def test_one_network_serves_every_preset(photos, shared_models):
    """Budget-conditioned: a larger budget gives a larger change and more protection."""
    engine = create_engine("rid")
    objective = SurrogateObjective([load_encoder()])
    refs = objective.reference(photos)
    scores = []
    for eps in (4 / 255, 8 / 255, 12 / 255):
        protected = engine.protect(photos, eps)
        assert (protected - photos).abs().max() <= eps + 1e-6
        with torch.no_grad():
            scores.append(objective(quantize(protected), refs).mean().item())
    assert scores[0] < scores[1] < scores[2]
