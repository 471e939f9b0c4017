"""Protect at the scale an AI will see, write at the photo's own size.

Why: every DreamBooth/LoRA/img2img pipeline and every social network shrinks photos to 512–2048 px.
A perturbation written at a 12 MP photo's native pixel pitch is averaged away by that shrinking
(issue 15: 0.66x random noise after a 4000 -> 1024 px resize). Generating the change on a copy
whose long side is the generator's *working size* (~1024 px) and upsampling the change smoothly to
the native size puts the protection where the attacker's pipeline looks — and makes big photos
faster, since the network only ever sees about 1 MP.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def working_size(height: int, width: int, work_size: int) -> tuple[int, int]:
    """(h, w) of the working copy: long side ``work_size`` (never upscaled; 0 = native)."""
    long_side = max(height, width)
    if work_size <= 0 or long_side <= work_size:
        return height, width
    scale = work_size / long_side
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_working_scale(image: torch.Tensor, work_size: int) -> torch.Tensor:
    """Anti-aliased downscale of ``image`` (B, C, H, W) to the working size (itself if already small)."""
    h, w = image.shape[-2:]
    size = working_size(h, w, work_size)
    if size == (h, w):
        return image
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)


CAMERA_MAGNIFICATION = 4.0  # a 12 MP photo (~4000 px) over the ~1024 px working scale


def magnified_cap_factor(magnification: float, rms_cap: float, camera_rms_cap: float) -> float:
    """How much to scale down a working-scale change written into a photo ``magnification`` times larger.

    Why: upsampling moves a change's energy toward the frequencies the eye sees best, so at 100 % the
    same change is more visible in a 12 MP photo than in a 1024 px one, while the attacker's resize
    brings it back down. A generator may therefore store a lower cap for camera-size photos
    (``camera_rms_cap``); between 1x and ``CAMERA_MAGNIFICATION`` the factor moves geometrically from
    1 to ``camera_rms_cap / rms_cap``. Never above 1: magnification never buys a larger change.
    """
    if magnification <= 1 or rms_cap <= 0 or camera_rms_cap <= 0:
        return 1.0
    progress = min(1.0, math.log(magnification) / math.log(CAMERA_MAGNIFICATION))
    return min(1.0, camera_rms_cap / rms_cap) ** progress


def change_at_native_scale(delta: torch.Tensor, size: tuple[int, int], eps: float, rms_cap: float = 0.0,
                           camera_rms_cap: float = 0.0) -> torch.Tensor:
    """A generator's working-scale change as written into the photo of ``size``: scaled down by its
    camera-size cap for the magnification (:func:`magnified_cap_factor`), then upsampled."""
    magnification = max(size) / max(delta.shape[-2:])
    return to_native_scale(delta * magnified_cap_factor(magnification, rms_cap, camera_rms_cap), size, eps)


def to_native_scale(delta: torch.Tensor, size: tuple[int, int], eps: float, smooth: bool = True) -> torch.Tensor:
    """Upsample a working-scale change to ``size``, keeping |change| <= eps.

    ``smooth`` uses bicubic (no visible kinks at 4x) and clamps its small overshoot back into the
    budget; otherwise bilinear, a convex combination that keeps any linear property of the change
    (the chroma engine's "luma untouched") exactly.
    """
    if tuple(delta.shape[-2:]) == tuple(size):
        return delta
    mode = "bicubic" if smooth else "bilinear"
    out = F.interpolate(delta, size=size, mode=mode, align_corners=False)
    return out.clamp_(-eps, eps) if smooth else out
