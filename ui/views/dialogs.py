"""The app's dialogs. All are window-modal and opened with ``open()``, never ``exec()``.

``open()`` does not start a nested event loop: batches keep running behind a dialog, and tests can
inspect and close dialogs (``window.last_dialog``) without blocking.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QPushButton, QWidget

import rid_desktop

_INSTALL_HINT = re.compile(r"models install ([A-Za-z0-9_.\-]+)")


def model_to_install(message: str) -> str | None:
    """The registry name in a ModelError's 'rid-desktop models install NAME' hint, if any."""
    match = _INSTALL_HINT.search(message)
    return match.group(1) if match else None


def _box(parent: QWidget, icon, title: str, text: str, informative: str = "") -> QMessageBox:
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    if informative:
        box.setInformativeText(informative)
    box.setObjectName(title.lower().replace(" ", "-"))
    return box


def nothing_selected(parent: QWidget) -> QMessageBox:
    box = _box(
        parent,
        QMessageBox.Icon.Information,
        "Nothing to protect",
        "Add some photos first.",
        "Drop folders or photos onto the window, or use File ▸ Add folder… (Ctrl+O).",
    )
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box


def unwritable_output(parent: QWidget, message: str) -> QMessageBox:
    box = _box(
        parent,
        QMessageBox.Icon.Warning,
        "Cannot write protected copies",
        message,
        "Choose another output folder in the Output settings, or check that the disk is not full "
        "and that you are allowed to write there. Your originals were not touched.",
    )
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box


def error(parent: QWidget, title: str, message: str) -> QMessageBox:
    box = _box(parent, QMessageBox.Icon.Warning, title, message)
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box


class MissingModelDialog(QMessageBox):
    """Explains which model is missing and offers to download it (verified by SHA-256)."""

    install_requested = Signal(str)

    def __init__(self, parent: QWidget, message: str):
        super().__init__(QMessageBox.Icon.Warning, "Model needed", "A model file this feature needs is missing.", QMessageBox.StandardButton.NoButton, parent)
        self.setObjectName("model-needed")
        self.model_name = model_to_install(message)
        self.setInformativeText(message)
        self.install_button: QPushButton | None = None
        if self.model_name:
            self.install_button = self.addButton("Install model", QMessageBox.ButtonRole.AcceptRole)
            self.install_button.setToolTip(f"Download {self.model_name} and verify its checksum")
        self.addButton(QMessageBox.StandardButton.Close)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button) -> None:
        if button is self.install_button and self.model_name:
            self.install_requested.emit(self.model_name)


def missing_model(parent: QWidget, message: str) -> MissingModelDialog:
    box = MissingModelDialog(parent, message)
    box.open()
    return box


class ConfirmDownloadDialog(QMessageBox):
    """Asked before any download: which model, its size, licence and source; nothing happens without "Download"."""

    confirmed = Signal(str)

    def __init__(self, parent: QWidget, name: str, description: str, why: str = ""):
        super().__init__(QMessageBox.Icon.Question, "Download model",
                         f"Download {name}?" + (f" {why}" if why else ""), QMessageBox.StandardButton.NoButton,
                         parent)
        self.setObjectName("confirm-download")
        self.model_name = name
        self.setInformativeText(f"{description}\n\nIt is checked against its published SHA-256 before it is used, "
                                "and can be removed again with “rid-desktop models remove”.")
        self.download_button = self.addButton("Download", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.download_button)
        self.buttonClicked.connect(self._clicked)

    def _clicked(self, button) -> None:
        if button is self.download_button:
            self.confirmed.emit(self.model_name)


def confirm_download(parent: QWidget, name: str, description: str, why: str = "") -> ConfirmDownloadDialog:
    box = ConfirmDownloadDialog(parent, name, description, why)
    box.open()
    return box


def download_progress(parent: QWidget, name: str) -> QProgressDialog:
    dialog = QProgressDialog(f"Downloading {name}…", "Cancel", 0, 0, parent)
    dialog.setObjectName("download-progress")
    dialog.setWindowTitle("Installing model")
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    dialog.open()
    return dialog


def gpu_fallback(parent: QWidget, message: str) -> QMessageBox:
    box = _box(parent, QMessageBox.Icon.Information, "Switched to the CPU", message,
               "To use the GPU again, close other GPU programs or lower the image size, then protect again.")
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box


