"""Run a perturbation function over an image of any size in overlapping, smoothly blended tiles.

Why: photos are 12 MP and more; networks and optimisers need bounded memory, and the official RID
network only accepts 512x512. Tiles overlap and their perturbations are blended with a raised-cosine
ramp on each shared edge, so there are no seams. A blend is a convex combination of the tiles'
perturbations, so each pixel stays within the L-inf budget (and pure-chroma stays pure-chroma).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from rid_desktop.engines.base import ProgressFn

DeltaFn = Callable[[torch.Tensor], torch.Tensor]
"""(N, 3, t, t) image tiles in [0, 1] -> (N, 3, t, t) perturbations."""


def tile_starts(length: int, tile: int, overlap: int, align: int = 1) -> list[int]:
    """Start offsets covering [0, length) with tiles of ``tile`` overlapping by >= ``overlap``.

    Offsets are multiples of ``align`` (2 keeps Haar blocks aligned between neighbours) except the
    last one, which is flush with the end.
    """
    if length <= tile:
        return [0]
    stride = max(align, (tile - overlap) // align * align)
    n = math.ceil((length - tile) / stride) + 1
    return sorted({*(i * stride for i in range(n - 1)), length - tile})


def _ramp(length: int, overlap: int, ramp_start: bool, ramp_end: bool, device, dtype) -> torch.Tensor:
    w = torch.ones(length, device=device, dtype=dtype)
    if overlap > 0:
        r = 0.5 - 0.5 * torch.cos(torch.linspace(0, math.pi, overlap + 2, device=device, dtype=dtype)[1:-1])
        if ramp_start:
            w[:overlap] = r
        if ramp_end:
            w[-overlap:] = r.flip(0)
    return w


def tiled_delta(
    fn: DeltaFn,
    image: torch.Tensor,
    *,
    tile: int,
    overlap: int = 64,
    batch: int = 4,
    fixed_size: bool = False,
    align: int = 2,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Perturbation for the whole image, computed tile by tile.

    Args:
        fn: perturbation of a batch of tiles.
        image: (1, 3, H, W) in [0, 1].
        tile: tile side in pixels.
        overlap: pixels shared by neighbouring tiles, blended with a cosine ramp.
        batch: tiles per call of ``fn`` (speed vs memory).
        fixed_size: ``fn`` only accepts tile x tile inputs (official RID): smaller images and edge
            tiles are reflect-padded and cropped back.
        align: tile offsets are multiples of this (2 for the Haar-DWT engines).
        progress: called with (tiles done, tiles total); may raise Cancelled.

    Returns:
        (1, 3, H, W) perturbation.
    """
    if image.shape[0] != 1:
        return torch.cat([tiled_delta(fn, im[None], tile=tile, overlap=overlap, batch=batch,
                                      fixed_size=fixed_size, align=align, progress=progress) for im in image])
    _, _, h, w = image.shape
    if h <= tile and w <= tile and not fixed_size:
        out = fn(image)
        if progress:
            progress(1, 1)
        return out
    if fixed_size and (h < tile or w < tile):
        ph, pw = max(0, tile - h), max(0, tile - w)
        mode = "reflect" if ph < h and pw < w else "replicate"
        padded = F.pad(image, (0, pw, 0, ph), mode=mode)
        return tiled_delta(fn, padded, tile=tile, overlap=overlap, batch=batch, fixed_size=True,
                           align=align, progress=progress)[..., :h, :w]

    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap, align), tile_starts(w, tw, overlap, align)
    boxes = [(y, x) for y in ys for x in xs]
    acc = torch.zeros_like(image)
    weight = torch.zeros_like(image[:, :1])
    done = 0
    for i in range(0, len(boxes), batch):
        chunk = boxes[i : i + batch]
        tiles = torch.cat([image[..., y : y + th, x : x + tw] for y, x in chunk])
        deltas = fn(tiles)
        for (y, x), d in zip(chunk, deltas):
            oy = _overlap_with_neighbour(y, ys, th)
            ox = _overlap_with_neighbour(x, xs, tw)
            wy = _ramp_two(th, oy, y != ys[0], y != ys[-1], image.device, image.dtype)
            wx = _ramp_two(tw, ox, x != xs[0], x != xs[-1], image.device, image.dtype)
            win = (wy[:, None] * wx[None, :])[None, None]
            acc[..., y : y + th, x : x + tw] += d[None] * win
            weight[..., y : y + th, x : x + tw] += win
        done += len(chunk)
        if progress:
            progress(done, len(boxes))
    return acc.div_(weight.clamp_min_(1e-8))  # in place: a full-size copy less at 12 MP


def _overlap_with_neighbour(start: int, starts: list[int], size: int) -> tuple[int, int]:
    """(overlap with previous tile, overlap with next tile) in pixels."""
    i = starts.index(start)
    before = starts[i - 1] + size - start if i > 0 else 0
    after = start + size - starts[i + 1] if i + 1 < len(starts) else 0
    return max(0, before), max(0, after)


def _ramp_two(length: int, overlaps: tuple[int, int], ramp_start: bool, ramp_end: bool, device, dtype) -> torch.Tensor:
    """Window that rises over the overlap with the previous tile and falls over the next one."""
    w = torch.ones(length, device=device, dtype=dtype)
    before, after = overlaps
    if ramp_start and before > 0:
        w[:before] = _ramp(before, before, True, False, device, dtype)
    if ramp_end and after > 0:
        w[-after:] = torch.minimum(w[-after:], _ramp(after, after, False, True, device, dtype))
    return w
