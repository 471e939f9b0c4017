"""Where the app's own files live, in a source checkout and inside a PyInstaller bundle."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "RID Desktop"
APP_SLUG = "rid-desktop"


def install_root() -> Path:
    """The folder holding `checkpoints/` and `resources/`: `sys._MEIPASS` when frozen, else the repo."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parent.parent


def checkpoints_dir() -> Path:
    """Our own trained weights that ship with the app."""
    return install_root() / "checkpoints"


def resources_dir() -> Path:
    return install_root() / "resources"


def user_data_dir() -> Path:
    """Per-user folder for downloaded models (overridable with RID_DESKTOP_DATA_DIR for tests)."""
    override = os.environ.get("RID_DESKTOP_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP_SLUG, appauthor=False))


def user_config_dir() -> Path:
    """Per-user settings folder (overridable with RID_DESKTOP_CONFIG_DIR for tests)."""
    override = os.environ.get("RID_DESKTOP_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP_SLUG, appauthor=False))
