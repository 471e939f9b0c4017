"""Does protection survive the trip a posted photo takes? (``rid-desktop eval --chain``)

Scored the way issue 15 defines it, on 8-bit files as saved and on whole photos (not crops):

* **L2 ratio** ``||E(c(x')) - E(c(x))|| / ||E(c(n)) - E(c(x))||`` — x the original, x' the protected
  copy, n random sign noise of the same L-inf, c a posting chain applied to all three, E the TAEF2
  encoder; mean over photos of the per-photo ratio. The MSE ratio (its square, per photo) is the
  second column.
* the **subtraction** attacks an app user can run (``2y - protect(y)``, and the 4-key average),
* **key cosine** (two keys on one photo) and **cross-photo cosine** (changes of different photos at
  the same positions, centre 256 px) — how image-specific and unpredictable the change is.
* **visibility** (:mod:`rid_desktop.checks.visibility`): the eye-weighted change against that of
  the same sign noise, at 100 % and fitted to a 1600 px screen (1.0 = as visible as the noise), and
  how **periodic** the change is as fitted to that screen: the energy share of its strongest 1 % of
  spatial frequencies (bands and cross-hatches ~0.7, random noise ~0.04).
* optionally, **decoder-side damage** (a transfer proxy): the same L2 ratio on what the autoencoder
  gives back, ``||D(E(c(x'))) - D(E(c(x)))|| / ||D(E(c(n))) - D(E(c(x)))||`` — whether the latent
  damage reaches the image an img2img or VAE round trip returns, or falls where the decoder ignores it.

Chains are named presets joined by commas, applied left to right with real codecs (Pillow):
``none``, ``jpeg:Q`` (4:2:0, as social networks save), ``down:L`` (long side to L px, Lanczos),
``post:L`` (a social upload: long side to L if larger), ``train:S`` (a trainer's preprocessing:
short side to S, centre crop S x S). ``--upscale-mp 12`` first bicubic-upscales every photo to about
12 MP, for camera-size tests without camera-size photos (the chain brings them back down).
"""

from __future__ import annotations

import io
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from rid_desktop.errors import UserError

DEFAULT_CHAINS = ("none", "jpeg:75", "post:1080,jpeg:80,train:512", "down:1024")


# ---------------------------------------------------------------- chains on 8-bit PIL images
def _jpeg(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, subsampling=2)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def _long_side(img: Image.Image, target: int, only_shrink: bool) -> Image.Image:
    w, h = img.size
    if only_shrink and max(w, h) <= target:
        return img
    s = target / max(w, h)
    return img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.LANCZOS)


def _train_crop(img: Image.Image, size: int) -> Image.Image:
    w, h = img.size
    s = size / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def parse_chain(spec: str):
    """A chain preset string -> a function PIL image -> PIL image. Raises UserError on a bad preset."""
    steps = []
    for part in [p.strip() for p in spec.split(",") if p.strip()]:
        name, _, arg = part.partition(":")
        if name == "none" and not arg:
            continue
        try:
            value = int(arg)
        except ValueError:
            raise UserError(f"chain step {part!r}: expected NAME:NUMBER (jpeg:75, down:1024, post:1080, "
                            "train:512) or none") from None
        if name == "jpeg" and 1 <= value <= 100:
            steps.append(lambda im, q=value: _jpeg(im, q))
        elif name == "down" and value >= 8:
            steps.append(lambda im, v=value: _long_side(im, v, only_shrink=False))
        elif name == "post" and value >= 8:
            steps.append(lambda im, v=value: _long_side(im, v, only_shrink=True))
        elif name == "train" and value >= 8:
            steps.append(lambda im, v=value: _train_crop(im, v))
        else:
            raise UserError(f"chain step {part!r} is not one of jpeg:1-100, down:PX, post:PX, train:PX, none")

    def run(img: Image.Image) -> Image.Image:
        for step in steps:
            img = step(img)
        return img

    return run


