"""Fixtures for driving the real main window with a tiny, fast, test-only engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rid_desktop.engines.base import project_linf


class TinyEngine:
    """A test-only engine (never registered): sign noise of size eps, in ``steps`` progress steps.

    Each step does a little real torch work and sleeps ``step_seconds`` so batches take a
    predictable time and cancel can land mid-image.
    """

    name = "tiny"

    def __init__(self, steps: int = 4, step_seconds: float = 0.01):
        self.steps, self.step_seconds = steps, step_seconds
        self.calls = 0
        self.lock = threading.Lock()

    def protect(self, image: torch.Tensor, eps: float, *, seed: int = 0, progress=None) -> torch.Tensor:
        with self.lock:
            self.calls += 1
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randint(0, 2, image.shape, generator=generator).float() * 2 - 1
        for step in range(self.steps):
            time.sleep(self.step_seconds)
            if progress is not None:
                progress(step + 1, self.steps)
        return project_linf(image, image + eps * noise.to(image.device), eps)


TINY_ENGINES = [("tiny", "Tiny test engine", "test only"), ("tiny-slow", "Tiny slow engine", "test only")]


@pytest.fixture
def engine_options():
    """Mutable per-test knobs read by the factory: steps and seconds per step."""
    return {"steps": 4, "step_seconds": 0.01, "made": []}


@pytest.fixture
def tiny_factory(engine_options):
    def factory(settings):
        engine = TinyEngine(engine_options["steps"], engine_options["step_seconds"])
        engine_options["made"].append((settings.engine, settings.device))
        return engine

    return factory


def write_photos(folder: Path, count: int, make_rgb, size=(72, 96)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"photo_{i:02d}.png"
        Image.fromarray(make_rgb(size[0], size[1], seed=i)).save(path)
        paths.append(path)
    return paths


@pytest.fixture
def photo_folder(tmp_path, make_rgb) -> Path:
    folder = tmp_path / "Holiday"
    write_photos(folder, 5, make_rgb)
    return folder


@pytest.fixture
def make_window(qtbot, tiny_factory):
    """Build real MainWindows (with the tiny engine unless told otherwise); closed at teardown."""
    from ui.app import create_application
    from ui.main_window import MainWindow

    create_application()
    windows = []

    def make(**kwargs):
        kwargs.setdefault("engine_factory", tiny_factory)
        kwargs.setdefault("engines", TINY_ENGINES)
        window = MainWindow(**kwargs)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.close()


def drop_paths(window, paths: list[Path]) -> bool:
    """Simulate dragging paths from the OS file manager and dropping them on the window."""
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = window.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    return drop.isAccepted()


@pytest.fixture
def dropper():
    return drop_paths


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)
