"""Install, verify, remove and list the third-party models in the registry — only when the user asks.

Every download goes through :func:`rid_desktop.models.fetch.fetch_verified` (pooch, with resume,
progress/cancel and a disk-space check): the SHA-256 published for the file is checked before the
file is used, and a file with the wrong hash is deleted. Nothing here runs unless a person asked for
that model (``rid-desktop models install NAME``, the GUI's "Install…" button); looking a model up
(:func:`rid_desktop.models.registry.locate`) never downloads.

Single-file models land in :func:`install_dir` under their file name. Diffusers models
(``kind="diffusers-vae"``/``"diffusers-unet"``) become a folder there: the verified weights (a
``.bin`` is read weights-only and re-saved as safetensors), the ``config.json`` (and
``scheduler_config.json``) recorded in the registry, and ``rid-install.json``, a receipt with the
source, revision and the SHA-256 of every file, which ``models verify`` checks. The folder is built
next to its destination and moved into place in one step, so a half-installed model is never found.

``RID_DESKTOP_MODEL_BASE_URL`` (or the ``base_url`` argument) replaces the folder part of every
registry URL — for mirrors, and for tests, which serve files from 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from rid_desktop import paths
from rid_desktop.errors import ModelError
from rid_desktop.models.fetch import DownloadProgress, check_disk_space, fetch_verified, format_size, part_path
from rid_desktop.models.registry import (
    INSTALL_RECEIPT,
    MODELS,
    ModelSpec,
    expected_sha256,
    get_spec,
    how_to_get,
    locate,
    sha256_file,
)

BASE_URL_ENV = "RID_DESKTOP_MODEL_BASE_URL"
__all__ = ["DownloadProgress", "install_dir", "install_model", "remove_model", "verify_model", "list_models"]


def install_dir() -> Path:
    """Where downloaded models go: the per-user data folder (searched last by ``locate``)."""
    return paths.user_data_dir() / "models"


def model_url(spec: ModelSpec, base_url: str | None = None) -> str:
    """The spec's download URL, or ``base_url``/``$RID_DESKTOP_MODEL_BASE_URL`` + its file name
    (folder models: + ``<folder>/<file name>``)."""
    base = base_url or os.environ.get(BASE_URL_ENV)
    if base:
        tail = spec.filename if not spec.is_folder else f"{spec.filename}/{_remote_name(spec)}"
        return base.rstrip("/") + "/" + urllib.parse.quote(tail)
    if not spec.url:
        raise ModelError(f"model {spec.name} cannot be downloaded: {how_to_get(spec)}")
    return spec.url


def describe_download(name: str) -> str:
    """What the user agrees to before a download: size, licence, source. One line."""
    spec = get_spec(name)
    size = format_size(spec.size_bytes) if spec.size_bytes else "size not published"
    source = spec.homepage or spec.url or "-"
    return f"{spec.name}: {size}, licence {spec.license}, from {source} — {spec.purpose}"


def install_model(
    name: str,
    *,
    progress: DownloadProgress | None = None,
    force: bool = False,
    base_url: str | None = None,
) -> Path:
    """Download a registry model into :func:`install_dir`, verified against its SHA-256.

    An already installed, verified copy is kept (unless ``force``); a damaged one is replaced. An
    interrupted download resumes where it stopped.

    Returns:
        Path of the installed file (or model folder).

    Raises:
        ModelError: unknown name, user-supplied/bundled model, no published checksum, network error,
            cut-off transfer, hash mismatch, not enough disk space (nothing is installed in these cases).
        Cancelled: raised by ``progress``; the partial download is removed.
    """
    spec = get_spec(name)
    if spec.bundled or (not spec.url and not spec.sha256):
        raise ModelError(f"model {spec.name} is not downloaded: {how_to_get(spec)}")
    if not spec.sha256:
        raise ModelError(f"refusing to download {spec.name}: the registry has no checksum to verify it against")
    url = model_url(spec, base_url)
    _check_scheme(url, spec)
    if spec.is_folder:
        return _install_folder(spec, url, progress, force)
    dest = install_dir() / spec.filename
    if dest.is_file() and not force and sha256_file(dest) == spec.sha256:
        return dest
    if dest.is_file():  # damaged or forced: download beside it, replace only once verified
        staging = install_dir() / f".{spec.filename}.download" / spec.filename
        try:
            fetch_verified(url, staging, spec.sha256, label=spec.name, size_hint=spec.size_bytes, progress=progress)
            os.replace(staging, dest)
        finally:
            with contextlib.suppress(OSError):
                staging.parent.rmdir()
        return dest
    return fetch_verified(url, dest, spec.sha256, label=spec.name, size_hint=spec.size_bytes, progress=progress)


def remove_model(name: str) -> int:
    """Delete an installed model from the per-user folder (with any unfinished download); bytes freed.

    Raises:
        ModelError: nothing of that model is in the per-user folder (bundled models and files in
            ``$RID_DESKTOP_MODELS_DIR`` are never deleted).
    """
    spec = get_spec(name)
    targets = [install_dir() / spec.filename, part_path(install_dir() / spec.filename),
               install_dir() / f".{spec.filename}.download", install_dir() / f".{spec.filename}.building"]
    present = [t for t in targets if t.exists()]
    if not present:
        raise ModelError(f"model {spec.name} is not installed in {install_dir()}; nothing was removed")
    freed = 0
    for target in present:
        freed += _size_on_disk(target)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return freed


def _remote_name(spec: ModelSpec) -> str:
    return urllib.parse.urlsplit(spec.url or "").path.rsplit("/", 1)[-1] or "weights.bin"


def _check_scheme(url: str, spec: ModelSpec) -> None:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ModelError(f"refusing to download {spec.name} from {url!r}: only http(s) URLs are allowed")


def _install_folder(spec: ModelSpec, url: str, progress: DownloadProgress | None, force: bool) -> Path:
    dest = install_dir() / spec.filename
    if not force and _receipt_source(dest) == spec.sha256 and verify_model(spec.name, dest).ok:
        return dest
    remote = _remote_name(spec)
    staging = install_dir() / f".{spec.filename}.download"
    converting = not remote.endswith(".safetensors")
    if converting and spec.size_bytes:  # the .bin and its safetensors copy exist side by side for a moment
        check_disk_space(install_dir(), 2 * spec.size_bytes, spec.name)
    try:
        fetched = fetch_verified(url, staging / remote, spec.sha256, label=spec.name, size_hint=spec.size_bytes,
                                 progress=progress)
    finally:  # keep the staging folder only while it holds a partial download to resume
        with contextlib.suppress(OSError):
            staging.rmdir()
    try:
        return build_folder(spec, fetched)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_folder(spec: ModelSpec, weights: Path) -> Path:
    """Turn verified downloaded ``weights`` of a diffusers model into its installed folder (in one step).

    Also used by "Choose file…" (:mod:`rid_desktop.models.local_install`) once the file's hash matched.
    """
    dest = install_dir() / spec.filename
    converting = not _remote_name(spec).endswith(".safetensors")  # the hash matched: it is that file
    building = install_dir() / f".{spec.filename}.building"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        _assemble(spec, Path(weights), building, converting)
        if dest.is_dir():
            shutil.rmtree(dest)
        elif dest.exists():
            dest.unlink()
        os.replace(building, dest)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return dest


def _assemble(spec: ModelSpec, fetched: Path, folder: Path, converting: bool) -> None:
    """Weights (as safetensors) + configs + receipt in ``folder``; ModelError if the weights do not fit."""
    from safetensors.torch import load_file, save_file

    from rid_desktop.models.loading import read_weights

    weights = folder / "diffusion_pytorch_model.safetensors"
    if converting:  # published as a pickle: read weights-only, store as safetensors
        state = read_weights(fetched).state
        save_file({k: v.contiguous() for k, v in state.items()}, str(weights), metadata={"format": "pt"})
    else:
        shutil.copyfile(fetched, weights)
        state = load_file(str(weights))
    _check_fits(spec, state)
    (folder / "config.json").write_text(json.dumps(spec.config, indent=2) + "\n", encoding="utf-8")
    if spec.scheduler:
        (folder / "scheduler_config.json").write_text(json.dumps(spec.scheduler, indent=2) + "\n", encoding="utf-8")
    files = {p.name: {"sha256": sha256_file(p), "size": p.stat().st_size} for p in sorted(folder.iterdir())}
    receipt = {"name": spec.name, "source": spec.url, "revision": spec.revision, "source_sha256": spec.sha256,
               "license": spec.license, "files": files}
    (folder / INSTALL_RECEIPT).write_text(json.dumps(receipt, indent=2) + "\n", encoding="utf-8")


def _check_fits(spec: ModelSpec, state: dict) -> None:
    """Build the architecture from the registry config and load the weights strictly."""
    from rid_desktop.models.diffusers_models import build_from_config

    model = build_from_config(spec.config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        text = " ".join(str(exc).split())
        raise ModelError(f"downloaded {spec.name} does not fit its recorded architecture: {text[:240]}; "
                         "nothing was installed") from exc


def _receipt_source(folder: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return json.loads((folder / INSTALL_RECEIPT).read_text(encoding="utf-8"))["source_sha256"]
    return None


def _size_on_disk(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


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
    if spec.is_folder:
        return _verify_folder(spec, path)
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


def _verify_folder(spec: ModelSpec, folder: Path) -> VerifyResult:
    """Every file against the receipt written at install; the receipt against the registry."""
    try:
        receipt = json.loads((folder / INSTALL_RECEIPT).read_text(encoding="utf-8"))
        files = receipt["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return VerifyResult(spec.name, folder, False, f"{folder} has no readable install receipt; {how_to_get(spec)}")
    if receipt.get("source_sha256") != spec.sha256:
        return VerifyResult(spec.name, folder, False,
                            f"{folder} was installed from another file than the registry's {spec.name}; "
                            f"remove it and {how_to_get(spec)}")
    for rel, entry in files.items():
        path = folder / rel
        if not path.is_file() or sha256_file(path) != entry.get("sha256"):
            return VerifyResult(spec.name, folder, False,
                                f"{path} is damaged or missing; run: rid-desktop models install {spec.name} --force")
    return VerifyResult(spec.name, folder, True,
                        f"{folder} verified ({len(files)} files; source SHA-256 {spec.sha256[:12]}...)")


@dataclass(frozen=True)
class ModelRow:
    """One line of ``rid-desktop models list``."""

    name: str
    role: str
    license: str
    location: Path | None  # None: missing
    status: str  # "installed" | "bundled" | "missing" | "user-supplied, missing" | "not installable"
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
        elif spec.url and spec.sha256:
            status = "missing"
        elif spec.url:
            status = "not installable"
        elif spec.bundled:
            status = "bundled, missing"
        else:
            status = "user-supplied, missing"
        rows.append(ModelRow(spec.name, spec.role, spec.license, location, status, spec.purpose, spec.url))
    return rows
