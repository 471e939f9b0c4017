"""The preview side of the window: preview, real 1:1 output, AI view and checks of the selected photo.

All of it runs on :class:`ui.jobs.JobService`. A new selection or strength supersedes the running
preview (it stops within one tile) and cancels the AI view/checks of the photo that is no longer
shown; checks run on their own lane, so they never delay the preview of the photo just clicked.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from rid_desktop.errors import ModelError
from ui import preview_compute
from ui.jobs import JobService
from ui.workers import EngineFactory, friendly_message

PREVIEW_DEBOUNCE_MS = 200


class PreviewPresenter(QObject):
    def __init__(self, window, jobs: JobService, engine_factory: EngineFactory):
        super().__init__(window)
        self.window = window
        self.pane = window.preview
        self.jobs = jobs
        self.computer = preview_compute.PreviewComputer(engine_factory)
        self.result = None  # the PreviewResult on screen
        self.full = None  # the FullOutput on screen at 1:1, if computed
        self.check_specs: str | None = None  # purifier specs for the Robustness tab; None = core defaults
        self._requested: Path | None = None  # the photo of the latest preview request
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._timer.timeout.connect(self.request_preview)
        p = self.pane
        p.ai_view_requested.connect(self.request_ai_view)
        p.checks_requested.connect(self.request_checks)
        p.checks_cancel_requested.connect(self.cancel_checks)
        p.preview_cancel_requested.connect(self.cancel_preview)
        p.detail_requested.connect(self.request_full_output)
        p.export_requested.connect(window.export_comparison)
        p.measure_chosen.connect(self.choose_measure)
        p.model_install_requested.connect(self.install_check_model)
        self.refresh_measure_choices()

    def schedule(self) -> None:
        """Preview after a short pause (a dragged slider); a newly clicked photo's name shows at once."""
        path = self.window.current_path()
        if path is not None:
            self._note_path(path)
        self._timer.start()

    def _note_path(self, path: Path) -> None:
        shown = self.result.path if self.result is not None else self._requested
        if shown is not None and shown != path:
            for kind in ("ai", "checks"):  # results for a photo that is no longer on screen
                self.jobs.cancel(kind)
            self.pane.show_loading(path.name)
        self._requested = path

    # --- preview ------------------------------------------------------------------------------
    def request_preview(self) -> None:
        path = self.window.current_path()
        if path is None:
            for kind in ("preview", "full", "ai", "checks"):
                self.jobs.cancel(kind)
            self.result = self.full = self._requested = None
            self.pane.clear()
            return
        self._note_path(path)
        self.jobs.cancel("full")
        s = self.window.settings
        self.pane.set_busy("Computing preview…", cancellable=True)
        self.jobs.submit(
            "preview", functools.partial(self.computer.preview, path=path, engine_name=s.engine, device=s.device, eps=s.eps),
            self._preview_done, on_error=self._preview_failed, on_progress=self.pane.show_busy_progress,
        )

    def cancel_preview(self) -> None:
        self.jobs.cancel("preview")
        self.jobs.cancel("full")
        self.pane.set_busy("Preview stopped", cancellable=False)

    def _preview_done(self, result) -> None:
        self.result, self.full = result, None
        self.pane.show_preview(result)
        if self.pane.compare.needs_detail():  # still zoomed in: show the real pixels for the new settings
            self.request_full_output()
        for notice in result.notices:
            self.window.statusBar().showMessage(notice, 10000)

    def _preview_failed(self, exc: BaseException) -> None:
        self.result = self.full = None
        self.pane.clear(friendly_message(exc))
        if isinstance(exc, ModelError):
            self.window.show_error(exc)

    # --- real output pixels at 1:1 ------------------------------------------------------------------
    def request_full_output(self) -> None:
        """Compute the protected copy at full size, exactly as written, for the zoomed-in view."""
        result = self.result
        if result is None or result.path != self._requested or self.jobs.is_busy("full"):
            return  # nothing on screen yet, or another photo's preview is on its way
        if self.full is not None and self.full.path == result.path and self.full.eps == result.eps:
            return
        settings = self.window.settings.to_protection()
        self.pane.set_busy("Computing the real output at full size…", cancellable=True)
        self.jobs.submit("full", functools.partial(self.computer.full_output, path=result.path, settings=settings),
                         self._full_done, on_error=self._full_failed, on_progress=self.pane.show_busy_progress)

    def _full_done(self, full) -> None:
        if self.result is None or full.path != self.result.path or full.path != self._requested:
            return
        self.full = full
        self.pane.show_full_output(full)

    def _full_failed(self, exc: BaseException) -> None:
        self.pane.set_busy(f"Full-size output failed: {friendly_message(exc)}", cancellable=False)

    # --- AI view and checks ---------------------------------------------------------------------
    def request_ai_view(self) -> None:
        result = self.result
        if result is None:
            return
        self.pane.ai_button.setEnabled(False)
        self.pane.ai.set_message("Asking the image AI what it sees…")
        self.jobs.submit("ai", functools.partial(preview_compute.ai_view, result=result,
                                                 measure_with=self.window.settings.measure_with),
                         self._ai_done, lane="analysis", on_error=self._ai_failed)

    def _ai_done(self, view) -> None:
        self.pane.ai_button.setEnabled(self.result is not None)
        self.pane.show_ai_view(view)

    def _ai_failed(self, exc: BaseException) -> None:
        self.pane.ai_button.setEnabled(self.result is not None)
        self.pane.ai.set_message(friendly_message(exc))
        if isinstance(exc, ModelError):
            self.window.show_error(exc)

    def request_checks(self) -> None:
        result = self.result
        if result is None:
            return
        self.pane.checks_started()
        self.jobs.submit("checks", functools.partial(preview_compute.checks, result=result, specs=self.check_specs,
                                                     measure_with=self.window.settings.measure_with),
                         self._checks_done, lane="analysis", on_error=self._checks_failed,
                         on_progress=self.pane.show_checks_progress)

    def cancel_checks(self) -> None:
        if self.jobs.cancel("checks"):
            self.pane.checks_stopped("Checks cancelled. Run them again when you like.")

    def _checks_done(self, view) -> None:
        self.pane.show_checks(view.rows, view.note)
        self.pane.offer_model_install(view.missing_model)

    def install_check_model(self, name: str) -> None:
        """"Install…" beside a check that could not run: ask, download, then run the checks again."""
        self.window.model_setup.offer_install(
            name, then=self.request_checks, why="The “AI clean-up (diffusion)” check (DiffPure) needs it.")

    # --- "Measure with" -------------------------------------------------------------------------
    def refresh_measure_choices(self) -> None:
        """TAEF2 plus the full-size VAEs (installed ones by name, the others marked "(install…)")."""
        from ui.presenters.model_setup import measure_choices

        choices = measure_choices()
        settings = self.window.settings
        if not any(name == settings.measure_with and installed for name, _, installed in choices):
            settings.measure_with = "taef2"  # the chosen model was removed: measure with the surrogate
        self.pane.set_measure_choices(choices, settings.measure_with)

    def choose_measure(self, name: str) -> None:
        """The user picked a model in "Measure with": use it, or offer to install it first."""
        from ui.presenters.model_setup import measure_choices

        installed = {n: ok for n, _, ok in measure_choices()}
        if not installed.get(name, False):
            self.refresh_measure_choices()  # keep showing the model in use until the new one is installed
            self.window.model_setup.offer_install(
                name, then=lambda: self.use_measure(name),
                why="The protection score and the AI view will be measured with it.")
            return
        self.use_measure(name)

    def use_measure(self, name: str) -> None:
        settings = self.window.settings
        changed = settings.measure_with != name
        settings.measure_with = name
        self.refresh_measure_choices()
        self.window.save_settings()
        if changed and self.result is not None and self.pane.ai.image_b is not None:
            self.request_ai_view()  # the AI view on screen was measured with the other model

    def _checks_failed(self, exc: BaseException) -> None:
        self.pane.checks_stopped(friendly_message(exc))
        if isinstance(exc, ModelError):
            self.window.show_error(exc)

    def shown_path(self) -> Path | None:
        return self.result.path if self.result is not None else None
