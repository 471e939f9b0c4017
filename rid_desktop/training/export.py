"""Save/load our generators as safetensors, with their config in the file's metadata."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save
from torch import nn

from rid_desktop.engines.generator_net import GeneratorConfig
from rid_desktop.io.writer import atomic_write_bytes


def save_generator(net: nn.Module, config: GeneratorConfig, path: str | Path, extra: dict[str, str] | None = None) -> None:
    """Write weights + config atomically (a crash mid-save leaves the previous checkpoint, never half a file)."""
    meta = config.to_metadata() | (extra or {})
    data = save({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, metadata=meta)
    atomic_write_bytes(Path(path), data)
