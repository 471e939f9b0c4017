"""``rid-desktop train``: train a compact generator (forwards to ``rid_desktop.training.train``)."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a compact generator against surrogate encoders",
                              add_help=False, description="See: rid-desktop train --help")
    p.add_argument("train_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rid_desktop.training.train import main

    main(args.train_args)
    return 0
