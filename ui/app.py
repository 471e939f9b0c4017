"""Start the desktop app: ``rid-desktop-gui`` or ``rid-desktop gui``.

Qt 6 handles high-DPI scaling by default (we only ask for pass-through rounding so 125 %/150 %
screens get exact scale factors). The Fusion style follows the OS light/dark colour scheme through
its palette, so no colour is hard-coded here.
"""

from __future__ import annotations

import sys
from pathlib import Path


def create_application(argv: list[str] | None = None):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from rid_desktop import __version__
    from ui.resources import app_icon

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("RID Desktop")
    app.setOrganizationName("RID Desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("rid-desktop")
    app.setStyle("Fusion")
    app.setWindowIcon(app_icon())
    return app


def main(argv: list[str] | None = None) -> int:
    """Open the main window; paths given on the command line are added to the library."""
    import argparse

    parser = argparse.ArgumentParser(prog="rid-desktop-gui", description="Open the RID Desktop window.")
    parser.add_argument("paths", nargs="*", type=Path, help="folders or photos to add to the library")
    # parse_known_args: the OS may add its own arguments (macOS -psn_..., Qt's -style ...)
    args, _unknown = parser.parse_known_args(argv if argv is not None else sys.argv[1:])
    app = create_application()
    from ui.main_window import MainWindow

    # The installed app finds or installs the surrogate models on its first run (same registry as the
    # CLI); a source checkout leaves that to `rid-desktop models install` and the missing-model dialog.
    window = MainWindow(first_run_models=bool(getattr(sys, "frozen", False)))
    if args.paths:
        window.add_sources(args.paths)
    window.show()
    return app.exec()


def check_window(report) -> None:
    """Self-test step of the windowed app: open the real main window off-screen, then close it.

    Why: the engine checks never touch Qt, so a bundle missing a Qt plugin, the ``ui`` package or
    ``resources/`` would pass them and still fail on a user's first double-click. Runs headless (the
    offscreen platform plugin) and with throw-away settings, so it never touches the user's own.

    Args:
        report: a :class:`rid_desktop.selftest.SelfTestReport`.
    """
    import os
    import tempfile

    from rid_desktop.selftest import SelfTestFailure

    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # --self-test is headless by contract
    from PySide6.QtCore import qVersion

    app = create_application([sys.argv[0] if sys.argv else "rid-desktop"])
    from ui.main_window import MainWindow

    with tempfile.TemporaryDirectory(prefix="rid-selftest-gui-") as tmp:
        window = MainWindow(settings_path=Path(tmp) / "gui-settings.json")
        window.show()
        app.processEvents()
        shown, icon_ok = window.isVisible(), not window.windowIcon().isNull()
        engines = window.settings_panel.engine_combo.count()
        window.close()
        window.deleteLater()
        app.processEvents()
    if not shown:
        raise SelfTestFailure("the main window could not be shown")
    if not icon_ok:
        raise SelfTestFailure("the window icon is missing (resources/icon.png not found in the bundle)")
    if not engines:
        raise SelfTestFailure("the main window lists no protection methods")
    report.ok(f"desktop window opened and closed (Qt {qVersion()}, platform {app.platformName()}, "
              f"{engines} protection methods, window icon found)")


if __name__ == "__main__":
    sys.exit(main())
