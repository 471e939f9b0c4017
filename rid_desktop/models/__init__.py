"""Model registry (where weights come from), installs on request, and safe loading (never unpickles code).

The small API the GUI's "Install…" button and the CLI share:

* :func:`install` — download a registry model (verified, resumable) when the user asked for it;
* :func:`remove` — free its space;
* :func:`describe` — the one line to show before asking (size, licence, source, purpose).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

CancelCheck = Callable[[], bool]


def install(name: str, progress: Callable[[int, "int | None"], None] | None = None, cancel=None,
            *, force: bool = False) -> Path:
    """Install registry model ``name`` into the per-user folder and return its path (file or folder).

    Args:
        progress: ``progress(done_bytes, total_bytes_or_None)``, called from the calling thread.
        cancel: a ``threading.Event`` (or any object with ``is_set()``) or a callable returning True to
            stop; checked between chunks. A cancelled download leaves nothing behind.

    Raises:
        rid_desktop.errors.ModelError: one-line reason (no checksum, network, hash, disk space...).
        rid_desktop.errors.Cancelled: ``cancel`` was set.
    """
    from rid_desktop.errors import Cancelled
    from rid_desktop.models.download import install_model

    is_cancelled = _cancel_check(cancel)

    def report(done: int, total: int | None) -> None:
        if is_cancelled():
            raise Cancelled()
        if progress is not None:
            progress(done, total)

    return install_model(name, progress=report, force=force)


def remove(name: str) -> int:
    """Delete an installed model from the per-user folder; returns the bytes freed."""
    from rid_desktop.models.download import remove_model

    return remove_model(name)


def describe(name: str) -> str:
    """``NAME: SIZE, licence L, from URL — purpose`` (what to show before the user agrees)."""
    from rid_desktop.models.download import describe_download

    return describe_download(name)


def _cancel_check(cancel) -> CancelCheck:
    if cancel is None:
        return lambda: False
    if hasattr(cancel, "is_set"):
        return cancel.is_set
    if callable(cancel):
        return cancel
    raise TypeError("cancel must be a threading.Event-like object or a callable")
