"""Issue 19's defects, each driven through the real window: quit mid-batch, cancellable/superseded
previews and checks, statuses restored from manifests, explicit Protect scope with resume, and 1:1
showing the real output pixels with numbers that say what they were measured on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from PySide6.QtWidgets import QApplication

from rid_desktop.engines.base import project_linf
from rid_desktop.errors import Cancelled
from ui.models.library_model import Status

REPO = Path(__file__).resolve().parents[2]


def _load(window, qtbot, dropper, folder: Path, count: int) -> None:
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)


def _qimage_array(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    return np.frombuffer(bytes(image.constBits()), np.uint8).reshape(h, stride)[:, : 3 * w].reshape(h, w, 3)


class RecordingEngine:
    """Sign noise in ``steps`` steps; records how many calls finished and how many were cancelled."""

    name = "recording"

    def __init__(self, log: dict, steps: int = 40, step_seconds: float = 0.05):
        self.log, self.steps, self.step_seconds = log, steps, step_seconds

    def protect(self, image, eps, *, seed=0, progress=None):
        signs = torch.randint(0, 2, image.shape, generator=torch.Generator().manual_seed(seed)).float() * 2 - 1
        try:
            for step in range(self.steps):
                time.sleep(self.step_seconds)
                if progress is not None:
                    progress(step + 1, self.steps)
        except Cancelled:
            self.log["cancelled"] += 1
            raise
        self.log["finished"] += 1
        return project_linf(image, image + eps * signs, eps)


# --- 1. quit during a batch ----------------------------------------------------------------------------
def test_quit_mid_batch_asks_then_stops_within_a_tile_and_closes_without_a_dialog(
    make_window, qtbot, dropper, photo_folder, engine_options
):
    engine_options.update(steps=40, step_seconds=0.05)  # 2 s per photo
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.protect()
    qtbot.waitUntil(lambda: window.model.status_counts()["working"] == 1, timeout=5000)
    window.close()  # Ctrl+Q
    assert window.isVisible() and window.batch.is_running()  # asked first, nothing stopped yet
    box = window.last_dialog
    assert box.objectName() == "quit-during-batch" and "stop and quit" in box.text().lower()
    asked = time.monotonic()
    box.stop_button.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    assert time.monotonic() - asked < 1.5  # within one tile, not after the photo or the batch
    assert not window.batch.is_running()
    visible = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert visible == [], f"nothing may stay open after quitting: {visible}"  # no 'cancelled' dialog
    out = photo_folder.parent / "Holiday-protected"
    assert not [p for p in out.iterdir() if p.suffix == ".png"]  # the photo in progress left nothing


def test_keep_protecting_leaves_the_batch_running(make_window, qtbot, dropper, photo_folder, engine_options):
    engine_options.update(steps=10, step_seconds=0.02)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.protect()
    window.close()
    window.last_dialog.keep_button.click()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    assert window.isVisible() and window.model.status_counts()["protected"] == 5


def test_a_batch_that_ends_while_quit_is_being_asked_closes_the_question_and_quits(
    make_window, qtbot, dropper, photo_folder, engine_options
):
    """Seen in a screenshot run: the summary opened on top of a 'stop and quit?' that no longer applied."""
    engine_options.update(steps=10, step_seconds=0.02)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.protect()
    window.close()  # asked, and left unanswered
    box = window.last_dialog
    assert box.objectName() == "quit-during-batch"
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=3000)
    assert not box.isVisible()
    visible = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
    assert visible == [], f"nothing may stay open: {visible}"
    assert window.model.status_counts()["protected"] == 5


QUIT_SCRIPT = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    import torch
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox
    from ui.app import create_application
    from ui.main_window import MainWindow

    class Slow:
        name = "slow"
        def protect(self, image, eps, *, seed=0, progress=None):
            for i in range(50):
                time.sleep(0.05)
                if progress: progress(i + 1, 50)
            return (image + eps).clamp(0, 1)

    app = create_application()
    window = MainWindow(engine_factory=lambda n, d: Slow(), engines=[("slow", "Slow", "")],
                        settings_path=Path(sys.argv[2]))
    window.show()
    window.add_sources([Path(sys.argv[1])])

    def start():
        if window.model.rowCount() < 3:
            return QTimer.singleShot(50, start)
        window.protect()
        QTimer.singleShot(800, quit_app)

    def quit_app():
        [a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Quit"][0].trigger()
        QTimer.singleShot(200, answer)

    def answer():
        for box in QApplication.topLevelWidgets():
            if isinstance(box, QMessageBox) and box.isVisible() and box.objectName() == "quit-during-batch":
                box.stop_button.click()

    QTimer.singleShot(0, start)
    code = app.exec()
    print("event loop returned", code, flush=True)
    sys.exit(code)
''')


def test_quit_mid_batch_ends_the_process(tmp_path, make_rgb):
    """The real event loop returns and the process exits (it used to hang with no window)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(make_rgb(48, 64, seed=i)).save(folder / f"p{i}.png")
    script = tmp_path / "quit.py"
    script.write_text(QUIT_SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(script), str(folder), str(tmp_path / "gui.json")], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "event loop returned 0" in result.stdout, result.stdout + result.stderr[-2000:]
    assert result.returncode == 0
    assert time.monotonic() - started < 45


