"""The RID generator engine: ``x' = clip(x + G(x))`` in one forward pass — real time.

Default network: our compact pixel generator shipped in ``checkpoints/`` (see its model card). It is
*keyed* (a fresh random key per photo, so running the app again on a protected copy gives an
unrelated change that cannot be subtracted) and *scale-aware* (it runs on a copy of about 1024 px
and its change is upsampled to the native size: see :mod:`rid_desktop.engines.working_scale`).
Given ``model_path`` to an official RID checkpoint (DiT backbone, 512x512), it runs that instead,
tiled at 512 (overlaps stitched, see :mod:`rid_desktop.engines.tiling`) so any photo size works.
"""

from __future__ import annotations

import torch

import torch.nn.functional as F

from rid_desktop.engines.base import ProgressFn, add_bounded_delta, check_image_tensor, register_engine, resolve_seed
from rid_desktop.engines.generator_loading import (
    DEFAULT_PIXEL_MODEL,
    GENERATOR_TILE,
    GENERATOR_TILE_OVERLAP,
    load_generator,
    tile_alignment,
    to_device,
)
from rid_desktop.engines.generator_net import make_key
from rid_desktop.engines.keying import Frame, into_frame, out_of_frame
from rid_desktop.engines.precision import autocast_for
from rid_desktop.engines.tiling import tiled_delta
from rid_desktop.engines.working_scale import change_at_native_scale, to_working_scale


@register_engine(
    "rid",
    "RID generator (fast)",
    "A trained network adds a bounded perturbation in one pass: real time on a laptop CPU.",
)
class RIDEngine:
    """Feed-forward generator engine (our compact default or an official RID checkpoint)."""

    name = "rid"

    def __init__(self, device: torch.device = torch.device("cpu"), model_path=None, tile: int = GENERATOR_TILE,
                 overlap: int = GENERATOR_TILE_OVERLAP, tile_batch: int = 2, work_size: int | None = None):
        self.device = torch.device(device)
        self.net = to_device(load_generator(model_path, DEFAULT_PIXEL_MODEL), self.device)
        self.official = not hasattr(self.net, "config")
        self.model_note = getattr(self.net, "weights_note", None)  # which part of a training checkpoint ran
        if self.official:
            from rid_desktop.engines.rid_dit import OFFICIAL_INPUT_SIZE

            tile, overlap = OFFICIAL_INPUT_SIZE, 64
        self.tile, self.overlap, self.tile_batch = tile, overlap, tile_batch
        config = getattr(self.net, "config", None)
        self.key_channels = getattr(config, "key_channels", 0)
        self.work_size = getattr(config, "work_size", 0) if work_size is None else work_size
        self.align = tile_alignment(self.net)

    def protect(self, image: torch.Tensor, eps: float, *, seed: int | None = None,
                progress: ProgressFn | None = None) -> torch.Tensor:
        check_image_tensor(image)
        x = image.to(self.device, torch.float32)
        with torch.inference_mode():
            work = to_working_scale(x, self.work_size)
            config = getattr(self.net, "config", None)  # official checkpoints have none: no caps
            delta = change_at_native_scale(self._delta(work, eps, resolve_seed(seed), progress), tuple(x.shape[-2:]),
                                           eps, getattr(config, "rms_cap", 0.0), getattr(config, "camera_rms_cap", 0.0))
            return add_bounded_delta(x, delta, eps).to(image.device, image.dtype)

    def _delta(self, work: torch.Tensor, eps: float, seed: int, progress: ProgressFn | None) -> torch.Tensor:
        """The network's change at the working scale, tiled when the copy is still large."""
        if not self.key_channels:
            def delta_fn(tiles: torch.Tensor) -> torch.Tensor:
                with autocast_for(self.device):
                    return self.net(tiles, eps).float()

            return tiled_delta(delta_fn, work, tile=self.tile, overlap=self.overlap, batch=self.tile_batch,
                               fixed_size=self.official, align=self.align, progress=progress)
        # The key (a frame and key noise, see rid_desktop.engines.keying) is drawn for the whole image
        # and tiled with it as extra channels, so the change does not depend on where tile borders fall.
        gen = torch.Generator().manual_seed(seed)
        frame = Frame.from_generator(gen)
        key = make_key((work.shape[0], self.key_channels, *work.shape[-2:]), seed, work.device)
        c = work.shape[1]

        def keyed_fn(tiles: torch.Tensor) -> torch.Tensor:
            with autocast_for(self.device):
                out = self.net(tiles[:, :c], eps, tiles[:, c:]).float()
            return F.pad(out, (0, 0, 0, 0, 0, tiles.shape[1] - c))  # same channels as the tiles

        framed = into_frame(torch.cat([work, key], 1), frame)
        delta = tiled_delta(keyed_fn, framed, tile=self.tile, overlap=self.overlap, batch=self.tile_batch,
                            align=self.align, progress=progress)
        return out_of_frame(delta, frame)[:, :c]
