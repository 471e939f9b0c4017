"""How visible a change is when the photo is looked at: contrast-sensitivity weighted, texture masked.

Why: PSNR counts every unit of change alike; the eye does not. A 35 dB pattern of 30–40 px bands on
smooth skin is obvious at 100 %, while the same energy as 1 px noise in foliage is not. Protection
that survives a downscale to 1024 px must live at frequencies the eye sees well once the photo is
viewed, so the trade-off has to be *measured*, not argued (issue 15).

The model is the usual first-order one (as in S-CIELAB and JND-based watermarking):

* split the change into luminance and two chroma channels (YCbCr);
* weight each spatial frequency by the eye's contrast sensitivity at the viewing distance —
  band-pass for luminance (Movshon & Kiorpes form, peak ~4 cycles/degree), low-pass and weaker for
  chroma (the reason 4:2:0 JPEG halves chroma resolution unseen);
* divide by local image contrast (texture masks change: contrast masking).

:func:`stripe_coherence` measures the other thing the eye picks out: long, straight, coherent
lines (a pattern of oriented stripes is seen at a lower contrast than noise of the same energy).

:func:`visibility_ratio` reports the visible energy of a change against random sign noise of the
same L∞ on the same photo, the same way the protection metric is a ratio against that noise:
1.0 = as visible as sign noise at this budget, lower is better.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PIXELS_PER_DEGREE = 40.0  # a 100 % view: ~100 dpi screen at ~60 cm
CHROMA_WEIGHT = 1.0  # chroma sensitivity relative to luminance at low frequency, for pixel-unit changes
CHROMA_HALF_POWER_CPD = 3.0  # chroma sensitivity falls off above this (why 4:2:0 JPEG goes unseen)
MASK_CONTRAST = 0.03  # local luma std at which texture halves the visibility of a change
MASK_WINDOW_DEG = 0.25  # size of the masking neighbourhood, in degrees of visual angle


def luminance_csf(cpd: torch.Tensor) -> torch.Tensor:
    """Band-pass sensitivity, 1.0 at the 4 cycles/degree peak (Movshon & Kiorpes form a·f^0.8·e^(-0.2f))."""
    f = cpd.clamp_min(1e-3)
    return (f / 4.0).pow(0.8) * torch.exp(-0.2 * (f - 4.0))


def chroma_csf(cpd: torch.Tensor) -> torch.Tensor:
    """Low-pass sensitivity of the colour-opponent channels.

    Equal to luminance's peak at low frequency: a first version weighted chroma at half, and a
    generator trained against it moved its energy into thin magenta/green lines that were plainly
    visible at 100 % — the measure has to count what the eye counts.
    """
    return CHROMA_WEIGHT / (1.0 + (cpd / CHROMA_HALF_POWER_CPD).pow(2))


def _ycbcr(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.cat([y, 0.564 * (b - y), 0.713 * (r - y)], dim=1)


def local_contrast(image: torch.Tensor, window: int) -> torch.Tensor:
    """Local luma standard deviation in a ``window`` square. (B,3,H,W) -> (B,1,H,W)."""
    luma = _ycbcr(image)[:, :1]
    window = max(3, window | 1)
    pad = window // 2
    padded = F.pad(luma, (pad, pad, pad, pad), mode="replicate")
    mean = F.avg_pool2d(padded, window, stride=1)
    var = (F.avg_pool2d(padded * padded, window, stride=1) - mean * mean).clamp_min(0)
    return (var + 1e-10).sqrt()


def visible_change(delta: torch.Tensor, image: torch.Tensor, upsample: float = 1.0,
                   pixels_per_degree: float = PIXELS_PER_DEGREE) -> torch.Tensor:
    """The change as the eye weighs it: CSF-filtered YCbCr channels, divided by texture masking.

    ``upsample`` says how many viewed pixels one pixel of ``delta`` becomes (a change made at the
    1024 px working scale and written into a 4000 px photo viewed at 100 %: ``upsample=4``).

    Shape:
        delta, image: (B, 3, H, W), image in [0, 1] -> (B, 3, H, W)
    """
    h, w = delta.shape[-2:]
    fy = torch.fft.fftfreq(h, device=delta.device).abs()[:, None]
    fx = torch.fft.rfftfreq(w, device=delta.device)[None, :]
    cpd = (fy.pow(2) + fx.pow(2)).sqrt() * pixels_per_degree / upsample
    weights = torch.stack([luminance_csf(cpd), chroma_csf(cpd), chroma_csf(cpd)])  # (3, h, w//2+1)
    spectrum = torch.fft.rfft2(_ycbcr(delta), norm="ortho")
    filtered = torch.fft.irfft2(spectrum * weights, s=(h, w), norm="ortho")
    window = round(MASK_WINDOW_DEG * pixels_per_degree / upsample)
    masking = 1.0 + local_contrast(image, window) / MASK_CONTRAST
    return filtered / masking


def visible_energy(delta: torch.Tensor, image: torch.Tensor, upsample: float = 1.0) -> torch.Tensor:
    """Mean squared visible change per image. Shape: (B,)."""
    return visible_change(delta, image, upsample).pow(2).flatten(1).mean(1)


def visibility_ratio(delta: torch.Tensor, image: torch.Tensor, eps: float | torch.Tensor,
                     upsample: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """L2 visible change of ``delta`` over that of random sign noise at the same L∞ (lower = less seen).

    The noise is clipped to the valid range like a written photo would be. Shape: (B,).
    """
    eps_t = torch.as_tensor(eps, dtype=image.dtype, device=image.device).reshape(-1, 1, 1, 1)
    signs = torch.randint(0, 2, image.shape, generator=generator, device="cpu").to(image) * 2 - 1
    noise = (image + eps_t * signs).clamp(0, 1) - image
    return (visible_energy(delta, image, upsample)
            / visible_energy(noise, image, upsample).clamp_min(1e-20)).sqrt()


def stripe_coherence(delta: torch.Tensor, window: int = 15) -> torch.Tensor:
    """How stripe-like a change is, in [0, 1]: 1 = parallel lines, ~0.1 = noise. Shape: (B,).

    The energy-weighted mean coherence ``((Jxx - Jyy)^2 + 4 Jxy^2) / (Jxx + Jyy)^2`` of the colour
    structure tensor (summed over the YCbCr channels) in ``window``-sized neighbourhoods.
    """
    c = _ycbcr(delta)
    gx = (c[..., 1:-1, 2:] - c[..., 1:-1, :-2]) / 2  # central differences: for noise, gx and gy
    gy = (c[..., 2:, 1:-1] - c[..., :-2, 1:-1]) / 2  # are uncorrelated (forward ones share a pixel)
    jxx, jyy, jxy = (gx * gx).sum(1, keepdim=True), (gy * gy).sum(1, keepdim=True), (gx * gy).sum(1, keepdim=True)
    smooth = [F.avg_pool2d(j, window, stride=max(1, window // 2)) for j in (jxx, jyy, jxy)]
    sxx, syy, sxy = smooth
    trace = sxx + syy
    coherence = ((sxx - syy).pow(2) + 4 * sxy.pow(2)) / trace.pow(2).clamp_min(1e-20)
    return (coherence * trace).flatten(1).sum(1) / trace.flatten(1).sum(1).clamp_min(1e-20)


def spectral_peakiness(delta: torch.Tensor, top: float = 0.01) -> torch.Tensor:
    """Share of a change's energy in its strongest ``top`` fraction of spatial frequencies. Shape: (B,).

    A periodic pattern (the diagonal bands a trained generator tends to draw) puts most of its
    energy into a few frequencies; noise spreads it (``top=0.01`` gives noise ~0.05). Long straight
    lines that local measures miss — a cross-hatch is locally isotropic — show up here.
    """
    power = torch.fft.rfft2(_ycbcr(delta), norm="ortho").abs().pow(2).sum(1).flatten(1)
    power = power[:, 1:]  # without the mean (DC)
    k = max(1, round(top * power.shape[1]))
    return power.topk(k, dim=1).values.sum(1) / power.sum(1).clamp_min(1e-20)
