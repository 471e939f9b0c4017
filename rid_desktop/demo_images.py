"""Generated photo-like images: the README demo on a clone without ../shared, the self-test's input,
the tests' synthetic photo and the benchmarks' fallback pattern all come from :func:`synthetic_rgb`.

Usage: ``python -m rid_desktop.demo_images FOLDER``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def synthetic_rgb(height: int = 96, width: int = 128, seed: int = 0, *, checker: int = 16,
                  noise: float = 0.04) -> np.ndarray:
    """A photo-like uint8 (H, W, 3) image: smooth gradients, edges and texture (not pure noise). Seeded."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / max(width, 1) * 3.1 + seed)
    g = 0.5 + 0.4 * np.cos(yy / max(height, 1) * 2.7)
    b = ((xx // checker + yy // checker) % 2) * 0.5 + 0.25
    img = np.stack([r, g, b], -1) + rng.normal(0, noise, (height, width, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def make_demo_image(height: int, width: int, seed: int) -> Image.Image:
    """A demo photo: :func:`synthetic_rgb` with a coarser checker, as a PIL image."""
    return Image.fromarray(synthetic_rgb(height, width, seed, checker=48, noise=0.03))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0] if args else "demo/input")
    folder.mkdir(parents=True, exist_ok=True)
    for i, (h, w) in enumerate([(512, 512), (768, 1024), (1200, 900)]):
        make_demo_image(h, w, i).save(folder / f"demo_{i + 1}.jpg", quality=92)
    print(f"wrote 3 demo images to {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
