""""Both": the pixel generator's perturbation plus the chroma generator's, projected to the budget."""

from __future__ import annotations

import torch

from rid_desktop.engines.base import ProgressFn, check_image_tensor, project_linf, register_engine, resolve_seed
from rid_desktop.engines.dwt_chroma import DWTChromaEngine
from rid_desktop.engines.rid import RIDEngine


@register_engine(
    "both",
    "RID + DWT chroma",
    "Runs both generators; their perturbations add up within one budget.",
)
class CombinedEngine:
    name = "both"

    def __init__(self, device: torch.device = torch.device("cpu"), model_path=None, chroma_model_path=None,
                 tile: int = 1024, overlap: int = 64, tile_batch: int = 2):
        self.device = torch.device(device)
        self.pixel = RIDEngine(self.device, model_path, tile, overlap, tile_batch)
        self.chroma = DWTChromaEngine(self.device, chroma_model_path, tile, overlap, tile_batch)

    def protect(self, image: torch.Tensor, eps: float, *, seed: int | None = None,
                progress: ProgressFn | None = None) -> torch.Tensor:
        check_image_tensor(image)
        seed = resolve_seed(seed)

        def half(offset: int):
            return None if progress is None else (lambda d, t: progress(offset * t + d, 2 * t))

        first = self.pixel.protect(image, eps, seed=seed, progress=half(0))
        second = self.chroma.protect(first, eps, seed=seed + 1, progress=half(1))
        return project_linf(image, second, eps)