class SummaryDialog(QMessageBox):
    """End of a batch: counts, time, failures, and a button that opens the output folder."""

    def __init__(self, parent: QWidget, title: str, text: str, details: str, output_folder: Path | None):
        icon = QMessageBox.Icon.Warning if details else QMessageBox.Icon.Information
        super().__init__(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
        self.setObjectName("batch-summary")
        self.output_folder = output_folder
        if details:
            self.setDetailedText(details)
        self.open_button: QPushButton | None = None
        if output_folder is not None:
            self.open_button = self.addButton("Open output folder", QMessageBox.ButtonRole.ActionRole)
            self.open_button.clicked.connect(self.open_output_folder)
        self.addButton(QMessageBox.StandardButton.Close)

    def open_output_folder(self) -> bool:
        """Open the folder in the file manager; say so when that is not possible (never fail silently)."""
        if self.output_folder is None:
            return False
        if self.output_folder.is_dir() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.output_folder))):
            return True
        parent = self.parentWidget()
        box = error(parent, "Cannot open the folder", f"Could not open {self.output_folder}. It may have been moved "
                    "or deleted, or no file manager is set up.")
        if parent is not None and hasattr(parent, "last_dialog"):
            parent.last_dialog = box
        return False


LICENCES = (
    ("RID Desktop", "MIT"),
    ("Qt 6 / PySide6", "LGPL-3.0"),
    ("PyTorch", "BSD-3-Clause"),
    ("Pillow", "MIT-CMU (HPND)"),
    ("NumPy", "BSD-3-Clause"),
    ("superqt", "BSD-3-Clause"),
    ("kornia", "Apache-2.0"),
    ("pillow-heif / libheif", "BSD-3-Clause / LGPL-3.0"),
    ("platformdirs", "MIT"),
)


def about_text(model_lines: list[str]) -> str:
    models = "".join(f"<li>{line}</li>" for line in dict.fromkeys(model_lines)) or "<li>none found</li>"
    licences = "".join(f"<li>{name}: {licence}</li>" for name, licence in LICENCES)
    return (
        f"<h3>RID Desktop {rid_desktop.__version__}</h3>"
        "<p>Adds a small, bounded change to your photos so that AI tools (diffusion "
        "personalization and editing) make poor use of them. Originals are never modified.</p>"
        f"<p><b>Models</b></p><ul>{models}</ul>"
        f"<p><b>Licences</b></p><ul>{licences}</ul>"
        "<p>Protection lowers the risk; it is not a guarantee against every future model.</p>"
    )


def about(parent: QWidget, model_lines: list[str]) -> QMessageBox:
    box = QMessageBox(parent)
    box.setObjectName("about")
    box.setWindowTitle("About RID Desktop")
    box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    box.setText(about_text(model_lines))
    box.addButton(QMessageBox.StandardButton.Ok)
    box.open()
    return box


def quit_during_batch(parent: QWidget) -> QMessageBox:
    """'A batch is running — stop and quit?' with 'Stop and quit' as ``box.stop_button``."""
    box = _box(parent, QMessageBox.Icon.Question, "Quit during batch", "A batch is running — stop and quit?",
               "Photos already protected are kept; the current one stops within a moment and leaves no "
               "partial file. Next time, Resume continues where it stopped.")
    box.setObjectName("quit-during-batch")
    box.stop_button = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
    box.keep_button = box.addButton("Keep protecting", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(box.keep_button)
    box.open()
    return box


class InstallFailedDialog(QMessageBox):
    """A failed model download, in words, with 'Choose file…' to install a copy the user already has."""

    file_chosen = Signal(str, str)  # model name, path

    def __init__(self, parent: QWidget, name: str, message: str):
        super().__init__(QMessageBox.Icon.Warning, "Install failed", message, QMessageBox.StandardButton.NoButton, parent)
        self.setObjectName("install-failed")
        self.model_name = name
        self.setInformativeText("If you have the model file (downloaded on another computer, for example), "
                                "choose it: it is checked against its published checksum before it is used.")
        self.choose_button = self.addButton("Choose file…", QMessageBox.ButtonRole.ActionRole)
        self.choose_button.clicked.connect(self.choose_file)
        self.addButton(QMessageBox.StandardButton.Close)

    def choose_file(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getOpenFileName(self.parentWidget(), f"Choose the {self.model_name} file", "",
                                              "Model files (*.pth *.safetensors *.pt);;All files (*)")
        if path:
            self.file_chosen.emit(self.model_name, path)
