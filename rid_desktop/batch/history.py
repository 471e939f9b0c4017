"""What earlier batches did to the photos of a library, read back from their manifests.

Why: a window that forgets, after a restart, which photos are protected and why others failed makes
people redo work or trust stale badges. The manifests already record every image; this reads them
without hashing a single photo (cheap enough for start-up) and says which records still hold.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from rid_desktop.batch.manifest import Manifest
from rid_desktop.batch.plan import _output_roots
from rid_desktop.settings import ProtectionSettings

MTIME_SLACK_S = 2.0  # file systems round mtimes (FAT: 2 s); a source changed later than that is "changed"


@dataclass(frozen=True)
class RecordedResult:
    """One photo's last recorded outcome.

    Attributes:
        source: the original, absolute.
        status: "protected" or "failed".
        output: the protected copy (None when it failed).
        reason: the failure reason, or a one-line description of the protection (when, strength).
    """

    source: Path
    status: str
    output: Path | None
    reason: str


def input_root(source: Path) -> Path:
    """The folder a library source is planned from: a folder itself, a single file's folder."""
    return source if source.is_dir() else source.parent


def recorded_results(sources: list[Path], settings: ProtectionSettings) -> dict[Path, RecordedResult]:
    """Last recorded outcome of every photo under ``sources`` that a manifest mentions.

    Looks in the output folders a batch of all ``sources`` (or of each one alone) would use with
    ``settings`` — the same rule as :func:`rid_desktop.batch.plan_batch`. A "protected" record
    counts only while its output file exists and the original has not been modified since.
    """
    roots = list(dict.fromkeys(input_root(Path(s)) for s in sources))
    pairs: dict[tuple[Path, Path], None] = {}
    if roots:
        for root, out in _output_roots(roots, settings).items():
            pairs[(root, out)] = None
        for root in roots:
            for root_, out in _output_roots([root], settings).items():
                pairs[(root_, out)] = None
    results: dict[Path, RecordedResult] = {}
    for root, out_root in pairs:
        manifest = Manifest.load(out_root) if os.path.isdir(out_root) else None
        if manifest is None:
            continue
        for entry in manifest.entries.values():
            result = _result(root, out_root, entry)
            if result is not None:
                results[result.source] = result
    return results


def _result(root: Path, out_root: Path, entry: dict) -> RecordedResult | None:
    relative, status = entry.get("source"), entry.get("status")
    if not isinstance(relative, str) or status not in ("protected", "failed"):
        return None
    source = Path(os.path.abspath(root / relative))
    try:
        source_mtime = os.stat(source).st_mtime
    except OSError:
        return None  # the original is gone or unreadable: nothing to show
    if status == "failed":
        return RecordedResult(source, "failed", None, str(entry.get("error") or "failed"))
    output = out_root / str(entry.get("output") or "")
    recorded = _parse_time(entry.get("timestamp"))
    if not output.is_file() or (recorded is not None and source_mtime > recorded + MTIME_SLACK_S):
        return None  # the copy was deleted, or the original changed after it was protected
    strength = (entry.get("settings") or {}).get("strength") or ""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recorded)) if recorded is not None else "earlier"
    reason = f"protected {when}" + (f" at {strength}" if strength else "")
    return RecordedResult(source, "protected", output, reason)


def _parse_time(text) -> float | None:
    from datetime import datetime

    try:
        return datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%S%z").timestamp() if text else None
    except (ValueError, OverflowError):
        return None
