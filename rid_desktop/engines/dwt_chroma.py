"""The DWT-chrominance engine: perturb only Cb/Cr Haar sub-bands, where the eye is least sensitive.

A compact generator reads the sub-band mosaic of Y/Cb/Cr and writes a bounded Cb/Cr sub-band
perturbation (see :mod:`rid_desktop.engines.chroma_ops` for the bounds); luma is untouched apart
from the final 8-bit rounding. The iterative variant lives in :mod:`rid_desktop.engines.iterative`
(``space="dwt"``).
"""

from __future__ import annotations

import torch

from rid_desktop.engines.base import ProgressFn, check_image_tensor, register_engine, resolve_seed
from rid_desktop.engines.chroma_ops import apply_chroma_bands, image_subbands
from rid_desktop.engines.generator_loading import (
    DEFAULT_CHROMA_MODEL,
    GENERATOR_TILE,
    GENERATOR_TILE_OVERLAP,
    load_generator,
    tile_alignment,
    to_device,
)
from rid_desktop.engines.keying import Frame, into_frame, out_of_frame
from rid_desktop.engines.precision import autocast_for
from rid_desktop.engines.tiling import tiled_delta
from rid_desktop.engines.working_scale import to_native_scale, to_working_scale

CHROMA_WORK_SIZE = 1024
"""Long side at which the chroma generator runs when its file names none (see working_scale)."""


@register_engine(
    "dwt-chroma",
    "DWT chroma (least visible)",
    "Changes only colour (Cb/Cr) in the wavelet domain: brightness is untouched, so it is very hard to see.",
)
class DWTChromaEngine:
    name = "dwt-chroma"

    def __init__(self, device: torch.device = torch.device("cpu"), chroma_model_path=None, tile: int = GENERATOR_TILE,
                 overlap: int = GENERATOR_TILE_OVERLAP, tile_batch: int = 2, work_size: int | None = None,
                 keyed: bool = True):
        self.device = torch.device(device)
        self.net = to_device(load_generator(chroma_model_path, DEFAULT_CHROMA_MODEL), self.device)
        self.tile, self.overlap, self.tile_batch = tile, overlap, tile_batch
        self.align = tile_alignment(self.net)  # a multiple of 2: Haar blocks never straddle two tiles
        configured = getattr(getattr(self.net, "config", None), "work_size", 0)
        self.work_size = work_size if work_size is not None else (configured or CHROMA_WORK_SIZE)
        self.keyed = keyed

    def delta(self, tiles: torch.Tensor, eps: float) -> torch.Tensor:
        with autocast_for(self.device):
            unit = self.net(image_subbands(tiles), eps).float()
        return apply_chroma_bands(tiles, unit, eps) - tiles

    def protect(self, image: torch.Tensor, eps: float, *, seed: int | None = None,
                progress: ProgressFn | None = None) -> torch.Tensor:
        """Chroma change computed at the working scale in a keyed frame, upsampled bilinearly.

        Bilinear upsampling is a convex combination per channel, so the change stays pure chroma
        and inside the budget; the frame (flip/rotation and grid offset from the key) moves the
        generator's repeated pattern to a different place on every photo.
        """
        check_image_tensor(image)
        x = image.to(self.device, torch.float32)
        frame = Frame.from_generator(torch.Generator().manual_seed(resolve_seed(seed))) if self.keyed else Frame()
        with torch.inference_mode():
            work = into_frame(to_working_scale(x, self.work_size), frame)
            delta = tiled_delta(lambda t: self.delta(t, eps), work, tile=self.tile, overlap=self.overlap,
                                batch=self.tile_batch, align=self.align, progress=progress)
            delta = to_native_scale(out_of_frame(delta, frame), tuple(x.shape[-2:]), eps, smooth=False)
            return delta.add_(x).clamp_(0, 1).to(image.device, image.dtype)  # in place: no extra 12 MP copies
