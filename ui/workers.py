"""Everything slow runs here, off the UI thread: batches, previews, AI view, robustness checks.

* :class:`BatchController` wraps the core's ``run_batch`` generator in a superqt ``GeneratorWorker``
  (napari's pattern): each :class:`BatchEvent` is re-emitted on the UI thread; per-tile progress
  from inside an image comes through a queued Qt signal. Cancel sets the ``threading.Event`` the
  core checks between tiles, so a cancel lands within one tile and the core leaves no partial file.
* :class:`PreviewResult`: the one-image preview (about 1 MP) that :mod:`ui.preview_compute` computes
  on a :mod:`ui.jobs` lane with the core's :mod:`rid_desktop.checks.preview`.

Engines come from the core's one factory, :func:`rid_desktop.engines.make_engine`, which also
switches to the CPU when the GPU runs out of memory; this module only relays its notice.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage
from superqt.utils import GeneratorWorker

from rid_desktop.engines import Engine, build_engine, make_engine
from rid_desktop.errors import Cancelled, UserError
from rid_desktop.settings import ProtectionSettings

EngineFactory = Callable[[ProtectionSettings], Engine]
"""``factory(settings) -> Engine`` on ``settings.device``; the window's default is the core's builder.

Tests inject a small fast engine here; the core's :func:`make_engine` still adds the CPU fallback.
"""

default_engine_factory: EngineFactory = build_engine


# --- batch --------------------------------------------------------------------------------------
class _Relay(QObject):
    """Carries calls from the worker thread to the UI thread (queued connections)."""

    step = Signal(int, int)
    notice = Signal(str)


def _batch_generator(plan, settings, engine_factory: EngineFactory, cancel: threading.Event, relay: _Relay):
    from rid_desktop.batch import run_batch

    engine = make_engine(settings, notify=relay.notice.emit, build=engine_factory)
    last = [0.0]

    def on_progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] > 0.05:  # at most ~20 UI updates per second
            last[0] = now
            relay.step.emit(int(done), int(total))

    yield from run_batch(plan, engine, cancel=cancel, on_progress=on_progress)


class BatchController(QObject):
    """Runs one batch at a time. Signals arrive on the UI thread.

    Signals:
        event(object): each core ``BatchEvent`` as yielded by ``run_batch``.
        step(int, int): progress inside the current image (done, total tiles/steps).
        notice(str): something the user should know but that does not stop the batch (CPU fallback).
        failed(str): the batch could not run at all (engine/model could not load); one-line message.
        finished(): the worker is done (after the last event, a failure, or a cancel).
    """

    event = Signal(object)
    step = Signal(int, int)
    notice = Signal(str)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, engine_factory: EngineFactory, parent: QObject | None = None):
        super().__init__(parent)
        self.engine_factory = engine_factory
        self.cancel_event = threading.Event()
        self.worker: GeneratorWorker | None = None
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.step.connect(self.step)
        self._relay.notice.connect(self.notice)

    def is_running(self) -> bool:
        return self.worker is not None

    def start(self, plan, settings) -> None:
        if self.worker is not None:
            raise RuntimeError("a batch is already running")
        self.cancel_event = threading.Event()
        worker = GeneratorWorker(
            _batch_generator, plan, settings, self.engine_factory, self.cancel_event, self._relay
        )
        worker.yielded.connect(self.event)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self.worker = worker
        self.pool.start(worker)

    def cancel(self) -> None:
        """Ask the core to stop after the current tile; the 'cancelled' event follows."""
        self.cancel_event.set()

    def wait(self, msecs: int = 30000) -> bool:
        return self.pool.waitForDone(msecs)

    def _on_error(self, exc: BaseException) -> None:
        self.failed.emit(exc)

    def _on_finished(self) -> None:
        self.worker = None
        self.finished.emit()


# --- preview ------------------------------------------------------------------------------------
@dataclass
class PreviewResult:
    """One image's preview at reduced size. Tensors are (1, 3, h, w) in [0, 1] on the CPU."""

    path: Path
    eps: float
    engine: str
    original: torch.Tensor
    protected: torch.Tensor
    original_image: QImage
    protected_image: QImage
    heat_image: QImage
    metrics: Any  # rid_desktop.checks.metrics.ImageMetrics
    full_size: tuple[int, int]  # (H, W) of the photo on disk
    seconds: float
    notices: list[str] = field(default_factory=list)




def friendly_message(exc: BaseException) -> str:
    """One line for a dialog: UserErrors as written, anything else prefixed with its type."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, Cancelled):
        return "Cancelled."
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
