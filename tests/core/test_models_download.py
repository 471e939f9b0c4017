"""Model download/verify against a local HTTP server on 127.0.0.1 (never any other address)."""

from __future__ import annotations

import hashlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rid_desktop import paths
from rid_desktop.errors import Cancelled, ModelError
from rid_desktop.models import download, registry
from rid_desktop.models.registry import ModelSpec
from tests.model_fixtures import allow_only_loopback

PAYLOAD = bytes(range(256)) * 6000  # 1.5 MB: more than one download chunk


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any test here that tries to reach a non-loopback address, and bypass any proxy."""
    allow_only_loopback(monkeypatch)
    monkeypatch.delenv(download.BASE_URL_ENV, raising=False)


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; ``/truncated/NAME`` announces the full length but sends half and hangs up."""

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        if self.path.startswith("/truncated/"):
            data = (Path(self.directory) / self.path.rsplit("/", 1)[1]).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """(folder served, base URL) of an HTTP server on 127.0.0.1 in a thread."""
    root = tmp_path / "served"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def fake_spec(monkeypatch, payload: bytes = PAYLOAD, name: str = "fake-model", **overrides) -> ModelSpec:
    """Register a temporary model whose checksum is that of ``payload``."""
    fields = dict(
        name=name,
        filename=f"{name}.pth",
        sha256=hashlib.sha256(payload).hexdigest(),
        url="https://example.invalid/never-contacted.pth",
        license="test",
        purpose="test fixture",
        role="surrogate-encoder",
    )
    fields.update(overrides)
    spec = ModelSpec(**fields)
    monkeypatch.setitem(registry.MODELS, name, spec)
    return spec


def leftovers() -> list[Path]:
    folder = paths.user_data_dir() / "models"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_install_downloads_verifies_and_reports_progress(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    (root / spec.filename).write_bytes(PAYLOAD)
    monkeypatch.setenv(download.BASE_URL_ENV, base)
    calls = []

    path = download.install_model(spec.name, progress=lambda done, total: calls.append((done, total)))

    assert path == paths.user_data_dir() / "models" / spec.filename
    assert path.read_bytes() == PAYLOAD
    assert leftovers() == [path]  # no temporary .part file left
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert len(calls) >= 3 and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert registry.locate(spec.name) == path  # locate now finds and accepts it


def test_base_url_argument_overrides_registry_url(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    (root / spec.filename).write_bytes(PAYLOAD)
    assert download.install_model(spec.name, base_url=base + "/").read_bytes() == PAYLOAD


def test_wrong_hash_is_refused_and_leaves_no_file(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    (root / spec.filename).write_bytes(PAYLOAD[:-1] + b"X")  # tampered by one byte

    with pytest.raises(ModelError, match="does not match its published SHA-256") as err:
        download.install_model(spec.name, base_url=base)

    assert "nothing was installed" in str(err.value) and "\n" not in str(err.value)
    assert leftovers() == []
    with pytest.raises(ModelError, match="not installed"):
        registry.locate(spec.name)


def test_truncated_transfer_is_refused_and_keeps_only_a_hidden_partial_to_resume(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    (root / spec.filename).write_bytes(PAYLOAD)

    with pytest.raises(ModelError, match="cut short.*run the same command again to resume"):
        download.install_model(spec.name, base_url=base + "/truncated")

    assert [p.name for p in leftovers()] == [f".{spec.filename}.part"]  # never found by locate
    with pytest.raises(ModelError, match="not installed"):
        registry.locate(spec.name)
    path = download.install_model(spec.name, base_url=base)  # this server ignores Range: starts over
    assert path.read_bytes() == PAYLOAD and leftovers() == [path]


def test_missing_file_on_server_gives_http_error(server, monkeypatch):
    _, base = server
    spec = fake_spec(monkeypatch)
    with pytest.raises(ModelError, match="HTTP 404"):
        download.install_model(spec.name, base_url=base)
    assert leftovers() == []


def test_cancel_from_progress_removes_partial_download(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    (root / spec.filename).write_bytes(PAYLOAD)

    def cancel_midway(done, total):
        if done > 0:
            raise Cancelled()

    with pytest.raises(Cancelled):
        download.install_model(spec.name, base_url=base, progress=cancel_midway)
    assert leftovers() == []


def test_verified_copy_is_kept_and_damaged_copy_replaced(server, monkeypatch):
    root, base = server
    spec = fake_spec(monkeypatch)
    dest = paths.user_data_dir() / "models" / spec.filename
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"damaged")

    (root / spec.filename).write_bytes(PAYLOAD)
    assert download.install_model(spec.name, base_url=base).read_bytes() == PAYLOAD

    (root / spec.filename).unlink()  # a verified copy needs no network ...
    assert download.install_model(spec.name, base_url=base) == dest
    with pytest.raises(ModelError, match="HTTP 404"):  # ... unless forced
        download.install_model(spec.name, base_url=base, force=True)
    assert dest.read_bytes() == PAYLOAD  # a failed forced download keeps the good copy


def test_user_supplied_and_unhashed_models_are_not_downloaded(monkeypatch):
    with pytest.raises(ModelError, match="supplied by you"):
        download.install_model("rid-official")
    fake_spec(monkeypatch, name="no-hash", sha256=None)
    with pytest.raises(ModelError, match="no checksum"):
        download.install_model("no-hash", base_url="http://127.0.0.1:9")
    with pytest.raises(ModelError, match="unknown model"):
        download.install_model("no-such-model")


def test_only_http_urls_are_fetched(monkeypatch, tmp_path):
    spec = fake_spec(monkeypatch)
    (tmp_path / spec.filename).write_bytes(PAYLOAD)
    with pytest.raises(ModelError, match="only http"):
        download.install_model(spec.name, base_url=tmp_path.as_uri())


def test_verify_reports_ok_mismatch_and_missing(monkeypatch):
    spec = fake_spec(monkeypatch)
    path, ok, message = download.verify_model(spec.name)
    assert path is None and not ok and "not installed" in message

    dest = paths.user_data_dir() / "models" / spec.filename
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    path, ok, message = download.verify_model(spec.name)
    assert (path, ok) == (dest, True) and "verified" in message

    dest.write_bytes(PAYLOAD[: len(PAYLOAD) // 2])  # truncated on disk
    path, ok, message = download.verify_model(spec.name)
    assert (path, ok) == (dest, False) and "damaged" in message


def test_list_models_shows_role_license_and_where(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.MODELS_DIR_ENV, str(tmp_path / "empty"))
    spec = fake_spec(monkeypatch)
    dest = paths.user_data_dir() / "models" / spec.filename
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)

    rows = {row.name: row for row in download.list_models()}

    assert set(registry.MODELS) == set(rows)
    assert rows[spec.name].location == dest and rows[spec.name].status == "installed"
    official = rows["rid-official"]
    assert official.status == "user-supplied, missing" and official.location is None and official.url is None
    assert official.role == "rid-official" and "MIT" in official.license
    encoder = rows["taef2-encoder"]
    assert encoder.status == "missing" and encoder.url.startswith("https://")
