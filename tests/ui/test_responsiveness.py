"""The UI thread never blocks: event-loop latency during a batch, big folders open instantly, real engine."""

from __future__ import annotations

import statistics
import time

import torch
from PySide6.QtCore import QTimer

from rid_desktop.engines.base import project_linf


class BusyEngine:
    """Test-only engine doing real CPU work (matrix products) per step, like a generator's tiles.

    Each step computes for a fixed wall time (60 ms) so the test lasts the same on fast and slow,
    loaded machines.
    """

    name = "busy"

    def protect(self, image, eps, *, seed=0, progress=None):
        a = torch.randn(128, 128)
        for step in range(5):
            until = time.perf_counter() + 0.06
            while time.perf_counter() < until:
                a = torch.tanh(a @ a / 128)
            if progress is not None:
                progress(step + 1, 6)
        return project_linf(image, image + eps * torch.sign(torch.randn_like(image)), eps)


def test_event_loop_keeps_answering_during_a_batch(make_window, qtbot, dropper, tmp_path, make_rgb):
    """A 20 ms timer must keep firing while a CPU-heavy batch runs.

    Threshold choice: the batch runs on a worker thread, so the UI thread only waits for the GIL
    between torch calls. On the 2 shared CPU cores of CI (other jobs training at the same time) the
    OS can deschedule the UI thread for a while, so one gap is allowed up to 250 ms while 95 % of
    the gaps must stay under 100 ms (the issue's bar) — a UI thread that really blocked on the
    batch would show gaps of whole images (seconds) and fail all three.
    """
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(make_rgb(128, 160, seed=i)).save(folder / f"p{i}.png")
    window = make_window(engine_factory=lambda settings: BusyEngine())
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 6, timeout=5000)

    stamps: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: stamps.append(time.perf_counter()))
    timer.start()
    started = time.perf_counter()
    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=60000)
    batch_seconds = time.perf_counter() - started
    timer.stop()

    assert window.model.status_counts()["protected"] == 6
    assert batch_seconds > 0.5  # the batch really kept the worker busy for a while
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert len(gaps) > 10
    p95 = sorted(gaps)[int(0.95 * (len(gaps) - 1))]
    print(f"batch {batch_seconds:.2f} s, timer gaps: median {statistics.median(gaps) * 1000:.0f} ms, "
          f"p95 {p95 * 1000:.0f} ms, max {max(gaps) * 1000:.0f} ms")
    assert statistics.median(gaps) < 0.100
    assert p95 < 0.100
    assert max(gaps) < 0.250


def test_a_folder_of_2000_photos_opens_without_decoding_them(make_window, qtbot, dropper, tmp_path):
    """Listing is background + lazy thumbnails: only rows on screen are ever decoded."""
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(2000):
        (folder / f"img_{i:04d}.jpg").write_bytes(b"")  # never decoded unless shown
    window = make_window()
    window.resize(780, 600)
    started = time.perf_counter()
    assert dropper(window, [folder])
    drop_seconds = time.perf_counter() - started
    qtbot.waitUntil(lambda: window.model.rowCount() == 2000, timeout=10000)
    listed_seconds = time.perf_counter() - started
    qtbot.wait(200)
    requested = len(window.model._broken) + window.model.loader.pending_count()
    print(f"drop handled in {drop_seconds * 1000:.0f} ms, 2000 rows in {listed_seconds:.2f} s, "
          f"{requested} thumbnails requested")
    assert drop_seconds < 0.1  # the drop returns at once; the walk happens on a worker
    assert listed_seconds < 3.0
    assert 0 < requested < 200  # only the visible rows asked for thumbnails


def test_real_default_engine_protects_a_photo(make_window, qtbot, dropper, tmp_path, make_rgb):
    """The window with its real default factory and the shipped "rid" generator."""
    from PIL import Image

    from ui.main_window import available_engines

    folder = tmp_path / "real"
    folder.mkdir()
    Image.fromarray(make_rgb(96, 128)).save(folder / "face.png")
    window = make_window(engine_factory=None, engines=None)
    assert "rid" in [name for name, _, _ in available_engines()]
    assert window.settings_panel.engine_combo.currentData() == "rid"
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=60000)
    entry = window.model.entries()[0]
    assert entry.status.value == "protected", entry.reason
    assert (tmp_path / "real-protected" / "face.png").is_file()
