"""Issue 19 beyond the defects: words instead of numbers, first start, context menu, export, title
progress, output naming, relative output folders, open-folder errors, About, skipped files,
accessible names and text that is not cut off."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QAbstractButton, QComboBox, QFileDialog, QLabel, QProgressBar

from ui.models.library_model import Status
from ui.views.compare_view import CompareView


def _load(window, qtbot, dropper, folder: Path, count: int) -> None:
    assert dropper(window, [folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=5000)


def _protect(window, qtbot) -> None:
    window.grid.clearSelection()
    window.protect()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=20000)


def test_first_start_screen_says_what_the_app_does_and_what_to_do(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    welcome = window.library.empty_hint
    assert welcome.isVisible()
    text = welcome.text()
    assert "Protect your photos" in text and "Drop a folder" in text and "originals are never changed" in text
    _load(window, qtbot, dropper, photo_folder, 5)
    assert not welcome.isVisible()


def test_strength_in_words_with_the_number_as_detail(make_window):
    window = make_window()
    panel = window.settings_panel
    assert panel.strength_words.text() == "Medium — invisible at normal size"
    panel.strength_slider.setValue(16)
    assert panel.strength_words.text().startswith("High — ") and panel.strength_value.text() == "16/255"
    for i in range(panel.preset_combo.count() - 1):  # every preset says what it means
        assert panel.preset_combo.itemData(i, Qt.ItemDataRole.ToolTipRole)
    panel.engine_combo.setCurrentIndex(0)
    assert window.preview.psnr.toolTip() and "higher" in window.preview.psnr.toolTip().lower()


def test_output_folder_must_be_a_full_path(make_window):
    window = make_window()
    panel = window.settings_panel
    panel.output_edit.setText("relative/out")
    panel.output_edit.editingFinished.emit()
    assert window.settings.output_dir == ""  # never resolved against the working directory
    assert not panel.output_problem.isHidden() and "not a full path" in panel.output_problem.text()
    panel.output_edit.setText("")
    panel.output_edit.editingFinished.emit()
    assert panel.output_problem.isHidden()


def test_name_suffix_marks_the_copies_and_survives_a_restart(make_window, qtbot, dropper, photo_folder, tmp_path):
    settings_path = tmp_path / "gui.json"
    window = make_window(settings_path=settings_path)
    _load(window, qtbot, dropper, photo_folder, 5)
    panel = window.settings_panel
    panel.name_combo.setCurrentIndex(panel.name_combo.findData("_protected"))
    assert window.settings.name_suffix == "_protected"
    _protect(window, qtbot)
    out = photo_folder.parent / "Holiday-protected"
    assert sorted(p.name for p in out.glob("*.png")) == [f"photo_{i:02d}_protected.png" for i in range(5)]
    assert window.model.entries()[0].output == out / "photo_00_protected.png"
    window.last_dialog.close()
    window.close()
    again = make_window(settings_path=settings_path)
    qtbot.waitUntil(lambda: again.model.status_counts()["protected"] == 5, timeout=5000)
    assert again.settings_panel.name_combo.currentData() == "_protected"


def test_window_title_shows_batch_progress(make_window, qtbot, dropper, photo_folder, engine_options):
    engine_options.update(steps=10, step_seconds=0.03)
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    titles = set()
    window.windowTitleChanged.connect(titles.add)
    _protect(window, qtbot)
    assert any("% protected" in t and "of 5" in t for t in titles)
    assert window.windowTitle() == "RID Desktop"


def test_thumbnail_context_menu(make_window, qtbot, dropper, photo_folder, monkeypatch):
    opened = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url.toLocalFile()) or True))
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    grid = window.grid
    pos = grid.visualRect(window.model.index(1)).center()
    menu = window.library_presenter.show_context_menu(pos)
    texts = [a.text() for a in menu.actions() if a.text()]
    assert texts == ["Open protected copy", "Show in folder", "Protect 1 selected", "Compare", "Remove from library"]
    assert not menu.actions()[0].isEnabled()  # nothing to open yet
    menu.close()
    [a for a in menu.actions() if a.text() == "Protect 1 selected"][0].trigger()
    qtbot.waitUntil(lambda: not window.batch.is_running(), timeout=10000)
    assert window.model.entries()[1].status == Status.PROTECTED and window.model.status_counts()["protected"] == 1
    menu = window.library_presenter.show_context_menu(pos)
    menu.actions()[0].trigger()
    assert opened == [str(photo_folder.parent / "Holiday-protected" / "photo_01.png")]
    [a for a in menu.actions() if a.text() == "Remove from library"][0].trigger()
    assert window.model.rowCount() == 4 and (photo_folder / "photo_01.png").exists()  # file untouched


def test_open_output_folder_that_is_gone_says_so(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    _protect(window, qtbot)
    summary = window.last_dialog
    summary.close()
    shutil.rmtree(photo_folder.parent / "Holiday-protected")
    assert not summary.open_output_folder()  # the summary's button says so too
    assert window.last_dialog.objectName() == "cannot-open-the-folder"
    window.last_dialog.close()
    window.open_output_action.trigger()
    assert window.last_dialog.objectName() == "cannot-open-the-folder"
    assert "Holiday-protected" in window.last_dialog.text()


def test_export_comparison_image(make_window, qtbot, dropper, photo_folder, tmp_path, monkeypatch):
    target = tmp_path / "compare.png"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    assert window.export_action.shortcut().toString() == "Ctrl+E"
    assert window.export_comparison() == target
    with Image.open(target) as im:
        assert im.width == 3 * 96 + 4 * 6 and im.height > 72  # original | protected | change, labelled


def test_about_lists_each_model_once_and_the_licences(make_window):
    window = make_window()
    window.show_about()
    text = window.last_dialog.text()
    assert "taef2-encoder" in text and "Licences" in text and "LGPL" in text and "MIT" in text
    items = [line for line in text.split("<li>") if "generator" in line]
    names = [line.split(" ")[0] for line in items]
    assert len(names) == len(set(names)), names  # each generator once


def test_skipped_files_are_counted_by_reason(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.library_presenter.set_skipped(str(photo_folder), [
        (str(photo_folder / "a.mp4"), "videos"), (str(photo_folder / "b.mov"), "videos"),
        (str(photo_folder / "c.CR2"), "RAW files"),
    ])
    label = window.library.skipped_label
    assert label.isVisible() and label.text() == "skipped: 2 videos, 1 RAW files (not supported)"
    assert "c.CR2: RAW files" in label.toolTip()
    window.remove_sources([str(photo_folder)])
    assert not label.isVisible()


def test_the_scan_itself_reports_unsupported_files(make_window, qtbot, dropper, photo_folder):
    """Wired end to end: the core's folder walk counts them, the scanner reports, the window says so."""
    (photo_folder / "clip.mp4").write_bytes(b"\x00" * 16)
    (photo_folder / "raw.CR2").write_bytes(b"\x00" * 16)
    (photo_folder / "anim.gif").write_bytes(b"GIF89a")
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    label = window.library.skipped_label
    qtbot.waitUntil(lambda: label.isVisible(), timeout=10000)
    text = label.text()
    assert text.startswith("skipped:") and "video" in text and "RAW" in text and "GIF" in text, text
    window.remove_sources([str(photo_folder)])
    assert not label.isVisible()


