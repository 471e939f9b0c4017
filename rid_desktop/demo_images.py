"""Write a few generated photo-like images, for the README demo on a clone without ../shared.

Usage: ``python -m rid_desktop.demo_images FOLDER``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def make_demo_image(height: int, width: int, seed: int) -> Image.Image:
    """Smooth colour gradients, a checker pattern and mild noise: enough texture to look like a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / width * 3.1 + seed)
    g = 0.5 + 0.4 * np.cos(yy / height * 2.7)
    b = ((xx // 48 + yy // 48) % 2) * 0.4 + 0.3
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.03, (height, width, 3))
    return Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))


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
