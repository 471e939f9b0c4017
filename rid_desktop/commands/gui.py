"""``rid-desktop gui [PATH...]``: open the desktop window (Qt is imported only when this runs).

This is the one place the core imports the GUI package; it is declared as an exception to the
"the GUI sits on the core" contract in ``pyproject.toml`` ([tool.importlinter]), not hidden.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "gui",
        help="open the desktop app",
        description="Open the RID Desktop window, optionally with folders or photos already in the library.",
    )
    parser.add_argument("paths", nargs="*", help="folders or photos to add to the library")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        from ui.app import main
    except ImportError as exc:  # e.g. PySide6 missing in a headless install
        import sys

        print(f"error: the desktop app needs PySide6 and the ui package ({exc})", file=sys.stderr)
        return 2
    return int(main([str(p) for p in args.paths]) or 0)
