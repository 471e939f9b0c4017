"""The check report: does the protection survive what an attacker would try first?

For each purifier P we compare three images, all purified the same way (same seed):
the original x, the protected copy x' and a *random-noise* copy x_n = x + eps * sign(n) with the
same L-inf budget. The protection score is the surrogate's latent distortion
``S(a) = mean((E(P(a)) - E(P(x)))^2)`` (:mod:`rid_desktop.checks.ai_view`). Raw scores have no
intuitive unit, so the report compares with what noise of the same budget achieves, in the project's
one headline metric, the **L2 latent ratio** ``ratio = ||E(x') - E(x)|| / ||E(x_n) - E(x)|| =
sqrt(S(x') / S(x_n))``; the MSE ratio ``S(x') / S(x_n)`` (its square) is kept as a second figure.
A ratio of 1 means "the AI is no more disturbed than by random noise"; engines aim far higher.
``kept`` is the share of the L2 latent distortion left after the clean-up, ``sqrt(S_after / S_before)``.

Verdicts (thresholds in :class:`VerdictThresholds`, also written into the JSON):

- **removed**: ``ratio_after < 1.12`` (no better than random noise after clean-up: a second random
  draw already scores 1 +- 0.05 on a small crop), or less than 32 % of the L2 latent distortion is
  left (``kept < 0.32``);
- **survives**: ``ratio_after >= 1.22`` *and* ``kept >= 0.71`` (clearly above what noise does after
  the same clean-up, and half of the distortion's energy left);

(These are the former MSE thresholds 1.25 / 0.10 / 1.5 / 0.5 in L2 terms, rounded.)
- **weakened**: everything in between.

Scores are computed on a centre crop of at most ``max_side`` pixels at native resolution, not on a
downscaled copy: downscaling is itself a purifier and would wash the perturbation out.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

from rid_desktop.checks.ai_view import ai_round_trip
from rid_desktop.checks.metrics import (
    ImageMetrics,
    compute_metrics,
    perturbation_heatmap,
    perturbation_norms_255,
    psnr_per_image,
    ssim_per_image,
)
from rid_desktop.checks.purifiers import Purifier
from rid_desktop.engines.base import ProgressFn
from rid_desktop.engines.baselines import random_sign_noise
from rid_desktop.errors import Cancelled, UserError

DEFAULT_MAX_SIDE = 512
THUMBNAIL_SIDE = 192
FULL_SSIM_PIXELS = 4_000_000
NONE_COLUMN = "none"
GRID_ROWS = ("original", "protected", "change", "ai view")

@dataclass(frozen=True)
class VerdictThresholds:
    """Where "survives" / "weakened" / "removed" start (see the module docstring)."""

    survives_min_ratio: float = 1.22
    survives_min_kept: float = 0.71
    removed_max_ratio: float = 1.12
    removed_max_kept: float = 0.32

    def verdict(self, ratio_after: float, kept: float) -> str:
        """Verdict from the ratio to noise after clean-up and the fraction of distortion kept."""
        if ratio_after < self.removed_max_ratio or kept < self.removed_max_kept:
            return "removed"
        if ratio_after >= self.survives_min_ratio and kept >= self.survives_min_kept:
            return "survives"
        return "weakened"


@dataclass
class PurifierResult:
    """One purifier's outcome.

    Attributes:
        status: "ok", "model not configured" (or another reason it could not run), or "error".
        score: latent distortion of the purified protected copy (vs the purified original).
        noise_score: the same for the purified random-noise copy.
        ratio: L2 latent ratio, sqrt(score / noise_score) (1 = no better than noise).
        mse_ratio: score / noise_score, the same comparison in MSE terms (ratio squared).
        kept: sqrt(score / score before purification): the share of the L2 latent distortion left.
        verdict: "survives" / "weakened" / "removed", None when it did not run.
        seconds: time spent purifying (three images).
    """

    spec: str
    label: str
    status: str = "ok"
    message: str | None = None
    score: float | None = None
    noise_score: float | None = None
    ratio: float | None = None
    mse_ratio: float | None = None
    kept: float | None = None
    verdict: str | None = None
    seconds: float = 0.0


@dataclass
class CheckReport:
    """Visible cost and robustness of one protected image. Plain data: safe to hand across threads.

    ``images`` holds small thumbnails (column -> row -> (3, h, w) float in [0, 1]) for
    :meth:`save_grid` and GUI previews; columns are "none" and each purifier spec that ran, rows are
    :data:`GRID_ROWS`. They are not part of :meth:`to_json`.
    """

    eps: float
    image_size: tuple[int, int]
    region: tuple[int, int, int, int]  # top, left, height, width of the scored crop
    metrics: ImageMetrics
    noise_metrics: ImageMetrics
    score_before: float
    noise_score_before: float
    ratio_before: float
    results: list[PurifierResult]
    thresholds: VerdictThresholds = field(default_factory=VerdictThresholds)
    seed: int = 0
    name: str = ""
    info: dict = field(default_factory=dict)
    images: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    # -- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict:
        data = {
            "name": self.name,
            "eps_255": round(self.eps * 255, 4),
            "image_size": list(self.image_size),
            "region": list(self.region),
            "seed": self.seed,
            "metrics": self.metrics.to_dict(),
            "noise_metrics": self.noise_metrics.to_dict(),
            "score_before": self.score_before,
            "noise_score_before": self.noise_score_before,
            "metric": "L2 latent ratio vs random sign noise of the same L-inf (mse_ratio: its square)",
            "ratio_before": self.ratio_before,
            "mse_ratio_before": self.ratio_before ** 2,
            "purifiers": [asdict(r) for r in self.results],
            "thresholds": asdict(self.thresholds),
            "info": dict(self.info),
        }
        return _json_safe(data)

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text (non-finite numbers such as an infinite PSNR become null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_table(self) -> str:
        """A plain-text summary: visible cost first, then one line per purifier."""
        m = self.metrics
        lines = []
        if self.name:
            lines.append(self.name)
        lines.append(
            f"visible change: PSNR {_num(m.psnr_db, 1)} dB, SSIM {m.ssim:.4f}, "
            f"L-inf {m.linf_255:.1f}/255, RMS {m.l2_255:.2f}/255 (budget {self.eps * 255:g}/255)"
        )
        scorer = self.info.get("scored with")
        lines.append(
            f"AI disturbance before clean-up: {self.ratio_before:.2f}x random noise of the same budget "
            f"(L2 latent ratio; MSE ratio {self.ratio_before ** 2:.2f}: "
            f"latent distortion {self.score_before:.4g} vs {self.noise_score_before:.4g}"
            f"{f'; encoder: {scorer}' if scorer else ''})"
        )
        header = ("purifier", "x noise (L2)", "MSE", "kept", "verdict")
        rows = [header]
        for r in self.results:
            if r.status != "ok":
                rows.append((r.spec, "-", "-", "-", r.message or r.status))
            else:
                rows.append((r.spec, f"{r.ratio:.2f}", f"{r.mse_ratio:.2f}", f"{100 * r.kept:.0f}%", r.verdict or "-"))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for i, row in enumerate(rows):
            lines.append("  ".join(cell.ljust(widths[j]) for j, cell in enumerate(row)).rstrip())
            if i == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines)

    # -- picture ---------------------------------------------------------------------------------

    def grid_image(self) -> Image.Image:
        """The thumbnails as one labelled PIL image: columns = purifiers, rows = :data:`GRID_ROWS`."""
        if not self.images:
            raise UserError("this report was built without images; nothing to draw")
        columns = list(self.images)
        sample = next(iter(self.images[columns[0]].values()))
        th, tw = sample.shape[-2:]
        label_w, label_h, pad = 78, 16, 4
        width = label_w + len(columns) * (tw + pad)
        height = label_h + len(GRID_ROWS) * (th + pad)
        canvas = Image.new("RGB", (width, height), (255, 255, 255))
        draw = ImageDraw.Draw(canvas)
        for c, column in enumerate(columns):
            x = label_w + c * (tw + pad)
            draw.text((x + 2, 2), _clip(column, tw // 6), fill=(0, 0, 0))
            for r, row in enumerate(GRID_ROWS):
                y = label_h + r * (th + pad)
                tile = self.images[column].get(row)
                if tile is not None:
                    canvas.paste(_to_pil(tile), (x, y))
        for r, row in enumerate(GRID_ROWS):
            draw.text((2, label_h + r * (th + pad) + th // 2 - 5), row, fill=(0, 0, 0))
        return canvas

    def save_grid(self, path: str | Path) -> Path:
        """Write :meth:`grid_image` as PNG, atomically. Returns the path."""
        from rid_desktop.io import atomic_write_bytes

        buffer = io.BytesIO()
        self.grid_image().save(buffer, format="PNG")
        atomic_write_bytes(Path(path), buffer.getvalue())
        return Path(path)


# -- building ----------------------------------------------------------------------------------------


def centre_region(height: int, width: int, max_side: int, multiple: int = 8) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a centred crop of at most ``max_side`` px, sides a multiple of ``multiple``."""
    h = min(height, max_side) // multiple * multiple
    w = min(width, max_side) // multiple * multiple
    if h == 0 or w == 0:
        raise UserError(f"image is too small to check ({width}x{height}); it needs at least {multiple}x{multiple} px")
    return (height - h) // 2, (width - w) // 2, h, w


