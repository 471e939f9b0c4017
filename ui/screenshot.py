"""Make the README screenshots of the real window: ``xvfb-run -s "-screen 0 1440x900x24" python -m ui.screenshot``.

Loads a folder of sample photos (copies of ../shared/data/eval when present, else generated ones)
into a temporary library with throw-away settings, then saves PNGs of the main states to
docs/screenshots/: empty, library, preview (split view), AI view, robustness, batch running, finished.
Screens are grabbed from the X display (so dialogs show too) and colour-quantised to stay small.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "screenshots"
SHARED = Path(os.environ.get("RID_DESKTOP_SHARED", REPO.parent / "shared"))
WINDOW_SIZE = (1400, 860)


def sample_folder(base: Path, count: int = 14) -> Path:
    folder = base / "Family photos"
    folder.mkdir(parents=True)
    eval_dir = SHARED / "data" / "eval"
    sources = sorted(p for p in eval_dir.glob("*") if p.suffix.lower() in {".jpg", ".png"}) if eval_dir.is_dir() else []
    if sources:
        step = max(1, len(sources) // count)
        for i, src in enumerate(sources[::step][:count]):
            shutil.copy(src, folder / f"IMG_{1001 + i}{src.suffix.lower()}")
    else:
        import numpy as np
        from PIL import Image

        rng = np.random.default_rng(0)
        for i in range(count):
            yy, xx = np.mgrid[0:480, 0:640] / 640
            img = np.stack([0.5 + 0.4 * np.sin(xx * (3 + i)), 0.5 + 0.4 * np.cos(yy * 5), 0.6 - 0.3 * xx], -1)
            img += rng.normal(0, 0.03, img.shape)
            Image.fromarray((np.clip(img, 0, 1) * 255).astype("uint8")).save(folder / f"IMG_{1001 + i}.jpg")
    return folder


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="rid-shots-"))
    os.environ["RID_DESKTOP_CONFIG_DIR"] = str(tmp / "config")
    os.environ["RID_DESKTOP_DATA_DIR"] = str(tmp / "data")
    if (SHARED / "models").is_dir():
        os.environ.setdefault("RID_DESKTOP_MODELS_DIR", str(SHARED / "models"))
    sys.path.insert(0, str(REPO))

    from PIL import Image
    from PySide6.QtCore import QBuffer, QEventLoop, QIODevice
    from PySide6.QtWidgets import QApplication

    from ui.app import create_application
    from ui.main_window import MainWindow

    app = create_application()
    OUT.mkdir(parents=True, exist_ok=True)

    def spin(seconds: float, until=lambda: False) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not until():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        app.processEvents()

    def shoot(name: str) -> None:
        spin(0.3)
        pixmap = app.primaryScreen().grabWindow(0)
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        pixmap.save(buffer, "PNG")
        import io

        image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
        frame = window.frameGeometry()
        image = image.crop((max(frame.x(), 0), max(frame.y(), 0), frame.right() + 1, frame.bottom() + 1))
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            OUT / f"{name}.png", optimize=True
        )
        print(f"{name}.png: {(OUT / f'{name}.png').stat().st_size // 1024} KB")

    window = MainWindow()
    window.resize(*WINDOW_SIZE)
    window.move(20, 20)
    window.show()
    spin(1.0)
    shoot("01-empty")

    folder = sample_folder(tmp)
    window.add_sources([folder])
    spin(30, lambda: window.model.rowCount() > 0 and all(window.model.has_thumbnail(p) for p in window.model.paths()))
    shoot("02-library")

    window.grid.setCurrentIndex(window.model.index(0))
    spin(60, lambda: window.preview_result is not None)
    window.preview.compare.set_split(0.5)
    shoot("03-preview-split")

    window.preview.tabs.setCurrentIndex(1)
    shoot("04-heat-map")

    window.preview.tabs.setCurrentIndex(2)
    window.request_ai_view()
    spin(120, lambda: window.preview.ai.image_b is not None)
    shoot("05-ai-view")

    window.preview.tabs.setCurrentIndex(3)
    window.request_checks()
    spin(300, lambda: bool(window.preview.bars.rows) or "model" in window.preview.bars.message.lower())
    shoot("06-robustness")

    window.preview.tabs.setCurrentIndex(0)
    window.grid.clearSelection()
    window.grid.setCurrentIndex(window.model.index(0))
    window.grid.clearSelection()
    window.protect()
    spin(300, lambda: window.model.status_counts()["protected"] >= 3 or not window.batch.is_running())
    shoot("07-batch-running")
    spin(600, lambda: not window.batch.is_running())
    spin(1.0)
    shoot("08-finished")
    if window.last_dialog is not None:
        window.last_dialog.close()
    window.close()
    shutil.rmtree(tmp, ignore_errors=True)
    sys.stdout.flush()
    # A tool script: skip interpreter teardown, where PySide6 and torch objects can be collected
    # in an order that aborts (the screenshots are already written).
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
