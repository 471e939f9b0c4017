"""The gui entry points (the CPU fallback and the preview maths are core: tests/core/test_engine_factory.py)."""

from __future__ import annotations

import argparse
import subprocess
import sys


def test_gui_subcommand_registers_and_core_stays_free_of_qt():
    from rid_desktop.commands import gui

    parser = argparse.ArgumentParser()
    gui.register(parser.add_subparsers())
    args = parser.parse_args(["gui", "a", "b"])
    assert args.handler is gui.run and args.paths == ["a", "b"]
    code = (
        "import sys, rid_desktop.commands.gui; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'superqt', 'shiboken6')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_gui_entry_point_is_wired(qtbot, monkeypatch, tmp_path):
    """``ui.app.main`` builds the window, adds command-line paths and runs the event loop."""
    from PySide6.QtWidgets import QApplication

    import ui.app
    from ui.main_window import MainWindow

    shown = []
    monkeypatch.setattr(QApplication, "exec", lambda self=None: 0)
    monkeypatch.setattr(MainWindow, "show", lambda self: shown.append(self))
    (tmp_path / "p.png").write_bytes(b"")
    assert ui.app.main([str(tmp_path / "p.png")]) == 0
    window = shown[0]
    qtbot.addWidget(window)
    assert window.model.rowCount() == 1
    assert not window.windowIcon().isNull()
    assert QApplication.instance().style().name().lower() == "fusion"
    window.close()
