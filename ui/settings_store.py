"""The GUI's own persistent preferences: a small JSON file under the user config folder.

Why a file and not only QSettings: the same values build a core :class:`ProtectionSettings`, tests
can read the file, and a ``schema_version`` lets a later release migrate old files instead of
crashing on them. Window geometry is stored here too (base64 of ``QMainWindow.saveGeometry``).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from rid_desktop import paths
from rid_desktop.batch.plan import check_name_suffix
from rid_desktop.errors import UserError
from rid_desktop.settings import DEFAULT_ENGINE, OutputSettings, ProtectionSettings
from rid_desktop.strength import PRESETS

SCHEMA_VERSION = 1
FILE_NAME = "gui-settings.json"
MAX_RECENT = 8

METADATA_POLICIES = ("strip-gps", "strip-all", "keep")


SESSION_KEY = secrets.randbits(62)
"""This session's secret key seed: every photo's key is derived from it and the photo's content, so
the real-pixels view and the batch agree within a session; never saved, new at every start."""


@dataclass
class GuiSettings:
    """Everything the window remembers between runs. Strength is kept in 255ths (slider units)."""

    engine: str = DEFAULT_ENGINE
    strength_255: int = round(PRESETS["medium"] * 255)
    device: str = "auto"
    output_dir: str = ""  # "" -> "<input folder>-protected" beside each input
    output_format: str = "same"  # "same" | "jpeg" | "png"
    jpeg_quality: int = 95
    metadata: str = "strip-gps"  # one of METADATA_POLICIES
    library: list[str] = field(default_factory=list)  # folders/files the user added
    recent_folders: list[str] = field(default_factory=list)
    geometry: str = ""  # base64 QByteArray from saveGeometry()
    splitter_state: str = ""
    surrogates_ready: bool = False  # first-run find-or-install of the surrogate models has succeeded
    name_suffix: str = ""  # added to each protected copy's name, e.g. "_protected" ("" keeps the name)
    interrupted_batch: list[str] = field(default_factory=list)  # inputs of a batch stopped before its end
    measure_with: str = "taef2"  # the model the protection score and AI view are measured with
    schema_version: int = SCHEMA_VERSION

    @property
    def eps(self) -> float:
        """The L-inf budget in [0, 1] pixel units."""
        return self.strength_255 / 255

    def to_protection(self) -> ProtectionSettings:
        """The core settings a batch or preview runs with."""
        output = OutputSettings(
            output_dir=Path(self.output_dir) if self.output_dir else None,
            format=self.output_format,
            jpeg_quality=int(self.jpeg_quality),
            strip_gps=self.metadata in ("strip-gps", "strip-all"),
            strip_exif=self.metadata == "strip-all",
        )
        return ProtectionSettings(engine=self.engine, eps=self.eps, device=self.device, output=output,
                                  seed=SESSION_KEY)

    def remember_folder(self, folder: str) -> None:
        """Put ``folder`` first in the recent list (no duplicates, at most MAX_RECENT)."""
        folder = str(folder)
        self.recent_folders = [folder] + [f for f in self.recent_folders if f != folder]
        del self.recent_folders[MAX_RECENT:]


def settings_path() -> Path:
    return paths.user_config_dir() / FILE_NAME


def load_settings(path: Path | None = None) -> GuiSettings:
    """Read the settings file; a missing, unreadable or future-version file gives defaults.

    Unknown keys are ignored and wrong-typed values fall back to the default, so a hand-edited
    or damaged file never stops the app from starting.
    """
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return GuiSettings()
    if not isinstance(data, dict) or int(data.get("schema_version", 0) or 0) > SCHEMA_VERSION:
        return GuiSettings()
    defaults = GuiSettings()
    values = {}
    for f in fields(GuiSettings):
        if f.name in data and isinstance(data[f.name], type(getattr(defaults, f.name))):
            values[f.name] = data[f.name]
    settings = GuiSettings(**values)
    settings.schema_version = SCHEMA_VERSION
    if settings.metadata not in METADATA_POLICIES:
        settings.metadata = defaults.metadata
    settings.strength_255 = min(max(settings.strength_255, 1), 32)
    if settings.output_dir and not os.path.isabs(settings.output_dir):
        settings.output_dir = ""  # never resolve a folder against whatever the working directory is
    try:
        check_name_suffix(settings.name_suffix)
    except UserError:
        settings.name_suffix = ""
    return settings


def save_settings(settings: GuiSettings, path: Path | None = None) -> Path:
    """Write atomically (temp file + replace) so a crash never leaves half a settings file."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = json.dumps(asdict(settings), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".gui-settings-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
