"""Turn the core's check report into rows for :class:`ui.views.robustness_bars.RobustnessBars`.

Runs on the preview worker thread; the report itself (purifiers, scores, verdict thresholds) is
entirely :func:`rid_desktop.checks.build_check_report`.
"""

from __future__ import annotations

import torch

from ui.views.robustness_bars import BarRow


def robustness_rows(original: torch.Tensor, protected: torch.Tensor, eps: float, specs: str | None = None):
    """Protection score before and after each default purifier, plus a note on what did not run.

    Shape:
        original, protected: (1, 3, H, W) in [0, 1].

    Returns:
        (rows, note): one :class:`BarRow` per purifier that ran; ``note`` lists the ones that could
        not run (e.g. DiffPure "model not configured") and how to read the bars.
    """
    from rid_desktop.checks import DEFAULT_SPECS, build_check_report, parse_purifiers

    purifiers = parse_purifiers(specs or DEFAULT_SPECS)
    report = build_check_report(original, protected, eps, purifiers, with_images=False)
    rows, skipped = [], []
    for result in report.results:
        if result.status != "ok" or result.score is None:
            skipped.append(f"{result.label}: {result.message or result.status}")
            continue
        note = f"{result.ratio:.1f}× random noise" if result.ratio is not None else ""
        rows.append(BarRow(result.label, report.score_before, result.score, result.verdict or "", note))
    note = (
        f"Before clean-up the AI is disturbed {report.ratio_before:.1f}× more than by random noise of the "
        "same strength. Verdicts: survives / weakened / removed."
    )
    if skipped:
        note += " Not run: " + "; ".join(skipped) + "."
    return rows, note
