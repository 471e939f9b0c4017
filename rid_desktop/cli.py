"""The ``rid-desktop`` command line: one sub-command per module in :mod:`rid_desktop.commands`.

Exit codes: 0 all good, 1 some files failed (they are listed), 2 usage error (bad option, missing
path, unusable output folder), 130 cancelled (Ctrl+C / SIGTERM). Errors a person can cause are
printed as one ``error: ...`` line, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rid_desktop import __version__
from rid_desktop.errors import UserError

COMMANDS = ["protect", "check", "models", "eval", "train", "gui", "self-test"]
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rid-desktop",
        description="Protect your photos against AI misuse (diffusion personalization and editing) before posting.",
    )
    parser.add_argument("--version", action="version", version=f"rid-desktop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"rid_desktop.commands.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that command is not written yet: leave it out
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also for --help and usage errors, which argparse exits on)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cancelled.", file=sys.stderr)
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
