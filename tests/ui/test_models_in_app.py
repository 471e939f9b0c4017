"""Optional models from the window, offline: "Install…" where DiffPure is missing, and "Measure with".

The models come from the loopback HTTP server of :mod:`tests.model_fixtures` (tiny diffusers models
under registry entries pointing at it), so the real confirm -> download -> verify -> install path runs.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
from PySide6.QtWidgets import QPushButton

import rid_desktop.models as models_api
from rid_desktop.checks import diffpure
from rid_desktop.models import fetch, registry
from rid_desktop.models.download import install_dir
from tests.model_fixtures import TINY_SCHEDULER, TINY_UNET_CONFIG, _bin_bytes, _tiny_unet_state, serve_model
from ui.views.robustness_bars import VERDICT_COLOURS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

DIFFPURE = "ddpm-celebahq-256"
DIFFPURE_ROW = "AI clean-up (diffusion)"


@pytest.fixture
def served_diffpure(server, monkeypatch, tmp_path):
    """The registry's DiffPure entry, pointed at a tiny DDPM UNet on the loopback server."""
    monkeypatch.delenv(diffpure.DIFFPURE_MODEL_ENV, raising=False)
    monkeypatch.setattr(diffpure, "DEFAULT_STEPS", 2)
    return serve_model(monkeypatch, server, DIFFPURE, kind="diffusers-unet", role="diffpure",
                       config=TINY_UNET_CONFIG, scheduler=TINY_SCHEDULER,
                       payload=_bin_bytes(_tiny_unet_state(), tmp_path), remote="diffusion_pytorch_model.bin")


