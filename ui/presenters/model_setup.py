"""Models the AI view and checks need: first-run set-up, "Install model", and installing a chosen file.

Protection itself never needs these downloads, so failures are explained in words (offline is the
usual cause) and always leave a way forward: try again later, or choose a copy of the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject

from ui.jobs import JobService
from ui.views import dialogs
from ui.workers import friendly_message

NETWORK_HINTS = ("name or service not known", "temporary failure in name resolution", "network is unreachable",
                 "timed out", "urlopen error", "connection refused", "connection reset", "no route to host",
                 "getaddrinfo failed", "nodename nor servname")


def download_problem(exc: BaseException, name: str) -> str:
    """A failed download in words; a network failure says so instead of '[Errno -2] …'."""
    text = friendly_message(exc)
    if any(hint in text.lower() for hint in NETWORK_HINTS):
        return (f"Could not download {name}: this computer seems to be offline, or the download server "
                "cannot be reached. Try again when you are online.")
    return text


class ModelSetup(QObject):
    def __init__(self, window, jobs: JobService):
        super().__init__(window)
        self.window = window
        self.jobs = jobs
        self.surrogate_lines: list[str] = []
        self.progress_dialog = None  # the download progress dialog on screen (tests press its Cancel)

    def offer_install(self, name: str, then: Callable[[], None] | None = None, why: str = "") -> None:
        """Ask first (size, licence, source from the registry); download only after "Download" is clicked.

        ``then`` runs on the UI thread once the model is installed (e.g. re-run the checks).
        """
        from rid_desktop.models import describe

        try:
            description = describe(name)
        except Exception as exc:  # an unknown name: say so rather than download anything
            self.window.last_dialog = dialogs.error(self.window, "Cannot install", friendly_message(exc))
            return
        box = dialogs.confirm_download(self.window, name, description, why)
        box.confirmed.connect(lambda model: self.install_model(model, then))
        self.window.last_dialog = box

    def install_model(self, name: str, then: Callable[[], None] | None = None) -> None:
        """Download a registry model in the background (downloads lane) with a progress dialog and Cancel."""
        from rid_desktop.models.download import install_model

        progress = dialogs.download_progress(self.window, name)
        self.progress_dialog = progress
        progress.canceled.connect(lambda: self._cancel_install(progress, name))

        def work(ctx):
            # Byte counts in kB keep the dialog's int range; an unknown total shows a busy bar.
            return install_model(name, progress=lambda done, total: ctx.progress(done // 1024, (total or 0) // 1024))

        def show(done: int, total: int) -> None:
            if total > 0:
                progress.setMaximum(total)
                progress.setValue(min(done, total))
                progress.setLabelText(f"Downloading {name}… {done / 1000:.1f} of {total / 1000:.1f} MB")

        def failed(exc: BaseException) -> None:
            progress.close()
            box = dialogs.InstallFailedDialog(self.window, name, download_problem(exc, name))
            box.file_chosen.connect(lambda model, path: self.install_file(model, path, then))
            box.open()
            self.window.last_dialog = box

        self.jobs.submit("install", work, lambda path: self._installed(progress, name, path, then), lane="setup",
                         on_error=failed, on_progress=show)

    def _cancel_install(self, progress, name: str) -> None:
        if self.jobs.cancel("install"):  # the download stops at its next chunk and removes its partial file
            self.window.statusBar().showMessage(f"Download of {name} cancelled; nothing was installed", 10000)
        progress.close()

    def install_file(self, name: str, path: str, then: Callable[[], None] | None = None) -> None:
        """Install ``path`` as model ``name`` after checking its published SHA-256."""
        from rid_desktop.models.local_install import install_from_file

        def failed(exc: BaseException) -> None:
            self.window.last_dialog = dialogs.error(self.window, "Install failed", friendly_message(exc))

        self.jobs.submit("install", lambda ctx: install_from_file(name, Path(path)),
                         lambda dest: self._installed(None, name, dest, then), lane="setup", on_error=failed)

    def _installed(self, progress, name: str, path, then: Callable[[], None] | None = None) -> None:
        if progress is not None:
            progress.close()
        self.window.statusBar().showMessage(f"Installed {name} at {path}", 10000)
        if then is not None:
            then()
        else:
            self.window.schedule_preview()

    def ensure_surrogates(self, install: bool = True) -> None:
        """Find the surrogate models, or install them into the per-user data folder, in the background.

        Same registry and code as ``rid-desktop models install`` / ``--self-test``. Success is remembered
        in the settings; a failure (offline) is a status-bar note and the next start tries again.
        """
        from rid_desktop.models.surrogate_setup import ensure_surrogates

        def failed(exc: BaseException) -> None:
            self.surrogate_lines = [friendly_message(exc)]
            self.window.statusBar().showMessage(f"Could not set up the AI-view models: {self.surrogate_lines[0]}",
                                                15000)

        self.jobs.submit("surrogates", lambda ctx: ensure_surrogates(install), self._surrogates_done, lane="setup",
                         on_error=failed)

    def _surrogates_done(self, setup) -> None:
        self.surrogate_lines = ([f"{name}: found at {path}" for name, path in setup.found.items()]
                                + [f"{name}: installed to {path}" for name, path in setup.installed.items()]
                                + [f"{name}: {reason}" for name, reason in setup.failed.items()])
        if not setup.ready:
            message = ("The AI-view models could not be installed (offline?). Protection works without "
                       "them; they are offered again when needed.")
        else:
            self.window.settings.surrogates_ready = True
            self.window.save_settings()
            count = len(setup.installed)
            message = (f"Installed {count} AI-view model{'s' if count != 1 else ''} in your data folder"
                       if count else "AI-view models found")
        self.window.statusBar().showMessage(message, 15000)


def measure_choices() -> list[tuple[str, str, bool]]:
    """(registry name, label, installed) for "Measure with": TAEF2, then the full-size scoring VAEs that are
    installed or can be installed (one without a verified hash is left out: it cannot be offered)."""
    from rid_desktop.checks.ai_view import SURROGATE
    from rid_desktop.errors import ModelError
    from rid_desktop.models.registry import locate, models_for_role

    from ui.wording import measure_name

    choices = [(SURROGATE, measure_name(SURROGATE), True)]
    for spec in models_for_role("scoring-vae"):
        try:
            locate(spec.name)
            installed = True
        except ModelError:
            installed = False
        if installed or (spec.url and spec.sha256):
            choices.append((spec.name, measure_name(spec.name), installed))
    return choices


def model_lines() -> list[str]:
    """Model rows for the About box: each model once, with its licence and where it is."""
    try:
        from rid_desktop.models.download import list_models

        rows = list_models()
    except Exception as exc:  # About must always open
        return [f"model list unavailable: {friendly_message(exc)}"]
    lines, seen_files = [], set()
    for row in rows:
        where = f" — {row.location}" if row.location else ""
        lines.append(f"{row.name} ({row.role}, licence {row.license}): {row.status}{where}")
        if row.location:
            seen_files.add(Path(row.location).name)
    from rid_desktop import paths

    for ckpt in sorted(paths.checkpoints_dir().glob("*.safetensors")):
        if ckpt.name not in seen_files:  # a shipped generator the registry does not list
            lines.append(f"{ckpt.stem} (bundled generator): {ckpt.name}")
    return lines
