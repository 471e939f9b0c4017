"""Drive the real main window: drop a folder, protect, cancel, statuses, dialogs, settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ui.models.library_model import Status
from ui.settings_store import load_settings


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def _load_folder(window, qtbot, dropper, folder: Path, count: int) -> None:
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)


def _protect_and_wait(window, qtbot, timeout=20000) -> None:
    window.grid.clearSelection()
    window.protect()
    assert window.batch.is_running()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=timeout)


def test_drop_folder_fills_library_and_makes_cached_thumbnails(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    assert window.library.empty_hint.isVisible()
    _load_folder(window, qtbot, dropper, photo_folder, 5)
    assert window.sources == [str(photo_folder)]
    assert window.library.sources.item(0).text() == str(photo_folder)
    assert not window.library.empty_hint.isVisible()
    names = [window.model.index(r).data() for r in range(5)]
    assert names == [f"photo_{i:02d}.png" for i in range(5)]
    # thumbnails are made in the background for the rows the grid shows
    qtbot.waitUntil(lambda: all(window.model.has_thumbnail(p) for p in window.model.paths()), timeout=10000)
    cached = list(window.model.loader.cache_dir.glob("*.png"))
    assert len(cached) == 5
    # the library is remembered
    assert load_settings(window.settings_path).library == [str(photo_folder)]
    assert str(photo_folder) in load_settings(window.settings_path).recent_folders


def test_drop_ignores_non_photos_and_remove_source(make_window, qtbot, dropper, photo_folder, tmp_path):
    window = make_window()
    note = tmp_path / "notes.txt"
    note.write_text("not a photo")
    dropper(window, [note, photo_folder / "photo_01.png"])
    assert window.model.rowCount() == 1
    assert "notes.txt" in window.statusBar().currentMessage()
    window.remove_sources([str(photo_folder / "photo_01.png")])
    assert window.model.rowCount() == 0 and window.sources == []


def test_batch_protects_all_continues_past_a_bad_file_and_summarises(
    make_window, qtbot, dropper, photo_folder, engine_options
):
    (photo_folder / "broken.jpg").write_bytes(b"this is not a jpeg")
    originals = {p: p.read_bytes() for p in photo_folder.iterdir()}
    window = make_window()
    _load_folder(window, qtbot, dropper, photo_folder, 6)
    _protect_and_wait(window, qtbot)

    out_dir = photo_folder.parent / "Holiday-protected"
    statuses = {e.path.name: e for e in window.model.entries()}
    assert statuses["broken.jpg"].status == Status.FAILED
    assert statuses["broken.jpg"].reason  # shown in the tooltip
    tooltip = window.model.index(window.model.paths().index(statuses["broken.jpg"].path)).data(3)
    assert statuses["broken.jpg"].reason in tooltip
    for i in range(5):
        entry = statuses[f"photo_{i:02d}.png"]
        assert entry.status == Status.PROTECTED, entry.reason
        assert entry.output == out_dir / entry.path.name and entry.output.is_file()
        change = np.abs(_pixels(entry.output) - _pixels(entry.path)).max()
        assert 1 <= change <= 8  # medium strength: bounded by 8/255, and really applied
    assert {p: p.read_bytes() for p in photo_folder.iterdir()} == originals  # originals untouched
    box = window.last_dialog
    assert box is not None and box.objectName() == "batch-summary"
    assert "5 protected" in box.text() and "1 failed" in box.text()
    assert "broken.jpg" in box.detailedText()
    assert box.output_folder == out_dir and box.open_button is not None
    assert window.run_panel.overall.value() == 6


def test_cancel_mid_batch_keeps_finished_images_and_leaves_no_partial_output(
    make_window, qtbot, dropper, photo_folder, engine_options
):
    engine_options.update(steps=10, step_seconds=0.03)  # 0.3 s per photo
    window = make_window()
    _load_folder(window, qtbot, dropper, photo_folder, 5)
    window.grid.clearSelection()
    window.protect()
    qtbot.waitUntil(lambda: window.model.status_counts()["protected"] >= 1, timeout=10000)
    qtbot.waitUntil(lambda: window.model.status_counts()["working"] == 1, timeout=5000)
    window.cancel_action.trigger()  # Esc
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=5000)

    counts = window.model.status_counts()
    assert counts["working"] == 0 and counts["failed"] == 0
    assert 1 <= counts["protected"] < 5 and counts["pending"] == 5 - counts["protected"]
    out_dir = photo_folder.parent / "Holiday-protected"
    written = sorted(p.name for p in out_dir.iterdir() if not p.name.startswith(".") and p.suffix == ".png")
    protected = sorted(e.path.name for e in window.model.entries() if e.status == Status.PROTECTED)
    assert written == protected  # the cancelled photo left nothing behind
    assert not [p for p in out_dir.iterdir() if "tmp" in p.name or p.name.endswith(".part")]
    assert window.last_dialog.windowTitle() == "Protection cancelled"
    assert "cancelled" in window.run_panel.current.text()
    assert window.protect_action.isEnabled() and not window.cancel_action.isEnabled()

    # protecting again resumes: finished photos are skipped, the rest are protected
    _protect_and_wait(window, qtbot)
    assert window.model.status_counts()["protected"] == 5
    assert "already done" in window.last_dialog.text()


def test_protect_selected_only(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    _load_folder(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(2))
    assert window.run_panel.protect_button.text() == "Protect all 5"  # looking at a photo changes nothing
    assert window.run_panel.selected_button.text() == "Protect 1 selected"
    window.run_panel.selected_button.click()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=10000)
    counts = window.model.status_counts()
    assert counts["protected"] == 1 and window.model.entries()[2].status == Status.PROTECTED


def test_nothing_to_protect_dialog(make_window, qtbot):
    window = make_window()
    window.protect_action.trigger()
    assert window.last_dialog is not None and window.last_dialog.objectName() == "nothing-to-protect"
    assert not window.batch.is_running()


def test_unusable_output_folder_dialog(make_window, qtbot, dropper, photo_folder, tmp_path):
    not_a_folder = tmp_path / "file-in-the-way"
    not_a_folder.write_text("x")
    window = make_window()
    _load_folder(window, qtbot, dropper, photo_folder, 5)
    window.settings_panel.output_edit.setText(str(not_a_folder))
    window.settings_panel.output_edit.editingFinished.emit()
    assert window.settings.output_dir == str(not_a_folder)
    window.protect()
    assert window.last_dialog.objectName() == "cannot-write-protected-copies"
    assert str(not_a_folder) in window.last_dialog.text()
    assert not window.batch.is_running()


def test_missing_model_dialog_offers_install(make_window, qtbot, dropper, photo_folder):
    from rid_desktop.errors import ModelError

    def factory(settings):
        raise ModelError("model taef2-encoder is not installed (looked in x); run: rid-desktop models install taef2-encoder")

    window = make_window(engine_factory=factory)
    _load_folder(window, qtbot, dropper, photo_folder, 5)
    _protect_and_wait(window, qtbot)
    box = window.last_dialog
    assert box.objectName() == "model-needed"
    assert box.model_name == "taef2-encoder" and box.install_button is not None
    with qtbot.waitSignal(box.install_requested) as signal:
        box.install_button.click()
    assert signal.args == ["taef2-encoder"]
    assert window.model.status_counts()["pending"] == 5  # nothing was marked working or failed
    assert window.protect_action.isEnabled()


def test_gpu_out_of_memory_notice_is_shown(make_window, qtbot):
    window = make_window()
    window.batch.notice.emit("The GPU ran out of memory, so RID Desktop switched to the CPU.")
    assert window.last_dialog.objectName() == "switched-to-the-cpu"
    assert "CPU" in window.statusBar().currentMessage()


def test_about_shows_version_and_models(make_window):
    import rid_desktop

    window = make_window()
    window.show_about()
    text = window.last_dialog.text()
    assert rid_desktop.__version__ in text and "taef2-encoder" in text
