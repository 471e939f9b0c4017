"""Issue 15's protection table: today's engines against the previous defaults, through posting chains.

Runs ``rid_desktop.training.trip_eval`` (the code behind ``rid-desktop eval --chain``) on the
evaluation photos twice — at their own size (no chain, JPEG q75, subtraction attacks, key and
cross-photo cosine) and bicubic-upscaled to ~12 MP (posted to 1080 px + JPEG q80 + a trainer's
512 px centre crop; shrunk to 1024 px) — for:

* ``rid``: the shipped keyed, scale-aware pixel generator;
* ``rid (previous)``: the generator shipped before issue 15 (a file, ``--previous-pixel``), at native
  scale and unkeyed, as it ran then;
* ``dwt-chroma``: the chroma generator as it runs now (keyed frames, ~1024 px working scale);
* ``dwt-chroma (previous behaviour)``: the same weights at native scale without keys;
* ``rid (candidate: NAME)``: newly trained pixel generator files (``--candidate``, repeatable), run
  like ``rid``, so retrained networks are judged against the shipped one in the same run (``--no-chroma`` drops the
  chroma rows when only the pixel generators are being compared).

Usage::

    python -m bench.trip ../shared/data/eval --previous-pixel runs/prev-pixel.safetensors -o docs/eval/trip.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from rid_desktop.engines.dwt_chroma import DWTChromaEngine
from rid_desktop.engines.rid import RIDEngine
from rid_desktop.models.surrogates import load_decoder, load_encoder
from rid_desktop.training.data import list_images
from rid_desktop.training.trip_eval import load_photo, measure_photo, parse_chain, summarize_trip, trip_table

NATIVE_CHAINS = ("none", "jpeg:75")
CAMERA_CHAINS = ("post:1080,jpeg:80,train:512", "down:1024")


def engines(previous_pixel: str | None, pixel: str | None = None, candidates=(),
            chroma: bool = True, shipped: bool = True) -> dict[str, tuple[object, bool]]:
    """label -> (engine, is_chroma). ``pixel``: a file instead of the shipped generator;
    ``candidates``: more pixel generator files, labelled ``rid (candidate: FILE STEM)``;
    ``shipped=False`` leaves the ``rid`` row out (candidates measured in a separate run: the
    protection figures are seeded per photo, so runs combine)."""
    out = {"rid": (RIDEngine(model_path=pixel), False)} if shipped else {}
    for candidate in candidates:
        out[f"rid (candidate: {Path(candidate).stem})"] = (RIDEngine(model_path=candidate), False)
    if previous_pixel:
        out["rid (previous)"] = (RIDEngine(model_path=previous_pixel, work_size=0), False)
    if chroma:
        out["dwt-chroma"] = (DWTChromaEngine(), True)
        out["dwt-chroma (previous behaviour)"] = (DWTChromaEngine(work_size=0, keyed=False), True)
    return out


SECTIONS = {
    "native": ("Photos at their own size (≤ 1024 px)", 0, NATIVE_CHAINS, True),
    "camera": ("Photos bicubic-upscaled to ~12 MP, then through the chain", 12, CAMERA_CHAINS, False),
}


def run(folder: Path, previous_pixel: str | None, limit: int | None, eps255: float, log=print,
        pixel: str | None = None, sections=("native", "camera"), every: int = 1, out: Path | None = None,
        candidates=(), chroma: bool = True, shipped: bool = True, decoded: bool = False) -> str:
    """The tables of ``sections``; each is appended to ``out`` as soon as it is measured.
    ``decoded``: add the decoder-side damage columns (TAEF2 decoder; a transfer proxy)."""
    encoder = load_encoder()
    decoder = load_decoder() if decoded else None
    built = engines(previous_pixel, pixel, candidates, chroma, shipped)
    paths = list_images(folder)[::every][:limit]
    tables = []
    for name in sections:
        title, upscale, chains, attacks = SECTIONS[name]
        parsed = {c: parse_chain(c) for c in chains}
        rows = []
        started = time.time()
        for i, path in enumerate(paths):
            x = load_photo(path, upscale)
            for label, (engine, chroma) in built.items():
                rows.append(measure_photo(engine, path.name, label, x, eps255 / 255, parsed, encoder,
                                          seed=1000 * i, attacks=attacks, chroma=chroma, decoder=decoder))
            log(f"[{title[:12]}] {i + 1}/{len(paths)} {path.name} ({time.time() - started:.0f} s)")
        tables.append(trip_table(summarize_trip(rows, chains), chains, title=f"{title} ({len(paths)} photos)"))
        if out is not None:
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(tables[-1] + "\n")
    return "\n".join(tables)


def write_100pct(photo: Path, previous_pixel: str | None, out: Path, pixel: str | None = None,
                 crop: tuple[int, int] = (360, 480), candidates=()) -> Path:
    """What a viewer sees at 100 % on a camera-size photo: one crop of the ~12 MP upscaled photo,
    original | each pixel engine's copy | its change x10 around mid-grey (PNG, or JPEG q92 4:4:4 by suffix)."""
    import numpy as np
    from PIL import Image

    x = load_photo(photo, 12)
    h, w = x.shape[-2:]
    top, left = (h - crop[0]) // 2, (w - crop[1]) // 2
    window = (slice(None), slice(None), slice(top, top + crop[0]), slice(left, left + crop[1]))
    tiles = [x[window]]
    for label, (engine, chroma) in engines(previous_pixel, pixel, candidates).items():
        if chroma:
            continue
        y = (engine.protect(x, 8 / 255, seed=7).clamp(0, 1) * 255).round() / 255
        tiles += [y[window], (0.5 + 10 * (y - x)[window]).clamp(0, 1)]
    row = torch.cat(tiles, -1)[0].permute(1, 2, 0).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray((row * 255).round().astype(np.uint8))
    if out.suffix.lower() in {".jpg", ".jpeg"}:  # docs-sized, 4:4:4 so the pattern is not smeared
        picture.save(out, quality=92, subsampling=0)
    else:
        picture.save(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.trip", description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--previous-pixel", default=None, help="the previously shipped pixel generator file")
    p.add_argument("--pixel", default=None, help="evaluate this pixel generator file instead of the shipped one")
    p.add_argument("--candidate", action="append", default=[],
                   help="also evaluate this newly trained pixel generator file (repeatable)")
    p.add_argument("--no-chroma", action="store_true", help="leave out the chroma engine rows")
    p.add_argument("--decoded", action="store_true",
                   help="add decoder-side damage columns (TAEF2 decoder output; a transfer proxy)")
    p.add_argument("--no-shipped", action="store_true", help="leave out the shipped generator's row")
    p.add_argument("--photo", type=int, default=0, help="--crops: index of the photo (sorted) to crop")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--every", type=int, default=1, help="use every N-th photo (sorted), e.g. 3 for a third")
    p.add_argument("--sections", default="native,camera", help="comma list of: native, camera")
    p.add_argument("--eps", type=float, default=8.0, help="budget in 255ths")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("-o", "--out", type=Path, default=None)
    p.add_argument("--crops", type=Path, default=None,
                   help="also write a 100 %% crop sheet of the first photo upscaled to 12 MP (.png or .jpg)")
    args = p.parse_args(argv)
    if args.crops:
        photo = list_images(args.folder)[args.photo]
        print(f"wrote {write_100pct(photo, args.previous_pixel, args.crops, pixel=args.pixel, candidates=args.candidate)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    print(run(args.folder, args.previous_pixel, args.limit, args.eps, pixel=args.pixel, sections=sections,
              every=args.every, out=args.out, candidates=args.candidate, chroma=not args.no_chroma,
              shipped=not args.no_shipped, decoded=args.decoded))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
