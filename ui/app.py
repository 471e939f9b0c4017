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

    window = MainWindow()
    if args.paths:
        window.add_sources(args.paths)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
