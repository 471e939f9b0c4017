"""Sizes, repeats and budgets of one benchmark run (full or ``--quick``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch


@dataclass
class BenchConfig:
    """Everything that decides how long the run takes and what it measures.

    Attributes:
        repeats: timed runs for the fast engines (the median is reported).
        slow_repeats: timed runs for the official RID architecture, PGD-20 and the full checks.
        size: side of the square "512x512" speed/protection images.
        photo_hw: (H, W) of the "12 MP" end-to-end photo.
        pgd_steps: PGD step counts compared (the last is the "100-step PGD" target).
        pgd_time_box_s: the longest PGD run is measured only if its predicted time is below this;
            otherwise it is extrapolated linearly in steps from the shorter one (and labelled so).
        batch_sizes: (small, large) image counts whose peak memory must match.
        batch_hw: (H, W) of each batch photo.
        check_size: side of the IWMF/JPEG check image.
        thumbnails: how many photos the thumbnail grid makes.
        thumb_source_hw: (H, W) of each thumbnail source JPEG.
        compile_time_box_s: the torch.compile trial is abandoned after this long.
    """

    quick: bool = False
    repeats: int = 5
    slow_repeats: int = 3
    size: int = 512
    photo_hw: tuple[int, int] = (3000, 4000)
    pgd_steps: tuple[int, ...] = (20, 100)
    pgd_time_box_s: float = 400.0
    batch_sizes: tuple[int, int] = (10, 50)
    batch_hw: tuple[int, int] = (768, 1024)
    check_size: int = 1024
    thumbnails: int = 500
    thumb_source_hw: tuple[int, int] = (3000, 4000)
    compile_time_box_s: float = 300.0
    official_arch: dict = field(default_factory=dict)  # {} = the published DiT size
    e2e_engines: tuple[str, ...] = ("rid", "rid-previous-arch", "dwt-chroma")  # measured end to end (the others extrapolated)
    skip_12mp: bool = False
    levers: bool = True
    devices: list[str] = field(default_factory=lambda: ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    workdir: Path | None = None
    eps: float = 8 / 255

    @classmethod
    def quick_config(cls, **overrides) -> "BenchConfig":
        """Tiny sizes and steps: proves the machinery works in seconds (used by the smoke test)."""
        base = dict(
            quick=True, repeats=2, slow_repeats=1, size=64, photo_hw=(192, 256), pgd_steps=(1, 2),
            e2e_engines=("rid",),
            pgd_time_box_s=60.0, batch_sizes=(2, 4), batch_hw=(96, 128), check_size=96, thumbnails=6,
            thumb_source_hw=(240, 320), compile_time_box_s=0.0,
            official_arch=dict(input_size=64, hidden_size=64, depth=1, num_heads=2),
        )
        base.update(overrides)
        return cls(**base)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["workdir"] = str(self.workdir) if self.workdir else None
        return data
