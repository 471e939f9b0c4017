"""Protection settings: engine, strength (preset + slider in 255ths), device, output options.

The panel edits a :class:`GuiSettings` and emits ``changed`` (every edit) and ``strength_changed``
(slider moves, for the live preview). It knows nothing about batches or engines beyond their names.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rid_desktop.strength import MAX_EPS, PRESETS
from ui.settings_store import GuiSettings
from ui.wording import ENGINE_COSTS, TOOLTIPS, strength_label, strength_words

METADATA_LABELS = {
    "strip-gps": "Remove location",
    "strip-all": "Remove all metadata",
    "keep": "Keep all metadata",
}
METADATA_TIPS = {
    "strip-gps": "Remove the GPS position from the copies (recommended); keep the rest (camera, date)",
    "strip-all": "Remove all EXIF metadata from the copies (the colour profile is kept)",
    "keep": "Copy all metadata, including where the photo was taken",
}
NAME_SUFFIXES = {"": "Same as the original", "_protected": "photo_protected.jpg"}
FORMAT_LABELS = {"same": "Same as original", "jpeg": "JPEG", "png": "PNG (lossless)"}
PRESET_255 = {name: round(eps * 255) for name, eps in PRESETS.items()}


class SettingsPanel(QWidget):
    changed = Signal()
    strength_changed = Signal(int)  # 255ths

    def __init__(
        self,
        settings: GuiSettings,
        engines: list[tuple[str, str, str]],
        devices: list[tuple[str, str]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.settings = settings
        self._updating = False

        self.engine_combo = QComboBox()
        for name, label, description in engines:
            self.engine_combo.addItem(label, name)
            self.engine_combo.setItemData(self.engine_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole)
        self.engine_help = QLabel()
        self.engine_help.setWordWrap(True)
        self.engine_help.setForegroundRole(self.engine_help.foregroundRole())

        self.preset_combo = QComboBox()
        for name, value in PRESET_255.items():
            word, meaning = strength_words(value)
            self.preset_combo.addItem(f"{name.capitalize()} ({value}/255)", name)
            self.preset_combo.setItemData(self.preset_combo.count() - 1, f"{word}: {meaning}",
                                          Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip(TOOLTIPS["strength"])
        self.preset_combo.addItem("Custom", "custom")
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(1, round(MAX_EPS * 255))
        self.strength_slider.setPageStep(2)
        self.strength_slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.strength_slider.setTickInterval(4)
        self.strength_slider.setToolTip(TOOLTIPS["strength"])
        self.strength_slider.setAccessibleName("Strength")
        self.strength_value = QLabel()
        self.strength_value.setMinimumWidth(self.strength_value.fontMetrics().horizontalAdvance("32/255") + 6)
        self.strength_words = QLabel()
        self.strength_words.setObjectName("strengthWords")
        self.strength_words.setWordWrap(True)
        self.strength_value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.device_combo = QComboBox()
        self.device_combo.addItem("Automatic", "auto")
        self.device_combo.setToolTip("Automatic uses the fastest device this computer has (a GPU when there is one)")
        for device, label in devices:
            self.device_combo.addItem(label, device)

        self.output_edit = QLineEdit()
        self.output_edit.setPlaceholderText("Next to each folder")
        self.output_edit.setToolTip("Where protected copies go. Empty: a new folder “<folder>-protected” next to "
                                    "each folder of photos. Type a full path or choose one with “…”.")
        self.output_edit.setAccessibleName("Output folder")
        self.output_problem = QLabel()
        self.output_problem.setWordWrap(True)
        self.output_problem.setStyleSheet("color: #c62828")
        self.output_problem.hide()
        self.name_combo = QComboBox()
        for key, label in NAME_SUFFIXES.items():
            self.name_combo.addItem(label, key)
        self.name_combo.setToolTip("Mark each copy's file name so copies are not confused with originals when posting")
        self.name_combo.setAccessibleName("File names")
        self.output_edit.setClearButtonEnabled(True)
        self.output_browse = QToolButton()
        self.output_browse.setText("…")
        self.output_browse.setToolTip("Choose the output folder")
        self.format_combo = QComboBox()
        for key, label in FORMAT_LABELS.items():
            self.format_combo.addItem(label, key)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(50, 100)
        self.quality_spin.setToolTip("JPEG quality (saved with 4:4:4 colour so the protection survives)")
        self.metadata_combo = QComboBox()
        for key, label in METADATA_LABELS.items():
            self.metadata_combo.addItem(label, key)
            self.metadata_combo.setItemData(self.metadata_combo.count() - 1, METADATA_TIPS[key],
                                            Qt.ItemDataRole.ToolTipRole)
        self.metadata_combo.setToolTip("What the copies keep of the photos' metadata (EXIF)")

        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_value)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output_edit, 1)
        output_row.addWidget(self.output_browse)
        for combo in (self.engine_combo, self.preset_combo, self.device_combo, self.format_combo, self.metadata_combo,
                      self.name_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never cut an item off
            combo.view().setTextElideMode(Qt.TextElideMode.ElideNone)

        protection = QGroupBox("Protection")
        form = QFormLayout(protection)
        form.addRow("Method", self.engine_combo)
        form.addRow("", self.engine_help)
        form.addRow("Strength", self.preset_combo)
        form.addRow("", strength_row)
        form.addRow("", self.strength_words)
        form.addRow("Device", self.device_combo)
        output = QGroupBox("Output")
        form2 = QFormLayout(output)
        form2.addRow("Folder", output_row)
        form2.addRow("", self.output_problem)
        form2.addRow("Names", self.name_combo)
        form2.addRow("Format", self.format_combo)
        form2.addRow("Quality", self.quality_spin)
        form2.addRow("Metadata", self.metadata_combo)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(protection)
        layout.addWidget(output)

        self.load(settings)
        self.engine_combo.currentIndexChanged.connect(self._commit)
        self.preset_combo.currentIndexChanged.connect(self._preset_picked)
        self.strength_slider.valueChanged.connect(self._slider_moved)
        self.device_combo.currentIndexChanged.connect(self._commit)
        self.output_edit.editingFinished.connect(self._commit)
        self.output_edit.textChanged.connect(lambda text: None if text else self._commit())
        self.output_browse.clicked.connect(self._browse_output)
        self.format_combo.currentIndexChanged.connect(self._commit)
        self.quality_spin.valueChanged.connect(self._commit)
        self.metadata_combo.currentIndexChanged.connect(self._commit)
        self.name_combo.currentIndexChanged.connect(self._commit)

    # --- settings <-> widgets -----------------------------------------------------------------
    def load(self, settings: GuiSettings) -> None:
        self._updating = True
        try:
            _select(self.engine_combo, settings.engine)
            self.strength_slider.setValue(settings.strength_255)
            self._sync_preset(settings.strength_255)
            if not _select(self.device_combo, settings.device):
                self.device_combo.setCurrentIndex(0)  # a saved GPU that is gone -> automatic
            self.output_edit.setText(settings.output_dir)
            _select(self.format_combo, settings.output_format)
            self.quality_spin.setValue(settings.jpeg_quality)
            _select(self.metadata_combo, settings.metadata)
            if not _select(self.name_combo, settings.name_suffix):
                self.name_combo.addItem(settings.name_suffix, settings.name_suffix)
                _select(self.name_combo, settings.name_suffix)
            self._update_labels()
        finally:
            self._updating = False

    def _commit(self, *args) -> None:
        if self._updating:
            return
        s = self.settings
        s.engine = self.engine_combo.currentData() or s.engine
        s.strength_255 = self.strength_slider.value()
        s.device = self.device_combo.currentData() or "auto"
        s.output_dir = self._checked_output_dir(s.output_dir)
        s.name_suffix = self.name_combo.currentData() or ""
        s.output_format = self.format_combo.currentData()
        s.jpeg_quality = self.quality_spin.value()
        s.metadata = self.metadata_combo.currentData()
        self._update_labels()
        self.changed.emit()

    def _update_labels(self) -> None:
        value = self.strength_slider.value()
        self.strength_value.setText(f"{value}/255")
        word, meaning = strength_words(value)
        self.strength_words.setText(f"{word} — {meaning}")
        self.strength_slider.setAccessibleDescription(strength_label(value))
        cost = ENGINE_COSTS.get(self.engine_combo.currentData() or "", "")
        self.engine_help.setText(cost or self.engine_combo.currentData(Qt.ItemDataRole.ToolTipRole) or "")
        self.quality_spin.setEnabled(self.format_combo.currentData() != "png")

    def _checked_output_dir(self, previous: str) -> str:
        """The typed folder when it is a full path; a relative one is refused with a reason, not guessed."""
        text = os.path.expanduser(self.output_edit.text().strip())
        if text and not os.path.isabs(text):
            self.output_problem.setText(f"“{text}” is not a full path. Type a full path (for example "
                                        f"{os.path.join(os.path.expanduser('~'), 'Pictures', 'protected')}) or "
                                        "choose a folder with “…”.")
            self.output_problem.show()
            return previous
        self.output_problem.hide()
        return text

    def _sync_preset(self, value: int) -> None:
        for name, preset in PRESET_255.items():
            if preset == value:
                _select(self.preset_combo, name)
                return
        _select(self.preset_combo, "custom")

    def _preset_picked(self, *args) -> None:
        if self._updating:
            return
        name = self.preset_combo.currentData()
        if name in PRESET_255:
            self.strength_slider.setValue(PRESET_255[name])

    def _slider_moved(self, value: int) -> None:
        if self._updating:
            return
        self._updating = True
        self._sync_preset(value)
        self._updating = False
        self._commit()
        self.strength_changed.emit(value)

    def _browse_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose where protected copies go", self.output_edit.text())
        if folder:
            self.output_edit.setText(folder)
            self._commit()


def _select(combo: QComboBox, data) -> bool:
    index = combo.findData(data)
    if index >= 0:
        combo.setCurrentIndex(index)
        return True
    return False
