"""Strength preview and robustness checks: what protection costs, and whether it survives clean-up.

Public API (plain tensors and dataclasses; no Qt, safe to call from a worker thread). Images are
(B, 3, H, W) float tensors in [0, 1]; ``eps`` is the L-inf budget in [0, 1] units (8/255 = medium).

Visible cost (:mod:`.metrics`)::

    compute_metrics(original, protected) -> list[ImageMetrics]   # psnr_db, ssim, linf_255, l2_255
    perturbation_heatmap(original, protected, scale=eps) -> (B,3,H,W)   # where the change is
    amplified_perturbation(original, protected, gain=10) -> (B,3,H,W)   # what the change looks like

AI view (:mod:`.ai_view`); encoder/decoder default to the cached TAEF2 surrogate
(:mod:`rid_desktop.models.surrogates`) on the image's device::

    ai_view_pair(original, protected) -> (view_original, view_protected, score (B,))
    protection_score(protected, original) -> (B,)   # latent distortion, higher = more protected
    ai_round_trip(image) -> (B,3,H,W)                # decode(encode(image))

A quick strength preview without purifiers: ``build_check_report(original, protected, eps, [])``.

Purifiers (:mod:`.purifiers`): ``parse_purifiers("jpeg:75,resize:0.5,blur:1,grayscale,iwmf,diffpure")``
-> list of :class:`Purifier`; ``purifier(image, seed=0) -> image``. DiffPure-based ones carry
``unavailable = "model not configured"`` unless a diffusers folder is given (``diffpure_model=`` or
``RID_DESKTOP_DIFFPURE_MODEL``). Plain functions: ``jpeg_round_trip``, ``resize_round_trip``,
``gaussian_blur``, ``grayscale``, :func:`.iwmf.iwmf`.

Report (:mod:`.report`)::

    report = build_check_report(original, protected, eps, purifiers, seed=0, progress=None)
    report.results        # per purifier: ratio to random noise, kept fraction, verdict, status
    report.to_table(); report.to_json(); report.save_grid("grid.png"); report.images  # thumbnails

``progress(done, total)`` is called after each purifier and may raise
:class:`rid_desktop.errors.Cancelled` to stop.
"""

from rid_desktop.checks.ai_view import ai_round_trip, ai_view_pair, protection_score
from rid_desktop.checks.diffpure import DIFFPURE_MODEL_ENV, NOT_CONFIGURED, configured_model_dir
from rid_desktop.checks.iwmf import iwmf
from rid_desktop.checks.metrics import (
    ImageMetrics,
    amplified_perturbation,
    compute_metrics,
    perturbation_heatmap,
)
from rid_desktop.checks.purifiers import (
    DEFAULT_SPECS,
    Purifier,
    PurifierUnavailable,
    gaussian_blur,
    grayscale,
    jpeg_round_trip,
    list_purifiers,
    parse_purifier,
    parse_purifiers,
    resize_round_trip,
)
from rid_desktop.checks.report import (
    CheckReport,
    PurifierResult,
    VerdictThresholds,
    build_check_report,
)
from rid_desktop.engines.baselines import random_sign_noise

__all__ = [
    "DEFAULT_SPECS",
    "DIFFPURE_MODEL_ENV",
    "NOT_CONFIGURED",
    "CheckReport",
    "ImageMetrics",
    "Purifier",
    "PurifierResult",
    "PurifierUnavailable",
    "VerdictThresholds",
    "ai_round_trip",
    "ai_view_pair",
    "amplified_perturbation",
    "build_check_report",
    "compute_metrics",
    "configured_model_dir",
    "gaussian_blur",
    "grayscale",
    "iwmf",
    "jpeg_round_trip",
    "list_purifiers",
    "parse_purifier",
    "parse_purifiers",
    "perturbation_heatmap",
    "protection_score",
    "random_sign_noise",
    "resize_round_trip",
]
