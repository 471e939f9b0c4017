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
    argv = sys.argv[1:] if argv is None else list(argv)
    _tolerate_odd_file_names()
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl+C at any moment, even while the commands are still importing
        print("cancelled.", file=sys.stderr)
        return EXIT_CANCELLED


def _tolerate_odd_file_names() -> None:
    """A file name that is not valid UTF-8 (held as lone surrogates) is printed as its original bytes
    instead of stopping the program with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and (getattr(stream, "encoding", "") or "").lower().replace("-", "") == "utf8":
            try:
                reconfigure(errors="surrogateescape")
            except (ValueError, OSError):
                pass


def _main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args) or 0)
    except SystemExit as exc:  # a forwarding command's own parser (``train --help``, a bad option)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cancelled.", file=sys.stderr)
        return EXIT_CANCELLED
    except OSError as exc:  # the file system refused something no check foresaw: still one line
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """``parse_args``, except that a command which forwards its arguments (``train``: one REMAINDER
    argument) gets all of them, options first included; argparse alone rejects ``train --help``."""
    args, extra = parser.parse_known_args(argv)
    forward = _forwarding_argument(parser, getattr(args, "command", None))
    if forward is not None:
        setattr(args, forward, argv[argv.index(args.command) + 1 :])
    elif extra:
        parser.error("unrecognized arguments: " + " ".join(extra))
    return args


def _forwarding_argument(parser: argparse.ArgumentParser, command: str | None) -> str | None:
    """The dest of ``command``'s only argument when that argument takes the raw rest of the line."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            own = [a for a in action.choices[command]._actions if not isinstance(a, argparse._HelpAction)]
            if len(own) == 1 and own[0].nargs == argparse.REMAINDER:
                return own[0].dest
    return None


if __name__ == "__main__":
    sys.exit(main())
