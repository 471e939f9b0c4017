"""Make the README screenshots of the real window under Xvfb.

``xvfb-run -s "-screen 0 1920x1080x24" python -m ui.screenshot`` makes the main set; ``--size 1024x768
--scale 1.5 --set sizes`` makes one preview shot per window size and scaling (issue 19 checks that no
text is cut off at 1024x768 and 1920x1080, 100 % and 150 %). Loads a folder of sample photos (copies
of ../shared/data/eval when present, else generated ones) into a temporary library with throw-away
settings, then saves PNGs to docs/screenshots/. Screens are grabbed from the X display (so dialogs
show too) and colour-quantised to stay small.
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
CHECK_SPECS = "jpeg:75,resize:0.5,blur:1.0,grayscale,iwmf,diffpure"


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


def parse_args(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ui.screenshot")
    parser.add_argument("--set", choices=("main", "sizes"), default="main")
    parser.add_argument("--size", default=f"{WINDOW_SIZE[0]}x{WINDOW_SIZE[1]}", help="window size in device pixels")
    parser.add_argument("--scale", type=float, default=1.0, help="UI scaling (1.5 = 150 %%)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.scale != 1.0:
        os.environ["QT_SCALE_FACTOR"] = f"{args.scale:g}"
    width, height = (int(v) for v in args.size.lower().split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="rid-shots-"))
    os.environ["RID_DESKTOP_CONFIG_DIR"] = str(tmp / "config")
    os.environ["RID_DESKTOP_DATA_DIR"] = str(tmp / "data")
    if (SHARED / "models").is_dir():
        os.environ.setdefault("RID_DESKTOP_MODELS_DIR", str(SHARED / "models"))
    sys.path.insert(0, str(REPO))

    from PIL import Image
    from PySide6.QtCore import QBuffer, QEventLoop, QIODevice

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
        frame, dpr = window.frameGeometry(), pixmap.devicePixelRatio()
        box = (max(frame.x(), 0), max(frame.y(), 0), frame.right() + 1, frame.bottom() + 1)
        image = image.crop(tuple(round(v * dpr) for v in box))
        image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.FLOYDSTEINBERG).save(
            OUT / f"{name}.png", optimize=True
        )
        print(f"{name}.png: {(OUT / f'{name}.png').stat().st_size // 1024} KB")

    window = MainWindow()
    window.check_specs = CHECK_SPECS
    window.setGeometry(0, 0, round(width / args.scale), round(height / args.scale))
    window.show()
    spin(1.0)
    if args.set == "main":
        shoot("01-empty")

    folder = sample_folder(tmp)
    window.add_sources([folder])
    spin(30, lambda: window.model.rowCount() > 0 and all(window.model.has_thumbnail(p) for p in window.model.paths()))
    if args.set == "main":
        shoot("02-library")

    window.grid.setCurrentIndex(window.model.index(0))
    spin(60, lambda: window.preview_result is not None)
    window.preview.compare.set_split(0.5)
    if args.set == "sizes":
        shoot(f"size-{width}x{height}-{round(args.scale * 100)}")
        window.close()
        sys.stdout.flush()
        os._exit(0)
    shoot("03-preview-split")

    window.preview.actual_button.click()
    spin(120, lambda: window.preview_presenter.full is not None)
    shoot("03b-one-to-one-real-output")
    window.preview.fit_button.click()

    window.preview.tabs.setCurrentIndex(1)
    shoot("04-heat-map")

    window.preview.tabs.setCurrentIndex(2)
    window.request_ai_view()
    spin(120, lambda: window.preview.ai.image_b is not None)
    shoot("05-ai-view")

    window.preview.tabs.setCurrentIndex(3)
    window.request_checks()
    spin(8, lambda: window.preview.checks_progress.value() >= 1)
    shoot("06a-robustness-running")
    spin(600, lambda: bool(window.preview.bars.rows) or "model" in window.preview.bars.message.lower())
    shoot("06-robustness")

    window.preview.tabs.setCurrentIndex(0)
    window.grid.clearSelection()
    window.grid.setCurrentIndex(window.model.index(0))
    window.grid.clearSelection()
    window.protect()
    spin(300, lambda: window.model.status_counts()["protected"] >= 3 or not window.batch.is_running())
    shoot("07-batch-running")
    if window.batch.is_running():  # a fast machine may already be done
        window.close()  # what Ctrl+Q does mid-batch: it asks first
        spin(0.5)
        shoot("07b-quit-during-batch")
        window.last_dialog.keep_button.click()
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