def _preview(make_window, qtbot, dropper, photo_folder):
    window = make_window()
    assert dropper(window, [photo_folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=5000)
    window.grid.setCurrentIndex(window.model.index(1))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    return window


def _dialog(window, qtbot, name: str):
    qtbot.waitUntil(lambda: window.last_dialog is not None and window.last_dialog.objectName() == name,
                    timeout=10000)
    return window.last_dialog


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_install_beside_a_missing_diffpure_asks_downloads_and_reruns_the_checks(
    make_window, qtbot, dropper, photo_folder, shared_models, served_diffpure, server
):
    _, _, requests = server
    window = _preview(make_window, qtbot, dropper, photo_folder)
    window.check_specs = "jpeg:75,diffpure"
    pane = window.preview
    pane.tabs.setCurrentIndex(3)
    assert pane.model_install_button.isHidden()
    pane.checks_button.click()
    qtbot.waitUntil(lambda: bool(pane.bars.rows), timeout=60000)
    assert DIFFPURE_ROW not in [row.label for row in pane.bars.rows]
    assert not pane.model_install_button.isHidden() and pane.model_install_button.text() == "Install…"
    assert DIFFPURE in pane.model_note.text()

    pane.model_install_button.click()  # asks first: size and licence from the registry
    box = _dialog(window, qtbot, "confirm-download")
    details = box.informativeText()
    assert fetch.format_size(served_diffpure.size_bytes) in details and "TEST-LICENCE-1.0" in details
    box.cancel_button.click()
    qtbot.wait(200)
    assert requests == [] and _files(install_dir()) == []  # no click on Download, no download

    window.last_dialog = None
    pane.model_install_button.click()
    box = _dialog(window, qtbot, "confirm-download")
    box.download_button.click()
    qtbot.waitUntil(lambda: DIFFPURE_ROW in [row.label for row in pane.bars.rows], timeout=60000)
    row = next(row for row in pane.bars.rows if row.label == DIFFPURE_ROW)
    assert row.verdict in VERDICT_COLOURS and row.after >= 0
    assert pane.model_install_button.isHidden()
    assert registry.locate(DIFFPURE).is_dir() and len(requests) == 1
    assert f"Installed {DIFFPURE}" in window.statusBar().currentMessage()


def test_cancelling_the_download_leaves_no_partial_file(make_window, qtbot, served_diffpure, server, monkeypatch):
    _, base, requests = server
    slow = dataclasses.replace(served_diffpure, url=f"{base}/slow/{DIFFPURE}/diffusion_pytorch_model.bin")
    monkeypatch.setitem(registry.MODELS, DIFFPURE, slow)
    monkeypatch.setattr(fetch, "CHUNK_BYTES", 4096)
    window = make_window()
    window.model_setup.offer_install(DIFFPURE)
    _dialog(window, qtbot, "confirm-download").download_button.click()
    qtbot.waitUntil(lambda: window.model_setup.progress_dialog is not None
                    and window.model_setup.progress_dialog.value() > 0, timeout=10000)
    progress = window.model_setup.progress_dialog
    assert progress.maximum() == served_diffpure.size_bytes // 1024  # a real bar, in kB
    assert any(p.suffix == ".part" for p in install_dir().rglob("*"))  # it was mid-download
    progress.findChild(QPushButton).click()  # the dialog's Cancel
    assert window.jobs.wait(20000)
    assert _files(install_dir()) == []  # no partial file, no staging folder content
    assert "cancelled" in window.statusBar().currentMessage() and requests
    with pytest.raises(Exception, match="not installed"):
        registry.locate(DIFFPURE)


def test_a_failed_download_says_so_in_words_and_offers_choose_file(
    make_window, qtbot, served_diffpure, server, monkeypatch, tmp_path
):
    root, base, _ = server
    wrong = dataclasses.replace(served_diffpure, sha256="0" * 64)
    monkeypatch.setitem(registry.MODELS, DIFFPURE, wrong)
    window = make_window()
    window.model_setup.offer_install(DIFFPURE)
    _dialog(window, qtbot, "confirm-download").download_button.click()
    box = _dialog(window, qtbot, "install-failed")
    assert "does not match its published SHA-256" in box.text() and box.choose_button.text() == "Choose file…"
    assert _files(install_dir()) == []

    monkeypatch.setitem(registry.MODELS, DIFFPURE, served_diffpure)  # the file the user has is the real one
    done = []
    window.model_setup.install_file(DIFFPURE, str(root / DIFFPURE / "diffusion_pytorch_model.bin"),
                                    then=lambda: done.append(True))
    qtbot.waitUntil(lambda: done == [True], timeout=20000)
    assert registry.locate(DIFFPURE).is_dir()  # a folder model is assembled from the chosen file


def test_measure_with_lists_installed_vaes_and_scores_with_the_chosen_one(
    make_window, qtbot, dropper, photo_folder, shared_models, tiny_vae
):
    models_api.install(tiny_vae.name)
    window = _preview(make_window, qtbot, dropper, photo_folder)
    pane = window.preview
    combo = pane.measure_combo
    items = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
    assert items["taef2"] == "TAEF2 (fast)" and items["tiny-vae"] == "tiny-vae"
    assert items["sd-vae-ft-mse"] == "SD VAE (install…)" and items["flux1-vae"] == "FLUX VAE (install…)"
    assert "sdxl-vae-fp16-fix" not in items  # no verified hash: never offered
    assert combo.currentData() == "taef2"

    views = []
    show = pane.show_ai_view
    pane.show_ai_view = lambda view: (views.append(view), show(view))
    pane.tabs.setCurrentIndex(2)
    pane.ai_button.click()
    qtbot.waitUntil(lambda: len(views) == 1, timeout=30000)

    index = combo.findData("tiny-vae")
    combo.setCurrentIndex(index)
    combo.activated.emit(index)  # as a user's pick; the AI view on screen is measured again
    qtbot.waitUntil(lambda: len(views) == 2, timeout=30000)
    taef2, vae = views
    assert (taef2.measured_with, vae.measured_with) == ("taef2", "tiny-vae")
    assert vae.score != taef2.score and vae.ratio != taef2.ratio  # another encoder measured it
    assert "tiny-vae" in vae.explanation
    saved = json.loads(window.settings_path.read_text(encoding="utf-8"))
    assert saved["measure_with"] == "tiny-vae"  # remembered

    index = combo.findData("sd-vae-ft-mse")  # not installed: offers the install flow, downloads nothing yet
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    box = _dialog(window, qtbot, "confirm-download")
    assert "335.0 MB" in box.informativeText() and "licence MIT" in box.informativeText()
    box.cancel_button.click()
    assert combo.currentData() == "tiny-vae" and window.settings.measure_with == "tiny-vae"
