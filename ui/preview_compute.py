"""What the preview jobs compute (on :mod:`ui.jobs` lanes): preview, full-size output, AI view, checks.

Every function takes a :class:`ui.jobs.JobContext` first, reports progress through it and stops
within one engine tile or check step when the job is cancelled or superseded.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PySide6.QtGui import QImage

from rid_desktop.engines import Engine, make_engine
from rid_desktop.settings import ProtectionSettings
from ui.jobs import JobContext
from ui.workers import EngineFactory, PreviewResult
from ui.wording import check_name, measure_name, protection_verdict, verdict_rule


@dataclass
class FullOutput:
    """The photo and its protected copy at full size, as the batch writes it (see render_output)."""

    path: Path
    eps: float
    engine: str
    original_image: QImage
    output_image: QImage
    metrics: object  # rid_desktop.checks.metrics.ImageMetrics of the written file vs the original
    size: tuple[int, int]  # (H, W)
    seconds: float
    output_format: str = ".png"  # suffix of the file the batch writes


@dataclass
class AiView:
    original_image: QImage
    protected_image: QImage
    verdict: str  # Strong / Some / Weak
    explanation: str
    ratio: float
    score: float = 0.0  # latent distortion in the measuring model's own units
    measured_with: str = "taef2"  # the model's registry name ("taef2": the surrogate)


class PreviewComputer:
    """Engines and decoded photos cached for the preview lane (only ever used from that one thread)."""

    def __init__(self, engine_factory: EngineFactory):
        self.engine_factory = engine_factory
        self._engines: dict[tuple, Engine] = {}
        self._images: dict[str, tuple[float, torch.Tensor, tuple[int, int]]] = {}
        self._notices: list[str] = []  # what the engine said while computing the current job
        self._lock = threading.Lock()

    def engine(self, name: str, device: str, model_path: str | None = None) -> Engine:
        """One engine per (name, device, model) from the core's factory (with its GPU -> CPU fallback)."""
        key = (name, device, model_path)
        with self._lock:
            if key not in self._engines:
                settings = ProtectionSettings(engine=name, device=device, model_path=model_path)
                self._engines[key] = make_engine(settings, notify=self._notices.append, build=self.engine_factory)
            return self._engines[key]

    def preview_image(self, path: Path) -> tuple[torch.Tensor, tuple[int, int]]:
        """The photo decoded by the core and downscaled to about 1 MP, cached by (path, mtime)."""
        from rid_desktop.checks.preview import load_preview_image

        mtime = path.stat().st_mtime
        cached = self._images.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1], cached[2]
        small, full_size = load_preview_image(path)
        if len(self._images) > 8:
            self._images.clear()
        self._images[str(path)] = (mtime, small, full_size)
        return small, full_size

    def preview(self, ctx: JobContext, path: Path, engine_name: str, device: str, eps: float) -> PreviewResult:
        """The core's one-photo preview (:func:`rid_desktop.checks.preview.compute_preview`) as pictures."""
        from rid_desktop.checks.preview import compute_preview

        from ui.imaging import tensor_to_qimage

        start = time.perf_counter()
        original, full_size = self.preview_image(path)
        ctx.check()
        self._notices.clear()
        engine = self.engine(engine_name, device)
        preview = compute_preview(original, engine, eps, seed=0, progress=ctx.progress)
        ctx.check()
        return PreviewResult(
            path=path, eps=eps, engine=engine_name, original=preview.original, protected=preview.protected,
            original_image=tensor_to_qimage(preview.original), protected_image=tensor_to_qimage(preview.protected),
            heat_image=tensor_to_qimage(preview.heat), metrics=preview.metrics, full_size=full_size,
            seconds=time.perf_counter() - start, notices=list(self._notices),
        )

    def full_output(self, ctx: JobContext, path: Path, settings) -> FullOutput:
        """The real output pixels: the batch's own protect-and-write step at full size, read back."""
        from rid_desktop.batch.output_preview import render_output
        from rid_desktop.checks.metrics import compute_metrics

        from ui.imaging import tensor_to_qimage

        start = time.perf_counter()
        engine = self.engine(settings.engine, settings.device)
        rendered = render_output(path, engine, settings, progress=ctx.progress, cancelled=lambda: ctx.cancelled)
        ctx.check()
        metrics = compute_metrics(rendered.original, rendered.output)[0]
        h, w = rendered.original.shape[-2:]
        return FullOutput(
            path=path, eps=settings.eps, engine=settings.engine,
            original_image=tensor_to_qimage(rendered.original), output_image=tensor_to_qimage(rendered.output),
            metrics=metrics, size=(int(h), int(w)), seconds=time.perf_counter() - start,
            output_format=rendered.output_format,
        )


