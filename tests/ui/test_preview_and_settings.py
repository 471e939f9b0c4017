"""Preview pane (metrics, split view, zoom, strength slider) and settings persistence."""

from __future__ import annotations

import json
import math
from pathlib import Path

from PySide6.QtCore import QPointF, Qt

from ui.settings_store import SCHEMA_VERSION, GuiSettings, load_settings, save_settings


def _select_first(window, qtbot, dropper, folder: Path, count: int = 5):
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    return window.preview_result


def test_preview_shows_metrics_split_view_and_heat_map(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    result = _select_first(window, qtbot, dropper, photo_folder)
    assert result.path == photo_folder / "photo_00.png"
    assert result.original.shape == result.protected.shape == (1, 3, 72, 96)
    # the numbers on screen are the core's metrics for this pair
    assert window.preview.psnr.text() == f"{result.metrics.psnr_db:.1f} dB"
    assert window.preview.linf.text() == "8.0/255"
    assert 20 < result.metrics.psnr_db < 60 and 0.5 < result.metrics.ssim < 1.0
    compare = window.preview.compare
    assert compare.image_a.size() == compare.image_b.size()
    assert compare.image_a != compare.image_b
    assert window.preview.heat.image_a is not None
    # split slider: dragging the handle moves it
    compare.resize(400, 300)
    y = compare.height() / 2
    qtbot.mousePress(compare, Qt.MouseButton.LeftButton, pos=QPointF(200, y).toPoint())
    qtbot.mouseMove(compare, QPointF(100, y).toPoint())
    qtbot.mouseRelease(compare, Qt.MouseButton.LeftButton, pos=QPointF(100, y).toPoint())
    assert math.isclose(compare.split, 0.25, abs_tol=0.02)
    # zoom 1:1 is one image pixel per device pixel, fit goes back
    window.preview.actual_button.click()
    assert math.isclose(compare.zoom_percent(), 100.0)
    assert window.preview.zoom_label.text() == "100 %"
    window.preview.fit_button.click()
    assert compare.fit


def test_strength_slider_updates_preview_quickly(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    _select_first(window, qtbot, dropper, photo_folder)
    window.settings_panel.strength_slider.setValue(3)
    assert window.settings_panel.preset_combo.currentData() == "custom"
    assert window.settings_panel.strength_value.text() == "3/255"
    qtbot.waitUntil(lambda: window.preview_result.eps == 3 / 255, timeout=5000)
    assert window.preview.linf.text() == "3.0/255"
    # choosing a preset moves the slider and re-previews
    window.settings_panel.preset_combo.setCurrentIndex(window.settings_panel.preset_combo.findData("high"))
    assert window.settings_panel.strength_slider.value() == 12
    qtbot.waitUntil(lambda: window.preview_result.eps == 12 / 255, timeout=5000)


def test_preview_of_large_photo_is_downscaled_to_about_one_megapixel(make_window, qtbot, dropper, tmp_path, make_rgb):
    from PIL import Image

    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(make_rgb(1200, 1600)).save(folder / "big.png")
    window = make_window()
    result = _select_first(window, qtbot, dropper, folder, count=1)
    h, w = result.original.shape[-2:]
    assert result.full_size == (1200, 1600)
    assert 0.9e6 < h * w <= 1.0e6 and abs(w / h - 4 / 3) < 0.01
    assert "1600×1200" in window.preview.title.text()


def test_settings_persist_into_a_new_window(make_window, qtbot, tmp_path):
    window = make_window()
    panel = window.settings_panel
    panel.engine_combo.setCurrentIndex(panel.engine_combo.findData("tiny-slow"))
    panel.strength_slider.setValue(6)
    panel.format_combo.setCurrentIndex(panel.format_combo.findData("jpeg"))
    panel.quality_spin.setValue(88)
    panel.metadata_combo.setCurrentIndex(panel.metadata_combo.findData("strip-all"))
    panel.output_edit.setText(str(tmp_path / "out"))
    panel.output_edit.editingFinished.emit()
    window.resize(780, 650)  # the offscreen screen is 800x800: stay inside it
    size = (window.width(), window.height())
    window.close()

    saved = json.loads(window.settings_path.read_text())
    assert saved["schema_version"] == SCHEMA_VERSION
    again = make_window()
    p2 = again.settings_panel
    assert p2.engine_combo.currentData() == "tiny-slow"
    assert p2.strength_slider.value() == 6 and p2.preset_combo.currentData() == "custom"
    assert p2.format_combo.currentData() == "jpeg" and p2.quality_spin.value() == 88
    assert p2.metadata_combo.currentData() == "strip-all"
    assert p2.output_edit.text() == str(tmp_path / "out")
    assert (again.width(), again.height()) == size
    core = again.settings.to_protection()
    assert core.engine == "tiny-slow" and math.isclose(core.eps, 6 / 255)
    assert core.output.strip_exif and core.output.strip_gps and core.output.jpeg_quality == 88
    assert core.output.output_dir == tmp_path / "out"


def test_settings_file_survives_damage_and_future_versions(tmp_path):
    path = tmp_path / "gui.json"
    path.write_text("{ not json")
    assert load_settings(path) == GuiSettings()
    path.write_text(json.dumps({"schema_version": SCHEMA_VERSION + 1, "strength_255": 3}))
    assert load_settings(path).strength_255 == GuiSettings().strength_255
    path.write_text(json.dumps({"schema_version": 1, "strength_255": "lots", "engine": "dwt-chroma", "metadata": "??"}))
    loaded = load_settings(path)
    assert loaded.engine == "dwt-chroma" and loaded.strength_255 == 8 and loaded.metadata == "strip-gps"
    settings = GuiSettings(strength_255=5)
    for i in range(12):
        settings.remember_folder(f"/photos/{i}")
    settings.remember_folder("/photos/3")
    assert settings.recent_folders[0] == "/photos/3" and len(settings.recent_folders) == 8
    save_settings(settings, path)
    assert load_settings(path).recent_folders == settings.recent_folders
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_device_list_only_offers_devices_that_exist(make_window):
    from rid_desktop.device import available_devices

    window = make_window()
    combo = window.settings_panel.device_combo
    offered = [combo.itemData(i) for i in range(combo.count())]
    assert offered == ["auto"] + [d for d, _ in available_devices()]
