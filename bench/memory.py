"""Peak resident memory, measured in a fresh subprocess per case so cases cannot pollute each other.

A Python process never gives its peak back, so measuring a 12 MP photo after a 50-image batch in the
same process would report the larger of the two. Each memory case therefore runs in its own
interpreter (:mod:`bench.worker`), which reports its own high-water mark as JSON on its last line.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def _status_field(name: str) -> int | None:
    """A ``/proc/self/status`` field in bytes (Linux only), e.g. VmHWM (peak RSS) or VmRSS."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(name + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, in bytes (any OS)."""
    hwm = _status_field("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, Linux KiB


def current_rss_bytes() -> int:
    """Resident set size now, in bytes (falls back to the peak where /proc is missing)."""
    rss = _status_field("VmRSS")
    return rss if rss is not None else peak_rss_bytes()


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (Linux >= 4.0), so a later peak excludes setup. True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def run_worker(spec: dict[str, Any], *, timeout_s: float = 1800) -> dict[str, Any]:
    """Run one case in a fresh ``python -m bench.worker`` and return its JSON result.

    The result always has ``ok``; on failure ``error`` holds the last line of the worker's stderr,
    so one broken case never stops the whole benchmark.
    """
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    threads = os.environ.get("RID_BENCH_THREADS")
    if threads and "threads" not in spec:
        spec = {**spec, "threads": int(threads)}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench.worker", json.dumps(spec)],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"timed out after {timeout_s:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode == 0 and lines:
        return json.loads(lines[-1])
    tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    return {"ok": False, "error": tail[-1] if tail else f"worker exited with {proc.returncode}"}
