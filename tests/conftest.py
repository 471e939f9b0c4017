"""Shared fixtures: isolated per-test settings/data folders, surrogate models, generated images.

Tests that need the real surrogate weights or photos from ``../shared`` use the ``shared_models`` /
``eval_images`` fixtures, which skip (saying why) only when ``../shared`` is absent (a user's fresh
clone); CI always has it. Everything else uses images generated here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rid_desktop.demo_images import synthetic_rgb

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RID_DESKTOP_SHARED", REPO.parent / "shared"))
SHARED_MODELS = SHARED / "models"
SHARED_EVAL = SHARED / "data" / "eval"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.model_fixtures"]  # server, tiny_vae, tiny_unet: offline model downloads


@pytest.fixture(autouse=True)
def isolated_app_dirs(tmp_path_factory, monkeypatch):
    """Each test gets empty config/data folders; models resolve from ../shared/models when present."""
    base = tmp_path_factory.mktemp("appdirs")
    monkeypatch.setenv("RID_DESKTOP_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("RID_DESKTOP_DATA_DIR", str(base / "data"))
    if SHARED_MODELS.is_dir():
        monkeypatch.setenv("RID_DESKTOP_MODELS_DIR", str(SHARED_MODELS))
    else:
        monkeypatch.delenv("RID_DESKTOP_MODELS_DIR", raising=False)


@pytest.fixture
def one_torch_thread():
    """Small convolutions run far faster on one thread on a busy 2-core machine; restored after.

    Use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def shared_models() -> Path:
    """../shared/models with the TAEF2 surrogate weights."""
    if not (SHARED_MODELS / "taef2_encoder.pth").is_file():
        pytest.skip("needs the TAEF2 surrogate weights in ../shared/models (present in CI)")
    return SHARED_MODELS


@pytest.fixture
def eval_images() -> list[Path]:
    """Real photos from ../shared/data/eval."""
    if not SHARED_EVAL.is_dir():
        pytest.skip("needs the evaluation photos in ../shared/data/eval (present in CI)")
    return sorted(p for p in SHARED_EVAL.iterdir() if p.suffix.lower() in {".jpg", ".png"})


@pytest.fixture
def make_rgb():
    """``make_rgb(height, width, seed)``: the one synthetic photo (uint8 H x W x 3) every test uses.

    Also importable as ``tests.conftest.synthetic_rgb`` for module-level helpers.
    """
    return synthetic_rgb


def encode(image, fmt: str, **options) -> bytes:
    """A PIL image encoded in memory as ``fmt`` (HEIF included) with Pillow's save options."""
    import io

    from rid_desktop.io import register_heif

    register_heif()
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


class SignEngine:
    """The test double engine (never registered): ``eps * sign(sin(40 x + seed))``, in ``tiles`` progress steps.

    Fast, deterministic and exactly at the budget, so batch, CLI and reliability tests exercise the
    real runner and writer without a model. ``overshoot`` > 1 breaks the budget on purpose; ``calls``
    counts images protected. Test modules import it (``from tests.conftest import SignEngine``: pytest
    registers this file under that name, so it is the same class everywhere).
    """

    name = "test-sign"

    def __init__(self, tiles: int = 3, overshoot: float = 1.0):
        self.tiles, self.overshoot, self.calls = tiles, overshoot, 0

    def protect(self, image, eps, *, seed=0, progress=None):
        import torch

        self.calls += 1
        for tile in range(self.tiles):
            if progress:
                progress(tile + 1, self.tiles)
        return (image + self.overshoot * eps * torch.sign(torch.sin(image * 40 + seed))).clamp(0, 1)


@pytest.fixture
def surrogates_for_optimising_engines(request):
    """For tests parametrized by engine ``name``: engines that optimise against the surrogate encoder
    need its weights (../shared/models), so those cases take the ``shared_models`` fixture."""
    from rid_desktop.engines import engine_info

    name = request.node.callspec.params.get("name") if hasattr(request.node, "callspec") else None
    if name and "encoders" in engine_info(name).options:
        request.getfixturevalue("shared_models")
