"""The RID generator engine: ``x' = clip(x + G(x))`` in one forward pass — real time.

Default network: our compact pixel generator shipped in ``checkpoints/`` (see its model card).
Given ``model_path`` to an official RID checkpoint (DiT backbone, 512x512), it runs that instead,
tiled at 512 (overlaps stitched, see :mod:`rid_desktop.engines.tiling`) so any photo size works.
"""

from __future__ import annotations

import contextlib

import torch

from rid_desktop.engines.base import ProgressFn, add_bounded_delta, check_image_tensor, register_engine
from rid_desktop.engines.generator_loading import (
    DEFAULT_PIXEL_MODEL,
    GENERATOR_TILE,
    GENERATOR_TILE_OVERLAP,
    load_generator,
    tile_alignment,
    to_device,
)
from rid_desktop.engines.tiling import tiled_delta


def autocast_for(device: torch.device):
    """bf16 autocast on CUDA (generators are tanh-bounded, so reduced precision is safe); none on CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@register_engine(
    "rid",
    "RID generator (fast)",
    "A trained network adds a bounded perturbation in one pass: real time on a laptop CPU.",
)
class RIDEngine:
    """Feed-forward generator engine (our compact default or an official RID checkpoint)."""

    name = "rid"

    def __init__(self, device: torch.device = torch.device("cpu"), model_path=None, tile: int = GENERATOR_TILE,
                 overlap: int = GENERATOR_TILE_OVERLAP, tile_batch: int = 2, **_ignored):
        self.device = torch.device(device)
        self.net = to_device(load_generator(model_path, DEFAULT_PIXEL_MODEL), self.device)
        self.official = not hasattr(self.net, "config")
        self.model_note = getattr(self.net, "weights_note", None)  # which part of a training checkpoint ran
        if self.official:
            from rid_desktop.engines.rid_dit import OFFICIAL_INPUT_SIZE

            tile, overlap = OFFICIAL_INPUT_SIZE, 64
        self.tile, self.overlap, self.tile_batch = tile, overlap, tile_batch
        self.align = tile_alignment(self.net)

    def protect(self, image: torch.Tensor, eps: float, *, seed: int = 0, progress: ProgressFn | None = None) -> torch.Tensor:
        check_image_tensor(image)
        x = image.to(self.device, torch.float32)

        def delta_fn(tiles: torch.Tensor) -> torch.Tensor:
            with autocast_for(self.device):
                out = self.net(tiles, eps)
            return out.float()

        with torch.inference_mode():
            delta = tiled_delta(delta_fn, x, tile=self.tile, overlap=self.overlap, batch=self.tile_batch,
                                fixed_size=self.official, align=self.align, progress=progress)
            return add_bounded_delta(x, delta, eps).to(image.device, image.dtype)
