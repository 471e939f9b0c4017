"""The window's job service on its own: superseding, cancelling, lanes, dropped results, shutdown."""

from __future__ import annotations

import threading
import time

from rid_desktop.errors import Cancelled
from ui.jobs import JobService


def _steps(log: list, name: str, steps: int = 40, seconds: float = 0.02):
    def job(ctx):
        try:
            for i in range(steps):
                time.sleep(seconds)
                ctx.progress(i + 1, steps)
        except Cancelled:
            log.append(f"{name} cancelled")
            raise
        log.append(f"{name} finished")
        return name

    return job


def test_a_newer_job_of_the_same_kind_cancels_the_older_and_only_its_result_arrives(qtbot):
    service = JobService()
    log, results, progress = [], [], []
    service.submit("preview", _steps(log, "a"), results.append, on_progress=lambda d, t: progress.append(d))
    qtbot.waitUntil(lambda: bool(progress), timeout=3000)
    service.submit("preview", _steps(log, "b", steps=3), results.append)
    qtbot.waitUntil(lambda: results == ["b"], timeout=5000)
    assert log == ["a cancelled", "b finished"]
    assert not service.is_busy("preview")


def test_lanes_run_side_by_side_and_cancel_reports_nothing(qtbot):
    service = JobService()
    log, results, errors = [], [], []
    service.submit("checks", _steps(log, "checks", steps=200), results.append, lane="analysis", on_error=errors.append)
    started = time.monotonic()
    service.submit("preview", _steps(log, "preview", steps=2), results.append)
    qtbot.waitUntil(lambda: results == ["preview"], timeout=3000)
    assert time.monotonic() - started < 2.0  # not behind the 4 s check on the other lane
    assert service.cancel("checks")
    qtbot.waitUntil(lambda: "checks cancelled" in log, timeout=2000)
    qtbot.wait(100)
    assert results == ["preview"] and errors == []  # a cancelled job calls nothing back


def test_errors_reach_their_callback_and_shutdown_stops_running_jobs(qtbot):
    service = JobService()
    errors = []

    def broken(ctx):
        raise ValueError("bad photo")

    service.submit("preview", broken, lambda r: None, on_error=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=3000)
    assert isinstance(errors[0], ValueError)

    log = []
    gate = threading.Event()

    def long_job(ctx):
        gate.set()
        return _steps(log, "long", steps=500)(ctx)

    service.submit("checks", long_job, lambda r: None, lane="analysis")
    assert gate.wait(3)
    started = time.monotonic()
    assert service.shutdown(5000)
    assert time.monotonic() - started < 1.0 and log == ["long cancelled"]
    assert service.submit("preview", broken, lambda r: None) is None  # closed: nothing new starts
