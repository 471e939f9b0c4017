"""``rid-desktop self-test``: check that this installation can protect a photo (no display needed)."""

from __future__ import annotations

import argparse


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``self-test`` subcommand to the CLI's subparsers."""
    parser = subparsers.add_parser(
        "self-test",
        help="check this installation: load the model, protect a generated image, verify it",
        description=(
            "Loads the default embedded model, protects a generated image, verifies the result "
            "(within budget, changed, same size, written and re-read) and checks the surrogate "
            "models, installing them into your data folder when missing. Exits 0 when it passes."
        ),
    )
    parser.add_argument("--engine", default="rid", help="engine to exercise (default: rid)")
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="do not try to download missing surrogate models (report them as warnings)",
    )
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from rid_desktop.selftest import run_self_test

    return run_self_test(engine=args.engine, install_surrogates=not args.no_download)