# --- 2. previews and checks never queue behind each other ---------------------------------------------
def test_a_newer_preview_supersedes_the_running_one_which_stops_within_a_tile(
    make_window, qtbot, dropper, photo_folder
):
    log = {"finished": 0, "cancelled": 0}
    window = make_window(engine_factory=lambda settings: RecordingEngine(log))
    _load(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview.busy_bar.isVisible() and window.preview.busy_bar.value() >= 2, timeout=5000)
    assert window.preview.busy_cancel.isVisible()  # a long preview can be stopped
    window.grid.setCurrentIndex(window.model.index(1))
    assert "photo_01" in window.preview.title.text()  # the clicked photo's name shows at once
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=6000)
    assert window.preview_result.path.name == "photo_01.png"
    assert log == {"finished": 1, "cancelled": 1}  # photo 0's preview stopped; it never ran to the end

    # Cancel stops a preview for good
    window.settings_panel.strength_slider.setValue(5)
    qtbot.waitUntil(lambda: window.preview.busy_cancel.isVisible(), timeout=3000)
    qtbot.waitUntil(lambda: window.preview.busy_bar.value() >= 1, timeout=3000)
    window.preview.busy_cancel.click()
    qtbot.waitUntil(lambda: log["cancelled"] == 2, timeout=2000)
    assert not window.preview.busy_cancel.isVisible() and log["finished"] == 1


def test_checks_show_progress_can_be_cancelled_and_never_delay_another_photos_preview(
    make_window, qtbot, dropper, photo_folder, monkeypatch
):
    import ui.preview_compute

    runs = []

    def slow_checks(ctx, result, specs=None, measure_with=None):
        run = {"photo": result.path.name, "state": "running"}
        runs.append(run)
        try:
            for i in range(200):  # 10 s unless cancelled
                time.sleep(0.05)
                ctx.progress(i + 1, 200)
        except Cancelled:
            run["state"] = "cancelled"
            raise
        run["state"] = "finished"
        return ui.preview_compute.ChecksView([], "", None)

    monkeypatch.setattr(ui.preview_compute, "checks", slow_checks)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    pane = window.preview
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=5000)
    pane.tabs.setCurrentIndex(3)
    pane.checks_button.click()
    qtbot.waitUntil(lambda: pane.checks_progress.value() >= 2, timeout=5000)
    assert pane.checks_progress.isVisible() and pane.checks_cancel.isVisible()

    clicked = time.monotonic()
    window.grid.setCurrentIndex(window.model.index(2))
    qtbot.waitUntil(lambda: window.preview_result.path.name == "photo_02.png", timeout=3000)
    assert time.monotonic() - clicked < 3.0  # not after the 10 s check of the other photo
    qtbot.waitUntil(lambda: runs[0]["state"] == "cancelled", timeout=2000)  # its checks no longer matter
    assert not pane.checks_cancel.isVisible()

    pane.checks_button.click()
    qtbot.waitUntil(lambda: len(runs) == 2 and pane.checks_progress.value() >= 1, timeout=5000)
    pane.checks_cancel.click()
    qtbot.waitUntil(lambda: runs[1]["state"] == "cancelled", timeout=2000)
    assert "cancelled" in pane.bars.message.lower() and pane.checks_button.isEnabled()


