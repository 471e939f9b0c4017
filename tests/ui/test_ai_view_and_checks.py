"""AI view and robustness checks in the preview pane (need the TAEF2 surrogate from ../shared)."""

from __future__ import annotations

from ui.views.robustness_bars import VERDICT_COLOURS


def test_ai_view_and_robustness_bars(make_window, qtbot, dropper, photo_folder, shared_models):
    window = make_window()
    window.check_specs = "jpeg:75,iwmf,diffpure"  # a fast subset of the defaults keeps the test short
    assert dropper(window, [photo_folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=5000)
    window.grid.setCurrentIndex(window.model.index(1))
    qtbot.waitUntil(lambda: window.preview_result is not None, timeout=10000)
    pane = window.preview

    pane.tabs.setCurrentIndex(2)
    pane.ai_button.click()
    qtbot.waitUntil(lambda: pane.ai.image_b is not None, timeout=30000)
    assert pane.ai.image_a.size() == pane.compare.image_a.size()
    verdict = pane.ai_verdict.text()
    assert verdict.split(" ")[0] in ("Strong", "Some", "Weak") and "random noise" in verdict  # words, not a raw score
    assert pane.meter.isVisible() and pane.meter.text().startswith(verdict.split(" ")[0])  # one meter per photo
    assert pane.meter.width() >= pane.meter.fontMetrics().horizontalAdvance(pane.meter.text())  # not cut off

    pane.tabs.setCurrentIndex(3)
    pane.checks_button.click()
    qtbot.waitUntil(lambda: bool(pane.bars.rows), timeout=60000)
    labels = [row.label.lower() for row in pane.bars.rows]
    assert any("jpeg" in label for label in labels) and any("iwmf" in label for label in labels)
    assert all(row.verdict in VERDICT_COLOURS for row in pane.bars.rows)
    assert all(row.before > 0 and row.after >= 0 for row in pane.bars.rows)
    assert "AI clean-up (diffusion)" in pane.checks_note.text()  # the check that could not run, in words
    assert "“Survives” means" in pane.checks_note.text()  # the line a verdict must clear is stated
    assert pane.checks_button.isEnabled()
