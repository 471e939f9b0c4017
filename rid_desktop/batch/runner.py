"""Run a :class:`BatchPlan`: a generator of :class:`BatchEvent` (napari style), one image at a time.

Guarantees: one bad file never stops the batch (it becomes an "item_failed" event and a manifest
entry); each output is written, atomically, as soon as its image is done, and the manifest right
after; nothing is kept between images, so memory does not grow with the batch; cancel is checked
between every tile/step and a cancelled image leaves no output.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import torch

from rid_desktop.batch.events import BatchEvent, BatchSummary
from rid_desktop.batch.manifest import Manifest
from rid_desktop.batch.plan import BatchItem, BatchPlan
from rid_desktop.checks.metrics import perturbation_norms_255, psnr_from_rms_255
from rid_desktop.engines.base import ProgressFn, project_linf
from rid_desktop.errors import Cancelled, OutputError, UnsupportedImageError, UserError
from rid_desktop.hashing import sha256_bytes
from rid_desktop.io.loader import decode_image, read_image_bytes, to_tensor
from rid_desktop.io.writer import remove_stale_temp_files, save_protected


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
    """
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
    for folder, reason in plan.problems:
        summary.failed.append((folder, reason))
        yield BatchEvent("item_failed", -1, total, folder, None, reason, elapsed=time.monotonic() - start)

    for index, item in enumerate(plan.items):
        if cancel is not None and cancel.is_set():
            summary.cancelled = True
            break
        if item.state == "already-done":
            summary.skipped += 1
            yield event("item_skipped", index, item, message="already protected with these settings")
            continue
        yield event("item_started", index, item, message=item.relative_source)
        manifest = manifests.get(item.output_root)
        if manifest is None:
            manifest = manifests[item.output_root] = Manifest.load(item.output_root)
            manifest.skipped = plan.skipped_counts(item.output_root)
            if not os.path.lexists(manifest.path):
                _save_quietly(manifest)  # before any output: an output folder always holds our manifest
        folder = item.output.parent
        if folder not in cleaned:
            remove_stale_temp_files(folder)
            cleaned.add(folder)
        digest = None
        try:
            data, digest = _read_stable(item.source)
            metrics = _protect_one(item, data, engine, settings, progress, check_cancel)
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
        _record(manifest, item, digest, settings, "protected", metrics=metrics)
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


def _protect_one(item: BatchItem, data: bytes, engine, settings, progress, check_cancel) -> dict:
    """Decode, protect, bound, write. Returns metrics: psnr (dB), linf (255ths), seconds."""
    started = time.monotonic()
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
        candidate = engine.protect(image, settings.eps, seed=settings.seed, progress=progress)
        if tuple(candidate.shape) != tuple(image.shape):
            raise RuntimeError(f"engine returned shape {tuple(candidate.shape)} for {tuple(image.shape)}")
        protected = project_linf(image, candidate.to(image.dtype), settings.eps)  # defence in depth
        linf, rms = perturbation_norms_255(image, protected)
        protected = protected.to("cpu")
    del candidate, image
    check_cancel()  # a cancel that arrived during the last step still leaves no output
    save_protected(loaded, protected, item.output, settings.output)
    psnr = float(psnr_from_rms_255(rms)[0])
    return {"psnr": round(psnr, 3), "linf": round(float(linf[0]), 4), "seconds": round(time.monotonic() - started, 3)}


def _record(manifest: Manifest, item: BatchItem, digest, settings, status: str, **extra) -> None:
    manifest.record(
        source_rel=item.relative_source, output=item.output, input_sha256=digest, settings=settings,
        status=status, **extra,
    )
    _save_quietly(manifest)


def _save_quietly(manifest: Manifest) -> None:
    try:
        manifest.save()
    except OutputError:
        pass  # the image itself is written (or its failure reported); the manifest is best effort


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
