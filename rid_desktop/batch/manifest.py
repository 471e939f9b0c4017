"""The per-output-folder record that makes a batch resumable: ``<output root>/rid-manifest.json``.

It is rewritten atomically after every image, so a crash or kill leaves either the previous or the new
version, never a torn one. A missing or unreadable manifest is not an error: the batch starts fresh
(with a warning, the damaged file kept as ``rid-manifest.json.bak``) — at worst some images are
protected again.

It is also the record of which files in the output folder are ours: each protected entry carries the
output's size and SHA-256, and only a file matching them may ever be replaced (:meth:`Manifest.owns`).
File names that are not valid UTF-8 (Linux, old archives) are stored as JSON ``\\udcXX`` escapes, so
they survive a save and a reload unchanged.
"""

from __future__ import annotations

import json
import os
import logging
import time
from dataclasses import asdict
from pathlib import Path

from rid_desktop.errors import OutputError
from rid_desktop.hashing import sha256_file_or_none
from rid_desktop.io.discovery import MANIFEST_NAME
from rid_desktop.io.writer import atomic_write_bytes
from rid_desktop.settings import ProtectionSettings
from rid_desktop.strength import describe

BACKUP_SUFFIX = ".bak"
SCHEMA_VERSION = 2  # 2: protected entries record output_sha256 / output_size (ownership)
log = logging.getLogger(__name__)


def human_settings(settings: ProtectionSettings) -> dict:
    """The settings as a person reads them in the manifest."""
    data = asdict(settings)
    data["strength"] = describe(settings.eps)
    data["eps_255"] = round(settings.eps * 255, 4)
    data.pop("eps")
    data["output"].pop("output_dir", None)
    return data


class Manifest:
    """Entries keyed by the output's path relative to the output root (unique by construction)."""

    def __init__(self, root: Path, entries: dict[str, dict] | None = None, warning: str | None = None):
        self.root = Path(root)
        self.entries: dict[str, dict] = entries or {}
        self.warning = warning  # set when an existing manifest could not be read
        self.skipped: dict[str, int] = {}  # unsupported files in the inputs, counted by kind (video, raw, ...)
        self.damaged = False  # an existing file could not be parsed: keep a copy before replacing it
        self._lines: dict[str, str] = {}  # serialised entries, so a save after each image stays cheap

    @property
    def path(self) -> Path:
        return self.root / MANIFEST_NAME

    @classmethod
    def load(cls, root: Path) -> "Manifest":
        """Read the manifest of ``root``; tolerate absence and damage (start fresh, with a warning)."""
        path = Path(root) / MANIFEST_NAME
        try:
            raw = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):  # no manifest (or the output path is a file: refused later)
            return cls(root)
        except OSError as exc:
            return cls._fresh(root, f"could not read {path} ({exc.strerror or exc}); starting a fresh manifest")
        try:
            # UnicodeDecodeError is a ValueError; absurd nesting raises RecursionError in the parser.
            data = json.loads(raw.decode("utf-8"))
            entries = data["images"]
            if not isinstance(entries, dict) or not all(isinstance(v, dict) for v in entries.values()):
                raise ValueError("images is not a mapping")
        except (ValueError, KeyError, TypeError, RecursionError, MemoryError):
            fresh = cls._fresh(
                root,
                f"{path} is damaged; starting a fresh manifest (kept as {MANIFEST_NAME}{BACKUP_SUFFIX}; "
                "images may be redone)",
            )
            fresh.damaged = True
            return fresh
        return cls(root, entries)

    @classmethod
    def _fresh(cls, root: Path, warning: str) -> "Manifest":
        log.info(warning)  # shown to the person through BatchPlan.warnings, once
        return cls(root, warning=warning)

    def key_for(self, output: Path) -> str:
        try:
            return Path(output).relative_to(self.root).as_posix()
        except ValueError:
            return Path(output).as_posix()

    def owns(self, output: Path) -> bool:
        """True when the file at ``output`` is one we wrote: recorded with this size and hash."""
        entry = self.entries.get(self.key_for(output))
        if not entry or not entry.get("output_sha256"):
            return False
        try:
            if os.stat(output).st_size != entry.get("output_size"):
                return False
        except OSError:
            return False
        return sha256_file_or_none(output) == entry["output_sha256"]

    def keep_damaged_copy(self) -> None:
        """Before the first save over a damaged manifest: keep it as ``rid-manifest.json.bak``."""
        if not self.damaged:
            return
        self.damaged = False
        try:
            os.replace(self.path, self.path.with_name(MANIFEST_NAME + BACKUP_SUFFIX))
        except OSError:
            pass  # gone or not ours to move: the fresh manifest replaces it either way

    def candidate(self, output: Path, fingerprint: str) -> dict | None:
        """The entry that *might* make ``output`` already done (input hash still to be checked)."""
        entry = self.entries.get(self.key_for(output))
        if entry and entry.get("status") == "protected" and entry.get("fingerprint") == fingerprint:
            return entry
        return None

    def record(
        self,
        *,
        source_rel: str,
        output: Path,
        input_sha256: str | None,
        settings: ProtectionSettings,
        status: str,
        metrics: dict | None = None,
        error: str | None = None,
        output_sha256: str | None = None,
        output_size: int | None = None,
    ) -> None:
        key = self.key_for(output)
        self._lines.pop(key, None)
        previous = self.entries.get(key) or {}
        if output_sha256 is None and status != "protected":
            # A later failure does not make the earlier output, still on disk, any less ours.
            output_sha256, output_size = previous.get("output_sha256"), previous.get("output_size")
        self.entries[key] = {
            "source": source_rel,
            "output": self.key_for(output),
            "input_sha256": input_sha256,
            "fingerprint": settings.fingerprint(),
            "settings": human_settings(settings),
            "status": status,
            "metrics": metrics or {},
            "error": error,
            "output_sha256": output_sha256,
            "output_size": output_size,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def save(self) -> None:
        """Atomically rewrite the manifest (raises OutputError when the folder is not writable)."""
        blob = {"schema_version": SCHEMA_VERSION, "app": "rid-desktop", "skipped": self.skipped,
                "images": self.entries}
        # One entry per line, written with the fast C encoder (indent= would fall back to pure Python,
        # which made a 1,000-image batch spend most of its time here).
        for key, entry in self.entries.items():
            if key not in self._lines:
                self._lines[key] = _entry_line(key, entry)
        lines = ",\n".join(self._lines[key] for key in self.entries)
        head = json.dumps({k: v for k, v in blob.items() if k != "images"})[:-1]
        data = f'{head}, "images": {{\n{lines}\n}}}}\n'.encode("utf-8")
        self.keep_damaged_copy()
        try:
            # Not fsynced: a manifest lost to a power cut only means images are redone (resume is a
            # convenience); the atomic rename still guarantees it is never torn by a crash or kill.
            atomic_write_bytes(self.path, data, durable=False)
        except OutputError as exc:
            raise OutputError(f"could not update the manifest: {exc}") from None


def _entry_line(key: str, entry: dict) -> str:
    """One manifest line. Readable UTF-8 where possible; a name that is not valid UTF-8 (held by Python
    as lone surrogates) is written with ASCII escapes instead, which JSON reads back to the same name."""
    line = f"  {json.dumps(key, ensure_ascii=False)}: {json.dumps(entry, ensure_ascii=False, default=str)}"
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = f"  {json.dumps(key)}: {json.dumps(entry, default=str)}"
    return line
