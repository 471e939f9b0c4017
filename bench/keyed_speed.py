"""Issue 15's speed targets as ratios: the shipped generator vs the previous default, same run.

Machines here differ ~3x from run to run, so each figure is stated next to the previous default
generator's (its architecture with random weights: `bench.subjects.previous_default_engine`),
measured in the same run, interleaved:

* 512x512 protect, in process (median of ``--repeats``);
* a 12 MP photo end to end (load JPEG, protect, write JPEG), each engine in a fresh process
  (`bench.worker`'s e2e case, the one `python -m bench` uses).

``--refined`` adds the ``refined`` engine (generator + a few PGD steps) to both, in the same run; where
its encoder passes run in bf16 (hardware with native bf16), also its float32 passes, for that ratio.

Usage: ``python -m bench.keyed_speed [--repeats 5] [--refined] [-o docs/benchmarks-keyed.md]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from bench import inputs
from bench.subjects import previous_default_engine
from bench.memory import run_worker
from rid_desktop.engines import create_engine

EPS = 8 / 255


def speed_512(repeats: int, refined: bool = False) -> dict[str, float]:
    """Median seconds per 512x512 protect for each engine, interleaved so load hits all alike."""
    image = inputs.to_tensor(inputs.photo_like(512, 512, seed=3))
    engines = {"rid": create_engine("rid"), "rid-previous-arch": previous_default_engine()}
    if refined:
        engines["refined"] = create_engine("refined")
        if engines["refined"].low_precision:  # bf16 encoder passes here: time the float32 ones beside them
            engines["refined-float32"] = create_engine("refined", low_precision=False)
    for engine in engines.values():
        engine.protect(image, EPS, seed=0)  # warm-up
    times: dict[str, list[float]] = {k: [] for k in engines}
    for i in range(repeats):
        for key, engine in engines.items():
            t = time.perf_counter()
            engine.protect(image, EPS, seed=i)
            times[key].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def end_to_end_12mp(workdir: Path, repeats: int, refined: bool = False) -> dict[str, float]:
    photo = workdir / "photo_4000x3000.jpg"
    inputs.write_jpeg(inputs.photo_like(3000, 4000, seed=1), photo)
    out = {}
    for key in ("rid", "rid-previous-arch") + (("refined",) if refined else ()):
        res = run_worker({"case": "e2e", "engine": key, "path": str(photo), "out_dir": str(workdir / f"e2e_{key}"),
                          "repeats": repeats, "device": "cpu", "warmup_size": 1024, "official_arch": {}})
        if not res.get("ok"):
            raise RuntimeError(f"{key}: {res.get('error')}")
        out[key] = res["median_s"]["total"]
        out[key + ":peak_rss_mib"] = res["peak_rss_bytes"] / 2**20
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.keyed_speed", description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--refined", action="store_true", help="also time the refined engine (generator + PGD steps)")
    p.add_argument("-o", "--out", type=Path, default=None)
    args = p.parse_args(argv)
    small = speed_512(args.repeats, args.refined)
    with tempfile.TemporaryDirectory(prefix="rid-keyed-speed-") as tmp:
        big = end_to_end_12mp(Path(tmp), max(1, args.repeats // 2), args.refined)
    lines = [
        "| case | shipped generator | previous default (same run) | ratio | target |",
        "|---|---|---|---|---|",
        f"| 512x512 protect | {small['rid']:.3f} s | {small['rid-previous-arch']:.3f} s | "
        f"{small['rid'] / small['rid-previous-arch']:.2f}x | <= 0.25 s |",
        f"| 12 MP end to end (load, protect, write JPEG) | {big['rid']:.2f} s | {big['rid-previous-arch']:.2f} s | "
        f"{big['rid'] / big['rid-previous-arch']:.2f}x | <= 8 s |",
        f"| 12 MP peak memory (fresh process) | {big['rid:peak_rss_mib']:.0f} MiB | "
        f"{big['rid-previous-arch:peak_rss_mib']:.0f} MiB | "
        f"{big['rid:peak_rss_mib'] / big['rid-previous-arch:peak_rss_mib']:.2f}x | |",
    ]
    if args.refined:
        lines += [
            f"| refined engine, 512x512 protect | {small['refined']:.3f} s | {small['rid-previous-arch']:.3f} s | "
            f"{small['refined'] / small['rid-previous-arch']:.2f}x | (no target: the strong option) |",
            f"| refined engine, 12 MP end to end | {big['refined']:.2f} s | {big['rid-previous-arch']:.2f} s | "
            f"{big['refined'] / big['rid-previous-arch']:.2f}x | |",
        ]
        if "refined-float32" in small:
            lines.append(
                f"| refined engine, 512x512, bf16 encoder passes vs float32 ones (same run) | {small['refined']:.3f} s "
                f"| {small['refined-float32']:.3f} s (float32) | {small['refined'] / small['refined-float32']:.2f}x | |")
    lines += [
        "",
        f"torch threads: {torch.get_num_threads()}; repeats: {args.repeats} (12 MP: {max(1, args.repeats // 2)}).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