# --- 3. status restored from manifests ------------------------------------------------------------------
def test_statuses_and_failure_reasons_come_back_after_a_restart(make_window, qtbot, dropper, photo_folder, tmp_path):
    (photo_folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    settings_path = tmp_path / "gui.json"
    first = make_window(settings_path=settings_path)
    _load(first, qtbot, dropper, photo_folder, 6)
    first.protect()
    qtbot.waitUntil(lambda: not first.batch.is_running(), timeout=20000)
    reason = first.model.entry(photo_folder / "broken.jpg").reason
    first.last_dialog.close()
    first.close()
    out = photo_folder.parent / "Holiday-protected"
    (out / "photo_04.png").unlink()  # a deleted copy is not "protected" any more

    again = make_window(settings_path=settings_path)
    qtbot.waitUntil(lambda: again.model.rowCount() == 6, timeout=5000)
    qtbot.waitUntil(lambda: again.model.status_counts()["protected"] == 4, timeout=5000)
    broken = again.model.entry(photo_folder / "broken.jpg")
    assert broken.status == Status.FAILED and broken.reason == reason
    for i in range(4):
        entry = again.model.entry(photo_folder / f"photo_{i:02d}.png")
        assert entry.status == Status.PROTECTED and entry.output == out / f"photo_{i:02d}.png"
        assert "protected" in entry.reason and "medium" in entry.reason.lower()
    assert again.model.entry(photo_folder / "photo_04.png").status == Status.PENDING


# --- 4. explicit scope, resume by default -------------------------------------------------------------------
def test_clicking_a_photo_never_changes_what_protect_does_and_ctrl_r_resumes(
    make_window, qtbot, dropper, photo_folder, engine_options
):
    engine_options.update(steps=10, step_seconds=0.03)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    assert window.run_panel.protect_button.text() == "Protect all 5"
    window.protect()
    qtbot.waitUntil(lambda: window.model.status_counts()["protected"] >= 1, timeout=10000)
    window.cancel_action.trigger()  # Esc
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=5000)
    window.last_dialog.close()
    done = window.model.status_counts()["protected"]
    assert done < 5

    window.grid.setCurrentIndex(window.model.index(4))  # look at a photo
    assert window.run_panel.protect_button.text() == f"Resume — {5 - done} left"
    assert window.run_panel.selected_button.text() == "Protect 1 selected"
    window.protect_action.trigger()  # Ctrl+R resumes the interrupted batch, not "1 of 1"
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    assert window.model.status_counts()["protected"] == 5
    assert f"{done} already done" in window.last_dialog.text()
    assert window.run_panel.protect_button.text() == "Protect all 5"


# --- 5. 1:1 shows the real output ------------------------------------------------------------------------
def test_one_to_one_shows_the_written_files_pixels_and_says_what_numbers_are_measured_on(
    make_window, qtbot, dropper, tmp_path, make_rgb
):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(make_rgb(1200, 1600)).save(folder / "big.png")
    window = make_window()
    _load(window, qtbot, dropper, folder, 1)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    compare, pane = window.preview.compare, window.preview
    assert compare.image_a.width() < 1600  # the preview is about 1 MP
    assert "preview" in pane.metrics.measured_on.text() and "preview pixels" in compare.pixel_note
    assert compare.photo_size.width() == 1600  # zoom is in the photo's pixels

    pane.actual_button.click()
    qtbot.waitUntil(lambda: compare.image_b is not None and compare.image_b.width() == 1600, timeout=30000)
    assert abs(compare.zoom_percent() - 100) < 0.01  # zoom and pan kept while the pixels were swapped
    assert "full 1600×1200 output file" in pane.metrics.measured_on.text()
    assert "real output pixels" in compare.pixel_note

    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=30000)
    written = np.asarray(Image.open(tmp_path / "big-protected" / "big.png").convert("RGB"))
    assert np.array_equal(_qimage_array(compare.image_b), written)  # exactly the file the batch wrote
    assert np.array_equal(_qimage_array(compare.image_a), np.asarray(Image.open(folder / "big.png").convert("RGB")))
    psnr = pane.metrics.psnr.text()
    diff = (written.astype(np.float64) - np.asarray(Image.open(folder / "big.png")).astype(np.float64)) / 255
    assert psnr == f"{10 * np.log10(1 / np.mean(diff ** 2)):.1f} dB"  # the numbers are the file's


def test_zooming_in_past_the_preview_asks_for_the_real_pixels(make_window, qtbot, dropper, tmp_path, make_rgb):
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(make_rgb(1200, 1600)).save(folder / "big.png")
    window = make_window()
    _load(window, qtbot, dropper, folder, 1)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    compare = window.preview.compare
    compare.resize(400, 300)
    compare.zoom_fit()
    compare.zoom_by(1.25)
    assert compare.image_a.width() < 1600  # still within what the preview holds
    for _ in range(12):
        compare.zoom_by(1.25)
    qtbot.waitUntil(lambda: compare.image_a.width() == 1600, timeout=30000)


def test_numbers_measured_on_a_jpeg_output_say_they_include_its_encoding(make_window, qtbot, dropper, tmp_path, make_rgb):
    folder = tmp_path / "jpeg"
    folder.mkdir()
    Image.fromarray(make_rgb(900, 1200)).save(folder / "photo.jpg", quality=92)
    window = make_window()
    _load(window, qtbot, dropper, folder, 1)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    window.preview.actual_button.click()
    qtbot.waitUntil(lambda: window.preview.compare.image_b.width() == 1200, timeout=30000)
    assert "full 1200×900 output file (JPEG: includes its encoding)" in window.preview.metrics.measured_on.text()
