"""One verified download: pooch checks the SHA-256 before the file is used; we add resume, progress and cancel.

:func:`fetch_verified` asks :func:`pooch.retrieve` for the file with its known hash. pooch streams
through our :class:`ResumableDownloader` into a temporary file, compares the SHA-256 and only then
moves the file into place — a file with the wrong hash is deleted, never used.

The downloader keeps the bytes received so far in ``<dest>.part`` next to the destination. When a
transfer is cut (network error, the app closed), the next attempt asks the server for the rest
(HTTP ``Range``) and appends; a server that ignores ``Range`` simply sends the whole file again.
A user's cancel (the progress callback raising :class:`rid_desktop.errors.Cancelled`) removes the
partial file: they asked for nothing to be left behind. Before any byte is written, the free disk
space is checked against what is still to come.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
from pathlib import Path
from typing import Callable

from rid_desktop.errors import Cancelled, ModelError

CHUNK_BYTES = 1 << 18  # 256 KiB: progress steps, and what an interruption can lose
TIMEOUT_S = 60
DISK_MARGIN_BYTES = 64 << 20  # keep this much free beyond the file itself

DownloadProgress = Callable[[int, "int | None"], None]
"""``progress(done_bytes, total_bytes)``; total is None when unknown. May raise Cancelled."""


def part_path(dest: Path) -> Path:
    """Where the bytes of an unfinished download of ``dest`` are kept between attempts."""
    return dest.with_name(f".{dest.name}.part")


def free_bytes(folder: Path) -> int:
    """Free space on the disk holding ``folder`` (its nearest existing parent)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_disk_space(folder: Path, needed: int | None, label: str) -> None:
    """ModelError when ``needed`` bytes (plus a margin) do not fit on the disk of ``folder``."""
    if not needed:
        return
    free = free_bytes(folder)
    if free < needed + DISK_MARGIN_BYTES:
        raise ModelError(
            f"not enough disk space for {label}: it needs {format_size(needed)} and "
            f"{folder} has {format_size(free)} free; free some space and try again"
        )


def format_size(size: int | None) -> str:
    if size is None:
        return "unknown size"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


class ResumableDownloader:
    """A pooch downloader (``downloader(url, output_file, pooch)``) that resumes from ``.part`` files.

    Args:
        part: the partial file to resume from and grow.
        label: the model's name, for messages.
        size_hint: expected size when the server does not say (for the disk-space check).
        progress: see :data:`DownloadProgress`.
    """

    def __init__(self, part: Path, label: str, size_hint: int | None = None,
                 progress: DownloadProgress | None = None):
        self.part, self.label, self.size_hint, self.progress = part, label, size_hint, progress

    def __call__(self, url: str, output_file, pooch=None, check_only: bool = False):
        import requests

        if check_only:
            return True
        have = self.part.stat().st_size if self.part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with requests.get(url, stream=True, timeout=TIMEOUT_S, headers=headers) as response:
                if response.status_code == 416 and have:  # nothing after what we have: start over
                    self.part.unlink()
                    return self(url, output_file, pooch)
                if response.status_code >= 400:
                    raise ModelError(f"cannot download {self.label} from {url}: HTTP {response.status_code} "
                                     f"{response.reason}")
                resumed = response.status_code == 206 and have > 0
                if not resumed:
                    have = 0
                length = response.headers.get("Content-Length")
                remaining = int(length) if length and length.isdigit() else None
                total = have + remaining if remaining is not None else self.size_hint
                check_disk_space(self.part.parent, (total - have) if total else None, self.label)
                self._receive(response, have, total)
        except requests.exceptions.RequestException as exc:
            raise ModelError(f"cannot download {self.label} from {url}: {_reason(exc)}; "
                             "run the same command again to resume") from exc
        self.part.replace(output_file)  # pooch now verifies the hash and moves it into place
        return None

    def _receive(self, response, have: int, total: int | None) -> None:
        import requests

        done = have
        if self.progress:
            self.progress(done, total)
        try:
            with open(self.part, "ab" if have else "wb") as out:
                for block in response.iter_content(CHUNK_BYTES):
                    out.write(block)
                    done += len(block)
                    if self.progress:
                        self.progress(done, total)
        except Cancelled:
            with contextlib.suppress(FileNotFoundError):
                self.part.unlink()
            raise
        except (requests.exceptions.RequestException, ConnectionError) as exc:
            raise ModelError(f"download of {self.label} was cut short after {format_size(done)}"
                             f"{f' of {format_size(total)}' if total else ''}; nothing was installed, "
                             "run the same command again to resume") from exc
        except OSError as exc:  # after requests' errors, which are OSErrors too
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                with contextlib.suppress(FileNotFoundError):
                    self.part.unlink()
                raise ModelError(f"the disk is full: {self.label} could not be downloaded; "
                                 "free some space and try again") from exc
            raise
        if total is not None and done < total:
            raise ModelError(f"download of {self.label} was cut short ({done} of {total} bytes); "
                             "nothing was installed, run the same command again to resume")


def fetch_verified(url: str, dest: Path, sha256: str, *, label: str, size_hint: int | None = None,
                   progress: DownloadProgress | None = None) -> Path:
    """Download ``url`` to ``dest`` with pooch, resuming a partial download, SHA-256 checked before use.

    Raises:
        ModelError: network/HTTP error or cut-off transfer (the ``.part`` file stays, so the next call
            resumes), wrong hash (everything deleted), not enough disk space.
        Cancelled: raised by ``progress``; the partial file is removed.
    """
    import pooch

    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." lines would bypass our progress display
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    downloader = ResumableDownloader(part, label, size_hint, progress)
    try:
        pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=dest.name, path=dest.parent,
                       downloader=downloader, progressbar=False)
    except ValueError as exc:  # pooch: hash mismatch; its temporary file is already deleted
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        if "hash" not in str(exc).lower():
            raise ModelError(f"cannot download {label}: {exc}") from exc
        actual = _actual_hash(str(exc), sha256)
        raise ModelError(
            f"downloaded {label} does not match its published SHA-256 (expected {sha256[:12]}..."
            f"{f', got {actual[:12]}...' if actual else ''}); the file was deleted and nothing was installed"
        ) from exc
    return dest


def _actual_hash(message: str, expected: str) -> str | None:
    """The received file's hash, as pooch's mismatch message states it."""
    import re

    return next((h for h in re.findall(r"[0-9a-f]{64}", message) if h != expected), None)


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if "Connection refused" in text or "Failed to establish" in text:
        return "the server could not be reached"
    return text if len(text) <= 160 else text[:157] + "..."