def test_widgets_have_accessible_names_and_thumbnails_say_their_status(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    _load(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    unnamed = []
    from PySide6.QtWidgets import QLineEdit, QMenuBar

    for widget in window.findChildren(QAbstractButton):
        if isinstance(widget.parent(), (QLineEdit, QMenuBar)):
            continue  # Qt's own clear/overflow buttons, named by Qt's accessibility layer
        if not (widget.text().strip() or widget.accessibleName()):
            unnamed.append(widget)
    for kind in (QProgressBar, CompareView):
        unnamed += [w for w in window.findChildren(kind) if not w.accessibleName()]
    assert not unnamed, [type(w).__name__ + ":" + w.objectName() for w in unnamed]
    assert window.preview.compare.accessibleDescription()  # which pixels are shown
    assert window.grid.accessibleName() == "Photos"
    index = window.model.index(0)
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == "photo_00.png, pending"
    _protect(window, qtbot)
    assert index.data(Qt.ItemDataRole.AccessibleTextRole) == "photo_00.png, protected"
    assert "PSNR" in index.data(Qt.ItemDataRole.AccessibleDescriptionRole)


def test_no_text_is_cut_off_at_1024_px(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    window.resize(1024, 768)
    _load(window, qtbot, dropper, photo_folder, 5)
    window.grid.setCurrentIndex(window.model.index(0))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    qtbot.wait(50)
    for label in (window.preview.psnr, window.preview.ssim, window.preview.linf, window.settings_panel.strength_value):
        assert label.width() >= label.fontMetrics().horizontalAdvance(label.text()), label.text()
    for combo in window.settings_panel.findChildren(QComboBox):
        room = combo.width() - 28  # the arrow and frame
        assert room >= combo.fontMetrics().horizontalAdvance(combo.currentText()), combo.currentText()
    # the thumbnail cell has room for a line of text under the icon
    from PySide6.QtWidgets import QStyleOptionViewItem

    delegate = window.grid.itemDelegate()
    option = QStyleOptionViewItem()
    option.fontMetrics = window.grid.fontMetrics()
    hint = delegate.sizeHint(option, window.model.index(0))
    assert hint.height() >= window.grid.iconSize().height() + window.grid.fontMetrics().height()
    assert window.grid.gridSize().height() >= hint.height()
    # the robustness legend takes a second line rather than being cut off on a narrow pane
    from ui.views.robustness_bars import BarRow, RobustnessBars

    bars = RobustnessBars()
    bars.set_rows([BarRow("Re-saved as JPEG (quality 75)", 1.0, 0.8, "survives")])
    bars.resize(380, 200)
    assert bars._legend_height() == 40
    bars.resize(1200, 200)
    assert bars._legend_height() == 20
    # labels that can get long wrap instead of running off the edge
    for label in (window.run_panel.current, window.preview.checks_note, window.library.count_label):
        assert isinstance(label, QLabel) and label.wordWrap()


def test_a_long_error_in_the_compare_view_wraps_inside_it(qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage

    view = CompareView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.set_images(QImage(40, 30, QImage.Format.Format_RGB888))
    message = ("damaged or unreadable image (cannot identify image file: the data ends before the end of the "
               "JPEG stream; the file may have been cut short while copying)")
    view.set_message(message)
    rect = view.chip_rect(message, QPointF(150, 100), center=True)
    assert rect.left() >= 0 and rect.right() <= 300  # inside the view
    assert rect.height() >= 3 * view.fontMetrics().height()  # on several lines, not one cut-off line
    view.grab()  # paints without error
