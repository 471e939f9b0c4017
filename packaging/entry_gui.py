"""Entry point of the frozen windowed executable ``RID Desktop``.

``--self-test`` is handled BEFORE anything imports Qt, so it runs headless (CI runners, SSH
sessions, no display); it then also opens the real main window on Qt's offscreen platform, which
proves the bundled Qt plugins, the ``ui`` package and ``resources/``. A windowed Windows executable has no console (``sys.stdout is None``): we
attach to the parent console if there is one, and always leave the report in the per-user data
folder (``self-test.log``) so a double-click-only user can still read it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _attach_parent_console() -> None:
    """On Windows, print into the console that launched us (cmd/PowerShell), if any."""
    if sys.platform != "win32" or sys.stdout is not None:
        return
    try:
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            sys.stdout = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115
            sys.stderr = sys.stdout
    except OSError:
        pass


def _run_self_test(argv: list[str]) -> int:
    _attach_parent_console()
    from rid_desktop import paths
    from rid_desktop.selftest import run_self_test

    lines: list[str] = []

    def emit(line: str) -> None:
        lines.append(line)
        if sys.stdout is not None:
            print(line, flush=True)

    def window_check(report) -> None:  # imported lazily: a broken Qt becomes one [FAIL] line
        from ui.app import check_window

        check_window(report)

    code = run_self_test(install_surrogates="--no-download" not in argv, emit=emit, extra_checks=[window_check])
    try:
        log = paths.user_data_dir() / "self-test.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("\n".join(lines) + os.linesep, encoding="utf-8")
    except OSError:
        pass
    return code


def main() -> int:
    argv = sys.argv[1:]
    if "--self-test" in argv:
        return _run_self_test(argv)
    from ui.app import main as gui_main

    return gui_main()


if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
