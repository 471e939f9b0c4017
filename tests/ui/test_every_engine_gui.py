"""Every engine ``protect --help`` offers protects a photo through the GUI's worker path, headless.

The window's Protect button plans the batch and hands it to :class:`ui.workers.BatchController` with
the default engine factory; this drives that controller directly (no window shown), with the real
engines, so an engine that breaks inside the batch runner fails here as it would for a user.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rid_desktop.batch import plan_batch
from rid_desktop.engines import engine_names
from rid_desktop.settings import ProtectionSettings
from ui.jobs import JobContext
from ui.preview_compute import PreviewComputer
from ui.workers import BatchController, default_engine_factory

pytestmark = pytest.mark.usefixtures("one_torch_thread", "surrogates_for_optimising_engines")


@pytest.mark.parametrize("name", engine_names())
def test_every_engine_protects_a_photo_through_the_batch_worker(name, qtbot, tmp_path, make_rgb):
    folder = tmp_path / "album"
    folder.mkdir()
    Image.fromarray(make_rgb(32, 40, seed=5)).save(folder / "photo.png")
    settings = ProtectionSettings(engine=name, device="cpu")
    plan = plan_batch([folder], settings)
    controller = BatchController(default_engine_factory)
    events, failures = [], []
    controller.event.connect(events.append)
    controller.failed.connect(failures.append)
    with qtbot.waitSignal(controller.finished, timeout=60000):
        controller.start(plan, settings)
    assert not failures
    summary = events[-1].summary
    assert summary.done == 1 and not summary.failed, summary.failed
    with Image.open(folder / "photo.png") as a, Image.open(tmp_path / "album-protected" / "photo.png") as b:
        change = np.abs(np.asarray(a, np.int16) - np.asarray(b.convert("RGB"), np.int16))
    assert 0 < change.max() <= round(settings.eps * 255)


@pytest.mark.parametrize("name", engine_names())
def test_every_engine_previews_through_the_preview_lane(name, qtbot, tmp_path, make_rgb):
    path = tmp_path / "photo.png"
    Image.fromarray(make_rgb(32, 40, seed=6)).save(path)
    computer = PreviewComputer(default_engine_factory)
    result = computer.preview(JobContext(lambda done, total: None), path, name, "cpu", 8 / 255)
    assert result.protected.shape == result.original.shape == (1, 3, 32, 40)
    assert 0 < result.metrics.linf_255 <= 8 + 1e-3
    assert not result.original_image.isNull() and not result.heat_image.isNull()
