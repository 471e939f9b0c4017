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
