"""Random noise of a given budget: the baseline every protection score is divided by.

"x times random noise" is how eval, training, the checks and the benchmarks report protection, so
they must all draw the same noise the same way; this is that one place.
"""

from __future__ import annotations

import torch

from rid_desktop.engines.chroma_ops import apply_chroma_bands

Seed = int | torch.Generator | None


def _generator(seed: Seed) -> torch.Generator | None:
    return torch.Generator().manual_seed(seed) if isinstance(seed, int) else seed


def random_signs(shape: tuple[int, ...], seed: Seed, like: torch.Tensor) -> torch.Tensor:
    """Uniform random +1/-1 of ``shape``, drawn on the CPU (same values on every device), as ``like``."""
    return torch.randint(0, 2, shape, generator=_generator(seed), device="cpu").to(like) * 2 - 1


def random_sign_noise(image: torch.Tensor, eps: float, seed: Seed = 0) -> torch.Tensor:
    """``clip(image + eps * sign(n))``: random "protection" with the same L-inf budget.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> same shape
    """
    return (image + eps * random_signs(tuple(image.shape), seed, image)).clamp(0, 1)


def random_chroma_noise(image: torch.Tensor, eps: float, seed: Seed = None) -> torch.Tensor:
    """Random-sign Cb/Cr sub-band noise of the same budget (what the chroma generator must beat)."""
    b, _, h, w = image.shape
    return apply_chroma_bands(image, random_signs((b, 2, 4, (h + 1) // 2, (w + 1) // 2), seed, image), eps)
