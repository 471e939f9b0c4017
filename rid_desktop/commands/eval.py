"""``rid-desktop eval FOLDER``: protection and visibility per engine and budget (table + plot)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="measure engines on a folder of photos (table + plot)",
                              description="Per engine and budget: PSNR/SSIM, surrogate latent distortion vs "
                                          "random noise and PGD, and after JPEG q75.")
    p.add_argument("folder", help="folder of images")
    p.add_argument("--engines", default="rid,dwt-chroma", help="comma-separated engine names; NAME:MODEL_PATH evaluates a specific checkpoint")
    p.add_argument("--strengths", default="4,8,12", help="budgets in 255ths, comma-separated")
    p.add_argument("--size", type=int, default=256, help="centre-crop size in px (PGD cost grows with area)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--pgd-steps", type=int, default=20, help="PGD baseline steps (0 to skip)")
    p.add_argument("--comparison", type=int, default=2, metavar="N",
                   help="also write comparison.jpg: N photos, original / protected / change x10 per engine (0: no)")
    p.add_argument("--chain", action="append", default=None, metavar="CHAIN",
                   help="score whole photos after a posting chain instead (repeatable): e.g. none, jpeg:75, "
                        "'post:1080,jpeg:80,train:512', down:1024; 'default' = those four. Adds subtraction "
                        "attacks, key and cross-photo cosine (L2 latent ratio first, MSE ratio second)")
    p.add_argument("--upscale-mp", type=float, default=0,
                   help="with --chain: bicubic-upscale each photo to about this many megapixels first (e.g. 12)")
    p.add_argument("--decoded", action="store_true",
                   help="with --chain: also score what the TAEF2 decoder gives back (decoder-side damage, a transfer proxy)")
    p.add_argument("--no-attacks", action="store_true", help="with --chain: skip the subtraction attacks")
    p.add_argument("-o", "--out", default="eval-report", help="output folder for eval.csv/.md/.png")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from rid_desktop.errors import UserError
    from rid_desktop.training.evaluate import evaluate_folder, summarize, write_comparison, write_reports

    folder = Path(args.folder)
    if not folder.is_dir():
        raise UserError(f"not a folder: {folder}")
    try:
        strengths = [float(s) for s in args.strengths.split(",") if s]
    except ValueError:
        raise UserError(f"--strengths must be numbers of 255ths, got {args.strengths!r}") from None
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.chain:
        return _run_trip(args, folder, engines, strengths)
    torch.set_grad_enabled(True)
    rows = evaluate_folder(folder, engines=engines, strengths=strengths, size=args.size, limit=args.limit,
                           pgd_steps=args.pgd_steps)
    if not rows:
        raise UserError(f"no images found in {folder}")
    summary = summarize(rows)
    paths = write_reports(rows, summary, args.out)
    print(paths["md"].read_text())
    written = [paths["csv"], paths["md"], paths["png"]]
    if args.comparison > 0:
        eps255 = 8.0 if 8.0 in strengths else strengths[0]
        written.append(write_comparison(folder, Path(args.out) / "comparison.jpg", engines=engines, eps255=eps255,
                                        size=args.size, limit=args.comparison))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _run_trip(args, folder, engines, strengths) -> int:
    """``eval --chain``: whole photos through posting chains (see rid_desktop.training.trip_eval)."""
    from pathlib import Path

    from rid_desktop.training.trip_eval import DEFAULT_CHAINS, evaluate_trip, summarize_trip, trip_table

    chains = []
    for c in args.chain:
        chains += list(DEFAULT_CHAINS) if c == "default" else [c]
    rows = evaluate_trip(folder, engines=engines, strengths=strengths, chains=tuple(chains),
                         upscale_mp=args.upscale_mp, limit=args.limit, attacks=not args.no_attacks,
                         decoded=args.decoded)
    title = f"photos upscaled to ~{args.upscale_mp:g} MP" if args.upscale_mp else "photos at native size"
    table = trip_table(summarize_trip(rows, tuple(chains)), tuple(chains), title=title)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "trip.md").write_text(table)
    print(table)
    print(f"wrote {out / 'trip.md'}")
    return 0
