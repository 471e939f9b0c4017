"""Purifiers: the clean-ups an attacker (or a social network) applies before using a photo.

Each purifier maps an image batch (B, 3, H, W) in [0, 1] to one of the same shape. They are built
from short specs that the CLI, the GUI and the evaluation share::

    jpeg:75      real JPEG (Pillow, 4:2:0 chroma subsampling as social networks use), quality 75
    resize:0.5   downscale by 0.5 (antialiased) and back up to the original size
    blur:1.5     Gaussian blur, sigma 1.5 px
    grayscale    keep only luma (BT.601); removes every chroma-only perturbation (e.g. dwt-chroma)
    iwmf[:0.4]   iterative window mean filter, lambda_0 = 0.4 (see :mod:`rid_desktop.checks.iwmf`)
    diffpure[:0.1]   DiffPure to t* = 0.1 with the configured diffusers model
    iwmf-diff[:0.25] IWMF (lambda_0 = 0.25) + Gaussian noise sigma_y = 0.15 + diffusion restoration

DiffPure-based purifiers need a model folder (argument or ``RID_DESKTOP_DIFFPURE_MODEL``); without
one they are still listed, marked ``unavailable = "model not configured"``, so reports can say so.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from kornia.color import rgb_to_grayscale
from kornia.filters import gaussian_blur2d
from PIL import Image

from rid_desktop.checks import diffpure as _diffpure
from rid_desktop.checks.iwmf import DEFAULT_LAMBDA, iwmf
from rid_desktop.errors import UserError

IWMF_DIFF_LAMBDA = 0.25
IWMF_DIFF_SIGMA = 0.15
DEFAULT_SPECS = "jpeg:75,resize:0.5,blur:1.0,grayscale,iwmf,diffpure"

PurifyFn = Callable[[torch.Tensor, int], torch.Tensor]
"""``fn(image (B,3,H,W) in [0,1], seed) -> purified image``; the seed fixes any randomness."""


class PurifierUnavailable(UserError):
    """The purifier cannot run here (e.g. no DiffPure model configured); the message says why."""


@dataclass(frozen=True)
class Purifier:
    """One parameterised clean-up.

    Attributes:
        spec: normalised spec such as "jpeg:75" (parse it back with :func:`parse_purifier`).
        label: short human description for tables and the GUI.
        fn: the purification, or None when unavailable.
        unavailable: why it cannot run (e.g. "model not configured"), else None.
    """

    spec: str
    label: str
    fn: PurifyFn | None = field(default=None, repr=False, compare=False)
    unavailable: str | None = None

    def __call__(self, image: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
        """Purify ``image`` (B, 3, H, W) in [0, 1]; raises PurifierUnavailable if it cannot run."""
        if self.fn is None:
            raise PurifierUnavailable(f"{self.spec}: {self.unavailable or 'unavailable'}")
        return self.fn(image, seed)


# -- the purifications themselves (pure functions) --------------------------------------------------


def jpeg_round_trip(image: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """Encode and decode with Pillow's JPEG at ``quality`` with 4:2:0 chroma subsampling.

    The 8-bit quantisation is part of it, as on any real upload.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> same shape, dtype and device
    """
    _check(image)
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {quality}")
    pixels = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    decoded = []
    for array in pixels:
        buffer = io.BytesIO()
        Image.fromarray(array, "RGB").save(buffer, format="JPEG", quality=int(quality), subsampling=2)
        buffer.seek(0)
        with Image.open(buffer) as jpeg:
            decoded.append(np.asarray(jpeg.convert("RGB")))
    out = torch.from_numpy(np.stack(decoded)).permute(0, 3, 1, 2).to(image.dtype) / 255.0
    return out.to(image.device)


def resize_round_trip(image: torch.Tensor, scale: float = 0.5) -> torch.Tensor:
    """Downscale by ``scale`` (antialiased bicubic) and upscale back (bicubic) to the same size.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> same shape
    """
    _check(image)
    if not 0 < scale <= 1:
        raise ValueError(f"resize scale must be in (0, 1], got {scale}")
    height, width = image.shape[-2:]
    small_size = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = F.interpolate(image, size=small_size, mode="bicubic", antialias=True, align_corners=False)
    return F.interpolate(small, size=(height, width), mode="bicubic", align_corners=False).clamp(0, 1)


def gaussian_blur(image: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Gaussian blur with std ``sigma`` pixels (kernel 2*ceil(3 sigma)+1, reflected borders).

    Shape:
        image: (B, 3, H, W) in [0, 1] -> same shape
    """
    _check(image)
    if sigma <= 0:
        raise ValueError(f"blur sigma must be > 0, got {sigma}")
    size = 2 * int(np.ceil(3 * sigma)) + 1
    limit = 2 * ((min(image.shape[-2:]) - 1) // 2) + 1  # reflect padding needs kernel <= image side
    size = max(1, min(size, limit))
    return gaussian_blur2d(image, (size, size), (sigma, sigma), border_type="reflect")


def grayscale(image: torch.Tensor) -> torch.Tensor:
    """Replace colour by its BT.601 luma in all three channels: chroma (Cb, Cr) becomes neutral.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> same shape
    """
    _check(image)
    return rgb_to_grayscale(image).expand(-1, 3, -1, -1).contiguous()


def _check(image: torch.Tensor) -> None:
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an image batch (B, 3, H, W), got {tuple(image.shape)}")


# -- specs -> Purifier ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PurifierKind:
    """A registry entry: how to build a purifier from its spec argument."""

    name: str
    usage: str
    description: str
    build: Callable[[str | None, "_Context"], Purifier] = field(repr=False)


@dataclass(frozen=True)
class _Context:
    diffpure_model: str | os.PathLike | None
    device: torch.device | None


_KINDS: dict[str, PurifierKind] = {}


def register_purifier(name: str, usage: str, description: str):
    """Decorator adding a purifier builder ``build(argument or None, context) -> Purifier``."""

    def wrap(build):
        _KINDS[name] = PurifierKind(name, usage, description, build)
        return build

    return wrap


def list_purifiers() -> list[PurifierKind]:
    """Every purifier the specs can name, for help texts and the GUI."""
    return list(_KINDS.values())


def parse_purifier(
    spec: str, *, diffpure_model: str | os.PathLike | None = None, device: torch.device | str | None = None
) -> Purifier:
    """Build one purifier from a spec like "jpeg:75" (see the module docstring).

    Args:
        diffpure_model: diffusers folder for DiffPure; None = ``RID_DESKTOP_DIFFPURE_MODEL`` or none.
        device: where DiffPure runs (default: the image's device when called).

    Raises:
        UserError: unknown name or bad argument, with a one-line message.
    """
    text = spec.strip().lower()
    name, _, argument = text.partition(":")
    name = name.strip()
    if name not in _KINDS:
        known = ", ".join(kind.usage for kind in _KINDS.values())
        raise UserError(f"unknown purifier {spec!r}; use one of: {known}")
    context = _Context(diffpure_model, torch.device(device) if device is not None else None)
    try:
        return _KINDS[name].build(argument.strip() or None, context)
    except ValueError as exc:
        raise UserError(f"bad purifier {spec!r}: {exc}") from None


def parse_purifiers(
    specs: str | list[str], *, diffpure_model: str | os.PathLike | None = None, device=None
) -> list[Purifier]:
    """Parse a comma-separated list ("jpeg:75,iwmf,diffpure") or a list of specs."""
    items = specs.split(",") if isinstance(specs, str) else list(specs)
    items = [item for item in (s.strip() for s in items) if item]
    if not items:
        raise UserError("no purifiers given; e.g. --purifiers jpeg:75,iwmf")
    return [parse_purifier(item, diffpure_model=diffpure_model, device=device) for item in items]


def _number(argument: str | None, default: float, what: str, low: float, high: float, unit: str = "",
            *, low_included: bool = False) -> float:
    """The spec's number (``default`` when absent), which must lie in (low, high] (or [low, high])."""
    if argument is None:
        return default
    try:
        value = float(argument)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {argument!r}") from None
    if not (low <= value if low_included else low < value) or value > high:
        raise ValueError(f"{what} must be in {'[' if low_included else '('}{_fmt(low)}, {_fmt(high)}]{unit}")
    return value


def _fmt(value: float) -> str:
    return f"{value:g}"


@register_purifier("jpeg", "jpeg:QUALITY", "JPEG re-compression, 4:2:0 subsampling (default quality 75)")
def _build_jpeg(argument, context) -> Purifier:
    quality = _number(argument, 75, "JPEG quality", 0, 100)
    if quality != int(quality) or not 1 <= quality <= 100:
        raise ValueError("JPEG quality must be a whole number from 1 to 100")
    q = int(quality)
    return Purifier(f"jpeg:{q}", f"JPEG q{q} (4:2:0)", lambda image, seed: jpeg_round_trip(image, q))


@register_purifier("resize", "resize:SCALE", "downscale by SCALE and back up (default 0.5)")
def _build_resize(argument, context) -> Purifier:
    scale = _number(argument, 0.5, "resize scale", 0, 1)
    return Purifier(f"resize:{_fmt(scale)}", f"resize x{_fmt(scale)} and back",
                    lambda image, seed: resize_round_trip(image, scale))


@register_purifier("blur", "blur:SIGMA", "Gaussian blur, SIGMA in pixels (default 1.0)")
def _build_blur(argument, context) -> Purifier:
    sigma = _number(argument, 1.0, "blur sigma", 0, 20, " pixels")
    return Purifier(f"blur:{_fmt(sigma)}", f"Gaussian blur {_fmt(sigma)} px",
                    lambda image, seed: gaussian_blur(image, sigma))


@register_purifier("grayscale", "grayscale", "keep only brightness (removes colour-only protection)")
def _build_grayscale(argument, context) -> Purifier:
    if argument is not None:
        raise ValueError("grayscale takes no argument")
    return Purifier("grayscale", "grayscale (chroma removed)", lambda image, seed: grayscale(image))


@register_purifier("iwmf", "iwmf:LAMBDA", "iterative window mean filter (default lambda 0.4)")
def _build_iwmf(argument, context) -> Purifier:
    lam = _number(argument, DEFAULT_LAMBDA, "IWMF lambda", 0, 4)
    return Purifier(f"iwmf:{_fmt(lam)}", f"IWMF lambda {_fmt(lam)}", lambda image, seed: iwmf(image, lam, seed=seed))


def _diffusion_or_reason(context: _Context):
    """(folder, None) when a model folder is configured, else (None, "model not configured")."""
    folder = _diffpure.configured_model_dir(context.diffpure_model)
    if folder is None:
        return None, _diffpure.NOT_CONFIGURED
    _diffpure.inspect_model_dir(folder)  # a wrong folder is a clear error now, not mid-report
    return folder, None


def _model(folder, context: _Context, image: torch.Tensor) -> _diffpure.DiffusionPurifier:
    return _diffpure.load_diffusion_purifier(folder, context.device or image.device)


@register_purifier("diffpure", "diffpure:T", "diffuse to t*=T (fraction, default 0.1) and denoise (needs a model)")
def _build_diffpure(argument, context) -> Purifier:
    t_star = _number(argument, _diffpure.DEFAULT_T_STAR, "DiffPure t* (a fraction)", 0, 1)
    spec, label = f"diffpure:{_fmt(t_star)}", f"DiffPure t*={_fmt(t_star)}"
    folder, reason = _diffusion_or_reason(context)
    if folder is None:
        return Purifier(spec, label, None, reason)

    def run(image, seed):
        return _model(folder, context, image).purify(image, t_star=t_star, seed=seed)

    return Purifier(spec, label, run)


@register_purifier("iwmf-diff", "iwmf-diff:LAMBDA", "IWMF (default 0.25) + noise 0.15 + diffusion restoration")
def _build_iwmf_diff(argument, context) -> Purifier:
    lam = _number(argument, IWMF_DIFF_LAMBDA, "IWMF-Diff lambda", 0, 4, low_included=True)
    spec, label = f"iwmf-diff:{_fmt(lam)}", f"IWMF-Diff lambda {_fmt(lam)}, sigma {IWMF_DIFF_SIGMA:g}"
    folder, reason = _diffusion_or_reason(context)
    if folder is None:
        return Purifier(spec, label, None, reason)

    def run(image, seed):
        model = _model(folder, context, image)
        filtered = iwmf(image, lam, seed=seed)
        # The diffusion model adds sigma_y noise itself (forward process to the matching timestep).
        return model.purify(filtered, t_star=None, noise_sigma=IWMF_DIFF_SIGMA, seed=seed)

    return Purifier(spec, label, run)
