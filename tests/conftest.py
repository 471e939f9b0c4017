"""Shared fixtures: isolated per-test settings/data folders, surrogate models, generated images.

Tests that need the real surrogate weights or photos from ``../shared`` use the ``shared_models`` /
``eval_images`` fixtures, which skip (saying why) only when ``../shared`` is absent (a user's fresh
clone); CI always has it. Everything else uses images generated here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("RID_DESKTOP_SHARED", REPO.parent / "shared"))
SHARED_MODELS = SHARED / "models"
SHARED_EVAL = SHARED / "data" / "eval"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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


def synthetic_rgb(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 (H, W, 3) image: smooth gradients, edges and texture (not pure noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.5 + 0.4 * np.sin(xx / max(width, 1) * 3.1 + seed)
    g = 0.5 + 0.4 * np.cos(yy / max(height, 1) * 2.7)
    b = ((xx // 16 + yy // 16) % 2) * 0.5 + 0.25
    img = np.stack([r, g, b], -1) + rng.normal(0, 0.04, (height, width, 3))
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def make_rgb():
    return synthetic_rgb
