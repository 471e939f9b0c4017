"""The one-photo preview: the photo at about 1 MP, its protected version, the metrics and a heat map.

Computed here, Qt-free, so the GUI's preview pane and the benchmark ("what moving the strength
slider costs") run the same code; the GUI only turns the tensors into pictures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rid_desktop.checks.metrics import ImageMetrics, compute_metrics, perturbation_heatmap
from rid_desktop.engines.base import Engine

PREVIEW_PIXELS = 1_000_000


@dataclass
class Preview:
    """A protected preview. Tensors are (1, 3, h, w) in [0, 1] on the CPU."""

    original: torch.Tensor
    protected: torch.Tensor
    heat: torch.Tensor  # where the change went, amplified for the eye
    metrics: ImageMetrics
    seconds: float


def downscale_to_pixels(x: torch.Tensor, pixels: int = PREVIEW_PIXELS) -> torch.Tensor:
    """Shrink (B, 3, H, W) so H*W <= pixels (antialiased); smaller images are returned as is."""
    h, w = x.shape[-2:]
    if h * w <= pixels:
        return x
    factor = math.sqrt(pixels / (h * w))
    size = (max(1, int(h * factor)), max(1, int(w * factor)))  # floor: never above the budget
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def load_preview_image(path: Path, pixels: int = PREVIEW_PIXELS) -> tuple[torch.Tensor, tuple[int, int]]:
    """The photo decoded as the batch decodes it, downscaled to about ``pixels``; and its (H, W) on disk."""
    from rid_desktop.io import load_image, to_tensor

    full = to_tensor(load_image(path)).float()
    if full.ndim == 3:
        full = full[None]
    return downscale_to_pixels(full, pixels), (int(full.shape[-2]), int(full.shape[-1]))


def compute_preview(original: torch.Tensor, engine: Engine, eps: float, *, seed: int = 0,
                    progress=None) -> Preview:
    """Protect ``original`` (already preview-sized) with ``engine`` and measure the change.

    ``progress(done, total)`` is passed to the engine (it may raise Cancelled to stop within a tile).
    """
    start = time.perf_counter()
    with torch.no_grad():  # not inference_mode: iterative engines turn gradients back on inside
        protected = engine.protect(original, eps, seed=seed, progress=progress)
    protected = protected.detach().float().cpu()
    original = original.detach().float().cpu()
    metrics = compute_metrics(original, protected)[0]
    heat = perturbation_heatmap(original, protected, scale=eps)
    return Preview(original, protected, heat, metrics, time.perf_counter() - start)
