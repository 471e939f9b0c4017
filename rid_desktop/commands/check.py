"""``rid-desktop check IMAGE...``: how visible is the protection, and does it survive clean-up?

Protects each image with the chosen engine (or takes an already protected copy with ``--protected``),
then prints, per purifier, how much the surrogate AI is still disturbed relative to random noise of
the same budget, with a verdict. Can also write the full report as JSON and a PNG grid.

To keep a 24 MP photo quick, only the scored centre crop (``--max-side``, at native resolution, plus a
small margin for context) is protected; with ``--protected`` the whole given copy is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from rid_desktop.checks.diffpure import DIFFPURE_MODEL_ENV
from rid_desktop.checks.purifiers import DEFAULT_SPECS, list_purifiers, parse_purifiers
from rid_desktop.checks.report import DEFAULT_MAX_SIDE, CheckReport, build_check_report, centre_region
from rid_desktop.commands.engine_arguments import add_engine_arguments, settings_from_engine_arguments
from rid_desktop.engines import make_engine
from rid_desktop.errors import UserError
from rid_desktop.strength import describe

CONTEXT_MARGIN = 32


def register(subparsers) -> None:
    kinds = ", ".join(kind.usage for kind in list_purifiers())
    parser = subparsers.add_parser(
        "check",
        help="measure visible change and robustness to JPEG, IWMF, DiffPure, ...",
        description="Protect (or take a protected copy of) each image and report whether the protection "
        "survives common clean-ups, compared with random noise of the same strength.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="photos or folders of photos")
    add_engine_arguments(parser, seed_help="random seed (protection, noise baseline, purifiers)")
    parser.add_argument("--protected", type=Path, default=None, metavar="FILE",
                        help="check this already protected copy of the (single) IMAGE instead of protecting")
    parser.add_argument("--purifiers", default=DEFAULT_SPECS, help=f"comma-separated list of: {kinds}")
    parser.add_argument("--diffpure-model", default=None, metavar="DIR",
                        help=f"diffusers model folder for diffpure / iwmf-diff (or set {DIFFPURE_MODEL_ENV})")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT.json", help="write the report(s) as JSON")
    parser.add_argument("--grid", type=Path, default=None, metavar="OUT.png",
                        help="write a PNG grid (one per image: OUT-<name>.png when several)")
    parser.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                        help="side of the centre crop that is scored, in pixels")
    parser.add_argument("--score-with", default=None, metavar="NAME",
                        help="score with a full-size VAE instead of TAEF2: an installed model "
                        "(sd-vae-ft-mse, flux1-vae; see 'models list') or a diffusers VAE folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rid_desktop.device import resolve_device

    settings = settings_from_engine_arguments(args)
    eps = settings.eps
    if args.max_side < 8:
        raise UserError(f"--max-side must be at least 8 pixels, got {args.max_side}")
    images = expand_images(args.images)
    if args.protected is not None and len(images) != 1:
        raise UserError("--protected needs exactly one IMAGE (its original)")
    device = resolve_device(args.device)
    purifiers = parse_purifiers(args.purifiers, diffpure_model=args.diffpure_model, device=device)
    engine = make_engine(settings, notify=_warn) if args.protected is None else None
    if getattr(engine, "model_note", None):
        print(f"model: {engine.model_note}", file=sys.stderr)
    scorer = _scorer(args.score_with, device)

    reports: list[CheckReport] = []
    failed: list[tuple[Path, str]] = []
    for path in images:
        print(f"checking {path.name} ({describe(eps)}) ...", file=sys.stderr)
        try:
            report = _check_one(path, args, engine, eps, purifiers, device, scorer)
            if args.grid is not None:
                report.save_grid(_grid_path(args.grid, path, len(images)))
        except UserError as exc:
            failed.append((path, str(exc)))
            print(f"failed: {path}: {exc}", file=sys.stderr)
            continue
        reports.append(report)
        print(report.to_table())
        print()
    if args.json is not None and reports:
        _write_json(args.json, reports)
    return 1 if failed else 0


def expand_images(paths: list[Path]) -> list[Path]:
    """Files as given, folders as their supported images (not recursive); UserError if none exist.

    Unsupported files in a folder are named by kind on stderr ("skipped: 2 videos (not supported)").
    """
    from rid_desktop.io.discovery import Discovery, describe_skipped, scan_folder

    found = Discovery()
    for path in paths:
        if path.is_dir():
            found.extend(scan_folder(path, recursive=False))
        elif path.is_file():
            found.images.append(path)  # named on purpose: an unsupported one fails with its own reason
        else:
            raise UserError(f"no such file or folder: {path}")
    skipped = describe_skipped(found.skipped_counts())
    if not found.images:
        raise UserError("no supported images found in: " + ", ".join(str(p) for p in paths)
                        + (f" ({skipped})" if skipped else ""))
    if skipped:
        print(skipped, file=sys.stderr)
    return found.images


def _scorer(name: str | None, device: torch.device) -> dict:
    """build_check_report's encoder/decoder for ``--score-with`` (empty: the TAEF2 default)."""
    if not name:
        return {}
    from rid_desktop.models.diffusers_models import load_vae_pair

    encoder, decoder = load_vae_pair(name, device)
    return {"encoder": encoder, "decoder": decoder, "scored_with": str(name)}


def _check_one(path: Path, args, engine, eps: float, purifiers, device: torch.device, scorer=None) -> CheckReport:
    from rid_desktop.io import load_image, to_tensor

    original = to_tensor(load_image(path)).to(device)
    info = {"image": str(path), "strength": describe(eps)}
    if args.protected is not None:
        protected = to_tensor(load_image(args.protected)).to(device)
        info["protected"] = str(args.protected)
    else:
        original, protected = _protect_centre(engine, original, eps, args.max_side, args.seed)
        info["engine"] = engine.name
    scorer = dict(scorer or {})
    scored_with = scorer.pop("scored_with", "taef2")
    report = build_check_report(
        original, protected, eps, purifiers, seed=args.seed, max_side=args.max_side, name=path.name,
        with_images=args.grid is not None, **scorer,
    )
    report.info.update(info)
    report.info["scored with"] = scored_with
    return report


def _protect_centre(engine, original: torch.Tensor, eps: float, max_side: int, seed: int):
    """Protect the scored centre crop plus a margin of context; return (original, protected) crops."""
    height, width = original.shape[-2:]
    top, left, h, w = centre_region(height, width, max_side)
    y0, x0 = max(0, top - CONTEXT_MARGIN), max(0, left - CONTEXT_MARGIN)
    y1, x1 = min(height, top + h + CONTEXT_MARGIN), min(width, left + w + CONTEXT_MARGIN)
    context = original[..., y0:y1, x0:x1]
    with torch.no_grad():
        protected = engine.protect(context, eps, seed=seed)
    inner = (..., slice(top - y0, top - y0 + h), slice(left - x0, left - x0 + w))
    return context[inner], protected[inner]


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _grid_path(grid: Path, image: Path, count: int) -> Path:
    if count == 1:
        return grid
    return grid.with_name(f"{grid.stem}-{image.stem}{grid.suffix or '.png'}")


def _write_json(path: Path, reports: list[CheckReport]) -> None:
    from rid_desktop.io import atomic_write_bytes

    data = reports[0].to_dict() if len(reports) == 1 else {"images": [r.to_dict() for r in reports]}
    atomic_write_bytes(path, (json.dumps(data, indent=2, allow_nan=False) + "\n").encode("utf-8"))
