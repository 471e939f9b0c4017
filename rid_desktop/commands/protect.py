"""``rid-desktop protect PATH...``: protect photos and folders, with a progress bar and a summary.

Ctrl+C or SIGTERM cancels cleanly (the image in progress is dropped, finished ones are kept and the
manifest lets the next run resume); a second Ctrl+C stops at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from rid_desktop.batch import plan_batch, run_batch
from rid_desktop.batch.events import BatchSummary
from rid_desktop.errors import UserError
from rid_desktop.settings import DEFAULT_ENGINE, ENGINE_CHOICES, OutputSettings, ProtectionSettings
from rid_desktop.strength import DEFAULT_STRENGTH, parse_strength



def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "protect",
        help="protect photos or folders (writes copies to <folder>-protected/)",
        description="Write protected copies of photos. Originals are never modified.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="photos and/or folders")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output folder (default: <input folder>-protected beside the input)")
    parser.add_argument("--engine", choices=ENGINE_CHOICES, default=DEFAULT_ENGINE, help="protection engine")
    parser.add_argument("--strength", default=DEFAULT_STRENGTH,
                        help="low, medium, high, or a budget in 255ths such as 6")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=True,
                        help="include sub-folders")
    parser.add_argument("--strip-exif", action="store_true", help="drop all EXIF metadata (ICC is kept)")
    parser.add_argument("--keep-gps", action="store_true", help="keep GPS location (dropped by default)")
    parser.add_argument("--format", choices=["same", "jpeg", "png"], default="same",
                        help="output format (HEIC is always written as JPEG under 'same')")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (1-100), written 4:4:4")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same output)")
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="generator checkpoint to use with --engine rid (e.g. an official RID file; "
                             "FILE:ema or FILE:model picks that part of a training checkpoint, ema by default)")
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> ProtectionSettings:
    try:
        eps = parse_strength(args.strength)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not 1 <= args.quality <= 100:
        raise UserError(f"--quality must be between 1 and 100, got {args.quality}")
    output = OutputSettings(
        output_dir=args.output, format=args.format, jpeg_quality=args.quality,
        strip_gps=not args.keep_gps, strip_exif=args.strip_exif,
    )
    model = str(Path(args.model).expanduser().resolve()) if args.model else None
    return ProtectionSettings(engine=args.engine, eps=eps, device=args.device, seed=args.seed,
                              model_path=model, output=output)


def make_engine(settings: ProtectionSettings):
    """Build the engine named in the settings on the chosen device."""
    from rid_desktop.device import resolve_device
    from rid_desktop.engines.base import create_engine

    options = {"model_path": settings.model_path} if settings.model_path else {}
    try:
        return create_engine(settings.engine, device=resolve_device(settings.device), **options)
    except TypeError:
        if options:
            raise UserError(f"engine {settings.engine!r} does not take --model") from None
        raise


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    plan = plan_batch(args.paths, settings, recursive=args.recursive)
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not plan.items and not plan.problems:
        raise UserError("no supported images found in: " + ", ".join(str(p) for p in args.paths))
    engine = make_engine(settings) if plan.pending else None
    if getattr(engine, "model_note", None):
        print(f"model: {engine.model_note}", file=sys.stderr)
    cancel = threading.Event()
    summary = BatchSummary()
    with _cancel_on_signals(cancel), tqdm(
        total=len(plan.items), unit="img", file=sys.stderr, disable=None, dynamic_ncols=True
    ) as bar:
        def show_tiles(done: int, total: int) -> None:
            bar.set_postfix_str(f"{done}/{total} steps", refresh=True)

        for event in run_batch(plan, engine, cancel=cancel, on_progress=show_tiles):
            if event.kind == "item_started":
                bar.set_description_str(_short_name(event.source))
            elif event.kind in ("item_done", "item_skipped"):
                bar.update(1)
            elif event.kind == "item_failed":
                if event.index >= 0:
                    bar.update(1)
                bar.write(f"failed: {event.source}: {event.message}", file=sys.stderr)
            elif event.kind == "finished":
                summary = event.summary
    print_summary(summary)
    if summary.cancelled:
        return 130
    return 1 if summary.failed else 0


def print_summary(summary: BatchSummary) -> None:
    """The end-of-run table on stdout."""
    rows = [("protected", summary.done), ("already done (skipped)", summary.skipped),
            ("failed", len(summary.failed))]
    width = max(len(label) for label, _ in rows)
    print()
    for label, count in rows:
        print(f"  {label:<{width}}  {count}")
    for folder in summary.output_dirs:
        print(f"  output folder{'s' if len(summary.output_dirs) > 1 else ''}: {folder}")
    if summary.failed:
        print("\nFailed:")
        for path, reason in summary.failed:
            print(f"  {path}: {reason}")
    if summary.cancelled:
        print("\nCancelled. Run the same command again to resume.")


@contextmanager
def _cancel_on_signals(cancel: threading.Event):
    """SIGTERM and a first Ctrl+C ask for a clean cancel; a second Ctrl+C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        if signum == signal.SIGINT and cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _short_name(path: Path | None, width: int = 30) -> str:
    name = path.name if path else ""
    return name if len(name) <= width else "…" + name[-(width - 1):]
