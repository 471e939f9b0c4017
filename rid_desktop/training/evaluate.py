"""Evaluate engines per budget on a folder: visibility, protection, and robustness to JPEG.

For every image (centre crop of ``size`` px for tractable PGD on a CPU) and budget it measures:
PSNR/SSIM against the original; surrogate latent distortion of the engine, of random sign noise
of the same L-inf budget (pixel noise, and chroma-only noise for the chroma engine) and of
``pgd_steps``-step PGD; and the same distortions after a real JPEG q75 (4:2:0) re-save.
Outputs ``eval.csv`` (per image), ``eval.md`` (means) and ``eval.png`` (bar plot).
"""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from kornia.metrics import ssim as kornia_ssim
from PIL import Image

from rid_desktop.engines import make_engine
from rid_desktop.checks.metrics import psnr_per_image
from rid_desktop.checks.purifiers import jpeg_round_trip
from rid_desktop.engines.baselines import random_chroma_noise, random_sign_noise
from rid_desktop.engines.iterative import pgd_attack
from rid_desktop.engines.objectives import SurrogateObjective
from rid_desktop.models.surrogates import load_encoder
from rid_desktop.errors import UserError
from rid_desktop.settings import ProtectionSettings
from rid_desktop.training.data import center_crop, list_images, load_rgb
from rid_desktop.training.data import to_tensor as rgb_to_tensor

CHROMA_ENGINES = {"dwt-chroma", "iterative-chroma"}


def build_engines(specs) -> dict[str, object]:
    """Engines by label from ``NAME`` or ``NAME:MODEL_PATH`` specs (e.g. ``rid:runs/pixel-fixed8.safetensors``).

    A model path lets one table compare candidate checkpoints (budget-conditioned vs one per preset)
    under the engine that ships them; the label is ``NAME[file stem]``.
    """
    built = {}
    for spec in specs:
        name, _, model = spec.partition(":")
        label = f"{name}[{Path(model).stem}]" if model else name
        if name == "dwt-chroma" and model:  # the chroma generator's file is an engine option of its own
            built[label] = make_engine(ProtectionSettings(engine=name, device="cpu"), chroma_model_path=model)
        else:
            built[label] = make_engine(ProtectionSettings(engine=name, device="cpu", model_path=model or None))
    return built


def _is_chroma(method: str) -> bool:
    return method.split("[", 1)[0] in CHROMA_ENGINES


def quantize(x: torch.Tensor) -> torch.Tensor:
    """What a saved 8-bit file holds: evaluation always scores the image a user would post."""
    return (x * 255).round() / 255


@dataclass
class Row:
    image: str
    method: str
    eps255: float
    psnr: float
    ssim: float
    distortion: float
    distortion_jpeg: float
    seconds: float


def load_crops(folder: str | Path, size: int, *, limit: int | None = None, progress=print) -> tuple[list[str], torch.Tensor]:
    """Centre crops (short side resized to ``size``) of the readable images under ``folder``, with their names.

    A file that cannot be read is skipped with a one-line note naming it (``progress``), so one bad
    photo never stops an evaluation; UserError when no image is readable.

    Shape:
        -> names (N,), crops (N, 3, size, size) in [0, 1]
    """
    folder = Path(folder)
    names: list[str] = []
    crops: list[torch.Tensor] = []
    for path in list_images(folder):
        if limit is not None and len(crops) >= limit:
            break
        try:
            image = rgb_to_tensor(load_rgb(path))[None]
        except Exception as exc:  # noqa: BLE001 - any unreadable file is skipped, by name
            if progress:
                progress(f"skipped {path.relative_to(folder).as_posix()}: cannot read it ({_short(exc)})")
            continue
        crops.append(center_crop(image, size))
        names.append(path.relative_to(folder).as_posix())
    if not crops:
        raise UserError(f"no readable images in {folder}")
    return names, torch.cat(crops).clamp_(0, 1)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 100 else text[:97] + "..."


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a - b).pow(2).mean().item()
    return 10 * np.log10(1 / max(mse, 1e-12))


def evaluate_folder(folder: str | Path, *, engines=("rid", "dwt-chroma"), strengths=(4, 8, 12), size: int = 256,
                    limit: int | None = None, pgd_steps: int = 20, seed: int = 0, progress=print) -> list[Row]:
    torch.manual_seed(seed)
    names, images = load_crops(folder, size, limit=limit, progress=progress)
    encoder = load_encoder()
    objective = SurrogateObjective([encoder])
    built = build_engines(engines)
    rows: list[Row] = []
    gen = torch.Generator().manual_seed(seed)
    for i, x in enumerate(images):
        x = x[None]
        ref = objective.reference(x)
        ref_jpeg = objective.reference(jpeg_round_trip(x, 75))
        for eps255 in strengths:
            eps = eps255 / 255
            candidates: dict[str, tuple[torch.Tensor, float]] = {}
            candidates["noise"] = (random_sign_noise(x, eps, gen), 0.0)
            candidates["noise-chroma"] = (random_chroma_noise(x, eps, gen), 0.0)
            for name, engine in built.items():
                t = time.perf_counter()
                out = engine.protect(x, eps, seed=seed)
                candidates[name] = (out, time.perf_counter() - t)
            if pgd_steps:
                t = time.perf_counter()
                out = pgd_attack(x, objective, eps, steps=pgd_steps, seed=seed)
                candidates[f"pgd{pgd_steps}"] = (out, time.perf_counter() - t)
            with torch.no_grad():
                for method, (out, secs) in candidates.items():
                    out = quantize(out)
                    rows.append(Row(
                        image=names[i], method=method, eps255=eps255, psnr=min(float(psnr_per_image(x, out)[0]), 120.0),
                        ssim=kornia_ssim(out, x, 11).mean().item(),
                        distortion=objective(out, ref).item(),
                        distortion_jpeg=objective(jpeg_round_trip(out, 75), ref_jpeg).item(), seconds=secs,
                    ))
        if progress:
            progress(f"[{i + 1}/{len(images)}] {names[i]}")
    return rows


