"""The trip a posted photo takes, as a differentiable training objective for keyed generators.

Why: a perturbation scored only as written is averaged away when a social network shrinks the photo
and re-compresses it, and when a trainer resizes it to 512 px (issue 15: 0.94x random noise after
that chain). Training therefore scores the protected crop *after* a random version of that trip —
an anti-aliased downscale by 0.7–2.2x (the engine generates at ~1024 px, attackers work at
512–1024), then differentiable JPEG q60–95 — on the latent and on an intermediate feature map of the
surrogate encoder (mid-level features transfer better to encoders we do not have).

Keyed generation adds three terms, so that the app cannot be used against itself:
* **key diversity** — two keys on one photo give different changes (cosine pushed under 0.1);
* **cross-photo** — changes of different photos are uncorrelated at the same positions (no
  universal pattern, the cross-hatch a viewer sees);
* **subtraction** — the attacker's ``x'' = clip(y - (protect(y) - y))`` must still be protected.

An optional **visibility** term (:mod:`rid_desktop.checks.visibility`) scores the written change as
the eye weighs it — contrast-sensitivity weighted, texture masked — viewed at a random 1–4x
magnification (a 1024 px working-scale change in a photo of up to 4096 px at 100 %). With the rms cap
fixing the energy, it moves that energy to where it is seen least, at a measured cost in strength.
A **coherence** term keeps it from doing so with long straight lines (which the eye picks out even
where the contrast model says they are faint: the first visibility-only run drew thin diagonal lines),
and a **peakiness** term keeps the change from being periodic at all (the coherence-trained run drew a
cross-hatch: locally isotropic, still bands across the photo).

An optional **distillation** term (as RID trains its generator) pulls the network's change towards a
per-photo target: its own change for the same key, refined by a few PGD steps through the same trip.
The target starts from the key's change, so distillation keeps the keys apart. A mean-squared pull
shrank the change (the network cannot predict the target exactly, and the rms cap only limits from
above), so ``distill_direction`` pulls on the direction alone (1 - cosine) and leaves the amplitude to
the direct objective.

The visibility term shrank the change too (PSNR crept above the cap; at weight 0.6 it collapsed to
45 dB): the cheapest way to be unseen is to write less. ``visibility_per_energy`` scores the change's
visibility per unit of energy instead (its visibility scaled to sign noise's rms), so the term can only
move the energy, never remove it, and the amplitude is left to the rms cap.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from kornia.enhance import jpeg_codec_differentiable
from torch import nn

from rid_desktop.checks.visibility import spectral_peakiness, stripe_coherence, visibility_ratio
from rid_desktop.engines.base import project_linf
from rid_desktop.engines.generator_net import cap_rms
from rid_desktop.engines.precision import run_in_bf16
from rid_desktop.engines.keying import Frame, batch_keyed_call

FEATURE_TAP = 6  # TAEF2 encoder: output of the stride-4 stage (64 ch at 1/4 resolution)


@dataclass
class Trip:
    """One random posting chain: downscale by ``factor`` (1 = none), then JPEG at ``quality`` (0 = none)."""

    factor: float = 1.0
    quality: float = 0.0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.factor != 1.0:
            h, w = x.shape[-2:]
            size = (max(32, round(h / self.factor / 16) * 16), max(32, round(w / self.factor / 16) * 16))
            x = F.interpolate(x, size=size, mode="bilinear", antialias=self.factor > 1, align_corners=False)
        if self.quality:
            q = torch.full((x.shape[0],), float(self.quality), device=x.device)
            x = jpeg_codec_differentiable(x.clamp(0, 1), q)
        return x.clamp(0, 1)


def sample_trip(rng: random.Random, none_share: float = 0.2, jpeg_share: float = 0.6) -> Trip:
    """A random trip: no resize on ``none_share`` of steps, else 0.7–2.2x; JPEG q60–95 on ``jpeg_share``."""
    factor = 1.0 if rng.random() < none_share else rng.uniform(0.7, 2.2)
    quality = rng.uniform(60, 95) if rng.random() < jpeg_share else 0.0
    return Trip(factor, quality)


def encode_with_features(encoder: nn.Sequential, x: torch.Tensor,
                         bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(mid-level features, latent) from one pass of a sequential encoder.

    ``bf16`` runs the pass in bfloat16 on channels-last tensors and returns float32: the encoder is most
    of a training step, and on a CPU with AVX-512 BF16 its forward and backward take 2.6x less time
    (measured: 12 crops of 160 px, one thread) for a loss within 0.5 % and gradients at cosine 0.99 of
    float32's. Training only; what is reported is always measured in float32.
    """
    def one_pass(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = encoder[:FEATURE_TAP](image)
        return feats, encoder[FEATURE_TAP:](feats)

    return run_in_bf16(one_pass, x) if bf16 else one_pass(x)


def pairwise_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image cosine between two batches of changes at the same positions. Shape: (B,)."""
    return F.cosine_similarity(a.flatten(1), b.flatten(1), dim=1, eps=1e-12)


def cross_photo_cosine(delta: torch.Tensor) -> torch.Tensor:
    """Cosines between the changes of different photos in a batch (off-diagonal). Shape: (B*(B-1),)."""
    flat = F.normalize(delta.flatten(1), dim=1, eps=1e-12)
    gram = flat @ flat.T
    off = ~torch.eye(len(flat), dtype=torch.bool, device=flat.device)
    return gram[off]


@dataclass
class TripWeights:
    feature: float = 0.5
    diversity: float = 2.0
    cross: float = 5.0
    subtraction: float = 0.5
    raw: float = 0.5  # keeps pre-tanh values near the bound (the straight-through gradient never stops)
    visibility: float = 0.0  # weight of log(visible energy vs sign noise); 0 = off
    view_scale_max: float = 4.0  # viewing magnification sampled log-uniformly in [1, this]
    coherence: float = 0.0  # weight of the stripe coherence of the change (long straight lines); 0 = off
    peakiness: float = 0.0  # weight of the change's energy share in its top 1 % frequencies (periodic bands)
    distill: float = 0.0  # weight of the distance to a PGD-refined target of the same key; 0 = off
    distill_steps: int = 4  # PGD steps that refine the target
    distill_direction: bool = False  # distil only the direction (1 - cosine), so the pull cannot shrink the change
    visibility_per_energy: bool = False  # score visibility per unit of energy, so the term cannot shrink the change
    encoder_bf16: bool = False  # run the surrogate encoder in bfloat16 (see encode_with_features)
    key_cos_target: float = 0.2
    cross_cos_target: float = 0.05


def trip_damage(feat: torch.Tensor, lat: torch.Tensor, ref_feat: torch.Tensor, ref_lat: torch.Tensor,
                feature_weight: float) -> torch.Tensor:
    """How much the encoder's view moved, per image (higher = more protection): log latent distance
    plus ``feature_weight`` x log distance of the mid-level features (relative to their energy)."""
    d_lat = (lat - ref_lat).pow(2).flatten(1).mean(1)
    d_feat = (feat - ref_feat).pow(2).flatten(1).mean(1) / ref_feat.pow(2).flatten(1).mean(1).clamp_min(1e-6)
    return torch.log(d_lat + 1e-6) + feature_weight * torch.log(d_feat + 1e-8)


def refine_target(encoder: nn.Sequential, x: torch.Tensor, delta: torch.Tensor, eps: torch.Tensor, trip: Trip,
                  steps: int, rms_cap: float, feature_weight: float = 0.5, bf16: bool = False) -> torch.Tensor:
    """A per-photo distillation target: ``delta`` improved by ``steps`` signed-gradient steps.

    Each step maximises the same latent + feature distance after ``trip`` as the direct objective and
    then projects back onto what the generator may write: L-inf ``eps``, the [0, 1] pixel range and
    the rms cap. Shape: x, delta (B, 3, H, W); eps (B,). Returns a detached tensor like ``delta``.
    """
    e = eps.reshape(-1, 1, 1, 1)
    with torch.no_grad():
        ref_feat, ref_lat = encode_with_features(encoder, trip(x), bf16)
    target = delta.detach().clone()
    for _ in range(steps):
        target.requires_grad_(True)
        feat, lat = encode_with_features(encoder, trip((x + target).clamp(0, 1)), bf16)
        gain = trip_damage(feat, lat, ref_feat, ref_lat, feature_weight)
        grad, = torch.autograd.grad(gain.sum(), target)
        with torch.no_grad():
            target = project_linf(x, x + target + e / 4 * grad.sign(), e) - x
            target = cap_rms(target, e, rms_cap)
    return target.detach()


def keyed_trip_loss(net: nn.Module, encoder: nn.Sequential, x: torch.Tensor, eps: torch.Tensor, trip: Trip,
                    weights: TripWeights, key_channels: int) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of one training step (lower is better) and its parts for the log.

    Shape:
        x: (B, 3, H, W) crops at the working scale in [0, 1]; eps: (B,) in [0, 1] pixel units.
    """
    b = x.shape[0]
    with torch.no_grad():
        ref_feat, ref_lat = encode_with_features(encoder, trip(x), weights.encoder_bf16)
    keys = torch.randn(3 * b, key_channels, *x.shape[-2:], device=x.device) if key_channels else None
    frames = [Frame.from_generator(torch.default_generator) for _ in range(3 * b)]
    xx = torch.cat([x, x])
    ee = torch.cat([eps, eps])
    delta = batch_keyed_call(net, xx, ee, frames[: 2 * b], keys[: 2 * b] if keys is not None else None)
    raw_penalty = net.raw_penalty
    protected = (xx + delta).clamp(0, 1)
    delta = protected - xx  # what is really written (after clipping)

    # The subtraction attack: protect the protected copy again (another key) and subtract.
    first = protected[:b]
    again = (first + batch_keyed_call(net, first, eps, frames[2 * b:],
                                      keys[2 * b:] if keys is not None else None)).clamp(0, 1)
    raw_penalty = raw_penalty + net.raw_penalty
    subtracted = (2 * first - again).clamp(0, 1)

    feat, lat = encode_with_features(encoder, trip(torch.cat([protected, subtracted])), weights.encoder_bf16)
    adv = -trip_damage(feat, lat, ref_feat.repeat(3, 1, 1, 1), ref_lat.repeat(3, 1, 1, 1), weights.feature)
    loss_adv = adv[: 2 * b].mean()
    loss_sub = adv[2 * b:].mean()

    key_cos = pairwise_cosine(delta[:b], delta[b:])
    cross_cos = cross_photo_cosine(delta[:b]) if b > 1 else delta.new_zeros(1)
    loss_div = torch.relu(key_cos - weights.key_cos_target).pow(2).mean()
    loss_cross = torch.relu(cross_cos.abs() - weights.cross_cos_target).pow(2).mean()
    loss = (loss_adv + weights.subtraction * loss_sub + weights.diversity * loss_div
            + weights.cross * loss_cross + weights.raw * raw_penalty)
    parts = {"adv": loss_adv.item(), "sub": loss_sub.item(), "key_cos": key_cos.mean().item(),
             "cross_cos": cross_cos.mean().item()}
    if weights.distill:
        target = refine_target(encoder, x, delta[:b], eps, trip, weights.distill_steps, net.config.rms_cap,
                               weights.feature, weights.encoder_bf16)
        if weights.distill_direction:
            distance = 1 - pairwise_cosine(delta[:b], target)
        else:
            distance = (delta[:b] - target).pow(2).flatten(1).mean(1) / eps.pow(2)
        loss = loss + weights.distill * distance.mean()
        parts["distill"] = distance.mean().item()
    if weights.visibility:
        view = float(torch.empty(()).uniform_(0.0, float(torch.tensor(weights.view_scale_max).log())).exp())
        vis = visibility_ratio(delta, xx, ee, upsample=view)
        parts["vis"] = vis.mean().item()
        if weights.visibility_per_energy:  # as visible as a change of sign noise's rms would be: scale-free
            vis = vis * ee / delta.pow(2).flatten(1).mean(1).sqrt().clamp_min(1e-12)
            parts["vis_per_energy"] = vis.mean().item()
        loss = loss + weights.visibility * torch.log(vis.pow(2) + 1e-8).mean()
    if weights.coherence:
        coherence = stripe_coherence(delta)
        loss = loss + weights.coherence * coherence.mean()
        parts["coh_train"] = coherence.mean().item()
    if weights.peakiness:
        peak = spectral_peakiness(delta)
        loss = loss + weights.peakiness * peak.mean()
        parts["peak_train"] = peak.mean().item()
    return loss, parts
