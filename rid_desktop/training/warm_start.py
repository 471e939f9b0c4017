"""Start training from a trained generator, even into a wider one, without losing what it learned.

Why: on two CPU cores a generator needs ~40 minutes to learn its first 2x of protection; growing a
trained one (wider trunk, an added universal pattern) keeps that progress instead of starting over.

The copy is *function-preserving* (net2net style): every weight the source has is copied into the
matching corner of the bigger tensor; weights that lead *from* a new channel *into* an old one are
zeroed (so the new channels cannot change the output yet), while weights *into* new channels keep
their random initialisation (so the new channels carry signal and get gradients from the start).
Parameters the source lacks (e.g. the universal pattern) keep their own initialisation, which for
those is zero.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError
from rid_desktop.models.loading import load_state_dict


def grow_tensor(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``source`` embedded in a copy of ``target`` (each dim of source <= target's).

    Conv weights are (out, in, k, k): rows for new outputs stay as initialised, columns from new
    inputs into old outputs become zero. Biases and 1-d tensors: old part copied, new part kept.
    """
    if source.dim() != target.dim() or any(s > t for s, t in zip(source.shape, target.shape)):
        raise ModelError(f"cannot grow a tensor of shape {tuple(source.shape)} into {tuple(target.shape)} "
                         "(--init needs a generator no wider than the one being trained)")
    out = target.detach().clone()
    if source.dim() >= 2:
        old_out, old_in = source.shape[:2]
        out[:old_out, old_in:] = 0
    out[tuple(slice(0, s) for s in source.shape)] = source.to(out)
    return out


def warm_start(net: nn.Module, path: str | Path, drop: tuple[str, ...] = ()) -> list[str]:
    """Load the generator weights at ``path`` into ``net`` (same or wider); returns the names it grew.

    ``drop`` names source weights to leave behind on purpose (a keyed generator drops the universal
    pattern: a pattern shared by every photo is what the subtraction attack and a viewer pick up).

    Raises ModelError (a one-line message in the CLI) when the file does not fit ``net``.
    """
    source = {k: v for k, v in load_state_dict(Path(path)).items() if k not in drop}
    target = net.state_dict()
    unknown = sorted(set(source) - set(target))
    if unknown:
        raise ModelError(f"{Path(path).name} has weights this generator lacks ({', '.join(unknown[:5])}): "
                         "match its --width/--depth/--pattern or larger")
    grown, merged = [], {}
    for name, tensor in target.items():
        if name not in source:
            merged[name] = tensor
            continue
        merged[name] = grow_tensor(source[name], tensor)
        if source[name].shape != tensor.shape:
            grown.append(name)
    net.load_state_dict(merged)
    return grown
