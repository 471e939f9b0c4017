"""``rid-desktop models list|install|verify``: exit codes, one-line errors, files installed (loopback only)."""

from __future__ import annotations

import argparse
import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rid_desktop import paths
from rid_desktop.commands import models as models_cmd
from rid_desktop.models import download, registry
from rid_desktop.models.registry import ModelSpec
from tests.model_fixtures import allow_only_loopback

PAYLOAD = b"weights" * 5000


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A temporary registry model served from 127.0.0.1; yields (spec, served folder)."""
    allow_only_loopback(monkeypatch)

    root = tmp_path / "served"
    root.mkdir()
    spec = ModelSpec(
        name="cli-fake", filename="cli-fake.pth", sha256=hashlib.sha256(PAYLOAD).hexdigest(),
        url="https://example.invalid/cli-fake.pth", license="test", purpose="cli test fixture",
        role="surrogate-encoder",
    )
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv(download.BASE_URL_ENV, f"http://127.0.0.1:{httpd.server_address[1]}")
    yield spec, root
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def run_cli(*argv: str) -> int:
    """Parse like the top-level CLI does (``rid-desktop models ...``) and call the handler."""
    parser = argparse.ArgumentParser(prog="rid-desktop")
    models_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["models", *argv])
    return args.handler(args)


def test_install_then_verify_succeeds(served, capsys):
    spec, root = served
    (root / spec.filename).write_bytes(PAYLOAD)

    assert run_cli("install", spec.name) == 0
    installed = paths.user_data_dir() / "models" / spec.filename
    assert installed.read_bytes() == PAYLOAD
    assert "installed and verified" in capsys.readouterr().out

    assert run_cli("verify", spec.name) == 0
    assert f"{spec.name}: ok" in capsys.readouterr().out


def test_install_with_wrong_hash_fails_with_one_line_error(served, capsys):
    spec, root = served
    (root / spec.filename).write_bytes(PAYLOAD + b"tampered")

    assert run_cli("install", spec.name) == 1

    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err_lines) == 1 and "SHA-256" in err_lines[0]
    assert "Traceback" not in err_lines[0]
    assert not (paths.user_data_dir() / "models" / spec.filename).exists()


def test_verify_detects_a_damaged_file(served, capsys):
    spec, _ = served
    dest = paths.user_data_dir() / "models" / spec.filename
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD[:100])

    assert run_cli("verify", spec.name) == 1
    assert "damaged" in capsys.readouterr().err


def test_verify_all_skips_missing_models_but_fails_on_explicit_missing(served, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(tmp_path / "empty"))
    assert run_cli("verify") == 0
    assert "rid-official: not installed" in capsys.readouterr().out
    assert run_cli("verify", "rid-official") == 1
    assert "supplied by you" in capsys.readouterr().err


def test_unknown_name_is_a_usage_error(served, capsys):
    assert run_cli("install", "no-such-model") == 2
    assert "unknown model no-such-model" in capsys.readouterr().err


def test_installing_the_user_supplied_official_rid_explains_how(served, capsys):
    assert run_cli("install", "rid-official") == 1
    assert "supplied by you" in capsys.readouterr().err


def test_list_shows_every_model_with_status(served, capsys):
    assert run_cli("list") == 0
    out = capsys.readouterr().out
    for name in registry.MODELS:
        assert name in out
    official_line = next(line for line in out.splitlines() if line.startswith("rid-official"))
    assert "user-supplied" in official_line


def test_models_without_action_is_a_usage_error():
    with pytest.raises(SystemExit) as exc:
        run_cli()
    assert exc.value.code == 2
