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
from rid_desktop.commands.engine_arguments import add_engine_arguments, settings_from_engine_arguments
from rid_desktop.engines import make_engine
from rid_desktop.errors import UserError
from rid_desktop.io.discovery import describe_skipped
from rid_desktop.settings import OutputSettings, ProtectionSettings


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
    add_engine_arguments(parser, seed_default=None,
                         seed_help="reproduce a result: the same seed gives the same output. By default every "
                                   "photo gets a fresh random key that is never stored, so running the app "
                                   "again on a protected copy cannot undo its protection")
    parser.add_argument("--recursive", action=argparse.BooleanOptionalAction, default=True,
                        help="include sub-folders")
    parser.add_argument("--strip-exif", action="store_true", help="drop all EXIF metadata (ICC is kept)")
    parser.add_argument("--keep-gps", action="store_true", help="keep GPS location (dropped by default)")
    parser.add_argument("--format", choices=["same", "jpeg", "png"], default="same",
                        help="output format (HEIC is always written as JPEG under 'same')")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality (1-100), written 4:4:4")
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> ProtectionSettings:
    if not 1 <= args.quality <= 100:
        raise UserError(f"--quality must be between 1 and 100, got {args.quality}")
    output = OutputSettings(
        output_dir=args.output, format=args.format, jpeg_quality=args.quality,
        strip_gps=not args.keep_gps, strip_exif=args.strip_exif,
    )
    return settings_from_engine_arguments(args, output)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    plan = plan_batch(args.paths, settings, recursive=args.recursive)
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not plan.items and not plan.problems:
        skipped = f" ({plan.describe_skipped()})" if plan.skipped else ""
        raise UserError("no supported images found in: " + ", ".join(str(p) for p in args.paths) + skipped)
    cancel = threading.Event()
    summary = BatchSummary()
    with _cancel_on_signals(cancel), tqdm(
        total=len(plan.items), unit="img", file=sys.stderr, disable=None, dynamic_ncols=True
    ) as bar:
        def warn(message: str) -> None:
            bar.write(f"warning: {message}", file=sys.stderr)

        engine = make_engine(settings, notify=warn) if plan.pending else None
        if getattr(engine, "model_note", None):
            bar.write(f"model: {engine.model_note}", file=sys.stderr)
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
    if summary.unsupported:
        print(f"  {describe_skipped(summary.unsupported)}")
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
