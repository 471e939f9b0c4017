"""Train a compact generator against surrogate encoders (RID's recipe, sized for a laptop CPU).

Loss per image = -log(latent distortion after a random differentiable wash)
               [+ lambda_vis * relu(rms(delta)/eps - rms_target)^2, off by default: the pixel
                generator's rms cap already bounds visibility by construction]
The budget eps is sampled per image (log-uniform over [eps_min, eps_max]) so one network serves
every preset; ``--fixed-eps`` trains a single-budget network for comparison.

Keyed, scale-aware generators (``--key-channels``, issue 15) train on the trip a posted photo takes
instead (:mod:`rid_desktop.training.trip`): random resize + JPEG inside the loss, key diversity,
cross-photo decorrelation and the subtraction attack; validation is on photos held out of the
training folder (every 10th file), never on the evaluation set.

``--run-dir DIR`` keeps everything of a run in one folder (``args.json``, ``generator.safetensors``,
state, log); ``--resume DIR --minutes N`` continues it with the same arguments — step, optimiser and
random state included — so a run accumulates across working days.

Resumable: ``<out>.state.pt`` holds model + optimiser + step (our own file, loaded weights-only);
``<out>.log.jsonl`` gets one line per log interval with loss and validation ratios. The learning rate
follows a cosine over the wall-clock budget (to 5 %), and ``<out>`` always holds the weights with the
best validation score so far (geometric mean of the clean and JPEG-q75 protection ratios at 8/255),
so a noisy last step never ships.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from pathlib import Path

import torch

from rid_desktop.checks.metrics import psnr_per_image
from rid_desktop.checks.visibility import spectral_peakiness, stripe_coherence, visibility_ratio
from rid_desktop.engines.baselines import random_chroma_noise, random_sign_noise
from rid_desktop.engines.generator_net import GeneratorConfig, build_generator, run_generator
from rid_desktop.engines.objectives import Augmentation, SurrogateObjective, sample_augmentation
from rid_desktop.models.surrogates import load_encoder
from rid_desktop.training.data import CropSampler, center_crops, list_images, split_holdout
from rid_desktop.training.trip import (Trip, TripWeights, cross_photo_cosine, encode_with_features,
                                       keyed_trip_loss, pairwise_cosine, sample_trip)
from rid_desktop.training.export import save_generator
from rid_desktop.training.warm_start import warm_start


@torch.no_grad()
def validate(net, kind: str, objective: SurrogateObjective, images: torch.Tensor, eps: float) -> dict[str, float]:
    """Protection ratio vs random noise at eps, clean and after JPEG q75, plus PSNR."""
    net.eval()
    gen = torch.Generator().manual_seed(0)
    protected = run_generator(net, images, eps)
    noise = random_chroma_noise(images, eps, gen) if kind == "chroma" else random_sign_noise(images, eps, gen)
    out: dict[str, float] = {}
    for tag, aug in (("clean", None), ("jpeg75", Augmentation("jpeg", 75))):
        refs = objective.reference(images, aug)
        d_prot = objective(protected, refs, aug).mean().item()
        d_noise = objective(noise, refs, aug).mean().item()
        out[f"ratio_{tag}"] = d_prot / max(d_noise, 1e-12)
        out[f"distortion_{tag}"] = d_prot
    out["psnr"] = psnr_per_image(images, protected).clamp_max(120.0).mean().item()
    net.train()
    return out


@torch.no_grad()
def keyed_protect(net, images: torch.Tensor, eps: float, seed: int) -> torch.Tensor:
    """``images`` protected by a (keyed) generator in batch, frames and key drawn from ``seed``: the
    same photos and seed give the same change, so validations and sweeps stay comparable."""
    from rid_desktop.engines.generator_net import make_key
    from rid_desktop.engines.keying import Frame, batch_keyed_call

    n, c = images.shape[0], net.config.key_channels
    gen = torch.Generator().manual_seed(seed)
    frames = [Frame.from_generator(gen) for _ in range(n)]
    key = make_key((n, c, *images.shape[-2:]), seed) if c else None
    return (images + batch_keyed_call(net, images, torch.full((n,), eps), frames, key)).clamp(0, 1)


def keyed_validation_crops(data, holdout_every: int) -> torch.Tensor:
    """The 16 held-out 192 px crops a keyed run validates on (and its snapshots are ranked on)."""
    _, held_out = split_holdout(list_images(data), holdout_every)
    if not held_out:
        raise ValueError(f"no held-out photos in {data} (need at least {holdout_every} photos)")
    return center_crops(held_out, 192, limit=16)


def validate_trip(net, encoder, images: torch.Tensor, eps: float) -> dict[str, float]:
    """L2 latent ratio vs random sign noise (the headline metric), as written and after a posting trip.

    The trip here is fixed (downscale 1.5x, JPEG q80: a 1024 px working image posted and prepared
    for training at 683 px); keys and noise are seeded so successive validations are comparable.
    """
    net.eval()
    gen = torch.Generator().manual_seed(0)
    protected, other = keyed_protect(net, images, eps, 1), keyed_protect(net, images, eps, 2)
    noise = random_sign_noise(images, eps, gen)
    out: dict[str, float] = {}
    for tag, trip in (("clean", Trip()), ("trip", Trip(1.5, 80))):
        ref = encode_with_features(encoder, trip(images))[1]
        d_prot = (encode_with_features(encoder, trip(protected))[1] - ref).flatten(1).norm(dim=1)
        d_noise = (encode_with_features(encoder, trip(noise))[1] - ref).flatten(1).norm(dim=1)
        out[f"l2_{tag}"] = (d_prot / d_noise.clamp_min(1e-12)).mean().item()
    again = keyed_protect(net, protected, eps, 3)
    subtracted = (2 * protected - again).clamp(0, 1)
    ref = encode_with_features(encoder, images)[1]
    d_sub = (encode_with_features(encoder, subtracted)[1] - ref).flatten(1).norm(dim=1)
    d_noise = (encode_with_features(encoder, noise)[1] - ref).flatten(1).norm(dim=1)
    out["l2_subtracted"] = (d_sub / d_noise.clamp_min(1e-12)).mean().item()
    out["key_cos"] = pairwise_cosine(protected - images, other - images).mean().item()
    out["cross_cos"] = cross_photo_cosine(protected - images).mean().item()
    mse = (protected - images).pow(2).flatten(1).mean(1)
    out["psnr"] = (10 * torch.log10(1 / mse.clamp_min(1e-12))).mean().item()
    for view in (1, 4):
        vis = visibility_ratio(protected - images, images, eps, upsample=view,
                               generator=torch.Generator().manual_seed(4))
        out[f"vis{view}"] = vis.mean().item()
    out["coh"] = stripe_coherence(protected - images).mean().item()
    out["peak"] = spectral_peakiness(protected - images).mean().item()
    net.train()
    return out


# How the change looks, as optional loss terms and selection penalties (issue 15): name -> (what it
# measures, its held-out value from a validation record, floor below which selection stops caring).
LOOK_TERMS = {
    "visibility": ("eye-weighted visibility (vs sign noise, at 1x and 4x)",
                   lambda record: math.sqrt(record["vis1"] * record["vis4"]), 1e-6),
    "coherence": ("stripe-coherence (long straight lines)", lambda record: record["coh"], 0.15),
    "peakiness": ("periodic-pattern (energy share of the top 1 %% frequencies)", lambda record: record["peak"], 0.1),
}


def _resume_argv(argv: list[str] | None) -> list[str] | None:
    """``--resume DIR [--minutes N ...]`` -> the run's saved arguments followed by the new ones."""
    argv = list(argv) if argv is not None else None
    import sys

    raw = argv if argv is not None else sys.argv[1:]
    if "--resume" not in raw:
        return argv
    i = raw.index("--resume")
    run_dir = Path(raw[i + 1])
    saved = run_dir / "args.json"
    if not saved.exists():
        raise SystemExit(f"rid-desktop train: {run_dir} is not a training run folder (no args.json)")
    return json.loads(saved.read_text())["argv"] + raw[:i] + raw[i + 2:]


