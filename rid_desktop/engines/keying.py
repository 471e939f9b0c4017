"""Keys: one photo, many equally strong but unrelated changes.

Why: anyone can install this app. If a second run on a protected copy ``y`` gave the same change
again, ``2y - protect(y)`` would give the original back (issue 15 measured most of the protection
removed). A key — fresh OS randomness per photo, never stored — picks one of many changes:

* a **frame**: one of the 8 flips/rotations and an offset of 0–7 px on the network's 8-px block
  grid. The network runs on the image in that frame and its change is mapped back, so any pattern
  the network tends to repeat (the universal part every photo shares, the cross-hatch a viewer
  sees) lands at a different place and orientation on every photo;
* **key noise**: standard-normal channels the keyed network reads beside the photo (trained with a
  diversity term so that different noise gives different changes).

Shape convention everywhere: (B, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

BLOCK = 8  # the generator's pixel-unshuffle block, and the stride of the VAE encoders it attacks


@dataclass(frozen=True)
class Frame:
    """A flip/rotation (0–7) and a block-grid offset (oy, ox) in [0, BLOCK)."""

    dihedral: int = 0
    oy: int = 0
    ox: int = 0

    @classmethod
    def from_generator(cls, gen: torch.Generator) -> "Frame":
        d, oy, ox = torch.randint(0, BLOCK, (3,), generator=gen).tolist()
        return cls(d, oy, ox)


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def _undihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def into_frame(x: torch.Tensor, frame: Frame) -> torch.Tensor:
    """The image as the network sees it under ``frame`` (rotated/flipped, then shifted on the grid)."""
    x = _dihedral(x, frame.dihedral)
    if frame.oy or frame.ox:
        mode = "reflect" if min(x.shape[-2:]) > BLOCK else "replicate"
        x = F.pad(x, (frame.ox, 0, frame.oy, 0), mode=mode)
    return x


def out_of_frame(delta: torch.Tensor, frame: Frame) -> torch.Tensor:
    """Inverse of :func:`into_frame` for the network's change (drops the shift padding)."""
    return _undihedral(delta[..., frame.oy:, frame.ox:], frame.dihedral)


def keyed_call(net, x: torch.Tensor, eps, frame: Frame, key: torch.Tensor | None) -> torch.Tensor:
    """``net``'s change for ``x`` under a key (frame + optional key noise, given in ``x``'s frame)."""
    framed = into_frame(x, frame)
    if key is not None:
        key = into_frame(key, frame)
        return out_of_frame(net(framed, eps, key), frame)
    return out_of_frame(net(framed, eps), frame)


def batch_keyed_call(net, x: torch.Tensor, eps: torch.Tensor, frames: list[Frame],
                     key: torch.Tensor | None) -> torch.Tensor:
    """:func:`keyed_call` with one frame per image, in one network pass (training).

    Every framed image is padded at the bottom/right to the same size (H+BLOCK, W+BLOCK) so the
    batch stays one tensor; those pixels are cut off again.
    """
    h, w = x.shape[-2:]
    stacked = torch.cat([x, key], 1) if key is not None else x
    framed = []
    for img, frame in zip(stacked, frames):
        f = into_frame(img[None], frame)
        fh, fw = f.shape[-2:]
        side = max(h, w) + BLOCK
        framed.append(F.pad(f, (0, side - fw, 0, side - fh), mode="replicate"))
    framed = torch.cat(framed)
    c = x.shape[1]
    delta = net(framed[:, :c], eps, framed[:, c:]) if key is not None else net(framed[:, :c], eps)
    out = []
    for d, frame in zip(delta, frames):
        hh, ww = (w, h) if frame.dihedral % 2 else (h, w)  # rotated by 90 or 270 degrees: sides swap
        out.append(out_of_frame(d[None, :, : hh + frame.oy, : ww + frame.ox], frame))
    return torch.cat(out)
