"""Entry point of the frozen console executable ``rid-desktop`` (same commands as the pip-installed CLI).

``rid-desktop --self-test`` is handled here so it works even if the CLI's own parser changes;
``rid-desktop self-test`` reaches the same check through the CLI's subcommand.
"""

from __future__ import annotations

import multiprocessing
import sys


def main() -> int:
    argv = sys.argv[1:]
    if "--self-test" in argv:
        from rid_desktop.selftest import run_self_test

        return run_self_test(install_surrogates="--no-download" not in argv)
    from rid_desktop.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    multiprocessing.freeze_support()  # frozen apps must call this before any worker process starts
    sys.exit(main())
