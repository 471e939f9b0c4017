"""Find app assets in a source checkout and in a PyInstaller bundle (``sys._MEIPASS``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon

from rid_desktop import paths


def resource_path(name: str) -> Path:
    return paths.resources_dir() / name


def app_icon() -> QIcon:
    """The window/app icon from resources/icon.png (an empty icon if the file is missing)."""
    icon = QIcon()
    for name in ("icon.png", "icon-256.png"):
        path = resource_path(name)
        if path.is_file():
            icon.addFile(str(path))
    return icon
