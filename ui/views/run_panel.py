"""Protect / Cancel buttons with overall and per-image progress, speed and time left."""

from __future__ import annotations

from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QPushButton, QWidget


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class RunPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.protect_button = QPushButton("Protect all")
        self.protect_button.setDefault(True)
        self.protect_button.setMinimumHeight(34)
        font = self.protect_button.font()
        font.setBold(True)
        self.protect_button.setFont(font)
        self.protect_button.setAccessibleName("Protect")
        self.selected_button = QPushButton("Protect selected")
        self.selected_button.setToolTip("Protect only the photos selected in the library")
        self.selected_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop after the current tile; finished photos are kept (Esc)")
        self.overall = QProgressBar()
        self.overall.setFormat("%v of %m photos")
        self.overall.setAccessibleName("Batch progress")
        self.image = QProgressBar()
        self.image.setRange(0, 1)
        self.image.setValue(0)
        self.image.setTextVisible(False)
        self.image.setMaximumHeight(8)
        self.image.setAccessibleName("Progress within the current photo")
        self.current = QLabel()
        self.current.setMinimumWidth(10)
        self.current.setWordWrap(True)
        self.speed = QLabel()
        self.speed.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.speed.setWordWrap(True)

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.protect_button, 0, 0, 1, 2)
        grid.addWidget(self.selected_button, 1, 0)
        grid.addWidget(self.cancel_button, 1, 1)
        grid.addWidget(self.overall, 2, 0, 1, 2)
        grid.addWidget(self.image, 3, 0, 1, 2)
        grid.addWidget(self.current, 4, 0, 1, 2)
        grid.addWidget(self.speed, 5, 0, 1, 2)
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        self.protect_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.overall.setVisible(running or self.overall.maximum() > 0 and self.overall.value() > 0)
        self.image.setVisible(running)

    def start(self, total: int) -> None:
        self.overall.setRange(0, max(total, 1))
        self.overall.setValue(0)
        self.image.setRange(0, 1)
        self.image.setValue(0)
        self.current.setText("Loading the protection model…")
        self.speed.setText("")
        self.set_running(True)

    def show_step(self, done: int, total: int) -> None:
        self.image.setRange(0, max(total, 1))
        self.image.setValue(min(done, total))

    def show_item(self, name: str, index: int, total: int) -> None:
        self.current.setText(f"Protecting {name} ({index + 1} of {total})")
        self.image.setRange(0, 1)
        self.image.setValue(0)

    def show_done_count(self, done: int, total: int, elapsed: float) -> None:
        self.overall.setValue(done)
        self.overall.setAccessibleDescription(f"{done} of {total} photos")
        if done and elapsed > 0:
            rate = done / elapsed
            left = (total - done) / rate if rate > 0 else 0
            per = f"{rate:.2f} photos/s" if rate >= 0.1 else f"{elapsed / done:.1f} s per photo"
            self.speed.setText(f"{per} · about {format_duration(left)} left")

    def finish(self, text: str) -> None:
        self.current.setText(text)
        self.speed.setText("")
        self.set_running(False)