@torch.no_grad()
def build_check_report(
    original: torch.Tensor,
    protected: torch.Tensor,
    eps: float,
    purifiers: Sequence[Purifier],
    *,
    encoder: nn.Module | None = None,
    decoder: nn.Module | None = None,
    seed: int = 0,
    max_side: int = DEFAULT_MAX_SIDE,
    with_images: bool = True,
    thresholds: VerdictThresholds = VerdictThresholds(),
    name: str = "",
    progress: ProgressFn | None = None,
) -> CheckReport:
    """Measure visible cost and protection before/after each purifier for one image.

    Args:
        original, protected: (1, 3, H, W) or (3, H, W) in [0, 1], same shape and device.
        eps: the L-inf budget used for protection, in [0, 1] units; the noise baseline uses it too.
        purifiers: from :func:`rid_desktop.checks.purifiers.parse_purifiers`; unavailable ones (no
            DiffPure model) and failing ones are reported with their status instead of raising.
        encoder / decoder: surrogate autoencoder; default TAEF2 via
            :func:`rid_desktop.models.surrogates.load_encoder` / ``load_decoder`` (decoder only
            needed with ``with_images``).
        seed: fixes the noise baseline and every random purifier.
        max_side: side limit of the centre crop that is scored (see the module docstring).
        with_images: keep thumbnails for :meth:`CheckReport.save_grid` (costs decoder passes).
        progress: ``progress(done, total)`` after each step; may raise Cancelled.

    Returns:
        A :class:`CheckReport`.
    """
    original, protected = _as_batch(original), _as_batch(protected)
    if original.shape != protected.shape:
        raise UserError(
            f"the protected image ({_size(protected)}) does not have the original's size ({_size(original)})"
        )
    if not 0 < eps <= 1:
        raise ValueError(f"eps must be in (0, 1], got {eps}")
    device = original.device
    protected = protected.to(device)
    if encoder is None:
        from rid_desktop.models.surrogates import load_encoder

        encoder = load_encoder(device=device)
    if decoder is None and with_images:
        from rid_desktop.models.surrogates import load_decoder

        decoder = load_decoder(device=device)

    height, width = original.shape[-2:]
    top, left, h, w = centre_region(height, width, max_side)
    crop = (slice(None), slice(None), slice(top, top + h), slice(left, left + w))
    x, x_prot = original[crop].float(), protected[crop].float()
    x_noise = random_sign_noise(x, eps, seed + 7919)  # not the seed the purifiers draw with

    total = len(purifiers) + 1
    images: dict[str, dict[str, torch.Tensor]] = {}

    def scores(clean, prot, noisy) -> tuple[float, float]:
        latents = encoder(torch.cat([clean, prot, noisy]))
        ref = latents[:1]
        distortion = (latents[1:] - ref).pow(2).flatten(1).mean(1)
        return float(distortion[0]), float(distortion[1])

    def keep_images(column: str, clean, prot) -> None:
        if with_images:
            images[column] = _thumbnails(clean, prot, eps, encoder, decoder)

    score_before, noise_before = scores(x, x_prot, x_noise)
    ratio_before = _ratio(score_before, noise_before)
    keep_images(NONE_COLUMN, x, x_prot)
    _report_progress(progress, 1, total)

    results: list[PurifierResult] = []
    for index, purifier in enumerate(purifiers, start=2):
        result = PurifierResult(purifier.spec, purifier.label)
        if purifier.unavailable is not None:
            result.status, result.message = purifier.unavailable, purifier.unavailable
        else:
            try:
                started = time.perf_counter()
                clean = purifier(x, seed=seed)
                prot = purifier(x_prot, seed=seed)
                noisy = purifier(x_noise, seed=seed)
                result.seconds = time.perf_counter() - started
                score, noise_score = scores(clean, prot, noisy)
            except (Cancelled, KeyboardInterrupt):
                raise
            except UserError as exc:
                result.status, result.message = "error", str(exc)
            except Exception as exc:  # noqa: BLE001 - a failing purifier belongs in the report
                result.status, result.message = "error", f"{type(exc).__name__}: {exc}"
            else:
                result.score, result.noise_score = score, noise_score
                result.ratio = _ratio(score, noise_score)
                result.mse_ratio = result.ratio ** 2
                result.kept = math.sqrt(score / score_before) if score_before > 0 else 0.0
                result.verdict = thresholds.verdict(result.ratio, result.kept)
                keep_images(purifier.spec, clean, prot)
        results.append(result)
        _report_progress(progress, index, total)

    return CheckReport(
        eps=eps,
        image_size=(int(height), int(width)),
        region=(top, left, h, w),
        metrics=_visible_metrics(original, protected, crop),
        noise_metrics=compute_metrics(x, x_noise)[0],
        score_before=score_before,
        noise_score_before=noise_before,
        ratio_before=ratio_before,
        results=results,
        thresholds=thresholds,
        seed=seed,
        name=name,
        images=images,
    )


