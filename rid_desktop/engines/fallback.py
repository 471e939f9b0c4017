"""Finish on the CPU when the GPU runs out of memory, for every front end (CLI, GUI, self-test).

A 24 MP photo through the iterative engine can exhaust a laptop GPU; stopping the batch there would
lose an evening's work, so the engine is rebuilt on the CPU once and the batch goes on, more slowly.
"""

from __future__ import annotations

from typing import Callable

import torch

from rid_desktop.engines.base import Engine, ProgressFn, resolve_seed

FALLBACK_NOTICE = "The GPU ran out of memory, so RID Desktop switched to the CPU. Protection continues, more slowly."


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA/MPS out-of-memory, whichever way torch reports it."""
    oom_type = getattr(getattr(torch, "cuda", None), "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class CpuFallbackEngine:
    """Runs ``engine``; on a GPU out-of-memory error switches to a CPU engine for good and reports it.

    ``notify(message)`` is called once, from the thread that ran the engine, when the switch happens.
    """

    def __init__(self, engine: Engine, make_cpu_engine: Callable[[], Engine], notify: Callable[[str], None]):
        self.engine: Engine | None = engine
        self.name = getattr(engine, "name", "engine")
        self.device = getattr(engine, "device", None)  # the runner moves images here
        self._make_cpu_engine = make_cpu_engine
        self._notify = notify
        self.cpu_engine: Engine | None = None

    def protect(self, image: torch.Tensor, eps: float, *, seed: int | None = None,
                progress: ProgressFn | None = None) -> torch.Tensor:
        seed = resolve_seed(seed)  # the same key on the CPU as on the GPU
        if self.cpu_engine is None:
            try:
                return self.engine.protect(image, eps, seed=seed, progress=progress)
            except Exception as exc:
                if not is_out_of_memory(exc):
                    raise
                self.engine = None  # drop GPU weights before building the CPU copy
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self.cpu_engine = self._make_cpu_engine()
                self.device = torch.device("cpu")
                self._notify(FALLBACK_NOTICE)
        result = self.cpu_engine.protect(image.cpu(), eps, seed=seed, progress=progress)
        return result.to(image.device)
