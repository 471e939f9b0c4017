"""Test inputs: photo-like images of any size (written as JPEG) and real evaluation photos.

Speed does not depend on content, but JPEG decode/encode time and file size do, so big test photos
are upscaled real photos with sensor-like grain rather than flat colour. Everything is seeded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RID_DESKTOP_SHARED", REPO.parent / "shared"))
EVAL_DIR = SHARED / "data" / "eval"
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png"}


def eval_photos() -> list[Path]:
    """Photos in ../shared/data/eval (empty list when that folder is absent, e.g. a user's clone)."""
    if not EVAL_DIR.is_dir():
        return []
    return sorted(p for p in EVAL_DIR.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like (H, W, 3) uint8 image: an evaluation photo resized to (H, W) plus grain."""
    photos = [p for p in eval_photos() if min(Image.open(p).size) >= 300]
    rng = np.random.default_rng(seed)
    if photos:
        with Image.open(photos[seed % len(photos)]) as im:
            base = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BICUBIC), np.float32) / 255
    else:
        from rid_desktop.demo_images import synthetic_rgb

        base = synthetic_rgb(height, width, seed, checker=37, noise=0.02).astype(np.float32) / 255
    grain = rng.normal(0, 0.015, (height, width, 1)).astype(np.float32)
    return (np.clip(base + grain, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_jpeg(rgb: np.ndarray, path: Path, quality: int = 92) -> Path:
    """Save (H, W, 3) uint8 as a JPEG (as a camera would: 4:2:0, given quality)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, format="JPEG", quality=quality)
    return path


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.array(rgb, copy=True)).permute(2, 0, 1)[None].float().div(255).contiguous()


def protection_images(count: int, size: int = 512) -> list[torch.Tensor]:
    """``count`` real photos as (1, 3, size, size) tensors (centre crop + resize), for protection scores.

    Falls back to photo-like synthetic images when ../shared is absent (the report says which).
    """
    photos = [p for p in eval_photos() if min(Image.open(p).size) >= size // 2]
    # Spread the picks over the folder (faces from several sets, then other photos).
    picks = [photos[round(i * len(photos) / count) % len(photos)] for i in range(count)] if photos else []
    images = []
    for i in range(count):
        if picks:
            with Image.open(picks[i]) as im:
                im = im.convert("RGB")
                side = min(im.size)
                left, top = (im.width - side) // 2, (im.height - side) // 2
                crop = im.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
                images.append(to_tensor(np.asarray(crop)))
        else:
            images.append(to_tensor(photo_like(size, size, seed=100 + i)))
    return images


def protection_source() -> str:
    return f"{EVAL_DIR}" if eval_photos() else "synthetic photo-like images (../shared/data/eval not found)"
