"""Load weights without ever executing code from a file.

``.safetensors`` is read with :mod:`safetensors`; ``.pth``/``.pt`` only with
``torch.load(weights_only=True)``, which refuses pickled objects other than tensors and containers.

Training checkpoints often wrap the weights: ``{"model": ..., "ema": ..., "opt": ..., "epoch": ...}``
(facebookresearch/DiT, RID's own scripts) or ``{"state_dict": ...}`` (Lightning). EMA weights are the
ones people usually keep, so ``ema`` is preferred when present; ``FILE:ema`` / ``FILE:model`` (see
:func:`split_part`) picks one explicitly, and :class:`Weights` says which part was loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError

WEIGHT_PARTS = ("ema", "model")
"""Parts a user can choose with ``FILE:PART``, in the order they are preferred when not chosen."""
_WRAPPERS = (*WEIGHT_PARTS, "state_dict", "module")  # unwrapped in this order, at most twice
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
# Pickled classes that only hold plain values: naming them in a recipe to allowlist is safe.
_HARMLESS_GLOBALS = {"argparse.Namespace": "training arguments (argparse.Namespace)"}


@dataclass(frozen=True)
class Weights:
    """A plain tensor state dict and where in the file it came from.

    ``part`` is ``"ema"``, ``"model"``, ``"state_dict"`` (a nesting of those, e.g. ``"state_dict/model"``)
    or None for a file that is the state dict itself; ``parts`` lists the choosable parts the file holds.
    """

    state: dict[str, torch.Tensor]
    part: str | None
    parts: tuple[str, ...]

    def describe(self, name: str) -> str:
        """Which part was loaded, for the user: ``ema weights (the file also holds: model; ...)``."""
        if self.part is None:
            return "its only weights"
        others = [p for p in self.parts if p != self.part.split("/")[-1]]
        also = f" (the file also holds: {', '.join(others)}; choose with {name}:{others[0]})" if others else ""
        return f"{self.part} weights{also}"


def split_part(model: str) -> tuple[str, str | None]:
    """``"rid.pt:ema"`` -> ``("rid.pt", "ema")``; anything else -> ``(model, None)``.

    Only a known part name after the last colon counts, so Windows drive letters are left alone.
    """
    head, sep, tail = str(model).rpartition(":")
    if sep and head and tail in WEIGHT_PARTS:
        return head, tail
    return str(model), None


def read_weights(path: str | Path, part: str | None = None) -> Weights:
    """Read a state dict from safetensors or a weights-only PyTorch file; ModelError on anything odd.

    Args:
        path: the file.
        part: ``"ema"`` or ``"model"`` to pick that part of a training checkpoint; None prefers ``ema``.
    """
    path = Path(path)
    if part is not None and part not in WEIGHT_PARTS:
        raise ModelError(f"unknown weights part {part!r} for {path.name}: choose {' or '.join(WEIGHT_PARTS)}")
    try:
        if path.suffix == ".safetensors" or looks_like_safetensors(path):
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure here means "not a usable weights file"
        raise ModelError(f"cannot read model file {path.name}: {_why_unreadable(exc, path)}") from exc
    return unwrap_weights(state, part, path.name)


def looks_like_safetensors(path: str | Path) -> bool:
    """By content: an 8-byte little-endian header length, then a JSON object (any file suffix)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError as exc:
        raise ModelError(f"cannot read model file {Path(path).name}: {exc.strerror or exc}") from exc
    return len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < (1 << 32)


def load_state_dict(path: str | Path, part: str | None = None) -> dict[str, torch.Tensor]:
    """The tensors of :func:`read_weights` (``ema`` preferred in a training checkpoint)."""
    return read_weights(path, part).state


def load_into(module: nn.Module, path: str | Path, *, strict: bool = True) -> nn.Module:
    """Load weights into ``module`` with exact key matching; ModelError lists what does not match."""
    state = load_state_dict(path)
    try:
        module.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise ModelError(f"model file {Path(path).name} does not fit this network: {_short(exc)}") from exc
    return module


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_weights(state, part: str | None = None, name: str = "the checkpoint") -> Weights:
    """Find the tensor state dict inside a loaded checkpoint (``ema`` > ``model`` > ``state_dict``).

    Raises:
        ModelError: the asked-for part is absent, or no plain tensor state dict is found.
    """
    trail: list[str] = []
    parts: tuple[str, ...] = ()
    for _ in range(2):
        if _is_state_dict(state) or not isinstance(state, dict):
            break
        present = tuple(p for p in WEIGHT_PARTS if isinstance(state.get(p), dict))
        parts = parts or present
        if part is not None and present:
            if part not in present:
                raise ModelError(f"model file {name} has no {part!r} weights (it holds: {', '.join(present)})")
            key = part
        else:
            key = next((w for w in _WRAPPERS if isinstance(state.get(w), dict)), None)
        if key is None:
            break
        trail.append(key)
        state = state[key]
    if not _is_state_dict(state):
        raise ModelError(f"model file {name} does not contain a plain tensor state dict")
    if part is not None and part not in trail:
        raise ModelError(f"model file {name} has no {part!r} weights: it holds a single set of weights, "
                         f"use {name} without :{part}")
    return Weights(state, "/".join(trail) or None, parts)


def _why_unreadable(exc: Exception, path: Path) -> str:
    """One clean line: torch's weights-only refusal is long, multi-line and carries ANSI escapes."""
    text = _ANSI.sub("", str(exc))
    found = _UNSUPPORTED_GLOBAL.search(text)
    if not found:
        return _short(exc if not text else Exception(text))
    qualname = found.group(1)
    if qualname in _HARMLESS_GLOBALS:
        return (
            f"it is a training checkpoint that also stores pickled {_HARMLESS_GLOBALS[qualname]}, and pickled "
            "objects are refused because they can run code; extract the weights once with: python -c "
            f"\"import argparse, torch; torch.serialization.add_safe_globals([{qualname}]); "
            f"c = torch.load('{path.name}', weights_only=True); torch.save(c['ema'], '{path.stem}-ema.pt')\" "
            f"(or c['model']), then use {path.stem}-ema.pt"
        )
    return (
        f"it stores a pickled Python object ({qualname}) besides tensors, and pickled objects are refused "
        "because they can run code; if you trust the file, save just its weights (torch.save(state_dict)) "
        "or convert it to .safetensors"
    )


def _short(exc: Exception, limit: int = 300) -> str:
    text = " ".join(_ANSI.sub("", str(exc)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