def main(argv: list[str] | None = None) -> None:
    argv = _resume_argv(argv)
    p = argparse.ArgumentParser(prog="rid-desktop train", description=__doc__.splitlines()[0])
    p.add_argument("--kind", choices=["pixel", "chroma"], default="pixel")
    p.add_argument("--data", default="../shared/data/train")
    p.add_argument("--val-data", default="../shared/data/eval")
    p.add_argument("--out", default=None, help="output .safetensors path (state/log files sit beside it)")
    p.add_argument("--run-dir", default=None, help="keep the whole run in this folder (resume with --resume DIR)")
    p.add_argument("--resume", default=None, help="continue the run in this folder with its saved arguments")
    p.add_argument("--snapshots", action="store_true",
                   help="also export the generator at every logged step into snapshots/ beside the output, so the "
                        "model can be chosen again later by another criterion (the validation is noisy)")
    p.add_argument("--key-channels", type=int, default=0,
                   help="pixel: keyed generator with this many key-noise channels, trained on the posting trip")
    p.add_argument("--work-size", type=int, default=0,
                   help="pixel: long side (px) at which the engine will run the net (0 = native)")
    p.add_argument("--holdout-every", type=int, default=10, help="keyed: every N-th training photo is held out")
    p.add_argument("--trip-none-share", type=float, default=0.2,
                   help="keyed: share of steps scored without a resize (as written)")
    p.add_argument("--trip-jpeg-share", type=float, default=0.6,
                   help="keyed: share of steps scored after differentiable JPEG q60-95")
    p.add_argument("--lambda-feature", type=float, default=TripWeights.feature,
                   help="keyed: weight of the encoder's stride-4 feature damage beside the latent's (transfer)")
    p.add_argument("--lambda-subtraction", type=float, default=TripWeights.subtraction,
                   help="keyed: weight of the protection left after the subtraction attack")
    p.add_argument("--lambda-distill", type=float, default=0.0,
                   help="keyed: weight of the distance to a PGD-refined target of the same key (0 = off)")
    p.add_argument("--distill-steps", type=int, default=TripWeights.distill_steps,
                   help="keyed: PGD steps that refine each distillation target")
    p.add_argument("--distill-direction", action="store_true",
                   help="keyed: distil the target's direction only (1 - cosine), not its amplitude")
    p.add_argument("--visibility-per-energy", action="store_true",
                   help="keyed: score visibility per unit of energy, so the term moves the change but cannot shrink it")
    p.add_argument("--view-scale-max", type=float, default=TripWeights.view_scale_max,
                   help="keyed: the visibility term views the change magnified 1x..this (log-uniform); a 12 MP "
                        "photo shows a change made at 1024 px about 4x magnified")
    p.add_argument("--encoder-bf16", action="store_true",
                   help="keyed: run the surrogate encoder of the loss in bfloat16, channels-last (2.6x faster on a "
                        "CPU with AVX-512 BF16, slower on one without); validation stays float32")
    p.add_argument("--select-clean", type=float, default=0.0,
                   help="keyed: model selection multiplies the score by the held-out L2 ratio as written**this")
    for term, (what, _, floor) in LOOK_TERMS.items():
        p.add_argument(f"--lambda-{term}", type=float, default=0.0, help=f"keyed: weight of the {what} term (0 = off)")
        p.add_argument(f"--select-{term}", type=float, default=0.0,
                       help=f"keyed: model selection divides the score by max({term}, {floor:g})**this")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock budget")
    p.add_argument("--steps", type=int, default=10**9)
    p.add_argument("--batch", type=int, default=6)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--tail-lr-scale", type=float, default=10.0, help="learning-rate multiplier of the output layer")
    p.add_argument("--eps-min", type=float, default=3.0, help="in 255ths")
    p.add_argument("--eps-max", type=float, default=16.0, help="in 255ths")
    p.add_argument("--fixed-eps", type=float, default=None, help="train for one budget (255ths)")
    p.add_argument("--lambda-vis", type=float, default=0.0, help="extra soft rms penalty (the rms cap already bounds it)")
    p.add_argument("--rms-target", type=float, default=0.5, help="allowed rms(delta)/eps before penalty")
    p.add_argument("--width", type=int, default=GeneratorConfig.width)
    p.add_argument("--depth", type=int, default=GeneratorConfig.depth)
    p.add_argument("--scale", type=int, default=GeneratorConfig.scale, help="trunk runs at 1/scale resolution")
    p.add_argument("--mask-floor", type=float, default=GeneratorConfig.mask_floor,
                   help="pixel: budget share on flat regions (texture mask); 1.0 = no mask")
    p.add_argument("--rms-cap", type=float, default=0.56, help="pixel: rms(delta)/eps cap (0 = off)")
    p.add_argument("--pattern", type=int, default=0, help="pixel: period (px) of a learned universal pattern; 0 = none")
    p.add_argument("--detail-width", type=int, default=0,
                   help="pixel: width of a half-resolution head that refines the change to fine detail; 0 = none")
    p.add_argument("--init", default=None,
                   help="start from this trained generator (same or narrower; function-preserving growth)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.run_dir:
        run_dir = Path(args.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        if not (run_dir / "args.json").exists():
            saved = [a for a in (argv if argv is not None else __import__("sys").argv[1:])]
            (run_dir / "args.json").write_text(json.dumps({"argv": saved}, indent=1))
        args.out = str(run_dir / "generator.safetensors")
    if not args.out:
        p.error("give --out FILE or --run-dir DIR")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    state_path, log_path = out.with_suffix(".state.pt"), out.with_suffix(".log.jsonl")

    config = GeneratorConfig(kind=args.kind, width=args.width, depth=args.depth, scale=args.scale,
                             mask_floor=args.mask_floor,
                             rms_cap=args.rms_cap if args.kind == "pixel" else 0.0,
                             pattern=args.pattern if args.kind == "pixel" else 0,
                             key_channels=args.key_channels if args.kind == "pixel" else 0,
                             work_size=args.work_size if args.kind == "pixel" else 0,
                             detail_width=args.detail_width if args.kind == "pixel" else 0)
    keyed = config.key_channels > 0
    if keyed and args.lambda_vis:
        p.error("--lambda-vis (the rms penalty) is for unkeyed generators; keyed ones use --lambda-visibility")
    if args.view_scale_max < 1:
        p.error("--view-scale-max is a magnification: give 1 or more")
    net = build_generator(config).to(device)
    if args.init and not state_path.exists():
        grown = warm_start(net, args.init, drop=("universal",) if keyed else ())
        print(f"started from {args.init}" + (f" (grew {len(grown)} tensors)" if grown else ""))
    # The output layer gets a larger learning rate: its bias is the universal part of the pattern and
    # must travel to tanh saturation (|raw| ~ 2); at the trunk's rate that takes ~1000 steps, which
    # is most of a CPU run (measured: 1.6x noise after 200 steps at one rate for all). The universal
    # pattern is bias-like too, and the detail head's output layer starts at zero and must catch up.
    def is_output(name: str) -> bool:
        return name.startswith(("body.tail.", "detail.out.")) or name == "universal"

    tail = [p for n, p in net.named_parameters() if is_output(n)]
    trunk = [p for n, p in net.named_parameters() if not is_output(n)]
    opt = torch.optim.AdamW([{"params": trunk, "lr_scale": 1.0}, {"params": tail, "lr_scale": args.tail_lr_scale}],
                            lr=args.lr, weight_decay=1e-5)
    step, elapsed_before, best = 0, 0.0, -1.0
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        step, elapsed_before = int(state["step"]), float(state["elapsed"])
        best = float(state.get("best", -1.0))
        if "rng_torch" in state:
            torch.set_rng_state(state["rng_torch"])
        print(f"resumed at step {step} ({elapsed_before / 60:.1f} min)")

    encoder = load_encoder(device=device)
    objective = SurrogateObjective([encoder])
    if keyed:
        train_paths, _ = split_holdout(list_images(args.data), args.holdout_every)
        sampler = CropSampler(train_paths, args.crop, seed=args.seed + step, max_side=args.work_size or 768)
        val_images = keyed_validation_crops(args.data, args.holdout_every).to(device)
        weights = TripWeights(feature=args.lambda_feature, subtraction=args.lambda_subtraction,
                              visibility=args.lambda_visibility, coherence=args.lambda_coherence,
                              peakiness=args.lambda_peakiness,
                              distill=args.lambda_distill, distill_steps=args.distill_steps,
                              distill_direction=args.distill_direction,
                              visibility_per_energy=args.visibility_per_energy,
                              view_scale_max=args.view_scale_max, encoder_bf16=args.encoder_bf16)
        # Channels-last weights for the bfloat16 loss; validation keeps the float32 encoder as it was.
        loss_encoder = copy.deepcopy(encoder).to(memory_format=torch.channels_last) if args.encoder_bf16 else encoder
    else:
        sampler = CropSampler(args.data, args.crop, seed=args.seed + step)
        val_images = center_crops(args.val_data, 128, limit=12).to(device)
    rng = random.Random(args.seed + step)
    lo, hi = math.log(args.eps_min), math.log(args.eps_max)
    started = time.time()
    running = []
    running_parts: dict[str, list[float]] = {}

    budget_s = args.minutes * 60

    def save_all(export: bool) -> None:
        elapsed = elapsed_before + time.time() - started
        tmp = state_path.with_suffix(".tmp")
        torch.save({"model": net.state_dict(), "optim": opt.state_dict(), "step": step, "elapsed": elapsed,
                    "best": best, "rng_torch": torch.get_rng_state()}, tmp)
        tmp.replace(state_path)
        if export:
            save_generator(net, config, out, extra={"train_steps": str(step), "train_minutes": f"{elapsed / 60:.1f}"})

    while step < args.steps and (time.time() - started) < budget_s:
        progress = min(1.0, (elapsed_before + time.time() - started) / max(budget_s + elapsed_before, 1e-9))
        for group in opt.param_groups:
            group["lr"] = args.lr * group["lr_scale"] * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        x = sampler.sample(args.batch).to(device)
        if args.fixed_eps:
            eps = torch.full((x.shape[0],), args.fixed_eps / 255, device=device)
        else:
            eps = torch.exp(torch.empty(x.shape[0], device=device).uniform_(lo, hi)) / 255
        if keyed:
            trip = sample_trip(rng, args.trip_none_share, args.trip_jpeg_share)
            loss, parts = keyed_trip_loss(net, loss_encoder, x, eps, trip, weights, config.key_channels)
            for name, value in parts.items():
                running_parts.setdefault(name, []).append(value)
        else:
            aug = sample_augmentation(rng)
            refs = objective.reference(x, aug)
            protected = run_generator(net, x, eps)
            distortion = objective(protected, refs, aug)
            loss = -torch.log(distortion + 1e-6).mean()
            if getattr(net, "raw_penalty", None) is not None:
                loss = loss + 0.1 * net.raw_penalty
        if args.kind == "pixel" and args.lambda_vis > 0:
            rms_ratio = (protected - x).pow(2).flatten(1).mean(1).sqrt() / eps
            loss = loss + args.lambda_vis * torch.relu(rms_ratio - args.rms_target).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        running.append(loss.item())
        if step % args.log_every == 0:
            record = {"step": step, "minutes": round((elapsed_before + time.time() - started) / 60, 2),
                      "loss": sum(running) / len(running)}
            if keyed:
                record.update({k: round(sum(v) / len(v), 4) for k, v in running_parts.items()})
                running_parts.clear()
                record.update({k: round(v, 4) for k, v in validate_trip(net, encoder, val_images, 8 / 255).items()})
                # Geometric mean of the L2 ratios as written, after the trip and after subtraction.
                score = (max(record["l2_clean"], 0) * max(record["l2_trip"], 0)
                         * max(record["l2_subtracted"], 0)) ** (1 / 3)
                score *= max(record["l2_clean"], 1e-6) ** args.select_clean
                for term, (_, measured, floor) in LOOK_TERMS.items():
                    exponent = getattr(args, f"select_{term}")
                    if exponent:
                        score /= max(measured(record), floor) ** exponent
            else:
                record.update({k: round(v, 4) for k, v in validate(net, args.kind, objective, val_images, 8 / 255).items()})
                score = math.sqrt(max(record["ratio_clean"], 0) * max(record["ratio_jpeg75"], 0))
            improved = score > best
            best = max(best, score)
            record["best"] = improved
            running.clear()
            with open(log_path, "a") as fh:
                fh.write(json.dumps(record) + "\n")
            print(json.dumps(record), flush=True)
            save_all(export=improved)
            if args.snapshots:
                save_generator(net, config, out.parent / "snapshots" / f"step-{step:06d}.safetensors",
                               extra={"train_steps": str(step), "train_minutes": f"{record['minutes']:.1f}"})
    save_all(export=not out.exists())
    print(f"saved {out} (best validation score {best:.3f}) after {step} steps")


if __name__ == "__main__":
    main()
