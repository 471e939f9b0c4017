"""Strength presets: the L-infinity budget `eps` in [0, 1] pixel units.

One place maps what a person picks (low / medium / high / a number of 255ths) to the budget every
engine receives, so the CLI, the GUI and the model cards all mean the same thing by "medium".
"""

from __future__ import annotations

PRESETS: dict[str, float] = {
    "low": 4 / 255,
    "medium": 8 / 255,
    "high": 12 / 255,
}
DEFAULT_STRENGTH = "medium"
MAX_EPS = 32 / 255


def parse_strength(value: str | float) -> float:
    """Return eps in [0, 1] units for a preset name or a number of 255ths (e.g. "6" -> 6/255).

    Raises:
        ValueError: with a message fit for a person, for unknown names or out-of-range numbers.
    """
    if isinstance(value, (int, float)):
        eps = float(value)
    else:
        text = str(value).strip().lower()
        if text in PRESETS:
            return PRESETS[text]
        try:
            number = float(text.split("/")[0])
        except ValueError:
            raise ValueError(
                f"unknown strength {value!r}: use low, medium, high or a number of 255ths such as 6"
            ) from None
        eps = number / 255
    if not 0 < eps <= MAX_EPS:
        raise ValueError(f"strength must be between 0 and {round(MAX_EPS * 255)}/255, got {eps * 255:g}/255")
    return eps


def describe(eps: float) -> str:
    """Human label such as 'medium (8/255)' or '6/255'."""
    for name, value in PRESETS.items():
        if abs(value - eps) < 1e-9:
            return f"{name} ({round(eps * 255)}/255)"
    return f"{eps * 255:g}/255"
