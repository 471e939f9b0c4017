"""The window's menu bar and its actions (kept apart so the window itself stays about wiring)."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox


def make_action(window, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
    action = QAction(text, window)
    if shortcuts:
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(slot)
    return action


def build_menus(w) -> None:
    """File, Edit, View, Protect, Help — with the shortcuts desktop users expect."""
    bar = w.menuBar()
    act = functools.partial(make_action, w)
    w.open_folder_action = act("Add &folder…", w.choose_folder, [QKeySequence.StandardKey.Open],
                               "Add a folder of photos to the library")
    w.add_files_action = act("Add &photos…", w.choose_files, ["Ctrl+Shift+O"])
    file_menu = bar.addMenu("&File")
    file_menu.addAction(w.open_folder_action)
    file_menu.addAction(w.add_files_action)
    w.recent_menu = file_menu.addMenu("Open &recent")
    w.recent_menu.aboutToShow.connect(functools.partial(fill_recent, w))
    file_menu.addSeparator()
    w.export_action = act("&Export comparison…", w.export_comparison, ["Ctrl+E"],
                          "Save a before/after image of the photo on screen")
    file_menu.addAction(w.export_action)
    w.open_output_action = act("Open &output folder", w.open_output_folder)
    w.open_output_action.setEnabled(False)
    file_menu.addAction(w.open_output_action)
    file_menu.addSeparator()
    file_menu.addAction(act("&Quit", w.close, [QKeySequence.StandardKey.Quit]))

    edit_menu = bar.addMenu("&Edit")
    edit_menu.addAction(act("Select &all", w.grid.selectAll, [QKeySequence.StandardKey.SelectAll]))
    edit_menu.addSeparator()
    w.preferences_action = act("&Preferences…", w.show_preferences, [QKeySequence.StandardKey.Preferences, "Ctrl+,"])
    w.preferences_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    edit_menu.addAction(w.preferences_action)

    view = lambda: w.preview._current_view()  # noqa: E731 - the tab shown when the action fires
    view_menu = bar.addMenu("&View")
    view_menu.addAction(act("&Fit to window", lambda: view().zoom_fit(), ["Ctrl+0"]))
    view_menu.addAction(act("&Actual pixels (1:1)", w.preview._actual_pixels, ["Ctrl+1"]))
    view_menu.addAction(act("Zoom &in", lambda: view().zoom_by(1.25), [QKeySequence.StandardKey.ZoomIn]))
    view_menu.addAction(act("Zoom &out", lambda: view().zoom_by(0.8), [QKeySequence.StandardKey.ZoomOut]))
    view_menu.addSeparator()
    view_menu.addAction(w.settings_dock.toggleViewAction())

    protect_menu = bar.addMenu("&Protect")
    w.protect_action = act("&Protect all", w.protect, ["Ctrl+Return", "Ctrl+Enter", "Ctrl+R"],
                           "Protect the whole library, or resume the batch that was stopped")
    w.protect_selected_action = act("Protect &selected", w.protect_selected, ["Ctrl+Shift+R"],
                                    "Protect only the selected photos")
    w.cancel_action = act("&Cancel", w.cancel, ["Esc"], "Stop after the current tile")
    w.cancel_action.setEnabled(False)
    for action in (w.protect_action, w.protect_selected_action, w.cancel_action):
        protect_menu.addAction(action)

    help_menu = bar.addMenu("&Help")
    about = act("&About RID Desktop", w.show_about)
    about.setMenuRole(QAction.MenuRole.AboutRole)
    help_menu.addAction(about)
    help_menu.addAction(act("About &Qt", lambda: QMessageBox.aboutQt(w)))


def fill_recent(w) -> None:
    w.recent_menu.clear()
    for folder in w.settings.recent_folders:
        action = w.recent_menu.addAction(folder)
        action.triggered.connect(functools.partial(w.add_sources, [Path(folder)]))
        action.setEnabled(Path(folder).is_dir())
    if not w.settings.recent_folders:
        w.recent_menu.addAction("No recent folders").setEnabled(False)
