"""The settings one protection job runs with, shared by CLI, batch runner, manifest and GUI.

``ProtectionSettings.fingerprint()`` is what the manifest compares to decide whether an image was
already protected "with the same settings" (resume); output-only options are part of it too, since
they change the written file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rid_desktop.strength import PRESETS

DEFAULT_ENGINE = "rid"  # the names come from the registry: rid_desktop.engines.engine_names()


@dataclass(frozen=True)
class OutputSettings:
    """How protected copies are written."""

    output_dir: Path | None = None  # None -> "<input folder>-protected" beside the input
    format: str = "same"  # "same" | "jpeg" | "png"  (HEIC/HEIF inputs become JPEG under "same")
    jpeg_quality: int = 95  # written with 4:4:4 chroma so chroma perturbations survive our own save
    strip_gps: bool = True
    strip_exif: bool = False  # drop all EXIF (the ICC profile is always kept)


@dataclass(frozen=True)
class ProtectionSettings:
    """What protection to compute."""

    engine: str = DEFAULT_ENGINE  # registry name, see rid_desktop.engines.list_engines()
    eps: float = PRESETS["medium"]  # L-inf budget, [0, 1] pixel units
    device: str = "auto"
    seed: int | None = None  # None: a fresh random key per photo, never stored (see engines.base.resolve_seed)
    model_path: str | None = None  # explicit generator checkpoint (e.g. an official RID file)
    targets: tuple[str, ...] | None = None  # encoders the iterative engines attack ("sd-vae-ft-mse", ...)
    output: OutputSettings = field(default_factory=OutputSettings)

    def fingerprint(self) -> str:
        """Stable hash of every choice that changes the protection (device excluded: same maths; the
        key excluded: a fresh key per photo is the default, and any key protects as well)."""
        data = asdict(self)
        data.pop("device")
        data.pop("seed")  # a key, not a setting: another key is equally strong, so no re-protection
        if data["targets"] is None:  # unset: the fingerprint stays what it was before the field existed
            data.pop("targets")
        data["output"].pop("output_dir")
        data["eps"] = round(self.eps * 255, 4)
        blob = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
