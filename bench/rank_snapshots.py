"""Rank a training run's snapshots at a reference generator's visibility: choose the model again later.

Why: a run's own selection keeps one export, chosen by one score with fixed exponents on a noisy
16-crop validation, and that score mixes strength with visibility. A more visible snapshot only looks
stronger: to ship it at the reference's visibility its rms cap must come down, which scales its change
by ``ref_vis1 / vis1``. A less visible one cannot trade its margin for strength, because the cap sits at
the 35 dB PSNR floor already. So every logged step (``train --snapshots``) is scored at
``min(1, ref_vis1 / vis1)`` times its held-out L2 ratios (as written, after the trip, after the
subtraction) and compared with the reference's own validation on the same crops. The scaling is
linear; strength falls less than linearly with the cap, so a scaled row is a floor. Confirm a pick
with ``bench.amplitude_sweep`` (real caps), then with ``bench.trip`` on the evaluation photos.

    python -m bench.rank_snapshots RUN_DIR [RUN_DIR ...] --data ../shared/data/train [--reference FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from bench.report import emit_table

RATIOS = ("l2_clean", "l2_trip", "l2_subtracted")
TIE = 1e-3  # differences this small are the logs' rounding, not a better model


@dataclass
class Row:
    run: str
    step: int
    clean: float
    trip: float
    subtracted: float
    vis1: float
    snapshot: Path | None

    @property
    def geometric_mean(self) -> float:
        return (max(self.clean, 0) * max(self.trip, 0) * max(self.subtracted, 0)) ** (1 / 3)

    def beats(self, ref: dict[str, float]) -> bool:
        """Stronger than the reference both as written and after the trip, at its visibility, by more
        than the logs' rounding (4 decimals): the reference's own logged step must not beat itself."""
        return self.clean > ref["l2_clean"] + TIE and self.trip > ref["l2_trip"] + TIE

    def at_reference_visibility(self, ref_vis1: float) -> "Row":
        """This step with its L2 ratios as they would be once its change is scaled down to the
        reference's visibility (never up: a less visible step's cap is at the PSNR floor already)."""
        factor = min(1.0, ref_vis1 / max(self.vis1, 1e-9))
        return replace(self, clean=self.clean * factor, trip=self.trip * factor,
                       subtracted=self.subtracted * factor)


def read_run(run_dir: Path) -> list[Row]:
    """Every logged step of a keyed run with its figures at face value, and its snapshot if kept."""
    log = run_dir / "generator.log.jsonl"
    if not log.is_file():
        raise FileNotFoundError(f"{run_dir} is not a training run folder (no generator.log.jsonl)")
    rows = []
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if not set(RATIOS) | {"vis1"} <= set(record):
            raise ValueError(f"{log} is not a keyed run's log with visibility (no {', '.join(RATIOS)}, vis1)")
        snapshot = run_dir / "snapshots" / f"step-{record['step']:06d}.safetensors"
        rows.append(Row(run_dir.name, record["step"], *(record[n] for n in RATIOS), record["vis1"],
                        snapshot if snapshot.is_file() else None))
    return rows


def rank(rows: list[Row], ref: dict[str, float]) -> list[Row]:
    """Rows rescaled to the reference's visibility, best geometric mean first."""
    scaled = (row.at_reference_visibility(ref["vis1"]) for row in rows)
    return sorted(scaled, key=lambda r: r.geometric_mean, reverse=True)


def to_markdown(rows: list[Row], ref: dict[str, float], reference_name: str) -> str:
    head = ("| run | step | L2 as written | after the trip | after subtraction | geometric mean | visible 1x "
            "(as trained) | beats the reference on both | snapshot |\n|---|---|---|---|---|---|---|---|---|\n")
    ref_row = (f"| {reference_name} (reference) | — | {ref['l2_clean']:.3f} | {ref['l2_trip']:.3f} | "
               f"{ref['l2_subtracted']:.3f} | "
               f"{(ref['l2_clean'] * ref['l2_trip'] * ref['l2_subtracted']) ** (1 / 3):.3f} | {ref['vis1']:.3f} | — | — |\n")
    body = "".join(
        f"| {r.run} | {r.step} | {r.clean:.3f} | {r.trip:.3f} | {r.subtracted:.3f} | {r.geometric_mean:.3f} | "
        f"{r.vis1:.3f} | {'**yes**' if r.beats(ref) else 'no'} | {r.snapshot or 'not kept'} |\n" for r in rows)
    return head + ref_row + body


def reference_record(file: str, data: str, holdout_every: int) -> dict[str, float]:
    """The reference generator's training validation on the same held-out crops as the runs' logs."""
    from rid_desktop.engines.generator_loading import load_generator
    from rid_desktop.models.surrogates import load_encoder
    from rid_desktop.training.train import keyed_validation_crops, validate_trip

    net = load_generator(file, "")
    return validate_trip(net, load_encoder(), keyed_validation_crops(data, holdout_every), 8 / 255)


def main(argv: list[str] | None = None) -> int:
    from rid_desktop.engines.generator_loading import DEFAULT_PIXEL_MODEL, locate
    from rid_desktop.errors import ModelError

    p = argparse.ArgumentParser(prog="python -m bench.rank_snapshots", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", help="training run folders (trained with --snapshots to keep the files)")
    p.add_argument("--data", required=True, help="the training photo folder the runs validated on")
    p.add_argument("--holdout-every", type=int, default=10, help="as in training: every N-th photo is held out")
    p.add_argument("--reference", default=None, help="generator to compare with (default: the shipped default)")
    p.add_argument("--top", type=int, default=10, help="rows to show")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("-o", "--output", default=None, help="also write the table to this markdown file")
    args = p.parse_args(argv)
    try:
        rows = [row for run in args.runs for row in read_run(Path(run))]
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("error: the runs have logged no step yet", file=sys.stderr)
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        reference = args.reference or str(locate(DEFAULT_PIXEL_MODEL))
        ref = reference_record(reference, args.data, args.holdout_every)
    except (ModelError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    table = to_markdown(rank(rows, ref)[: args.top], ref, Path(reference).stem)
    emit_table(table, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
