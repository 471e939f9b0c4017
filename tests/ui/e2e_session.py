"""One scripted session of the real app, run as its own process by test_end_to_end.py.

``python e2e_session.py first|second FOLDER SETTINGS_JSON`` drives the window through ``app.exec()``
with timers, like a person clicking, and prints what it saw as one JSON line before the event loop
returns. A test-only engine (sign noise, slow enough that a quit lands mid-batch) keeps it fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from rid_desktop.engines.base import project_linf
from ui.app import create_application
from ui.main_window import MainWindow


class SlowSignEngine:
    name = "slow"

    def protect(self, image, eps, *, seed=0, progress=None):
        signs = torch.randint(0, 2, image.shape, generator=torch.Generator().manual_seed(seed)).float() * 2 - 1
        for i in range(10):
            time.sleep(0.04)
            if progress is not None:
                progress(i + 1, 10)
        return project_linf(image, image + eps * signs, eps)


def main(phase: str, folder: Path, settings_path: Path) -> int:
    app = create_application()
    window = MainWindow(engine_factory=lambda settings: SlowSignEngine(),
                        engines=[("slow", "Slow test engine", "test only")], settings_path=settings_path)
    window.show()
    seen: dict = {"phase": phase}

    def wait_for(condition, then, timeout=20.0):
        deadline = time.monotonic() + timeout

        def poll():
            if condition():
                then()
            elif time.monotonic() > deadline:
                seen["timeout"] = then.__name__
                finish_and_quit()
            else:
                QTimer.singleShot(30, poll)

        QTimer.singleShot(0, poll)

    def counts():
        return window.model.status_counts()

    # --- first session: add folder -> preview -> strength -> protect -> quit mid-batch ---------------
    def add_folder():
        window.add_sources([folder])
        wait_for(lambda: window.model.rowCount() == 6, preview)

    def preview():
        window.grid.setCurrentIndex(window.model.index(1))  # photo_00 (broken.jpg sorts first)
        wait_for(lambda: window.preview_result is not None, strength)

    def strength():
        seen["preview_linf"] = window.preview.linf.text()
        window.settings_panel.strength_slider.setValue(4)
        wait_for(lambda: window.preview_result.eps == 4 / 255, protect)

    def protect():
        seen["preview_linf_after"] = window.preview.linf.text()
        seen["scope"] = window.run_panel.protect_button.text()
        window.protect()
        wait_for(lambda: counts()["protected"] >= 2, quit_mid_batch)

    def quit_mid_batch():
        [a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "&Quit"][0].trigger()
        box = window.last_dialog
        seen["asked"] = box is not None and box.objectName() == "quit-during-batch"
        seen["protected_at_quit"] = counts()["protected"]
        box.stop_button.click()

    # --- second session: statuses restored -> resume -> finish -> quit -------------------------------
    def restored():
        seen["restored"] = counts()["protected"]
        seen["scope"] = window.run_panel.protect_button.text()
        seen["strength"] = window.settings.strength_255
        window.grid.setCurrentIndex(window.model.index(5))  # looking at a photo changes nothing
        window.protect()
        wait_for(lambda: not window.batch.is_running() and window.last_dialog is not None, finished)

    def finished():
        seen["final"] = counts()
        seen["summary"] = window.last_dialog.text()
        window.last_dialog.close()
        finish_and_quit()

    def finish_and_quit():
        window.close()

    if phase == "first":
        QTimer.singleShot(0, add_folder)
    else:
        wait_for(lambda: window.model.rowCount() == 6 and counts()["protected"] > 0, restored)
    code = app.exec()
    seen["visible_windows"] = [type(w).__name__ for w in QApplication.topLevelWidgets()
                               if w.isVisible() and not isinstance(w, QMessageBox)]
    print(json.dumps(seen), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
