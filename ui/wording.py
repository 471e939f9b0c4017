"""Plain-language words for numbers: strength, protection verdicts, clean-up names, tooltips.

Why a module: the window talks to people who post photos, not to researchers. Every figure the GUI
shows comes with words that say what is good, and the words live in one place so they stay
consistent between the settings, the preview, the checks and the accessibility names.
"""

from __future__ import annotations

# (upper bound in 255ths, word, what it means)
STRENGTH_WORDS = (
    (3, "Light", "invisible; the weakest protection"),
    (6, "Low", "invisible; weaker protection"),
    (10, "Medium", "invisible at normal size"),
    (16, "High", "faint patterns may show when zoomed in"),
    (32, "Very high", "visible on a close look"),
)

# Protection strength as a multiple of what random noise of the same size does to the AI's view, in
# the L2 latent ratio ||E(x') - E(x)|| / ||E(noise) - E(x)|| (the project's one headline metric).
STRONG_RATIO = 1.6
SOME_RATIO = 1.2

CHECK_NAMES = {
    "jpeg": "Re-saved as JPEG",
    "resize": "Shrunk to half",
    "blur": "Slightly blurred",
    "grayscale": "Made black-and-white",
    "iwmf": "Filter clean-up (IWMF)",
    "iwmf-diff": "Filter + AI clean-up",
    "diffpure": "AI clean-up (diffusion)",
}

MEASURE_NAMES = {
    "taef2": "TAEF2 (fast)",
    "sd-vae-ft-mse": "SD VAE",
    "flux1-vae": "FLUX VAE",
    "sdxl-vae-fp16-fix": "SDXL VAE",
}
"""The models the protection score and the AI view can be measured with, as the "Measure with" list says them."""


def measure_name(name: str) -> str:
    """``"sd-vae-ft-mse"`` -> ``"SD VAE"``; an unknown model keeps its registry name."""
    return MEASURE_NAMES.get(name, name)


ENGINE_COSTS = {
    "rid": "Fast. Changes brightness and colour a little; the default.",
    "dwt-chroma": "Changes colour only, so it is the least visible — but a black-and-white copy removes it.",
    "both": "Both generators in one budget: more robust, a little more visible.",
    "refined": "Stronger than the default and just as hard to see, but 5–40 seconds per photo (a few optimisation steps).",
    "iterative": "Strongest, but minutes per photo (it optimises against an AI model).",
    "iterative-chroma": "Strong and colour-only, but minutes per photo; a black-and-white copy removes it.",
}

TOOLTIPS = {
    "psnr": "How close the protected copy is to the original (PSNR). Higher is less visible: above "
            "about 35 dB the change is hard to see at normal size, above 40 dB practically invisible.",
    "ssim": "Structural similarity: 1.000 means identical; above 0.95 looks the same to most people.",
    "linf": "Largest change of any pixel value, in 255ths. The protection itself never goes above the strength "
            "you chose; measured on a JPEG file it also includes the file's own encoding changes.",
    "meter": "How much the protection disturbs what an image AI sees, compared with random noise of "
             "the same strength (distance between the AI's encodings, the L2 latent ratio). "
             f"Strong = {STRONG_RATIO:g}× noise or more; Some = {SOME_RATIO:g}×; "
             "below that the AI is barely more disturbed than by noise.",
    "heat": "Where the change went: dark = unchanged, bright = the largest change allowed by the strength.",
    "strength": "The largest change allowed per pixel value. Stronger protects more but may become "
                "visible; Medium is invisible at normal viewing size.",
}


def strength_words(value_255: int) -> tuple[str, str]:
    """(word, meaning) for a strength in 255ths, e.g. (``"Medium"``, ``"invisible at normal size"``)."""
    for bound, word, meaning in STRENGTH_WORDS:
        if value_255 <= bound:
            return word, meaning
    return STRENGTH_WORDS[-1][1], STRENGTH_WORDS[-1][2]


def strength_label(value_255: int) -> str:
    """``"Medium — invisible at normal size (8/255)"``: words first, the number as detail."""
    word, meaning = strength_words(value_255)
    return f"{word} — {meaning} ({value_255}/255)"


def protection_verdict(ratio: float) -> tuple[str, str]:
    """("Strong" | "Some" | "Weak", why) from the ratio to random noise of the same strength."""
    if ratio >= STRONG_RATIO:
        return "Strong", f"the AI's view is disturbed {ratio:.1f}× more than by random noise"
    if ratio >= SOME_RATIO:
        return "Some", f"the AI's view is disturbed {ratio:.1f}× more than by random noise; a higher strength helps"
    return "Weak", f"only {ratio:.1f}× what random noise does; try a higher strength or another method"


def check_name(spec: str, fallback: str = "") -> str:
    """A clean-up's name in words: ``"jpeg:75"`` -> ``"Re-saved as JPEG (quality 75)"``."""
    kind, _, arg = spec.partition(":")
    name = CHECK_NAMES.get(kind)
    if name is None:
        return fallback or spec
    if kind == "jpeg" and arg:
        return f"{name} (quality {arg})"
    if kind == "resize" and arg and arg not in ("0.5", ".5"):
        return f"Shrunk to {float(arg):.0%} and back"
    return name


def verdict_rule(survives_ratio: float, survives_kept: float) -> str:
    """The line a verdict must clear, in words (shown under the checks)."""
    return (f"“Survives” means that after the clean-up the AI is still disturbed at least {survives_ratio:g}× "
            f"more than by random noise and at least {survives_kept:.0%} of the effect is left; "
            "“Removed” means it is no better than noise.")
