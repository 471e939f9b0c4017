"""Offline model downloads for tests: a loopback-only HTTP server and tiny diffusers models served by it.

Shared by the core tests (``tests/core/test_models_on_demand.py``) and the GUI tests of the
"Install…" flow: import the fixtures into a test module or conftest
(``from tests.model_fixtures import server, tiny_unet, tiny_vae  # noqa: F401``).
A model served here gets a registry entry pointing at the server, as a real entry points at
Hugging Face, so the same install code runs.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from rid_desktop.models import registry
from rid_desktop.models.registry import ModelSpec

TINY_VAE_CONFIG = dict(
    _class_name="AutoencoderKL", in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
    block_out_channels=[8, 16], norm_num_groups=4, sample_size=32,
    down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2, scaling_factor=0.5,
)
TINY_UNET_CONFIG = dict(
    _class_name="UNet2DModel", sample_size=32, in_channels=3, out_channels=3, block_out_channels=[16, 16],
    layers_per_block=1, down_block_types=["DownBlock2D", "DownBlock2D"], up_block_types=["UpBlock2D", "UpBlock2D"],
    norm_num_groups=8,
)
TINY_SCHEDULER = dict(_class_name="DDPMScheduler", num_train_timesteps=1000, beta_schedule="linear")


class _RangeHandler(SimpleHTTPRequestHandler):
    """Serves one folder; honours ``Range: bytes=N-``; ``/cut/...`` sends half the body and hangs up;
    ``/slow/...`` sends it in 2 kB pieces 20 ms apart (time to press Cancel mid-download)."""

    timeout = 10  # bounded: a stuck client cannot hold a thread forever
    requests: list = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        cut = self.path.startswith("/cut/")
        slow = self.path.startswith("/slow/")
        rel = self.path[len("/cut"):] if cut else self.path[len("/slow"):] if slow else self.path
        target = Path(self.directory) / rel.lstrip("/")
        type(self).requests.append((self.path, self.headers.get("Range")))
        if not target.is_file():
            self.send_error(404)
            return
        data = target.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if slow:
            try:
                for at in range(0, len(body), 2048):
                    self.wfile.write(body[at:at + 2048])
                    self.wfile.flush()
                    time.sleep(0.02)
            except (BrokenPipeError, ConnectionResetError):  # the client cancelled
                self.close_connection = True
            return
        self.wfile.write(body[: len(body) // 2] if cut else body)
        if cut:
            self.close_connection = True


def allow_only_loopback(monkeypatch) -> None:
    """Fail a test that tries to reach a non-loopback address, and bypass any proxy."""
    real_connect = socket.socket.connect

    def loopback_only(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"test tried to reach {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(served folder, base URL, request log) of a loopback-only HTTP server; nothing else reachable."""
    allow_only_loopback(monkeypatch)
    root = tmp_path / "served"
    root.mkdir()
    log: list = []
    handler = type("Handler", (_RangeHandler,), {"requests": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}", log
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _tiny_vae_state() -> dict[str, torch.Tensor]:
    from rid_desktop.models.diffusers_models import build_from_config

    torch.manual_seed(0)
    return build_from_config(TINY_VAE_CONFIG).state_dict()


def _tiny_unet_state() -> dict[str, torch.Tensor]:
    from rid_desktop.models.diffusers_models import build_from_config

    torch.manual_seed(1)
    return build_from_config(TINY_UNET_CONFIG).state_dict()


def serve_model(monkeypatch, server, name: str, *, kind: str, role: str, config: dict, payload: bytes,
                remote: str, sha256: str | None = None, **extra) -> ModelSpec:
    """Put ``payload`` on the server and register a model spec pointing at it (like a real entry)."""
    root, base, _ = server
    (root / name).mkdir(exist_ok=True)
    (root / name / remote).write_bytes(payload)
    spec = ModelSpec(
        name=name, filename=name, kind=kind, role=role, config=config,
        url=f"{base}/{name}/{remote}", revision="0" * 40, sha256=sha256 or hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload), license="TEST-LICENCE-1.0", purpose=f"tiny {kind} for tests",
        homepage=f"{base}/{name}", source_note="made in the test", **extra,
    )
    monkeypatch.setitem(registry.MODELS, name, spec)
    return spec


def _safetensors_bytes(state, tmp_path: Path) -> bytes:
    path = tmp_path / "w.safetensors"
    save_file(state, str(path))
    return path.read_bytes()


def _bin_bytes(state, tmp_path: Path) -> bytes:
    path = tmp_path / "w.bin"
    torch.save(state, path)
    return path.read_bytes()


@pytest.fixture
def tiny_vae(server, monkeypatch, tmp_path):
    return serve_model(monkeypatch, server, "tiny-vae", kind="diffusers-vae", role="scoring-vae",
                       config=TINY_VAE_CONFIG, payload=_safetensors_bytes(_tiny_vae_state(), tmp_path),
                       remote="diffusion_pytorch_model.safetensors")


@pytest.fixture
def tiny_unet(server, monkeypatch, tmp_path):
    return serve_model(monkeypatch, server, "tiny-ddpm", kind="diffusers-unet", role="diffpure",
                       config=TINY_UNET_CONFIG, scheduler=TINY_SCHEDULER,
                       payload=_bin_bytes(_tiny_unet_state(), tmp_path), remote="diffusion_pytorch_model.bin")
