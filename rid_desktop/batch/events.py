"""What a running batch reports: one event per step, observed by the CLI's progress bar and the GUI.

Events are plain data (no Qt): the GUI's worker just forwards them from :func:`run_batch`'s generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

EVENT_KINDS = (
    "started",
    "item_started",
    "item_done",
    "item_failed",
    "item_skipped",
    "cancelled",
    "finished",
)


@dataclass
class BatchSummary:
    """The outcome of a batch, carried by the final event."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False
    output_dirs: list[Path] = field(default_factory=list)
    unsupported: dict[str, int] = field(default_factory=dict)  # files left out, by kind: {"video": 3, ...}

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled


@dataclass
class BatchEvent:
    """One step of a batch.

    Attributes:
        kind: one of :data:`EVENT_KINDS`.
        index: 0-based position of the item in the plan (-1 for batch-level events).
        total: number of items in the plan.
        source / output: the item's paths (None for batch-level events).
        message: one line for people (the failure reason for "item_failed").
        metrics: for "item_done": psnr (dB), linf (in 255ths), seconds.
        elapsed: seconds since the batch started.
        summary: set on the final "finished" event (also after a cancel).
    """

    kind: str
    index: int = -1
    total: int = 0
    source: Path | None = None
    output: Path | None = None
    message: str = ""
    metrics: dict = field(default_factory=dict)
    elapsed: float = 0.0
    summary: BatchSummary | None = None
