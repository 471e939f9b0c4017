"""The measurements, one function per section; each returns plain data for :mod:`bench.report`.

Sections: speed + protection at 512 px (in process, per device), 12 MP end to end and its peak
memory (fresh subprocess per engine), batch memory (10 vs 50 photos through ``run_batch``), check
costs (IWMF / JPEG at 1024 px), thumbnails (the GUI's own function), and speed levers.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from bench import inputs
from bench.config import BenchConfig
from bench.memory import run_worker
from bench.subjects import Subject, count_gflops, subjects, tile_count
from bench.timing import measure

Log = Callable[[str], None]


def _log_default(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- speed and protection at 512 px -------------------------------------------------------------


def _noise_references(image: torch.Tensor, eps: float, seed: int) -> dict[str, torch.Tensor]:
    """Random protection with the same budget: pixel sign noise, and sign noise in the chroma bands."""
    from rid_desktop.engines.chroma_ops import apply_chroma_bands

    gen = torch.Generator().manual_seed(seed + 7919)
    pixel = (image + eps * (torch.randint(0, 2, image.shape, generator=gen).to(image) * 2 - 1)).clamp(0, 1)
    b, _, h, w = image.shape
    bands = (torch.randint(0, 2, (b, 2, 4, (h + 1) // 2, (w + 1) // 2), generator=gen).to(image) * 2 - 1)
    return {"noise": pixel, "chroma-noise": apply_chroma_bands(image, bands, eps).clamp(0, 1)}


class ProtectionScorer:
    """Surrogate latent distortion (TAEF2 encoder) of outputs, relative to same-budget random noise.

    Scores are per image and divided by that image's noise score, so the ratio reads "x times what
    random noise of the same L-inf budget does" (>1 = the engine aims its budget).
    """

    def __init__(self, images: list[torch.Tensor], eps: float):
        from rid_desktop.models.surrogates import load_encoder

        self.encoder = load_encoder()
        self.images = images
        self.refs: list[torch.Tensor] = []
        self.noise: list[dict[str, float]] = []
        with torch.inference_mode():
            for i, image in enumerate(images):
                ref = self.encoder(image)
                self.refs.append(ref)
                self.noise.append({k: self._distortion(v, ref) for k, v in _noise_references(image, eps, i).items()})

    def _distortion(self, protected: torch.Tensor, ref: torch.Tensor) -> float:
        from rid_desktop.engines.objectives import latent_distortion

        with torch.inference_mode():
            return float(latent_distortion(self.encoder, protected.float().cpu(), ref).mean())

    def score(self, outputs: dict[int, torch.Tensor]) -> dict[str, Any]:
        """Mean ratios over the images an engine protected (index -> output)."""
        if not outputs:
            return {"images": 0}
        ratios, chroma_ratios, raw = [], [], []
        for index, out in sorted(outputs.items()):
            d = self._distortion(out, self.refs[index])
            raw.append(d)
            ratios.append(d / max(self.noise[index]["noise"], 1e-12))
            chroma_ratios.append(d / max(self.noise[index]["chroma-noise"], 1e-12))
        linf = max(float((out.cpu() - self.images[i]).abs().max()) for i, out in outputs.items()) * 255
        return {
            "images": len(outputs),
            "distortion": sum(raw) / len(raw),
            "ratio_vs_noise": sum(ratios) / len(ratios),
            "ratio_vs_chroma_noise": sum(chroma_ratios) / len(chroma_ratios),
            "linf_255": linf,
        }


def speed_and_protection(cfg: BenchConfig, device: str, log: Log = _log_default) -> dict[str, Any]:
    """Seconds per ``size`` x ``size`` photo for every subject, and its protection on the same outputs."""
    dev = torch.device(device)
    # The fast engines protect all of these (one per timed run); the slow ones the first slow_repeats.
    images = inputs.protection_images(max(cfg.slow_repeats, min(cfg.repeats, 5), 1), cfg.size)
    scorer = ProtectionScorer(images, cfg.eps) if dev.type == "cpu" else None
    all_subjects = subjects(cfg.pgd_steps, cfg.official_arch)
    results: dict[str, Any] = {}
    longest_pgd = f"pgd-{max(cfg.pgd_steps)}"
    for subject in all_subjects:
        log(f"speed {cfg.size}px on {device}: {subject.key}")
        try:
            results[subject.key] = _speed_one(cfg, subject, dev, images, scorer, results, longest_pgd, log)
        except Exception as exc:  # noqa: BLE001 - one failing subject must not sink the run
            log(f"  {subject.key} failed: {type(exc).__name__}: {exc}")
            results[subject.key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    _add_ratios(results, longest_pgd)
    return {"device": device, "size": cfg.size, "protection_images": inputs.protection_source(),
            "subjects": results}


def _speed_one(cfg, subject: Subject, dev, images, scorer, done: dict, longest_pgd: str, log: Log) -> dict:
    engine = subject.build(dev)
    dev_images = [im.to(dev) for im in images]
    outputs: dict[int, torch.Tensor] = {}
    slow = subject.key != "rid" and subject.key != "dwt-chroma"
    repeats = cfg.slow_repeats if slow else cfg.repeats
    entry: dict[str, Any] = {"ok": True, "label": subject.label, "default": subject.default, "notes": subject.notes}

    if subject.key == longest_pgd and len(cfg.pgd_steps) > 1:
        shorter = done.get(f"pgd-{min(cfg.pgd_steps)}", {})
        if shorter.get("ok"):
            per_step = shorter["median_s"] / min(cfg.pgd_steps)
            predicted = per_step * max(cfg.pgd_steps)
            if predicted > cfg.pgd_time_box_s:
                log(f"  predicted {predicted:.0f} s > time box {cfg.pgd_time_box_s:.0f} s: extrapolating")
                entry.update(median_s=predicted, cpu_median_s=shorter["cpu_median_s"] * max(cfg.pgd_steps) / min(cfg.pgd_steps),
                             repeats=0, extrapolated=f"from {shorter['median_s']:.1f} s for {min(cfg.pgd_steps)} steps "
                             f"(linear in steps; time box {cfg.pgd_time_box_s:.0f} s)",
                             gflops=_scaled(shorter.get("gflops"), max(cfg.pgd_steps) / min(cfg.pgd_steps)))
                return entry
        repeats = 1

    warm = subject.warmup_build(dev) if subject.warmup_build else engine
    timing = measure(
        lambda i: engine.protect(dev_images[i % len(dev_images)], cfg.eps, seed=i),
        repeats=repeats,
        warmup=1,
        device=dev,
        warmup_fn=lambda: warm.protect(dev_images[0], cfg.eps, seed=0),
        on_result=lambda i, out: outputs.setdefault(i % len(dev_images), out.detach().cpu()),
    )
    entry.update(timing.to_dict())
    entry["images_per_s"] = timing.per_second
    if dev.type == "cpu":
        entry["gflops"] = _gflops(subject, engine, warm, dev_images[0], cfg)
    if scorer is not None:
        entry["protection"] = scorer.score(outputs)
    log(f"  {timing.median_s:.3f} s/image (cpu {timing.cpu_median_s:.2f} s, {repeats} runs)")
    return entry


def _scaled(value: float | None, factor: float) -> float | None:
    return None if value is None else value * factor


def _gflops(subject: Subject, engine, warm, image: torch.Tensor, cfg: BenchConfig) -> float | None:
    """GFLOP per image; for PGD: one clean encoder pass + steps x (one 1-step attack minus that pass)."""
    if subject.warmup_build is None:
        return count_gflops(lambda: engine.protect(image, cfg.eps))
    from rid_desktop.models.surrogates import load_encoder

    encoder = load_encoder(device=image.device)
    with torch.inference_mode():
        forward = count_gflops(lambda: encoder(image))
    one_step = count_gflops(lambda: warm.protect(image, cfg.eps))
    if forward is None or one_step is None:
        return None
    return forward + subject.options["steps"] * (one_step - forward)


def _add_ratios(results: dict[str, Any], longest_pgd: str) -> None:
    """How many times faster each subject is than PGD (each step count) and the official architecture."""
    refs = {k: v["median_s"] for k, v in results.items()
            if v.get("ok") and (k.startswith("pgd-") or k == "official-rid-arch")}
    for key, entry in results.items():
        if not entry.get("ok"):
            continue
        entry["speedup_vs"] = {ref: seconds / entry["median_s"] for ref, seconds in refs.items()}


# --- 12 MP end to end ---------------------------------------------------------------------------


def end_to_end(cfg: BenchConfig, device: str, speed: dict[str, Any], workdir: Path, log: Log = _log_default) -> dict:
    """12 MP photo: load JPEG, protect at native size, write JPEG; measured for the generators,
    extrapolated per tile for the slow subjects. Each measured engine runs in its own process (peak RSS)."""
    h, w = cfg.photo_hw
    photo = workdir / f"photo_{w}x{h}.jpg"
    if not photo.exists():
        inputs.write_jpeg(inputs.photo_like(h, w, seed=1), photo)
    results: dict[str, Any] = {}
    for subject in subjects(cfg.pgd_steps, cfg.official_arch):
        if subject.per_tile_extrapolation or subject.key not in cfg.e2e_engines:
            continue
        log(f"12 MP end to end on {device}: {subject.key} ({w}x{h}, fresh process)")
        spec = {"case": "e2e", "engine": subject.key, "path": str(photo), "out_dir": str(workdir / f"e2e_{subject.key}"),
                "repeats": cfg.slow_repeats, "device": device, "warmup_size": min(1024, h, w),
                "official_arch": cfg.official_arch}
        res = run_worker(spec)
        res["measured"] = True
        results[subject.key] = res
        if res.get("ok"):
            log(f"  {res['median_s']['total']:.2f} s (protect {res['median_s']['protect']:.2f} s), "
                f"peak RSS {res['peak_rss_bytes'] / 2**20:.0f} MiB")
        else:
            log(f"  failed: {res.get('error')}")
    io_s = _io_seconds(results)
    for subject in subjects(cfg.pgd_steps, cfg.official_arch):
        if not subject.per_tile_extrapolation:
            continue
        per_image = speed["subjects"].get(subject.key, {})
        if not per_image.get("ok"):
            continue
        tiles = tile_count(h, w, subject.tile, subject.overlap)
        # Cost per tile from the size x size run (one tile); PGD's cost scales with the tile's pixels.
        measured_px = speed.get("size", subject.tile) ** 2
        scale = 1.0 if subject.fixed_tile else min(subject.tile, h) * min(subject.tile, w) / measured_px
        per_tile = per_image["median_s"] * scale
        protect = tiles * per_tile
        results[subject.key] = {
            "ok": True, "measured": False, "tiles": tiles,
            "median_s": {"protect": protect, "total": protect + io_s, "load": None, "save": None},
            "extrapolated": f"{tiles} tiles x {per_tile:.2f} s per {subject.tile}px tile"
                            f" + {io_s:.2f} s load/save (measured with the default generator)",
        }
    return {"device": device, "size": [w, h], "megapixels": w * h / 1e6, "subjects": results}


def _io_seconds(results: dict[str, Any]) -> float:
    for entry in results.values():
        if entry.get("ok") and entry.get("measured"):
            return entry["median_s"]["load"] + entry["median_s"]["save"]
    return 0.0


# --- batch memory -------------------------------------------------------------------------------


def batch_memory(cfg: BenchConfig, workdir: Path, log: Log = _log_default) -> dict:
    """Peak RSS of ``run_batch`` over the small vs the large batch (fresh process each)."""
    h, w = cfg.batch_hw
    small, large = cfg.batch_sizes
    source_dir = workdir / "batch_sources"
    sources = []
    for i in range(large):
        path = source_dir / f"photo_{i:03d}.jpg"
        if not path.exists():
            inputs.write_jpeg(inputs.photo_like(h, w, seed=10 + i), path)
        sources.append(path)
    results = {}
    for n in (small, large):
        folder = workdir / f"batch_{n}"
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        for path in sources[:n]:
            _link_or_copy(path, folder / path.name)
        log(f"batch of {n} photos ({w}x{h}) through run_batch, fresh process")
        res = run_worker({"case": "batch", "folder": str(folder), "out_dir": str(workdir / f"batch_{n}_out"),
                          "engine": "rid"})
        results[str(n)] = res
        if res.get("ok"):
            log(f"  {res['images_per_s']:.2f} images/s, peak RSS {res['peak_rss_bytes'] / 2**20:.0f} MiB")
        else:
            log(f"  failed: {res.get('error')}")
    return {"image_size": [w, h], "sizes": [small, large], "runs": results}


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


# --- checks -------------------------------------------------------------------------------------


def check_costs(cfg: BenchConfig, log: Log = _log_default) -> dict:
    """Cost of the robustness checks on a ``check_size``^2 photo: each purifier alone, and the whole
    check report (purifier on original/protected/noise + surrogate scoring) as the GUI runs it."""
    from rid_desktop.checks import build_check_report, parse_purifiers
    from rid_desktop.engines import create_engine

    size = cfg.check_size
    original = inputs.to_tensor(inputs.photo_like(size, size, seed=3))
    protected = create_engine("rid").protect(original, cfg.eps)
    results = {}
    for spec in ("iwmf", "jpeg:75"):
        purifier = parse_purifiers(spec)[0]
        log(f"check {spec} at {size}px")
        alone = measure(lambda i: purifier(protected, seed=i), repeats=cfg.repeats if spec.startswith("jpeg")
                        else cfg.slow_repeats, warmup=1)
        full = measure(lambda i: build_check_report(original, protected, cfg.eps, [purifier], with_images=False),
                       repeats=cfg.slow_repeats, warmup=0)  # encoder already warm (protection scoring)
        results[spec] = {"label": purifier.label, "purifier": alone.to_dict(), "full_check": full.to_dict()}
        log(f"  purifier {alone.median_s:.3f} s, full check {full.median_s:.2f} s")
    return {"size": size, "checks": results, "preview": preview_cost(cfg, log)}


def preview_cost(cfg: BenchConfig, log: Log = _log_default) -> dict:
    """What moving the GUI's strength slider costs on a cached ~1 MP preview (issue 6: < 1 s on CPU):
    the default engine at the new budget, then the preview's metrics and heat map — the core work of
    ``ui.preview_compute.PreviewComputer.preview`` without the Qt image conversion."""
    from rid_desktop.checks.metrics import compute_metrics, perturbation_heatmap
    from rid_desktop.engines import create_engine

    h, w = (96, 128) if cfg.quick else (864, 1152)  # 1.0 MP, the preview's pixel budget
    image = inputs.to_tensor(inputs.photo_like(h, w, seed=5))
    engine = create_engine("rid")
    budgets = [4 / 255, 8 / 255, 12 / 255]

    def one(i: int) -> None:
        eps = budgets[i % len(budgets)]
        protected = engine.protect(image, eps, seed=0)
        compute_metrics(image, protected)
        perturbation_heatmap(image, protected, scale=eps)

    timing = measure(one, repeats=cfg.repeats, warmup=1)
    log(f"preview of a {h}x{w} photo: {timing.median_s:.3f} s")
    return {"hw": [h, w], "timing": timing.to_dict()}


# --- thumbnails ---------------------------------------------------------------------------------


def thumbnail_costs(cfg: BenchConfig, workdir: Path, log: Log = _log_default) -> dict:
    """The GUI's thumbnail function over ``thumbnails`` photos: cold (empty cache) and warm (cached)."""
    make, source = _thumbnail_function()
    h, w = cfg.thumb_source_hw
    distinct = []
    for i in range(5):
        path = workdir / "thumb_sources" / f"src_{i}.jpg"
        if not path.exists():
            inputs.write_jpeg(inputs.photo_like(h, w, seed=20 + i), path)
        distinct.append(path)
    folder = workdir / "thumbs_in"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    paths = []
    for i in range(cfg.thumbnails):
        dst = folder / f"photo_{i:04d}.jpg"
        _link_or_copy(distinct[i % len(distinct)], dst)  # distinct paths -> distinct cache entries
        paths.append(dst)
    cache = workdir / "thumb_cache"
    if cache.exists():
        shutil.rmtree(cache)
    log(f"thumbnails: {len(paths)} photos of {w}x{h} with {source}")
    t0 = time.perf_counter()
    for p in paths:
        make(p, cache)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in paths:
        make(p, cache)
    warm = time.perf_counter() - t0
    log(f"  cold {cold:.2f} s, cached {warm:.2f} s")
    return {"count": len(paths), "source_size": [w, h], "function": source, "cold_s": cold, "cached_s": warm}


def _thumbnail_function() -> tuple[Callable[[Path, Path], Any], str]:
    """``ui.models.thumbnails.make_thumbnail`` (what the GUI runs) or, without Qt, the same Pillow steps."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from ui.models.thumbnails import make_thumbnail

        return make_thumbnail, "ui.models.thumbnails.make_thumbnail (the GUI's function)"
    except Exception:  # noqa: BLE001 - no Qt here: time the same Pillow work
        from PIL import Image, ImageOps

        def pillow_thumbnail(path: Path, cache: Path):
            cache.mkdir(parents=True, exist_ok=True)
            out = cache / (path.stem + ".png")
            if out.exists():
                return Image.open(out)
            with Image.open(path) as im:
                im.draft("RGB", (192, 192))
                im = ImageOps.exif_transpose(im).convert("RGB")
                im.thumbnail((192, 192), Image.Resampling.LANCZOS)
                im.save(out, format="PNG")
            return out

        return pillow_thumbnail, "Pillow draft()+thumbnail() (ui not importable here)"
