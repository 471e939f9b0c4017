"""Save/load our generators as safetensors, with their config in the file's metadata."""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import save_file
from torch import nn

from rid_desktop.engines.generator_net import GeneratorConfig


def save_generator(net: nn.Module, config: GeneratorConfig, path: str | Path, extra: dict[str, str] | None = None) -> None:
    """Write weights + config atomically (temp file then rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    meta = config.to_metadata() | (extra or {})
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=meta)
    tmp.replace(path)
