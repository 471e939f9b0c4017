"""The protected copy exactly as a batch would write it, without writing it next to the photos.

Why: a preview computed on a downscaled copy is not the output; artefacts that only appear at full
resolution (or after the writer's encoding) stay hidden. This runs the batch's own step
(:func:`rid_desktop.batch.runner._protect_one`: decode, engine at full size, L-inf projection,
:func:`save_protected`) into a temporary folder and reads the written file back, so a GUI showing
these pixels at 1:1 shows what the user will post, and metrics measured here are the file's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from rid_desktop.batch.plan import BatchItem
from rid_desktop.errors import Cancelled
from rid_desktop.io import decode_image, load_image, output_path_for, read_image_bytes, to_tensor
from rid_desktop.settings import ProtectionSettings

ProgressFn = Callable[[int, int], None]


@dataclass
class RenderedOutput:
    """Full-resolution original and written output. Tensors (1, 3, H, W) in [0, 1] on the CPU."""

    source: Path
    original: torch.Tensor
    output: torch.Tensor
    output_format: str  # suffix of the file the batch would write, e.g. ".jpg"


def render_output(
    source: Path,
    engine,
    settings: ProtectionSettings,
    *,
    progress: ProgressFn | None = None,
    cancelled: Callable[[], bool] = lambda: False,
) -> RenderedOutput:
    """Protect ``source`` at full size through the batch's write path and decode the written file.

    Args:
        progress: ``progress(done, total)`` per engine tile/step; may raise Cancelled.
        cancelled: polled before and after the engine; True raises Cancelled.

    Raises:
        UserError subclasses for unreadable photos / unwritable temp folder; Cancelled.
    """
    from rid_desktop.batch.runner import _protect_one

    def check_cancel() -> None:
        if cancelled():
            raise Cancelled()

    def report(done: int, total: int) -> None:
        check_cancel()
        if progress is not None:
            progress(done, total)

    source = Path(source)
    data = read_image_bytes(source)
    with tempfile.TemporaryDirectory(prefix="rid-output-preview-") as tmp:
        out_root = Path(tmp)
        target = output_path_for(source, source.parent, out_root, settings.output)
        item = BatchItem(source, target, source.parent, out_root)
        _protect_one(item, data, engine, settings, report, check_cancel)
        written = to_tensor(load_image(target))
    original = to_tensor(decode_image(data))
    return RenderedOutput(source, original, written, target.suffix.lower())
