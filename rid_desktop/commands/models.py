"""``rid-desktop models list|install NAME...|remove NAME...|verify [NAME...]``: see, fetch, delete, check models.

``install`` first prints what will be downloaded (size, licence, source), then downloads with a
progress bar; an interrupted download resumes when the same command is run again.

Exit status: 0 everything asked for is fine, 1 a download or check failed, 2 an unknown model name,
130 interrupted (Ctrl+C during a download: nothing is installed; the bytes received are kept hidden
so the same command resumes, and ``models remove NAME`` deletes them).
Errors are one line on stderr; the download progress bar (tqdm) goes to stderr too, so stdout stays
clean for scripts.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from rid_desktop.errors import ModelError
from rid_desktop.models.download import describe_download, install_model, list_models, remove_model, verify_model
from rid_desktop.models.fetch import format_size
from rid_desktop.models.registry import MODELS

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``models`` command to the top-level CLI parser."""
    parser = subparsers.add_parser(
        "models",
        help="list, download and verify model files",
        description="List, download (with SHA-256 verification) and verify the model files RID Desktop uses.",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="{list,install,remove,verify}")
    actions.required = True
    actions.add_parser("list", help="show every known model and where it is installed")
    install = actions.add_parser("install", help="download models into the per-user data folder")
    install.add_argument("names", nargs="+", metavar="NAME", help="model name(s), see 'models list'")
    install.add_argument("--force", action="store_true", help="download again even if a verified copy exists")
    remove = actions.add_parser("remove", help="delete installed models from the per-user data folder")
    remove.add_argument("names", nargs="+", metavar="NAME", help="model name(s), see 'models list'")
    verify = actions.add_parser("verify", help="check installed models against their published SHA-256")
    verify.add_argument("names", nargs="*", metavar="NAME", help="model name(s); default: every installed model")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Entry point called by ``rid_desktop.cli`` with the parsed arguments."""
    action = getattr(args, "models_action", None)
    names = list(getattr(args, "names", None) or [])
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"error: unknown model {', '.join(unknown)}; known: {', '.join(sorted(MODELS))}", file=sys.stderr)
        return EXIT_USAGE
    if action == "list":
        return _list()
    if action == "install":
        return _install(names, force=bool(getattr(args, "force", False)))
    if action == "remove":
        return _remove(names)
    if action == "verify":
        return _verify(names)
    print("error: choose one of: models list | models install NAME... | models remove NAME... | "
          "models verify [NAME...]", file=sys.stderr)
    return EXIT_USAGE


def _list() -> int:
    rows = list_models()
    width = max(len(r.name) for r in rows)
    for row in rows:
        where = str(row.location) if row.location else (row.url or "-")
        print(f"{row.name:<{width}}  {row.status:<22}  {row.role:<17}  {where}")
        print(f"{'':<{width}}  {row.purpose}  [license: {row.license}]")
    return EXIT_OK


def _install(names: list[str], *, force: bool) -> int:
    failed = 0
    for name in names:
        print(f"installing {describe_download(name)}", file=sys.stderr)
        bar = tqdm(desc=name, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=None,
                   leave=False)

        def progress(done: int, total: int | None, bar=bar) -> None:
            if total is not None and bar.total != total:
                bar.total = total
                bar.refresh()
            bar.update(done - bar.n)

        try:
            path = install_model(name, progress=progress, force=force)
        except ModelError as exc:
            failed += 1
            bar.close()
            print(f"error: {exc}", file=sys.stderr)
            continue
        except KeyboardInterrupt:
            bar.close()
            print(f"error: download of {name} interrupted; nothing was installed (run the same command "
                  f"again to resume, or: rid-desktop models remove {name})", file=sys.stderr)
            return EXIT_CANCELLED
        bar.close()
        print(f"{name}: installed and verified at {path}")
    return EXIT_FAILED if failed else EXIT_OK


def _remove(names: list[str]) -> int:
    failed = 0
    for name in names:
        try:
            freed = remove_model(name)
        except ModelError as exc:
            failed += 1
            print(f"error: {exc}", file=sys.stderr)
            continue
        print(f"{name}: removed, {format_size(freed)} freed")
    return EXIT_FAILED if failed else EXIT_OK


def _verify(names: list[str]) -> int:
    explicit = bool(names)
    failed = 0
    for name in names or list(MODELS):
        result = verify_model(name)
        if result.path is None and not explicit:
            print(f"{name}: not installed")
            continue
        if result.ok:
            print(f"{name}: ok - {result.message}")
        else:
            failed += 1
            print(f"error: {name}: {result.message}", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK
