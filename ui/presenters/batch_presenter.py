"""Protect, cancel, resume and quit-while-protecting: the batch side of the window.

The scope is always explicit: the main button says what it will do ("Protect all 33", or "Resume —
28 left" after a cancel or a quit), and protecting only the selection is its own button and shortcut,
so clicking a thumbnail to look at it never changes what Protect does. Counts at the end come from
the core's :class:`rid_desktop.batch.BatchSummary`, not from a second tally here.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices

from rid_desktop.errors import OutputError, UserError
from ui.models.library_model import Status
from ui.views import dialogs
from ui.views.run_panel import format_duration
from ui.workers import BatchController, EngineFactory


def normalise(path: str | os.PathLike) -> Path:
    """Absolute path without resolving symlinks: the key the library and batch events share."""
    return Path(os.path.abspath(os.fspath(path)))


def describe_summary(summary, elapsed: float, left: int) -> str:
    """One line from the core's BatchSummary: '5 protected, 1 failed, 3 not started (cancelled) in 2 s'."""
    parts = [f"{summary.done} protected"]
    if summary.skipped:
        parts.append(f"{summary.skipped} already done")
    if summary.failed:
        parts.append(f"{len(summary.failed)} failed")
    if summary.cancelled and left:
        parts.append(f"{left} not started (cancelled)")
    return ", ".join(parts) + f" in {format_duration(elapsed)}"


