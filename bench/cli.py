"""``python -m bench``: measure everything in one run and write docs/benchmarks.{md,png,json}.

Usage::

    python -m bench [--quick] [--out docs/benchmarks.md] [--repeats N] [--skip-12mp]
                    [--slow-repeats N] [--sections speed,e2e,batch,checks,thumbnails,levers]
                    [--conditions "idle laptop"] [--report-only]

``--report-only`` re-renders the Markdown and plot from the JSON of an earlier run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from bench import environment
from bench.config import BenchConfig
from bench.memory import REPO

SECTIONS = ("speed", "e2e", "batch", "checks", "thumbnails", "levers")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and steps: proves the machinery runs")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="Markdown report path")
    parser.add_argument("--repeats", type=int, help="timed runs for the fast engines (default 5; quick 2)")
    parser.add_argument("--slow-repeats", type=int, help="timed runs for slow subjects (default 3; quick 1)")
    parser.add_argument("--skip-12mp", action="store_true", help="skip the 12 MP end-to-end/memory case")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    parser.add_argument("--pgd-time-box", type=float, help="seconds; longer PGD runs are extrapolated")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for every case (default: torch's)")
    parser.add_argument("--conditions", default="", help="free text about the machine's load, for the report")
    parser.add_argument("--workdir", type=Path, help="where test photos are written (default: a temp folder)")
    parser.add_argument("--report-only", action="store_true", help="re-render the report from <out>.json")
    args = parser.parse_args(argv)
    args.argv = argv
    return args


def build_config(args: argparse.Namespace) -> BenchConfig:
    cfg = BenchConfig.quick_config() if args.quick else BenchConfig()
    if args.repeats is not None:
        cfg.repeats = max(1, args.repeats)
    if args.slow_repeats is not None:
        cfg.slow_repeats = max(1, args.slow_repeats)
    if args.pgd_time_box is not None:
        cfg.pgd_time_box_s = args.pgd_time_box
    cfg.skip_12mp = args.skip_12mp
    return cfg


def _use_shared_models() -> None:
    """Like ``make``: find the TAEF2 surrogate in ../shared/models unless told otherwise."""
    shared = REPO.parent / "shared" / "models"
    if "RID_DESKTOP_MODELS_DIR" not in os.environ and shared.is_dir():
        os.environ["RID_DESKTOP_MODELS_DIR"] = str(shared)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(cfg: BenchConfig, sections: list[str], workdir: Path, results: dict, save) -> dict:
    """Run the chosen sections, saving the partial results after each one."""
    from bench import cases, levers

    for device in cfg.devices:
        if "speed" in sections:
            results.setdefault("speed", {})[device] = _guard(lambda: cases.speed_and_protection(cfg, device, log))
            save()
        if "e2e" in sections and not cfg.skip_12mp:
            speed = results.get("speed", {}).get(device) or {"subjects": {}}
            results.setdefault("e2e", {})[device] = _guard(lambda: cases.end_to_end(cfg, device, speed, workdir, log))
            save()
    if "batch" in sections:
        results["batch"] = _guard(lambda: cases.batch_memory(cfg, workdir, log))
        save()
    if "checks" in sections:
        results["checks"] = _guard(lambda: cases.check_costs(cfg, log))
        save()
    if "thumbnails" in sections:
        results["thumbnails"] = _guard(lambda: cases.thumbnail_costs(cfg, workdir, log))
        save()
    if "levers" in sections and cfg.levers:
        results["levers"] = _guard(lambda: levers.speed_levers(cfg, log))
        save()
    return results


def _guard(fn):
    """A failing section is recorded in the report, never a crash that loses the other sections."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001
        log(f"section failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from bench import report

    out: Path = args.out
    json_path = out.with_suffix(".json")
    if args.report_only:
        results = json.loads(json_path.read_text())
        report.write_report(results, out)
        log(f"wrote {out}")
        return 0

    _use_shared_models()
    import torch

    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["RID_BENCH_THREADS"] = str(args.threads)  # the fresh-process cases use it too
    try:
        return _measure_and_write(args, out, json_path)
    finally:
        torch.set_num_threads(threads_before)
        os.environ.pop("RID_BENCH_THREADS", None)


def _measure_and_write(args: argparse.Namespace, out: Path, json_path: Path) -> int:
    from bench import report

    cfg = build_config(args)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        print(f"error: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}", file=sys.stderr)
        return 2
    command = "python -m bench " + " ".join(args.argv)
    results: dict = {"environment": environment.describe(), "config": cfg.to_dict(), "command": command.strip(),
                     "conditions": args.conditions}
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        json_path.write_text(json.dumps(results, indent=1, default=str))

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rid-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        cfg.workdir = workdir
        run(cfg, sections, workdir, results, save)
    results["environment"]["load_average_end"] = environment.load_average()
    results["wall_s"] = time.perf_counter() - started
    save()
    report.write_report(results, out)
    log(f"wrote {out}, {out.with_suffix('.png').name} and {json_path.name} in {results['wall_s'] / 60:.1f} min")
    return 0
