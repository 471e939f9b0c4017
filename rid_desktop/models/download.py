"""Install, verify and list the third-party models in the registry.

A download is streamed into a hidden temporary file next to its destination while its SHA-256 is
computed; only a complete file with the published hash is moved into place (``os.replace``, atomic on
one filesystem). A wrong hash, a cut-off transfer or a network error leaves nothing behind, so a
half-downloaded file can never be picked up by :func:`rid_desktop.models.registry.locate`.

Plain :mod:`urllib` is used rather than pooch: pooch reports progress only through a tqdm-shaped
object and writes before it verifies; here the CLI (tqdm) and the GUI share one
``progress(done_bytes, total_bytes_or_None)`` callback that may raise
:class:`rid_desktop.errors.Cancelled`.

``RID_DESKTOP_MODEL_BASE_URL`` (or the ``base_url`` argument) replaces the folder part of every
registry URL — for mirrors, and for tests, which serve files from 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rid_desktop import paths
from rid_desktop.errors import ModelError
from rid_desktop.models.registry import (
    MODELS,
    ModelSpec,
    expected_sha256,
    get_spec,
    how_to_get,
    locate,
    sha256_file,
)

BASE_URL_ENV = "RID_DESKTOP_MODEL_BASE_URL"
CHUNK_BYTES = 1 << 20
TIMEOUT_S = 60

DownloadProgress = Callable[[int, "int | None"], None]
"""``progress(done_bytes, total_bytes)``; total is None when the server does not say. May raise Cancelled."""


def install_dir() -> Path:
    """Where downloaded models go: the per-user data folder (searched last by ``locate``)."""
    return paths.user_data_dir() / "models"


def model_url(spec: ModelSpec, base_url: str | None = None) -> str:
    """The spec's download URL, or ``base_url``/``$RID_DESKTOP_MODEL_BASE_URL`` + its file name."""
    base = base_url or os.environ.get(BASE_URL_ENV)
    if base:
        return base.rstrip("/") + "/" + urllib.parse.quote(spec.filename)
    if not spec.url:
        raise ModelError(f"model {spec.name} cannot be downloaded: {how_to_get(spec)}")
    return spec.url


def install_model(
    name: str,
    *,
    progress: DownloadProgress | None = None,
    force: bool = False,
    base_url: str | None = None,
) -> Path:
    """Download a registry model into :func:`install_dir`, verified against its SHA-256.

    An already installed file with the right hash is kept (unless ``force``); a damaged one is replaced.

    Returns:
        Path of the installed, verified file.

    Raises:
        ModelError: unknown name, user-supplied/bundled model, no published checksum, network error,
            truncated transfer or hash mismatch (nothing is left on disk in these cases).
        Cancelled: raised by ``progress``; the partial download is removed.
    """
    spec = get_spec(name)
    if spec.bundled or (not spec.url and not spec.sha256):
        raise ModelError(f"model {spec.name} is not downloaded: {how_to_get(spec)}")
    if not spec.sha256:
        raise ModelError(f"refusing to download {spec.name}: the registry has no checksum to verify it against")
    url = model_url(spec, base_url)
    dest = install_dir() / spec.filename
    if dest.is_file() and not force and sha256_file(dest) == spec.sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    _download_verified(url, dest, spec, progress)
    return dest


def _download_verified(url: str, dest: Path, spec: ModelSpec, progress: DownloadProgress | None) -> None:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise ModelError(f"refusing to download {spec.name} from {url!r}: only http(s) URLs are allowed")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, done, total = _stream(url, out, spec, progress)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done != total:
            raise ModelError(
                f"download of {spec.name} was cut short ({done} of {total} bytes); nothing was installed, try again"
            )
        if digest != spec.sha256:
            raise ModelError(
                f"downloaded {spec.name} does not match its published SHA-256 (expected {spec.sha256[:12]}..., "
                f"got {digest[:12]}..., {done} bytes); nothing was installed"
            )
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _stream(url: str, out, spec: ModelSpec, progress: DownloadProgress | None) -> tuple[str, int, int | None]:
    """Copy the response body to ``out``; returns (sha256 hex, bytes read, Content-Length or None)."""
    digest = hashlib.sha256()
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:  # noqa: S310 - scheme checked above
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if progress:
                progress(0, total)
            while True:
                try:
                    block = resp.read(CHUNK_BYTES)
                except Exception as exc:  # http.client.IncompleteRead, connection reset mid-body
                    raise ModelError(
                        f"download of {spec.name} was cut short after {done} bytes"
                        f"{f' of {total}' if total else ''} ({type(exc).__name__}); nothing was installed, try again"
                    ) from exc
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise ModelError(f"cannot download {spec.name} from {url}: HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise ModelError(f"cannot download {spec.name} from {url}: {exc.reason}") from exc
    except (TimeoutError, ConnectionError) as exc:
        raise ModelError(f"cannot download {spec.name} from {url}: {exc}") from exc
    return digest.hexdigest(), done, total


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking one model file. ``path`` is None when the file was not found."""

    name: str
    path: Path | None
    ok: bool
    message: str

    def __iter__(self):  # allows ``path, ok, message = verify_model(name)``
        return iter((self.path, self.ok, self.message))


def verify_model(name: str, explicit: str | os.PathLike | None = None) -> VerifyResult:
    """Check that a model is present and, when the registry has a checksum, that it matches."""
    spec = get_spec(name)
    try:
        path = locate(name, explicit, verify=False)
    except ModelError as exc:
        return VerifyResult(name, None, False, str(exc))
    expected = expected_sha256(spec)
    if not expected:
        kind = "bundled" if spec.bundled else "user-supplied"
        return VerifyResult(name, path, True, f"present at {path} ({kind}, no published checksum to compare)")
    actual = sha256_file(path)
    if actual != expected:
        return VerifyResult(
            name, path, False,
            f"{path} is damaged or not the expected {name} (SHA-256 {actual[:12]}..., expected "
            f"{expected[:12]}...); {how_to_get(spec) if spec.bundled else 'delete it and ' + how_to_get(spec)}",
        )
    return VerifyResult(name, path, True, f"{path} verified (SHA-256 {actual[:12]}...)")


@dataclass(frozen=True)
class ModelRow:
    """One line of ``rid-desktop models list``."""

    name: str
    role: str
    license: str
    location: Path | None  # None: missing
    status: str  # "installed" | "bundled" | "missing" | "user-supplied, missing"
    purpose: str
    url: str | None


def list_models() -> list[ModelRow]:
    """Every registry model with where it was found (checksums are not computed: see verify_model)."""
    rows = []
    for spec in MODELS.values():
        try:
            location: Path | None = locate(spec.name, verify=False)
        except ModelError:
            location = None
        if location is not None:
            status = "bundled" if spec.bundled else "installed"
        elif spec.url:
            status = "missing"
        elif spec.bundled:
            status = "bundled, missing"
        else:
            status = "user-supplied, missing"
        rows.append(ModelRow(spec.name, spec.role, spec.license, location, status, spec.purpose, spec.url))
    return rows