def to_pil(x: torch.Tensor) -> Image.Image:
    """(1,3,H,W) in [0,1] -> 8-bit RGB image: what a saved file holds."""
    arr = (x[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(arr)


def to_tensor(img: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def load_photo(path: Path, upscale_mp: float = 0) -> torch.Tensor:
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        if upscale_mp > 0:
            w, h = im.size
            s = math.sqrt(upscale_mp * 1e6 / (w * h))
            if s > 1:
                im = im.resize((round(w * s), round(h * s)), Image.Resampling.BICUBIC)
        return to_tensor(im)


# ---------------------------------------------------------------- measurements
@dataclass
class TripRow:
    """One photo, engine, budget: per-chain ratios plus attack and key figures."""

    image: str
    method: str
    eps255: float
    psnr: float
    ssim: float
    l2: dict[str, float] = field(default_factory=dict)  # chain -> L2 ratio vs noise
    mse: dict[str, float] = field(default_factory=dict)  # chain -> MSE ratio vs noise
    decoded: dict[str, float] = field(default_factory=dict)  # chain -> L2 ratio of the decoded images
    l2_subtracted: float = float("nan")
    l2_avg_subtracted: float = float("nan")
    key_cos: float = float("nan")
    vis_100: float = float("nan")
    vis_fit: float = float("nan")
    stripes: float = float("nan")
    seconds: float = 0.0
    centre_change: torch.Tensor | None = field(default=None, repr=False)


def _encode(encoder, img: Image.Image) -> torch.Tensor:
    with torch.no_grad():
        return encoder(to_tensor(img))


def _ratio(encoder, chain, x_img, y_img, n_img, decoder=None) -> tuple[float, float, float]:
    """(L2 ratio, MSE ratio, decoded L2 ratio) of y against the noise n, all three through ``chain``.

    Each image is chained and encoded once; with a ``decoder`` the same latents are decoded too (what
    a VAE round trip returns), else the decoded ratio is NaN.
    """
    ref, lat_y, lat_n = (_encode(encoder, chain(im)) for im in (x_img, y_img, n_img))
    r = (lat_y - ref).norm().item() / max((lat_n - ref).norm().item(), 1e-12)
    decoded = float("nan")
    if decoder is not None:
        with torch.no_grad():
            out_ref, out_y, out_n = decoder(ref), decoder(lat_y), decoder(lat_n)
        decoded = (out_y - out_ref).norm().item() / max((out_n - out_ref).norm().item(), 1e-12)
    return r, r * r, decoded


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a.flatten()[None], b.flatten()[None], eps=1e-12).item()


def _centre(delta: torch.Tensor, size: int = 256) -> torch.Tensor:
    h, w = delta.shape[-2:]
    s = min(size, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = delta[..., top:top + s, left:left + s]
    return F.interpolate(crop, size=(size, size), mode="nearest") if s != size else crop


def _quantized(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


SCREEN_LONG_SIDE = 1600  # "fit to screen": a photo viewed whole on a laptop or desktop display


def _visibility(x_img: Image.Image, y_img: Image.Image, n_img: Image.Image) -> tuple[float, float, float]:
    """Eye-weighted change of y over that of the noise n at 100 % and fitted to the screen, and how
    periodic y's change is as fitted to the screen."""
    from rid_desktop.checks.visibility import spectral_peakiness, visible_energy

    def ratio(fit: bool) -> tuple[float, float]:
        images = [_long_side(im, SCREEN_LONG_SIDE, only_shrink=True) if fit else im for im in (x_img, y_img, n_img)]
        x, y, n = (to_tensor(im) for im in images)
        seen = math.sqrt(visible_energy(y - x, x).item() / max(visible_energy(n - x, x).item(), 1e-20))
        return seen, spectral_peakiness(y - x).item() if fit else float("nan")

    with torch.no_grad():
        (at_100, _), (fitted, stripes) = ratio(False), ratio(True)
        return at_100, fitted, stripes


def measure_photo(engine, name: str, method: str, x: torch.Tensor, eps: float, chains: dict, encoder, *,
                  seed: int, attacks: bool, max_encode_side: int = 2048, chroma: bool = False,
                  decoder=None) -> TripRow:
    """All figures for one photo under one engine and budget (see the module docstring).

    ``decoder``: also measure decoder-side damage through every chain (the autoencoder's decoder).

    ``chroma``: the baseline is chroma-only random noise of the same budget (a chroma engine is
    compared with what random colour noise does).
    """
    from kornia.metrics import ssim as kornia_ssim

    gen = torch.Generator().manual_seed(seed)
    t = time.perf_counter()
    y = _quantized(engine.protect(x, eps, seed=seed))
    seconds = time.perf_counter() - t
    from rid_desktop.engines.baselines import random_chroma_noise, random_sign_noise

    n = _quantized(random_chroma_noise(x, eps, gen) if chroma else random_sign_noise(x, eps, gen))
    mse = (y - x).pow(2).mean().item()
    row = TripRow(name, method, eps * 255, 10 * math.log10(1 / max(mse, 1e-12)),
                  kornia_ssim(y, x, 11).mean().item() if max(x.shape[-2:]) <= 2048 else float("nan"),
                  seconds=seconds)
    x_img, y_img, n_img = to_pil(x), to_pil(y), to_pil(n)
    for label, chain in chains.items():
        if label == "none" and max(x.shape[-2:]) > max_encode_side:
            continue  # a camera-size photo is never fed to an AI at native size
        row.l2[label], row.mse[label], decoded = _ratio(encoder, chain, x_img, y_img, n_img, decoder)
        if decoder is not None:
            row.decoded[label] = decoded
    row.centre_change = _centre(y - x)
    row.vis_100, row.vis_fit, row.stripes = _visibility(x_img, y_img, n_img)
    if attacks:
        # What an app user can try: protect the protected copy again (fresh keys) and subtract.
        small = max(x.shape[-2:]) <= max_encode_side
        ident = (lambda im: im) if small else parse_chain("down:1024")
        again = [_quantized(engine.protect(y, eps, seed=seed + 7919 * (k + 1))) for k in range(4)]
        subtracted = _quantized(2 * y - again[0])
        avg = _quantized(y - torch.stack([a - y for a in again]).mean(0))
        row.l2_subtracted = _ratio(encoder, ident, x_img, to_pil(subtracted), n_img)[0]
        row.l2_avg_subtracted = _ratio(encoder, ident, x_img, to_pil(avg), n_img)[0]
        other = _quantized(engine.protect(x, eps, seed=seed + 104729))
        row.key_cos = _cos(y - x, other - x)
    return row


def evaluate_trip(folder: str | Path, *, engines, strengths=(8,), chains=DEFAULT_CHAINS, upscale_mp: float = 0,
                  limit: int | None = None, attacks: bool = True, seed: int = 0, progress=print,
                  decoded: bool = False) -> list[TripRow]:
    """Rows for every photo x engine x budget. Engines are built like ``eval``'s (``NAME[:MODEL]``).
    ``decoded``: also measure decoder-side damage (TAEF2 decoder)."""
    from rid_desktop.models.surrogates import load_decoder, load_encoder
    from rid_desktop.training.data import list_images
    from rid_desktop.training.evaluate import CHROMA_ENGINES, build_engines

    paths = list_images(folder)[:limit]
    if not paths:
        raise UserError(f"no images found in {folder}")
    parsed = {c: parse_chain(c) for c in chains}
    encoder = load_encoder()
    decoder = load_decoder() if decoded else None
    built = build_engines(engines)
    rows: list[TripRow] = []
    for i, path in enumerate(paths):
        try:
            x = load_photo(path, upscale_mp)
        except (OSError, ValueError) as exc:
            progress(f"skipped {path.name}: {exc}")
            continue
        for eps255 in strengths:
            for method, engine in built.items():
                rows.append(measure_photo(engine, path.name, method, x, eps255 / 255, parsed, encoder,
                                          seed=seed + 1000 * i, attacks=attacks,
                                          chroma=method.split("[", 1)[0] in CHROMA_ENGINES, decoder=decoder))
        if progress:
            progress(f"[{i + 1}/{len(paths)}] {path.name}")
    return rows


def summarize_trip(rows: list[TripRow], chains=DEFAULT_CHAINS) -> list[dict]:
    """Means per (method, budget); cross-photo cosine over all pairs of photos' centre changes."""
    out = []
    for key in dict.fromkeys((r.method, r.eps255) for r in rows):
        group = [r for r in rows if (r.method, r.eps255) == key]
        entry = {"method": key[0], "eps255": key[1], "n": len(group),
                 "psnr": statistics.mean(r.psnr for r in group)}
        for c in chains:
            vals = [r.l2[c] for r in group if c in r.l2]
            entry[f"l2[{c}]"] = statistics.mean(vals) if vals else float("nan")
            mvals = [r.mse[c] for r in group if c in r.mse]
            entry[f"mse[{c}]"] = statistics.mean(mvals) if mvals else float("nan")
            dvals = [r.decoded[c] for r in group if c in r.decoded]
            if dvals:
                entry[f"decoded[{c}]"] = statistics.mean(dvals)
        for name in ("l2_subtracted", "l2_avg_subtracted", "key_cos", "vis_100", "vis_fit", "stripes", "seconds"):
            vals = [getattr(r, name) for r in group if not math.isnan(getattr(r, name))]
            entry[name] = statistics.mean(vals) if vals else float("nan")
        changes = [r.centre_change for r in group if r.centre_change is not None]
        pairs = [_cos(a, b) for i, a in enumerate(changes) for b in changes[i + 1:]]
        entry["cross_cos"] = statistics.mean(pairs) if pairs else float("nan")
        out.append(entry)
    return out


def trip_table(summary: list[dict], chains=DEFAULT_CHAINS, title: str = "") -> str:
    """Markdown: L2 ratio per chain (MSE ratio in brackets), attacks, key and cross-photo cosine."""
    head = ["method", "eps", "PSNR dB"] + [f"L2 (MSE) {c}" for c in chains] + [
        "L2 after subtraction", "L2 after 4-key avg. subtraction", "key cos", "cross-photo cos",
        "visible vs noise 100 % / fit", "periodic", "s/photo"]
    decoded = [c for c in chains if any(f"decoded[{c}]" in s for s in summary)]
    head += [f"decoded L2 {c}" for c in decoded]
    lines = ([f"**{title}**", ""] if title else []) + ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def f(v, fmt="{:.2f}"):
        return "—" if v != v else fmt.format(v)

    for s in summary:
        cells = [s["method"], f"{s['eps255']:g}/255", f(s["psnr"], "{:.1f}")]
        cells += [f"{f(s[f'l2[{c}]'])} ({f(s[f'mse[{c}]'])})" for c in chains]
        cells += [f(s["l2_subtracted"]), f(s["l2_avg_subtracted"]), f(s["key_cos"]), f(s["cross_cos"]),
                  f"{f(s['vis_100'])} / {f(s['vis_fit'])}", f(s["stripes"]), f(s["seconds"])]
        cells += [f(s.get(f"decoded[{c}]", float("nan"))) for c in decoded]
        lines.append("| " + " | ".join(cells) + " |")
    n = max((s["n"] for s in summary), default=0)
    lines += ["", f"{n} photos. L2 ratio = ||E(x')-E(x)|| / ||E(n)-E(x)|| on TAEF2 latents vs random sign noise of "
              "the same L-inf (chroma engines: chroma-only noise), all three images through the chain, 8-bit files; MSE ratio (its square) in "
              "brackets. Subtraction: clip(2y - protect(y)); 4-key: clip(y - mean_k(protect_k(y) - y)). "
              "Visible: eye-weighted change (contrast sensitivity at 40 px/degree, texture masking) over "
              "that of the same noise, at 100 % and fitted to 1600 px (lower = less seen). Periodic: "
              "energy share of the change's top 1 % spatial frequencies, fitted to 1600 px (noise ~0.04)."
              + (" Decoded: the same L2 ratio on the TAEF2 decoder's output, D(E(.)), a transfer proxy "
                 "(does the latent damage reach the image a VAE round trip returns?)." if decoded else "")]
    return "\n".join(lines) + "\n"
