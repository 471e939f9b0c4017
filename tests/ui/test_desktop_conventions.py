"""What a desktop user expects beyond the main flow: menus and shortcuts, recent folders, the add
buttons, pan and high-DPI 1:1, progress/ETA/speed, the install-model action, GPU out-of-memory
fallback inside a real batch, "open output folder", light/dark palette changes, preview speed, the
installed app's first-run model set-up and the windowed app's self-test window check."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QDesktopServices, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox


REPO = Path(__file__).resolve().parents[2]


def _load(window, qtbot, dropper, folder: Path, count: int) -> None:
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)


def _shortcuts(action) -> set[str]:
    return {s.toString(QKeySequence.SequenceFormat.PortableText) for s in action.shortcuts()}


def test_menus_and_shortcuts_a_desktop_user_expects(make_window):
    window = make_window()
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Protect", "Help"]
    assert "Ctrl+O" in _shortcuts(window.open_folder_action)
    assert {"Ctrl+Return", "Ctrl+R"} <= _shortcuts(window.protect_action)
    assert "Esc" in _shortcuts(window.cancel_action)
    assert "Ctrl+," in _shortcuts(window.preferences_action)
    assert window.preferences_action.menuRole() == window.preferences_action.MenuRole.PreferencesRole
    help_menu = window.menuBar().actions()[-1].menu()
    about = [a for a in help_menu.actions() if a.menuRole() == a.MenuRole.AboutRole]
    assert len(about) == 1
    about[0].trigger()
    assert window.last_dialog.objectName() == "about" and not window.last_dialog.iconPixmap().isNull()
    # Preferences shows the settings dock and focuses the method box
    window.settings_dock.hide()
    window.preferences_action.trigger()
    assert window.settings_dock.isVisible()


def test_add_buttons_and_recent_folders_menu(make_window, qtbot, monkeypatch, photo_folder, tmp_path, make_rgb):
    from PIL import Image

    other = tmp_path / "Other"
    other.mkdir()
    Image.fromarray(make_rgb(72, 96)).save(other / "photo_00.png")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(photo_folder)))
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        staticmethod(lambda *a, **k: ([str(other / "photo_00.png")], "")))
    window = make_window()
    window.library.add_folder_button.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=5000)
    window.library.add_files_button.click()
    assert window.model.rowCount() == 6 and str(other / "photo_00.png") in window.sources

    # remove the folder with the Remove button, then bring it back from File > Open recent
    window.library.sources.item(0).setSelected(True)
    assert window.library.remove_button.isEnabled()
    window.library.remove_button.click()
    assert window.model.rowCount() == 1 and str(photo_folder) not in window.sources
    window.recent_menu.aboutToShow.emit()
    recent = [a for a in window.recent_menu.actions() if a.text() == str(photo_folder)]
    assert len(recent) == 1 and recent[0].isEnabled()
    recent[0].trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 6, timeout=5000)


def test_pan_moves_the_picture_and_one_to_one_respects_the_device_pixel_ratio(
    make_window, qtbot, dropper, photo_folder, monkeypatch
):
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    view = window.preview.compare
    view.resize(400, 300)
    view.zoom_by(4.0)  # zoomed in: the 96x72 preview is larger than the view
    before = view.image_rect()
    # drag away from the split handle pans; the image follows the mouse
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(300, 150))
    qtbot.mouseMove(view, QPoint(260, 130))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(260, 130))
    after = view.image_rect()
    assert math.isclose(after.x() - before.x(), -40, abs_tol=1) and math.isclose(after.y() - before.y(), -20, abs_tol=1)
    assert view.split == 0.5  # panning did not move the split line
    # on a 2x (Retina / 200 %) screen, 1:1 is one image pixel per DEVICE pixel: half a logical pixel
    monkeypatch.setattr(type(view), "devicePixelRatioF", lambda self: 2.0)
    window.preview.actual_button.click()
    assert math.isclose(view.current_scale(), 0.5) and math.isclose(view.zoom_percent(), 100.0)


def test_run_panel_shows_per_image_progress_speed_and_time_left(make_window, qtbot, dropper, photo_folder, engine_options):
    engine_options.update(steps=8, step_seconds=0.03)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    seen = {"image": 0, "speed": ""}

    def watch(done, total):
        seen["image"] = max(seen["image"], window.run_panel.image.value())

    window.batch.step.connect(watch)
    window.protect()
    qtbot.waitUntil(lambda: window.model.status_counts()["protected"] >= 2, timeout=10000)
    seen["speed"] = window.run_panel.speed.text()
    assert window.run_panel.image.isVisible() and window.run_panel.overall.value() >= 2
    assert "photos/s" in seen["speed"] or "s per photo" in seen["speed"]
    assert "left" in seen["speed"]
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    assert seen["image"] >= 2  # the per-image bar moved within an image
    assert window.run_panel.overall.value() == 5


def test_install_model_action_downloads_in_the_background(make_window, qtbot, monkeypatch, tmp_path):
    from rid_desktop.models import download

    calls = []

    def fake_install(name, progress=None, **_):
        progress(1, 2)
        calls.append(name)
        target = tmp_path / f"{name}.pth"
        target.write_bytes(b"x")
        return target

    monkeypatch.setattr(download, "install_model", fake_install)
    window = make_window()
    window.install_model("taef2-encoder")
    qtbot.waitUntil(lambda: "Installed taef2-encoder" in window.statusBar().currentMessage(), timeout=10000)
    assert calls == ["taef2-encoder"]

    def offline(name, progress=None, **_):
        from rid_desktop.errors import ModelError

        raise ModelError("cannot download taef2-encoder: <urlopen error [Errno -2] Name or service not known>")

    monkeypatch.setattr(download, "install_model", offline)
    window.install_model("taef2-encoder")
    qtbot.waitUntil(lambda: window.last_dialog is not None and window.last_dialog.objectName() == "install-failed",
                    timeout=10000)
    box = window.last_dialog
    assert "offline" in box.text() and "Errno" not in box.text()  # words, not a raw socket error
    assert box.choose_button.text() == "Choose file…"


def test_offline_install_can_use_a_chosen_file_checked_by_its_checksum(
    make_window, qtbot, monkeypatch, tmp_path, shared_models
):
    from rid_desktop.models.download import install_dir

    window = make_window()
    wrong = tmp_path / "taef2_encoder.pth"
    wrong.write_bytes(b"not the model")
    chosen = {"path": str(wrong)}
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (chosen["path"], "")))
    from ui.views.dialogs import InstallFailedDialog

    box = InstallFailedDialog(window, "taef2-encoder", "offline")
    box.file_chosen.connect(window.model_setup.install_file)
    box.choose_button.click()
    qtbot.waitUntil(lambda: window.last_dialog is not None and window.last_dialog.objectName() == "install-failed",
                    timeout=10000)
    assert "does not match" in window.last_dialog.text()
    assert not (install_dir() / "taef2_encoder.pth").exists()  # a wrong file is never installed
    chosen["path"] = str(shared_models / "taef2_encoder.pth")
    box.choose_file()
    qtbot.waitUntil(lambda: "Installed taef2-encoder" in window.statusBar().currentMessage(), timeout=20000)
    assert (install_dir() / "taef2_encoder.pth").read_bytes() == (shared_models / "taef2_encoder.pth").read_bytes()


def test_gpu_out_of_memory_in_a_batch_finishes_on_the_cpu_and_says_so(
    make_window, qtbot, dropper, photo_folder, monkeypatch, tiny_factory
):
    import rid_desktop.engines.factory

    class OutOfMemoryGpu:
        name = "tiny"

        def protect(self, image, eps, *, seed=0, progress=None):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")

    made, notices = [], []

    def factory(settings):
        made.append(settings.device)
        return OutOfMemoryGpu() if settings.device != "cpu" else tiny_factory(settings)

    monkeypatch.setattr(rid_desktop.engines.factory, "resolve_device", lambda name="auto": torch.device("cuda", 0))
    window = make_window(engine_factory=factory)
    window.settings.device = "cuda:0"
    window.batch.notice.connect(notices.append)
    _load(window, qtbot, dropper, photo_folder, 5)
    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    assert made == ["cuda:0", "cpu"]  # one GPU engine, one CPU engine built on the OOM, for good
    assert window.model.status_counts()["protected"] == 5  # the photo that hit the OOM was not lost
    assert len(notices) == 1 and "CPU" in notices[0]
    told = [box for box in window.findChildren(QMessageBox) if box.objectName() == "switched-to-the-cpu"]
    assert len(told) == 1, "the user is told that the batch moved to the CPU"


def test_open_output_folder_from_the_summary_and_the_file_menu(
    make_window, qtbot, dropper, photo_folder, monkeypatch
):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toLocalFile()) or True))
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    assert not window.open_output_action.isEnabled()
    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)
    out_dir = str(photo_folder.parent / "Holiday-protected")
    window.last_dialog.open_button.click()
    assert window.open_output_action.isEnabled()
    window.open_output_action.trigger()
    assert opened == [out_dir, out_dir]


def test_light_and_dark_palette_changes_redraw_the_library(make_window, qtbot, dropper, photo_folder):
    app = QApplication.instance()
    original = app.palette()
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    light = window.model.placeholder().pixmap(32, 32).toImage().pixelColor(16, 16)
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.AlternateBase, QColor(40, 40, 40))
    dark.setColor(QPalette.ColorRole.Window, QColor(30, 30, 30))
    try:
        app.setPalette(dark)  # what Qt does when the OS switches to dark mode
        qtbot.waitUntil(lambda: window.model.placeholder().pixmap(32, 32).toImage().pixelColor(16, 16) != light,
                        timeout=2000)
        assert window.model.placeholder().pixmap(32, 32).toImage().pixelColor(16, 16) == QColor(40, 40, 40)
        assert window.palette().color(QPalette.ColorRole.Window) == QColor(30, 30, 30)  # nothing hard-coded
    finally:
        app.setPalette(original)


def test_strength_change_re_previews_a_one_megapixel_photo(make_window, qtbot, dropper, tmp_path, make_rgb):
    """Moving the strength slider re-previews the selected photo at about 1 MP with the new budget.

    How long that takes is a benchmark figure (``python -m bench``: "GUI preview of a 1 MP photo"),
    not a timed test; here an engine that costs nothing proves the path re-runs at full preview size.
    """
    from PIL import Image

    folder = tmp_path / "one-mp"
    folder.mkdir()
    Image.fromarray(make_rgb(1200, 1600)).save(folder / "big.png")
    window = make_window()
    window.engine_factory = window.preview_service.engine_factory = lambda settings: _Free()
    _load(window, qtbot, dropper, folder, 1)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=20000)
    for value in (5, 6, 7):
        window.settings_panel.strength_slider.setValue(value)
        qtbot.waitUntil(lambda value=value: window.preview_result.eps == value / 255, timeout=20000)
        result = window.preview_result
        assert abs(result.metrics.linf_255 - value) < 0.51  # the preview shows the new budget's change
    h, w = window.preview_result.original.shape[-2:]
    assert 0.9e6 < h * w <= 1.05e6


class _Free:
    name = "free"

    def protect(self, image, eps, *, seed=0, progress=None):
        return (image + eps).clamp(0, 1)


def test_first_run_of_the_installed_app_installs_missing_surrogates(make_window, qtbot, monkeypatch, tmp_path):
    from rid_desktop.models import download

    monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(tmp_path / "empty"))
    installed = []

    def fake_install(name, **_):
        target = tmp_path / "data-models" / f"{name}.pth"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(b"x")
        installed.append(name)
        return target

    monkeypatch.setattr(download, "install_model", fake_install)
    window = make_window(first_run_models=True)
    qtbot.waitUntil(lambda: window.settings.surrogates_ready, timeout=10000)
    assert sorted(installed) == ["taef2-decoder", "taef2-encoder"]
    assert "Installed 2 AI-view models" in window.statusBar().currentMessage()
    window.close()
    # remembered: the next start does not look again
    again = make_window(first_run_models=True)
    qtbot.wait(300)
    assert sorted(installed) == ["taef2-decoder", "taef2-encoder"] and again.settings.surrogates_ready


def test_first_run_offline_is_a_note_and_is_retried_next_time(make_window, qtbot, monkeypatch, tmp_path):
    from rid_desktop.errors import ModelError
    from rid_desktop.models import download

    monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(tmp_path / "empty"))

    def offline(name, **_):
        raise ModelError(f"cannot download {name}: network is unreachable")

    monkeypatch.setattr(download, "install_model", offline)
    window = make_window(first_run_models=True)
    qtbot.waitUntil(lambda: bool(window.surrogate_lines), timeout=10000)
    assert not window.settings.surrogates_ready
    assert "could not be installed" in window.statusBar().currentMessage()
    assert window.last_dialog is None  # no dialog on start-up for something protection does not need


def test_window_check_of_the_self_test_opens_and_closes_the_real_window(qtbot, monkeypatch):
    from rid_desktop.selftest import SelfTestReport
    from ui.app import check_window

    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")  # check_window sets it; restore afterwards

    lines: list[str] = []
    report = SelfTestReport(lines.append)
    check_window(report)
    assert report.failures == 0 and len(lines) == 1
    assert lines[0].startswith("[ok]") and "desktop window opened" in lines[0] and "window icon found" in lines[0]


@pytest.mark.timeout(300)
def test_windowed_entry_self_test_runs_headless_and_checks_the_window(tmp_path):
    """packaging/entry_gui.py --self-test with no display at all (what the frozen GUI executable runs)."""
    env = {k: v for k, v in os.environ.items() if k not in {"DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"}}
    env["RID_DESKTOP_DATA_DIR"] = str(tmp_path / "data")
    env["RID_DESKTOP_CONFIG_DIR"] = str(tmp_path / "config")
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run([sys.executable, str(REPO / "packaging" / "entry_gui.py"), "--self-test", "--no-download"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=280)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr[-3000:]
    assert any(line.startswith("[ok]") and "desktop window opened" in line for line in out.splitlines()), out
    assert out.strip().splitlines()[-1].startswith("self-test passed")
    log = (tmp_path / "data" / "self-test.log").read_text(encoding="utf-8")
    assert "desktop window opened" in log
    assert not (tmp_path / "config" / "gui-settings.json").exists()  # the user's settings are untouched
