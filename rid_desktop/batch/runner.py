"""Run a :class:`BatchPlan`: a generator of :class:`BatchEvent` (napari style), one image at a time.

Guarantees: one bad file never stops the batch (it becomes an "item_failed" event and a manifest
entry); each output is written, atomically, as soon as its image is done, and the manifest right
after; nothing is kept between images, so memory does not grow with the batch; cancel is checked
between every tile/step and a cancelled image leaves no output.

Nothing is lost: an output only ever replaces a file the manifest records as ours (same size and
SHA-256) or one holding exactly the bytes we are about to write (an output whose manifest entry was
lost, e.g. to a kill or a deleted manifest: it is adopted). Each output folder is locked for the run
(:mod:`rid_desktop.batch.lock`), and an engine result with NaN or infinite values fails its photo
instead of being written as a black picture.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from rid_desktop.batch.events import BatchEvent, BatchSummary
from rid_desktop.batch.lock import FolderBusyError, FolderLock
from rid_desktop.batch.manifest import Manifest
from rid_desktop.batch.plan import BatchItem, BatchPlan
from rid_desktop.checks.metrics import perturbation_norms_255, psnr_from_rms_255
from rid_desktop.engines.base import ProgressFn, project_linf, resolve_seed
from rid_desktop.errors import Cancelled, ModelError, UnsupportedImageError, UserError
from rid_desktop.hashing import sha256_bytes, sha256_file
from rid_desktop.io.loader import decode_image, read_image_bytes, to_tensor
from rid_desktop.io.writer import remove_stale_temp_files, save_protected

log = logging.getLogger(__name__)


def run_batch(
    plan: BatchPlan,
    engine,
    *,
    cancel: threading.Event | None = None,
    on_progress: ProgressFn | None = None,
) -> Iterator[BatchEvent]:
    """Protect every pending item of ``plan`` with ``engine``, yielding events as it goes.

    Args:
        plan: from :func:`plan_batch`.
        engine: anything with ``protect(image (1,3,H,W), eps, *, seed, progress) -> (1,3,H,W)``.
        cancel: set it (from any thread) to stop within one tile/step; the current image is dropped.
        on_progress: ``on_progress(done_tiles, total_tiles)`` for the image being protected.

    Yields:
        "started", then per item "item_started" + "item_done" | "item_failed", or "item_skipped";
        "cancelled" if cancelled; always a final "finished" event carrying the :class:`BatchSummary`.

    Raises:
        FolderBusyError: (before the first event) another run is writing into one of the output folders.
    """
    locks = _lock_output_folders(plan.output_roots)
    try:
        yield from _run_locked(plan, engine, cancel, on_progress)
    finally:
        for lock in locks:
            lock.release()


def _lock_output_folders(roots: list[Path]) -> list[FolderLock]:
    """Lock every output folder, or none (FolderBusyError naming the busy one)."""
    locks: list[FolderLock] = []
    try:
        for root in roots:
            lock = FolderLock(root)
            try:
                lock.acquire()
            except FolderBusyError:
                raise
            except OSError as exc:  # cannot even create it: its images will fail with the write error
                log.warning("could not lock %s: %s", root, exc.strerror or exc)
                continue
            locks.append(lock)
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return locks


def _run_locked(plan: BatchPlan, engine, cancel, on_progress) -> Iterator[BatchEvent]:
    settings = plan.settings
    total = len(plan.items)
    summary = BatchSummary(output_dirs=list(plan.output_roots), unsupported=plan.skipped_counts())
    manifests: dict[Path, Manifest] = {}
    cleaned: set[Path] = set()
    start = time.monotonic()

    def event(kind: str, index: int = -1, item: BatchItem | None = None, **extra) -> BatchEvent:
        return BatchEvent(
            kind,
            index,
            total,
            item.source if item else None,
            item.output if item else None,
            elapsed=time.monotonic() - start,
            **extra,
        )

    def check_cancel() -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    def progress(done: int, steps: int) -> None:
        check_cancel()
        if on_progress is not None:
            on_progress(done, steps)

    yield event("started", message=f"{len(plan.pending)} to protect, {len(plan.already_done)} already done")
    for root in plan.output_roots:  # locked: no run of ours is writing here, so leftovers are a killed run's
        remove_stale_temp_files(root)
        cleaned.add(root)
        manifest = manifests[root] = Manifest.load(root)
        manifest.skipped = plan.skipped_counts(root)
        if not os.path.lexists(manifest.path) or manifest.damaged:
            _save_quietly(manifest)  # before any output: an output folder always holds our (valid) manifest
    for folder, reason in plan.problems:
        summary.failed.append((folder, reason))
        yield BatchEvent("item_failed", -1, total, folder, None, reason, elapsed=time.monotonic() - start)

    for index, item in enumerate(plan.items):
        if cancel is not None and cancel.is_set():
            summary.cancelled = True
            break
        folder = item.output.parent
        if folder not in cleaned:
            remove_stale_temp_files(folder)
            cleaned.add(folder)
        if item.state == "already-done":
            summary.skipped += 1
            yield event("item_skipped", index, item, message="already protected with these settings")
            continue
        yield event("item_started", index, item, message=item.relative_source)
        manifest = manifests[item.output_root]
        digest = None
        try:
            data, digest = _read_stable(item.source)
            metrics = _protect_one(item, data, engine, settings, progress, check_cancel, _ownership(manifest, item))
        except Cancelled:
            summary.cancelled = True
            break
        except Exception as exc:  # one bad file never stops the batch
            reason = _reason(exc)
            summary.failed.append((item.source, reason))
            _record(manifest, item, digest, settings, "failed", error=reason)
            yield event("item_failed", index, item, message=reason)
            continue
        summary.done += 1
        _record(manifest, item, digest, settings, "protected", metrics=metrics, **_written(item.output))
        yield event("item_done", index, item, message="protected", metrics=metrics)

    if summary.cancelled:
        yield event("cancelled", message="cancelled; finished images are kept, the rest can be resumed")
    yield event("finished", message=_describe(summary), summary=summary)


def _read_stable(source: Path) -> tuple[bytes, str]:
    """Read a file and make sure it did not change while being read (a sync client writing it, ...)."""
    try:
        before = os.stat(source)
    except FileNotFoundError:
        raise UnsupportedImageError("file not found (moved or deleted?)") from None
    except OSError as exc:
        raise UnsupportedImageError(f"cannot read this file: {exc.strerror or exc}") from None
    data = read_image_bytes(source)
    try:
        after = os.stat(source)
    except OSError:
        raise UnsupportedImageError("file vanished while being read") from None
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise UnsupportedImageError("file changed while being read; run again to protect the new version")
    return data, sha256_bytes(data)


def _ownership(manifest: Manifest, item: BatchItem):
    """The judge deciding whether an existing file at ``item.output`` may be replaced."""

    def may_replace(existing: Path, new_data: bytes) -> bool:
        return manifest.owns(item.output) or _holds_exactly(existing, new_data)

    return may_replace


def _holds_exactly(path: Path, data: bytes) -> bool:
    """True when ``path`` is a regular file whose bytes are ``data`` (replacing it changes nothing)."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) != len(data):
            return False
        with open(path, "rb") as handle:
            return handle.read() == data
    except OSError:
        return False


