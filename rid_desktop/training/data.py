"""Training images: random crops with flips and scale jitter, decoded once and kept in memory."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

TRAINABLE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}  # what Pillow opens unaided


def list_images(folder: str | Path) -> list[Path]:
    """The images under ``folder`` in the app's one walk order (io.discovery), HEIC left out."""
    from rid_desktop.io.discovery import scan_folder

    return [p for p in scan_folder(Path(folder)).images if p.suffix.lower() in TRAINABLE_SUFFIXES]


def _paths(source: str | Path | list[Path]) -> list[Path]:
    return list(source) if isinstance(source, (list, tuple)) else list_images(source)


def split_holdout(paths: list[Path], every: int) -> tuple[list[Path], list[Path]]:
    """(training, held out): every ``every``-th photo (sorted order) is held out for model selection.

    Why: choosing the best checkpoint on evaluation photos inflates the figures reported on them.
    """
    if every <= 1:
        return list(paths), []
    held = [p for i, p in enumerate(paths) if i % every == every // 2]
    return [p for p in paths if p not in set(held)], held


def load_rgb(path: Path, max_side: int | None = None) -> np.ndarray:
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if max_side and max(im.size) > max_side:
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        return np.asarray(im, dtype=np.uint8).copy()


def to_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (3, H, W) in [0, 1]."""
    return torch.from_numpy(array).permute(2, 0, 1).float().div_(255)


class CropSampler:
    """Random crops of ``crop`` px from a folder, with flips and a scale jitter of [0.6, 1.0]."""

    def __init__(self, folder: str | Path | list[Path], crop: int, seed: int = 0, max_side: int = 768):
        self.paths = _paths(folder)
        if not self.paths:
            raise FileNotFoundError(f"no training images in {folder}")
        self.images = [load_rgb(p, max_side) for p in self.paths]
        self.crop = crop
        self.rng = random.Random(seed)

    def sample(self, batch: int) -> torch.Tensor:
        out = []
        for _ in range(batch):
            img = self.images[self.rng.randrange(len(self.images))]
            h, w = img.shape[:2]
            scale = self.rng.uniform(0.6, 1.0)
            side = max(8, min(h, w, int(round(self.crop / scale))))
            top, left = self.rng.randint(0, h - side), self.rng.randint(0, w - side)
            patch = to_tensor(img[top : top + side, left : left + side])[None]
            if side != self.crop:
                patch = torch.nn.functional.interpolate(
                    patch, size=(self.crop, self.crop), mode="bilinear", antialias=True, align_corners=False
                )
            if self.rng.random() < 0.5:
                patch = patch.flip(-1)
            out.append(patch)
        return torch.cat(out).clamp_(0, 1)


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """(1, 3, H, W) -> (1, 3, size, size): short side resized to ``size``, then the centre."""
    h, w = image.shape[-2:]
    s = size / min(h, w)
    image = torch.nn.functional.interpolate(
        image, size=(max(size, round(h * s)), max(size, round(w * s))), mode="bilinear", antialias=True
    )
    h, w = image.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return image[..., top : top + size, left : left + size]


def center_crops(folder: str | Path | list[Path], size: int, limit: int | None = None) -> torch.Tensor:
    """Deterministic validation batch: one centre crop per image (resized so the short side = size)."""
    crops = [center_crop(to_tensor(load_rgb(path))[None], size) for path in _paths(folder)[:limit]]
    return torch.cat(crops).clamp_(0, 1)
