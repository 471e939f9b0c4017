"""Wall-clock timing with warm-up and the median of repeats (CPU time alongside, to expose contention).

Why the median: on a shared 2-core laptop one run in five is disturbed by something else; the median
ignores it where the mean would not. Why CPU time too: when other processes compete for the cores,
wall time inflates but the CPU seconds our process actually used stay close to the idle-machine cost,
so the two together say how much of a slow figure is the machine's load.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch


@dataclass
class Timing:
    """Seconds per run (wall and process CPU), over ``repeats`` timed runs after the warm-up."""

    median_s: float
    min_s: float
    max_s: float
    cpu_median_s: float
    repeats: int
    runs_s: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return 1.0 / self.median_s if self.median_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def synchronize(device: torch.device | str | None) -> None:
    """Wait for queued GPU work, so a timer measures the computation and not its launch."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def measure(
    fn: Callable[[int], Any],
    *,
    repeats: int = 5,
    warmup: int = 1,
    device: torch.device | str | None = None,
    warmup_fn: Callable[[], Any] | None = None,
    on_result: Callable[[int, Any], None] | None = None,
) -> Timing:
    """Time ``fn(i)`` for i in range(repeats) after ``warmup`` untimed calls.

    Args:
        fn: the work; receives the repeat index (e.g. to cycle through test images).
        repeats: timed runs (>= 1); the median is reported.
        warmup: untimed runs first (allocator, oneDNN primitive caches, lazy imports, CUDA context).
        device: synchronised before reading the clock when it is a GPU.
        warmup_fn: a cheaper call that warms the same kernels (e.g. 1 PGD step instead of 20).
        on_result: called with (i, result) outside the timed region (e.g. to score protection).

    Returns:
        :class:`Timing` in seconds.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        (warmup_fn or (lambda: fn(0)))()
        synchronize(device)
    walls, cpus = [], []
    for i in range(repeats):
        synchronize(device)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = fn(i)
        synchronize(device)
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
        if on_result is not None:
            on_result(i, result)
        del result
    return Timing(
        median_s=statistics.median(walls),
        min_s=min(walls),
        max_s=max(walls),
        cpu_median_s=statistics.median(cpus),
        repeats=repeats,
        runs_s=walls,
    )
