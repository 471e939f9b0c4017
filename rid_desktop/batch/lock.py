"""One run at a time per output folder: an OS file lock on ``<output root>/.rid-desktop.lock``.

Two runs writing into one folder would each rewrite the manifest from their own copy (the last write
wins, entries are lost) and each would delete the other's in-flight temporary files. The lock is held
for the whole run; the operating system drops it when the process ends, even on ``kill -9``, so a
crashed run never leaves a folder locked. The lock file itself stays (empty, hidden): it also marks
the folder as one RID Desktop has written to, even if the manifest is later deleted.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from rid_desktop.errors import UserError
from rid_desktop.io.discovery import LOCK_NAME

_BUSY = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)}


class FolderBusyError(UserError):
    """Another run is writing into the same output folder."""


class FolderLock:
    """An exclusive, non-blocking lock on one output folder (created if missing)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        return self.folder / LOCK_NAME

    def acquire(self) -> None:
        """Take the lock. Raises FolderBusyError when another run holds it, OSError when unusable."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
        try:
            _lock(fd)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in _BUSY:  # e.g. a network share without locks: the caller goes on unlocked
                raise
            raise FolderBusyError(
                f"another RID Desktop run is writing into {self.folder}; wait for it to finish, "
                "or choose another output folder"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                _unlock(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            self._fd = None


def is_marked(folder: Path) -> bool:
    """True when RID Desktop has run into ``folder`` before (its lock file is there)."""
    return os.path.lexists(Path(folder) / LOCK_NAME)


if os.name == "nt":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock(fd: int) -> None:
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
