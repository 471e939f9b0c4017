"""Batch protection: :func:`plan_batch` checks and plans everything, :func:`run_batch` yields events."""

from rid_desktop.batch.events import EVENT_KINDS, BatchEvent, BatchSummary
from rid_desktop.batch.lock import LOCK_NAME, FolderBusyError
from rid_desktop.batch.manifest import MANIFEST_NAME, Manifest
from rid_desktop.batch.plan import BatchItem, BatchPlan, plan_batch
from rid_desktop.batch.runner import run_batch

__all__ = [
    "EVENT_KINDS",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "BatchEvent",
    "BatchItem",
    "BatchPlan",
    "BatchSummary",
    "FolderBusyError",
    "Manifest",
    "plan_batch",
    "run_batch",
]