class BatchPresenter(QObject):
    """Owns the :class:`BatchController` and everything the window shows about a batch.

    Signals:
        running_changed(bool): a batch started or ended (menus, window title).
    """

    running_changed = Signal(bool)

    def __init__(self, window, engine_factory: EngineFactory):
        super().__init__(window)
        self.window = window
        self.controller = BatchController(engine_factory, self)
        self.controller.event.connect(self._on_event)
        self.controller.step.connect(self._on_step)
        self.controller.notice.connect(self._on_notice)
        self.controller.failed.connect(self._on_failed)
        self.controller.finished.connect(self._on_finished)
        self.output_folder: Path | None = None
        self.last_summary = None
        self._quit_question = None  # the open "stop and quit?" box, if any
        self.quit_when_done = False
        self._started = 0.0
        self._done = 0
        self._total = 0
        self._current: Path | None = None
        self._aborted = False

    # --- scope ---------------------------------------------------------------------------------
    @property
    def interrupted(self) -> list[Path]:
        """Inputs of the batch that was cancelled or quit before it finished (remembered across restarts)."""
        return [Path(p) for p in self.window.settings.interrupted_batch]

    def left_in(self, inputs: list[Path]) -> int:
        """Photos under ``inputs`` that are not protected yet."""
        keys = [str(p) for p in inputs]
        count = 0
        for entry in self.window.model.entries():
            path = str(entry.path)
            if entry.status != Status.PROTECTED and any(path == k or path.startswith(k + os.sep) for k in keys):
                count += 1
        return count

    def refresh_scope(self) -> None:
        """Button and menu texts say exactly what Protect will do."""
        w = self.window
        total = w.model.rowCount()
        selected = len(w.selected_paths())
        left = self.left_in(self.interrupted) if self.interrupted and not self.is_running() else 0
        if left:
            text = f"Resume — {left} left"
            tip = "Continue the batch that was stopped; photos already protected are skipped"
        else:
            text = f"Protect all {total}" if total else "Protect all"
            tip = "Protect every photo in the library (photos already protected with these settings are skipped)"
        w.run_panel.protect_button.setText(text)
        w.run_panel.protect_button.setToolTip(tip)
        w.protect_action.setText(f"&{text}")
        sel_text = f"Protect {selected} selected" if selected else "Protect selected"
        w.run_panel.selected_button.setText(sel_text)
        w.run_panel.selected_button.setEnabled(bool(selected) and not self.is_running())
        w.protect_selected_action.setText(sel_text)
        w.protect_selected_action.setEnabled(bool(selected) and not self.is_running())

    # --- actions --------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.controller.is_running()

    def protect_default(self) -> None:
        """The main button / Ctrl+R: resume an interrupted batch, else protect the whole library."""
        interrupted = [p for p in self.interrupted if p.exists()]
        if interrupted and self.left_in(interrupted):
            self.start(interrupted)
        else:
            self.start([Path(s) for s in self.window.sources])

    def protect_selected(self) -> None:
        paths = self.window.selected_paths()
        if paths:
            self.start(paths)

    def start(self, inputs: list[Path]) -> None:
        """Plan and start a batch of ``inputs`` (library folders and/or photos)."""
        from rid_desktop.batch import plan_batch

        w = self.window
        if self.is_running():
            return
        if not inputs or w.model.rowCount() == 0:
            w.last_dialog = dialogs.nothing_selected(w)
            return
        settings = w.settings.to_protection()
        try:
            plan = plan_batch(inputs, settings, recursive=True, name_suffix=w.settings.name_suffix)
        except UserError as exc:
            if isinstance(exc, OutputError) or "output" in str(exc).lower():
                w.last_dialog = dialogs.unwritable_output(w, str(exc))
            else:
                w.last_dialog = dialogs.error(w, "Cannot start", str(exc))
            return
        if not plan.items:
            w.last_dialog = dialogs.nothing_selected(w)
            return
        roots = [Path(root) for root in plan.output_roots]
        self.output_folder = roots[0] if len(roots) == 1 else _common_folder(roots)
        self._started, self._done, self._total = time.monotonic(), 0, len(plan.items)
        self._current, self._aborted, self.last_summary = None, False, None
        w.settings.interrupted_batch = [str(p) for p in inputs]  # until it finishes: a quit can resume it
        w.save_settings()
        w.run_panel.start(len(plan.items))
        w.protect_action.setEnabled(False)
        w.cancel_action.setEnabled(True)
        w.statusBar().showMessage(f"Protecting {len(plan.items)} photos…")
        self.controller.start(plan, settings)
        self.refresh_scope()
        self.running_changed.emit(True)
        self._show_title_progress()

    def cancel(self) -> None:
        if self.is_running():
            self.controller.cancel()
            self.window.run_panel.current.setText("Cancelling after the current step…")
            self.window.run_panel.cancel_button.setEnabled(False)

    def confirm_quit(self) -> None:
        """Closing the window mid-batch asks first; 'Stop and quit' cancels within one tile, then closes."""
        box = dialogs.quit_during_batch(self.window)
        box.stop_button.clicked.connect(self._stop_and_quit)
        self.window.last_dialog = self._quit_question = box

    def _stop_and_quit(self) -> None:
        self.quit_when_done = True
        self.cancel()

    def open_output_folder(self) -> bool:
        folder = self.output_folder
        if folder is None:
            return False
        if not folder.is_dir() or not QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            self.window.last_dialog = dialogs.error(
                self.window, "Cannot open the folder",
                f"Could not open {folder}. It may have been moved or deleted, or no file manager is set up.")
            return False
        return True

    # --- events from the worker ------------------------------------------------------------------
    def _on_step(self, done: int, total: int) -> None:
        self.window.run_panel.show_step(done, total)
        if self._current is not None and total:
            self.window.model.set_progress(self._current, done / total)

    def _on_event(self, event) -> None:
        w = self.window
        kind = event.kind
        source = normalise(event.source) if getattr(event, "source", None) else None
        if kind == "item_started" and source is not None:
            self._current = source
            w.model.set_status(source, Status.WORKING)
            w.run_panel.show_item(source.name, event.index, event.total)
        elif kind in ("item_done", "item_skipped", "item_failed") and source is not None and event.index >= 0:
            self._done += 1
            self._current = None
            if kind == "item_failed":
                w.model.set_status(source, Status.FAILED, event.message or "failed")
            else:
                reason = _metrics_text(event.metrics) if kind == "item_done" else ""
                if kind == "item_skipped":
                    reason = event.message or "already protected with these settings"
                w.model.set_status(source, Status.PROTECTED, reason, Path(event.output) if event.output else None)
            w.run_panel.show_done_count(self._done, self._total, time.monotonic() - self._started)
            self._show_title_progress()
        elif kind == "cancelled":
            for entry in w.model.entries():
                if entry.status == Status.WORKING:
                    w.model.set_status(entry.path, Status.PENDING, "cancelled before it finished")
        elif kind == "finished":
            self.last_summary = event.summary

    def _on_notice(self, message: str) -> None:
        self.window.statusBar().showMessage(message, 15000)
        self.window.last_dialog = dialogs.gpu_fallback(self.window, message)

    def _on_failed(self, exc: BaseException) -> None:
        for entry in self.window.model.entries():
            if entry.status == Status.WORKING:
                self.window.model.set_status(entry.path, Status.PENDING)
        self._aborted = True
        if not self.quit_when_done:
            self.window.show_error(exc)

    def _on_finished(self) -> None:
        w = self.window
        w.protect_action.setEnabled(True)
        w.cancel_action.setEnabled(False)
        w.setWindowTitle("RID Desktop")
        self.running_changed.emit(False)
        summary = self.last_summary
        if summary is not None and not summary.cancelled:
            w.settings.interrupted_batch = []
        w.save_settings()
        self.refresh_scope()
        question, self._quit_question = self._quit_question, None
        if question is not None and question.isVisible():
            # The batch ended while "stop and quit?" was still open: nothing is left to stop, so the
            # question is moot and the user's quit goes ahead (every finished photo is already written).
            question.close()
            self.quit_when_done = True
        if self.quit_when_done:
            w.close()  # no dialog after a quit: the window goes, the process ends
            return
        if self._aborted or summary is None:
            w.run_panel.finish("Protection could not start.")
            w.statusBar().showMessage("Protection could not start", 8000)
            return
        line = describe_summary(summary, time.monotonic() - self._started, self._total - self._done)
        w.run_panel.finish(line)
        w.statusBar().showMessage(line, 15000)
        w.open_output_action.setEnabled(self.output_folder is not None)
        title = "Protection cancelled" if summary.cancelled else "Protection finished"
        details = "\n".join(f"{Path(p).name}: {reason}" for p, reason in summary.failed)
        text = line + "."
        if summary.cancelled:
            text += "\n\nPress Resume (Ctrl+R) to protect the rest; finished photos are kept."
        if self.output_folder is not None:
            text += f"\n\nProtected copies are in:\n{self.output_folder}"
        box = dialogs.SummaryDialog(w, title, text, details, self.output_folder)
        box.open()
        w.last_dialog = box

    def _show_title_progress(self) -> None:
        if self.is_running() and self._total:
            percent = int(100 * self._done / self._total)
            self.window.setWindowTitle(f"{percent}% protected ({self._done} of {self._total}) — RID Desktop")


def _common_folder(folders: list[Path]) -> Path | None:
    parents = [str(p) for p in folders]
    if not parents:
        return None
    try:
        return Path(os.path.commonpath(parents))
    except ValueError:  # different drives on Windows
        return Path(parents[0])


def _metrics_text(metrics) -> str:
    if not metrics:
        return ""
    psnr = metrics.get("psnr")
    return f"PSNR {psnr:.1f} dB (full-size file)" if psnr is not None else ""