@dataclass
class ChecksView:
    """The robustness checks in words: bar rows, the note under them, and a model the user could install
    to run the checks that could not run (DiffPure without its model), or None."""

    rows: list
    note: str
    missing_model: str | None = None


def measure_label(name: str | None) -> str:
    """"TAEF2 (fast)", "SD VAE", ... for the model the protection is measured with."""
    from rid_desktop.checks.ai_view import SURROGATE

    return measure_name(name or SURROGATE)


def ai_view(ctx: JobContext, result: PreviewResult, measure_with: str | None = None) -> AiView:
    """Autoencoder round trip of the preview pair, and a plain verdict against random noise.

    ``measure_with``: "taef2" (default, the fast surrogate) or an installed full-size VAE
    (e.g. "sd-vae-ft-mse"), loaded here, on the analysis lane.
    """
    from rid_desktop.checks import ai_view_pair
    from rid_desktop.checks.ai_view import load_scorer, protection_score
    from rid_desktop.checks.report import random_sign_noise

    from ui.imaging import tensor_to_qimage

    encoder, decoder = load_scorer(measure_with, result.original.device)
    ctx.check()
    view_o, view_p, score = ai_view_pair(result.original, result.protected, encoder, decoder)
    ctx.check()
    noise = protection_score(random_sign_noise(result.original, result.eps), result.original, encoder)
    ratio = math.sqrt(float(score[0]) / max(float(noise[0]), 1e-12))  # the L2 latent ratio
    verdict, why = protection_verdict(ratio)
    explanation = (f"{verdict} protection: {why}. Left: what the AI rebuilds from the original; right: "
                   f"from the protected copy (the more they differ, the better). Measured on the preview "
                   f"with {measure_label(measure_with)}.")
    return AiView(tensor_to_qimage(view_o), tensor_to_qimage(view_p), verdict, explanation, ratio,
                  float(score[0]), measure_with or "taef2")


def checks(ctx: JobContext, result: PreviewResult, specs: str | None = None,
           measure_with: str | None = None) -> ChecksView:
    """Robustness report of the preview pair as bar rows in plain words, with the verdict rule."""
    from rid_desktop.checks import DEFAULT_SPECS, NOT_CONFIGURED, build_check_report, parse_purifiers
    from rid_desktop.checks.ai_view import SURROGATE, load_scorer

    from ui.views.robustness_bars import BarRow

    purifiers = parse_purifiers(specs or DEFAULT_SPECS)
    scorer = {}
    if measure_with not in (None, "", SURROGATE):
        scorer["encoder"] = load_scorer(measure_with, result.original.device)[0]
    ctx.check()
    report = build_check_report(result.original, result.protected, result.eps, purifiers, with_images=False,
                                progress=ctx.progress, **scorer)
    rows, skipped, missing = [], [], None
    for item in report.results:
        name = check_name(item.spec, item.label)
        if item.status != "ok" or item.score is None:
            skipped.append(f"{name}: {item.message or item.status}")
            if item.status == NOT_CONFIGURED:
                missing = missing or diffpure_model_to_offer()
            continue
        note = f"{item.ratio:.1f}× random noise after the clean-up" if item.ratio is not None else ""
        rows.append(BarRow(name, report.score_before, item.score, item.verdict or "", note))
    t = report.thresholds
    note = (f"Before any clean-up the AI is disturbed {report.ratio_before:.1f}× more than by random noise. "
            + verdict_rule(t.survives_min_ratio, t.survives_min_kept))
    if scorer:
        note += f" Measured with {measure_label(measure_with)}."
    if skipped:
        note += " Not run: " + "; ".join(skipped) + "."
    return ChecksView(rows, note, missing)


def diffpure_model_to_offer() -> str | None:
    """The registry DiffPure model an "Install…" button offers (the first installable one), or None."""
    from rid_desktop.models.registry import models_for_role

    specs = models_for_role("diffpure", installable_only=True)
    return specs[0].name if specs else None