def _or_a_protected_copy(may_replace, source: torch.Tensor, eps: float):
    """``may_replace``, or: the existing file is this very photo plus at most a protection's change.

    Why: each run draws a fresh key, so a re-run after a lost manifest never writes the same bytes
    again. A file that decodes to the source picture within the budget (plus JPEG's rounding) is a
    protected copy of it — the original stays untouched beside it — so replacing it loses nothing.
    A user's own edit, another photo or a different crop never passes.
    """

    def judge(existing: Path, new_data: bytes) -> bool:
        return may_replace(existing, new_data) or is_protected_copy(existing, source, eps)

    return judge


def is_protected_copy(path: Path, source: torch.Tensor, eps: float) -> bool:
    """True when the image at ``path`` is ``source`` (1,3,H,W in [0,1]) changed by at most ~eps."""
    try:
        candidate = to_tensor(decode_image(read_image_bytes(path)))
    except Exception:  # noqa: BLE001 - unreadable: not provably ours
        return False
    if tuple(candidate.shape) != tuple(source.shape):
        return False
    diff = (candidate - source).abs_()
    sample = diff.flatten()[:: max(1, diff.numel() // 2_000_000)]
    # JPEG's own rounding adds a few levels on top of the budget (a +-8/255 pattern saved at q95
    # reaches 17/255 on 0.1 % of pixels); another picture, or an edit of over 1 % of it, differs by more.
    return bool(diff.mean() <= eps + 3 / 255) and bool(torch.quantile(sample.float(), 0.99) <= 2 * eps + 6 / 255)


def _written(output: Path) -> dict:
    """Size and SHA-256 of the output just written: the manifest's proof that this file is ours."""
    try:
        return {"output_size": os.stat(output).st_size, "output_sha256": sha256_file(output)}
    except OSError:
        return {}


def _protect_one(item: BatchItem, data: bytes, engine, settings, progress, check_cancel, may_replace=None) -> dict:
    """Decode, protect, bound, write. Returns metrics: psnr (dB), linf (255ths), seconds."""
    started = time.monotonic()
    seed = photo_seed(settings.seed, sha256_bytes(data))
    loaded = decode_image(data)
    del data
    image = to_tensor(loaded)
    device = getattr(engine, "device", None)
    if device is not None:
        image = image.to(device)
    check_cancel()
    # no_grad, not inference_mode: an engine that optimises (PGD) turns gradients back on inside with
    # enable_grad(), which inference_mode would silently defeat.
    with torch.no_grad():
        candidate = engine.protect(image, settings.eps, seed=seed, progress=progress)
        if tuple(candidate.shape) != tuple(image.shape):
            raise RuntimeError(f"engine returned shape {tuple(candidate.shape)} for {tuple(image.shape)}")
        if not bool(torch.isfinite(candidate).all()):  # clamping would turn NaN into a black photo
            raise ModelError(
                "the protection model produced invalid values (NaN or infinity); this photo was not "
                "protected — the model file may be damaged (run: rid-desktop models verify)"
            )
        protected = project_linf(image, candidate.to(image.dtype), settings.eps)  # defence in depth
        linf, rms = perturbation_norms_255(image, protected)
        protected = protected.to("cpu")
        if may_replace is not None and os.path.lexists(item.output):
            may_replace = _or_a_protected_copy(may_replace, image.to("cpu"), settings.eps)
    del candidate, image
    check_cancel()  # a cancel that arrived during the last step still leaves no output
    save_protected(loaded, protected, item.output, settings.output, may_replace=may_replace)
    psnr = float(psnr_from_rms_255(rms)[0])
    return {"psnr": round(psnr, 3), "linf": round(float(linf[0]), 4), "seconds": round(time.monotonic() - started, 3)}


def photo_seed(seed: int | None, photo_digest: str) -> int:
    """The key of one photo: fresh OS randomness (never stored), or one derived from ``seed`` and the
    photo's content (its SHA-256), so a seeded batch does not give every photo the same key and the
    same photo gets the same key wherever it lies (the GUI's real-pixels view equals the file written)."""
    if seed is None:
        return resolve_seed(None)
    digest = hashlib.sha256(f"{seed}:{photo_digest}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 2


def _record(manifest: Manifest, item: BatchItem, digest, settings, status: str, **extra) -> None:
    manifest.record(
        source_rel=item.relative_source, output=item.output, input_sha256=digest, settings=settings,
        status=status, **extra,
    )
    _save_quietly(manifest)


def _save_quietly(manifest: Manifest) -> None:
    """The image itself is written (or its failure reported); the manifest is best effort, so no
    failure to save it (full disk, an odd name, anything) may stop the batch."""
    try:
        manifest.save()
    except Exception as exc:  # noqa: BLE001 - see docstring
        log.warning("could not update the manifest in %s: %s", manifest.root, exc)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory to protect this image"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"unexpected error ({type(exc).__name__}: {text[:160]})"


def _describe(summary: BatchSummary) -> str:
    parts = [f"{summary.done} protected", f"{summary.skipped} already done", f"{len(summary.failed)} failed"]
    return ", ".join(parts) + (" (cancelled)" if summary.cancelled else "")
