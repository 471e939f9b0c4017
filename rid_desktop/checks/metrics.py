"""What protection costs visually: PSNR, SSIM, perturbation size and a heat map of where it went.

These are the numbers next to the strength slider, so they are computed per image (a batch of B
images gives B values) and reported in familiar units: dB for PSNR, 0..1 for SSIM, and 255ths for
the perturbation norms (an L-inf of 8.0 means "medium", 8/255).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from kornia.metrics import ssim as _kornia_ssim

from rid_desktop.engines.base import check_image_tensor

SSIM_WINDOW = 11


@dataclass(frozen=True)
class ImageMetrics:
    """Visible-change metrics of one protected image against its original.

    Attributes:
        psnr_db: peak signal-to-noise ratio in dB (inf when identical); above ~40 dB is hard to see.
        ssim: structural similarity in [0, 1] (1 = identical), 11x11 Gaussian window.
        linf_255: largest per-pixel change, in 255ths (bounded by the strength's eps).
        l2_255: root-mean-square change per pixel value, in 255ths.
    """

    psnr_db: float
    ssim: float
    linf_255: float
    l2_255: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _check_pair(original: torch.Tensor, protected: torch.Tensor) -> None:
    check_image_tensor(original)
    check_image_tensor(protected)
    if original.shape != protected.shape:
        raise ValueError(f"original {tuple(original.shape)} and protected {tuple(protected.shape)} differ in shape")


def psnr_per_image(original: torch.Tensor, protected: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each image (max value 1.0); inf where the images are identical.

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (B,)
    """
    return psnr_from_rms_255(perturbation_norms_255(original, protected)[1])


def psnr_from_rms_255(rms_255: torch.Tensor) -> torch.Tensor:
    """PSNR in dB from the RMS change in 255ths (what :func:`perturbation_norms_255` gives); inf for none."""
    return 20.0 * torch.log10(255.0 / rms_255.double()).float()


def ssim_per_image(original: torch.Tensor, protected: torch.Tensor, window_size: int = SSIM_WINDOW) -> torch.Tensor:
    """Mean SSIM of each image (kornia's Gaussian-window SSIM, averaged over pixels and channels).

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (B,)
    """
    _check_pair(original, protected)
    window = min(window_size, *original.shape[-2:])
    window = window if window % 2 == 1 else window - 1
    ssim_map = _kornia_ssim(original.float(), protected.float(), max(window, 1), max_val=1.0)
    return ssim_map.flatten(1).mean(1)


def perturbation_norms_255(original: torch.Tensor, protected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L-inf, RMS L2) of ``protected - original`` per image, in 255ths of the pixel range.

    Shape:
        original, protected: (B, 3, H, W) -> two tensors of shape (B,)
    """
    _check_pair(original, protected)
    delta = (protected.float() - original.float()).flatten(1) * 255.0
    return delta.abs().amax(1), delta.pow(2).mean(1).sqrt()


def compute_metrics(original: torch.Tensor, protected: torch.Tensor) -> list[ImageMetrics]:
    """All visible-change metrics for each image of a batch.

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> list of B :class:`ImageMetrics`
    """
    with torch.no_grad():
        psnr = psnr_per_image(original, protected)
        ssim = ssim_per_image(original, protected)
        linf, l2 = perturbation_norms_255(original, protected)
    return [
        ImageMetrics(float(p), float(s), float(li), float(l))
        for p, s, li, l in zip(psnr.cpu(), ssim.cpu(), linf.cpu(), l2.cpu())
    ]


def amplified_perturbation(original: torch.Tensor, protected: torch.Tensor, gain: float = 10.0) -> torch.Tensor:
    """The perturbation made visible: mid-grey plus ``gain`` times the signed change, per channel.

    Shows the colour and texture of the change (chroma-only engines look coloured, luma ones grey).

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]
    """
    _check_pair(original, protected)
    return (0.5 + gain * (protected - original)).clamp(0.0, 1.0)


def perturbation_heatmap(original: torch.Tensor, protected: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Where the change is: per-pixel largest |change| over channels, coloured black-red-yellow-white.

    Args:
        scale: change (in [0, 1] units) mapped to full brightness, e.g. the strength's eps so that
            heat maps of different images are comparable; default the image's own maximum.

    Shape:
        original, protected: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1]
    """
    _check_pair(original, protected)
    magnitude = (protected - original).abs().amax(1, keepdim=True)
    if scale is None:
        scale_t = magnitude.flatten(1).amax(1).clamp_min(1e-8)[:, None, None, None]
    else:
        scale_t = torch.as_tensor(max(scale, 1e-8), dtype=magnitude.dtype, device=magnitude.device)
    t = (magnitude / scale_t).clamp(0.0, 1.0)
    # A "hot" ramp: red rises first, then green, then blue; monotone in brightness.
    red = (3 * t).clamp(0, 1)
    green = (3 * t - 1).clamp(0, 1)
    blue = (3 * t - 2).clamp(0, 1)
    return torch.cat([red, green, blue], 1)