def summarize(rows: list[Row]) -> list[dict]:
    """Mean per (method, budget), with protection relative to noise of the same budget and to PGD.

    Ratios are means over images of per-image ratios (each image's own noise baseline).
    """
    by_key: dict[tuple[str, float], dict[str, Row]] = {}
    for r in rows:
        by_key.setdefault((r.image, r.eps255), {})[r.method] = r
    methods = sorted({r.method for r in rows}, key=lambda m: (m.startswith("noise"), m))
    pgd = next((m for m in methods if m.startswith("pgd")), None)
    out = []
    for eps255 in sorted({r.eps255 for r in rows}):
        for m in methods:
            group = [v for (img, e), v in by_key.items() if e == eps255 and m in v]
            if not group:
                continue
            base = "noise-chroma" if _is_chroma(m) else "noise"
            ratio = [g[m].distortion / max(g[base].distortion, 1e-12) for g in group]
            ratio_j = [g[m].distortion_jpeg / max(g[base].distortion_jpeg, 1e-12) for g in group]
            row = {
                "method": m, "eps255": eps255,
                "psnr": statistics.mean(g[m].psnr for g in group),
                "ssim": statistics.mean(g[m].ssim for g in group),
                "distortion": statistics.mean(g[m].distortion for g in group),
                "x_noise": statistics.mean(ratio), "x_noise_jpeg75": statistics.mean(ratio_j),
                "baseline": base,
                "pct_of_pgd": (100 * statistics.mean(g[m].distortion / max(g[pgd].distortion, 1e-12) for g in group)
                               if pgd else float("nan")),
                "seconds": statistics.mean(g[m].seconds for g in group),
            }
            out.append(row)
    return out


def write_reports(rows: list[Row], summary: list[dict], out_dir: str | Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out_dir / "eval.csv", "md": out_dir / "eval.md", "png": out_dir / "eval.png"}
    with open(paths["csv"], "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(Row.__dataclass_fields__.keys())
        for r in rows:
            writer.writerow([getattr(r, k) for k in Row.__dataclass_fields__])
    lines = [
        "| method | eps (/255) | PSNR dB | SSIM | latent distortion | x noise | x noise after JPEG q75 | % of PGD | s/image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['method']} | {s['eps255']:g} | {s['psnr']:.1f} | {s['ssim']:.3f} | {s['distortion']:.4f} | "
            f"{s['x_noise']:.2f} | {s['x_noise_jpeg75']:.2f} | {s['pct_of_pgd']:.0f}% | {s['seconds']:.2f} |"
        )
    n_images = len({r.image for r in rows})
    lines.append("")
    lines.append(f"{n_images} images. 'x noise' = distortion / distortion of random sign noise of the same budget "
                 "(chroma engines: chroma-only noise). Scores are on the 8-bit quantised image.")
    paths["md"].write_text("\n".join(lines) + "\n")
    _plot(summary, paths["png"])
    return paths


def write_comparison(folder: str | Path, out_path: str | Path, *, engines=("rid", "dwt-chroma"), eps255: float = 8,
                     size: int = 384, limit: int = 3) -> Path:
    """A side-by-side sheet (PNG, or JPEG q95 4:4:4 by suffix) for looking at the outputs: one row per photo, columns original, each
    engine's protected copy (8-bit, as saved) and its change amplified 10x around mid-grey."""
    from rid_desktop.checks.metrics import amplified_perturbation

    _, images = load_crops(folder, size, limit=limit, progress=None)
    built = build_engines(engines)
    rows = []
    with torch.no_grad():
        for x in images:
            x = x[None]
            tiles = [x]
            for engine in built.values():
                out = quantize(engine.protect(x, eps255 / 255, seed=0))
                tiles += [out, amplified_perturbation(x, out)]
            rows.append(torch.cat(tiles, -1))
    sheet = torch.cat(rows, -2)[0].permute(1, 2, 0).clamp(0, 1).numpy()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray((sheet * 255).round().astype(np.uint8))
    if out_path.suffix.lower() in {".jpg", ".jpeg"}:  # docs-sized: q95 4:4:4 keeps the texture visible
        picture.save(out_path, quality=95, subsampling=0)
    else:
        picture.save(out_path)
    return out_path


def _plot(summary: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = [m for m in dict.fromkeys(s["method"] for s in summary) if not m.startswith("noise")]
    budgets = sorted({s["eps255"] for s in summary})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    width = 0.8 / max(1, len(methods))
    for j, m in enumerate(methods):
        vals = [next((s for s in summary if s["method"] == m and s["eps255"] == b), None) for b in budgets]
        xs = [i + j * width for i in range(len(budgets))]
        axes[0].bar(xs, [v["x_noise"] if v else 0 for v in vals], width, label=m)
        axes[1].bar(xs, [v["psnr"] if v else 0 for v in vals], width, label=m)
    for ax, title in zip(axes, ["protection (x random noise)", "PSNR (dB)"]):
        ax.set_xticks([i + width * (len(methods) - 1) / 2 for i in range(len(budgets))])
        ax.set_xticklabels([f"{b:g}/255" for b in budgets])
        ax.set_title(title)
    axes[0].axhline(1.0, color="grey", lw=0.8, ls="--")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