def _visible_metrics(original: torch.Tensor, protected: torch.Tensor, crop) -> ImageMetrics:
    """Metrics of the whole image; for very large photos SSIM (memory-hungry) comes from the crop."""
    original, protected = original.float(), protected.float()
    if original[0, 0].numel() <= FULL_SSIM_PIXELS:
        return compute_metrics(original, protected)[0]
    linf, l2 = perturbation_norms_255(original, protected)
    return ImageMetrics(
        psnr_db=float(psnr_per_image(original, protected)[0]),
        ssim=float(ssim_per_image(original[crop], protected[crop])[0]),
        linf_255=float(linf[0]),
        l2_255=float(l2[0]),
    )


def _thumbnails(clean, prot, eps, encoder, decoder) -> dict[str, torch.Tensor]:
    rows = {
        "original": clean,
        "protected": prot,
        "change": perturbation_heatmap(clean, prot, scale=eps),
        "ai view": ai_round_trip(prot, encoder, decoder),
    }
    return {name: _shrink(image)[0].cpu() for name, image in rows.items()}


def _shrink(image: torch.Tensor, side: int = THUMBNAIL_SIDE) -> torch.Tensor:
    h, w = image.shape[-2:]
    scale = side / max(h, w)
    if scale >= 2:  # tiny crops: enlarge by a whole factor so pixels stay crisp
        return F.interpolate(image, scale_factor=int(scale), mode="nearest").clamp(0, 1)
    if scale >= 1:
        return image.clamp(0, 1)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    return F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def _ratio(score: float, noise_score: float) -> float:
    """The L2 latent ratio from two mean squared latent distortions (same latent size)."""
    return math.sqrt(score / max(noise_score, 1e-12))


def _as_batch(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[:2] != (1, 3):
        raise ValueError(f"expected one RGB image (1, 3, H, W) or (3, H, W), got {tuple(image.shape)}")
    return image


def _size(image: torch.Tensor) -> str:
    return f"{image.shape[-1]}x{image.shape[-2]}"


def _report_progress(progress: ProgressFn | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def _to_pil(tile: torch.Tensor) -> Image.Image:
    array = (tile.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(array), "RGB")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(1, limit - 1)] + "."


def _num(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else "inf"


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value
