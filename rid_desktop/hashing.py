"""SHA-256 of files and bytes, in one place (the batch manifest and the model registry both need it)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex digest of a file, read in 1 MB chunks (constant memory for any size). Raises OSError."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file_or_none(path: Path) -> str | None:
    """:func:`sha256_file`, or None when the file cannot be read (moved, unreadable)."""
    try:
        return sha256_file(path)
    except OSError:
        return None
