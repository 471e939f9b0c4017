"""Strength against visibility as a generator's rms cap is lowered: compare networks at equal visibility.

Why: two generators trained with different visibility weights end at different amplitudes, so "more
protective" and "less visible" are confounded. Lowering the rms cap (the per-image energy limit stored
in the weights file) moves one network along its own strength-visibility curve without retraining,
so two networks can be compared at the *same* visibility. Strength is not proportional to amplitude
(the curve is concave), so scaling one network's figures by hand misjudges it.

Scored on held-out *training* photos (every ``--holdout-every``-th, as training's model selection
uses), never on the evaluation photos: this is a selection tool, so it must not see what reports are
made on. Metric: the L2 latent ratio on TAEF2 against sign noise of the same L-inf (the training
validation's ``l2_clean``), with the subtraction attack, PSNR and the eye-weighted visibility —
also as a camera-size photo shows it (``vis_camera``: the change made at the crop's size, written
into the crop upscaled 4x, viewed at 100 % against sign noise at that size; a 12 MP photo shows a
1024 px working-scale change this way), so a cap can be chosen for big photos without the evaluation set.
Twice: on the sharp crops (a real camera photo shrunk to the working scale is sharp) and on crops first
upscaled 2x (``soft``: what `rid-desktop eval`'s 12 MP rows see, small photos upscaled to 12 MP, whose
smooth working copies mask less and rank generators differently).

    python -m bench.amplitude_sweep FILE [FILE ...] --data ../shared/data/train [--caps 0.55,0.5,0.45]
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import torch

from bench.report import emit_table

from rid_desktop.engines.working_scale import CAMERA_MAGNIFICATION  # a 12 MP photo over the working scale

COLUMNS = ("l2_clean", "l2_trip", "l2_subtracted", "psnr", "vis1", "vis4")


def camera_visibility(net, images: torch.Tensor, eps: float, factor: float = CAMERA_MAGNIFICATION,
                      soften: int = 1) -> float:
    """Mean eye-weighted visibility of the network's change once written into the photo upscaled
    ``factor`` times (as the engine writes a working-scale change into a camera-size photo), viewed at
    100 % against sign noise of the same L-inf at that size (as ``rid-desktop eval`` reports it).
    ``soften`` first upscales the photos themselves (a small photo blown up to camera size)."""
    import torch.nn.functional as F

    from rid_desktop.checks.visibility import visibility_ratio
    from rid_desktop.engines.working_scale import change_at_native_scale
    from rid_desktop.training.train import keyed_protect

    if soften > 1:
        images = F.interpolate(images, scale_factor=soften, mode="bicubic", align_corners=False).clamp(0, 1)
    with torch.no_grad():
        delta = keyed_protect(net.eval(), images, eps, 1) - images  # validate_trip's key for its first copy
        big = F.interpolate(images, scale_factor=factor, mode="bicubic", align_corners=False).clamp(0, 1)
        written = change_at_native_scale(delta, tuple(big.shape[-2:]), eps, net.config.rms_cap,
                                         net.config.camera_rms_cap)  # as the engine writes it
        seen = visibility_ratio((big + written).clamp(0, 1) - big, big, eps, generator=torch.Generator().manual_seed(4))
    return seen.mean().item()


def sweep(files: list[str], images: torch.Tensor, caps: list[float], eps: float = 8 / 255,
          camera_cap: float | None = None) -> list[dict]:
    """One row per (file, cap): the training validation's figures with the file's rms cap set to ``cap``
    (and its camera-size cap to ``camera_cap`` when given; otherwise the stored one)."""
    from rid_desktop.engines.generator_loading import DEFAULT_PIXEL_MODEL, load_generator
    from rid_desktop.models.surrogates import load_encoder
    from rid_desktop.training.train import validate_trip

    encoder = load_encoder()
    rows = []
    for file in files:
        net = copy.deepcopy(load_generator(file, DEFAULT_PIXEL_MODEL))  # the loader caches: change a copy
        if camera_cap is not None:
            net.config.camera_rms_cap = camera_cap
        for cap in caps:
            net.config.rms_cap = cap
            figures = validate_trip(net, encoder, images, eps)
            rows.append({"file": Path(file).stem, "cap": cap, "camera_cap": net.config.camera_rms_cap}
                        | {k: figures[k] for k in COLUMNS}
                        | {"vis_camera": camera_visibility(net, images, eps),
                           "vis_camera_soft": camera_visibility(net, images, eps, soften=2)})
    return rows


def to_markdown(rows: list[dict]) -> str:
    head = ("| file | rms cap / camera cap | L2 as written | L2 after the trip | after subtraction | PSNR "
            "| visible 1x / 4x | visible, camera size at 100 %: sharp / soft | L2 per visibility (1x) |")
    lines = [head, "|" + "---|" * 9]
    for r in rows:
        camera = f"{r['camera_cap']:.2f}" if r["camera_cap"] else "—"
        lines.append(f"| {r['file']} | {r['cap']:.2f} / {camera} | {r['l2_clean']:.3f} | {r['l2_trip']:.3f} | "
                     f"{r['l2_subtracted']:.3f} | {r['psnr']:.2f} | {r['vis1']:.3f} / {r['vis4']:.3f} | "
                     f"{r['vis_camera']:.3f} / {r['vis_camera_soft']:.3f} | "
                     f"{r['l2_clean'] / max(r['vis1'], 1e-9):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from rid_desktop.training.data import center_crops, list_images, split_holdout

    p = argparse.ArgumentParser(prog="python -m bench.amplitude_sweep", description=__doc__.split("\n")[0])
    p.add_argument("files", nargs="+", help="generator .safetensors files (our pixel generators)")
    p.add_argument("--data", required=True, help="the training photo folder (only its held-out photos are used)")
    p.add_argument("--holdout-every", type=int, default=10, help="as in training: every N-th photo is held out")
    p.add_argument("--caps", default="0.55,0.50,0.45,0.40", help="comma-separated rms caps (fractions of eps)")
    p.add_argument("--camera-cap", type=float, default=None,
                   help="rms cap for changes upsampled 4x into camera-size photos (default: the file's; 0 = none)")
    p.add_argument("--crop", type=int, default=192, help="centre-crop size (training validation: 192)")
    p.add_argument("--limit", type=int, default=None, help="at most this many held-out photos")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("-o", "--output", default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)
    try:
        caps = [float(c) for c in args.caps.split(",") if c.strip()]
    except ValueError:
        p.error(f"--caps must be numbers separated by commas, not {args.caps!r}")
    if not caps or any(not 0 < c <= 1 for c in caps):
        p.error("each rms cap must be in (0, 1]")
    if args.camera_cap is not None and not 0 <= args.camera_cap <= 1:
        p.error("--camera-cap must be in [0, 1]")
    if args.threads:
        torch.set_num_threads(args.threads)
    _, held_out = split_holdout(list_images(args.data), args.holdout_every)
    if not held_out:
        p.error(f"no held-out photos in {args.data} (need at least {args.holdout_every} photos)")
    images = center_crops(held_out, args.crop, limit=args.limit)
    from rid_desktop.errors import ModelError

    try:
        table = to_markdown(sweep(args.files, images, caps, camera_cap=args.camera_cap))
    except ModelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    emit_table(table, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
