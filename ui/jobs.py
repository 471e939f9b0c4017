"""Background jobs of the window (previews, 1:1 output, AI view, checks, model set-up): one owner.

Why one service: every job needs the same three things — run off the UI thread, be stopped when it
no longer matters, and report back only if it is still wanted. Here each job gets a
:class:`JobContext` (a cancel flag and a progress callback that raises :class:`Cancelled` once the flag
is set, so a job stops within one engine tile); a newer job of the same *kind* cancels the older one
(a dragged slider never queues twenty previews); and results of cancelled or superseded jobs are
dropped here, so callers never check tickets.

Jobs run in *lanes*, one thread each, so a long robustness check never delays the preview of the
photo just clicked: "preview" (preview and full-size output, which share the cached engines),
"analysis" (AI view and checks), "setup" (model downloads).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from rid_desktop.errors import Cancelled

LANES = ("preview", "analysis", "setup")
PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress updates per second reach the UI


class JobContext:
    """Handed to a job function: ``progress(done, total)`` reports and honours cancel; ``check()`` only honours it."""

    def __init__(self, emit_progress: Callable[[int, int], None]):
        self.cancel_event = threading.Event()
        self._emit = emit_progress
        self._last = 0.0

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()

    def progress(self, done: int, total: int) -> None:
        self.check()
        now = time.monotonic()
        if done >= total or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self._emit(int(done), int(total))


@dataclass
class Job:
    ticket: int
    kind: str
    lane: str
    context: JobContext
    on_done: Callable[[Any], None]
    on_error: Callable[[BaseException], None] | None = None
    on_progress: Callable[[int, int], None] | None = None
    state: str = "queued"  # queued -> running -> done | failed | cancelled

    def cancel(self) -> None:
        self.context.cancel_event.set()


class _Relay(QObject):
    done = Signal(int, object)
    error = Signal(int, object)
    progress = Signal(int, int, int)
    started = Signal(int)


class _Runner(QRunnable):
    def __init__(self, job: Job, fn: Callable[[JobContext], Any], relay: _Relay):
        super().__init__()
        self.job, self.fn, self.relay = job, fn, relay

    def run(self) -> None:
        if self.job.context.cancelled:
            return  # cancelled or superseded while it waited: never starts
        self.relay.started.emit(self.job.ticket)
        try:
            result = self.fn(self.job.context)
        except BaseException as exc:  # reported to the UI, never raised into Qt's thread pool
            self.relay.error.emit(self.job.ticket, exc)
            return
        self.relay.done.emit(self.job.ticket, result)


class JobService(QObject):
    """Runs ``fn(context)`` jobs in lanes; callbacks run on the UI thread, only for wanted jobs."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pools: dict[str, QThreadPool] = {}
        for lane in LANES:
            pool = QThreadPool(self)
            pool.setMaxThreadCount(1)
            self.pools[lane] = pool
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.error.connect(self._on_error)
        self._relay.progress.connect(self._on_progress)
        self._relay.started.connect(self._on_started)
        self._ticket = 0
        self._jobs: dict[int, Job] = {}
        self._current: dict[str, Job] = {}
        self._closed = False

    def submit(
        self,
        kind: str,
        fn: Callable[[JobContext], Any],
        on_done: Callable[[Any], None],
        *,
        lane: str = "preview",
        on_error: Callable[[BaseException], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> Job | None:
        """Queue ``fn`` as the current job of ``kind``; the previous one of that kind is cancelled."""
        if self._closed:
            return None
        self.cancel(kind)
        self._ticket += 1
        ticket = self._ticket
        context = JobContext(lambda done, total: self._relay.progress.emit(ticket, done, total))
        job = Job(ticket, kind, lane, context, on_done, on_error, on_progress)
        self._jobs[ticket] = job
        self._current[kind] = job
        self.pools[lane].start(_Runner(job, fn, self._relay))
        return job

    def cancel(self, kind: str) -> bool:
        """Stop the current job of ``kind`` (within one tile/step); its result will be dropped."""
        job = self._current.pop(kind, None)
        if job is None:
            return False
        job.cancel()
        job.state = "cancelled"
        self._jobs.pop(job.ticket, None)
        return True

    def cancel_all(self) -> None:
        for kind in list(self._current):
            self.cancel(kind)

    def is_busy(self, kind: str) -> bool:
        return kind in self._current

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every lane is idle (tests and shutdown)."""
        deadline = time.monotonic() + msecs / 1000
        for pool in self.pools.values():
            left = max(0, int((deadline - time.monotonic()) * 1000))
            if not pool.waitForDone(left):
                return False
        return True

    def shutdown(self, msecs: int = 10000) -> bool:
        """Cancel everything, drop queued jobs and wait for running ones to reach their next step."""
        self._closed = True
        self.cancel_all()
        for pool in self.pools.values():
            pool.clear()
        return self.wait(msecs)

    # --- results (UI thread) -----------------------------------------------------------------
    def _wanted(self, ticket: int) -> Job | None:
        job = self._jobs.get(ticket)
        if job is None or job.context.cancelled or self._current.get(job.kind) is not job:
            return None
        return job

    def _on_started(self, ticket: int) -> None:
        job = self._wanted(ticket)
        if job is not None:
            job.state = "running"

    def _on_progress(self, ticket: int, done: int, total: int) -> None:
        job = self._wanted(ticket)
        if job is not None and job.on_progress is not None:
            job.on_progress(done, total)

    def _finish(self, ticket: int) -> Job | None:
        job = self._wanted(ticket)
        self._jobs.pop(ticket, None)
        if job is not None:
            del self._current[job.kind]
        return job

    def _on_done(self, ticket: int, result) -> None:
        job = self._finish(ticket)
        if job is not None:
            job.state = "done"
            job.on_done(result)

    def _on_error(self, ticket: int, exc: BaseException) -> None:
        job = self._finish(ticket)
        if job is None or isinstance(exc, Cancelled):
            return
        job.state = "failed"
        if job.on_error is not None:
            job.on_error(exc)
