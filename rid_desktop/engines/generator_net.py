"""Our compact perturbation generators (the embedded defaults), fully convolutional, CPU-fast.

Both run their trunk at 1/8 resolution (pixel-unshuffle by 8, the stride of the VAE encoders they
attack), so a 512x512 photo costs 3.8 GFLOP at width 64 (15 GFLOP at width 128, the shipped pixel
generator) — a few hundredths of a second on two CPU cores — yet pixel-shuffle gives every output
pixel its own value. The output layer's bias is, in effect, a learned universal 8x8 pattern; the
trunk adapts it to each image.

* :class:`PixelGenerator` — RGB in, RGB perturbation out: ``delta = eps * tanh(raw) [* mask]``,
  then scaled down per image so that ``rms(delta) <= rms_cap * eps`` (PSNR >= 35 dB at 8/255 by
  construction). An optional texture mask (local luma contrast) puts less budget on flat regions;
  it is off in the shipped generator because, measured on TAEF2 with a universal 8x8 pattern at
  the same rms cap, it cost a fifth of the protection (1.57x vs 1.96x random noise) while the rms
  cap already bounds visibility. The budget ``eps`` is an input channel, so one network serves
  every preset.
  An optional learned universal pattern with a period longer than 8 px (``pattern``) is added
  before the tanh (the output bias alone can only repeat every 8 px). Measured on the shipped
  network it adds little (3.20x vs 3.18x noise without it): the image-adaptive trunk does the work.
  An optional half-resolution detail head (``detail_width``) corrects the trunk's change at
  pixel scale. Grown into the shipped network and trained for 227 CPU-minutes it gave 1.49x
  as written at a visibility of 1.08 (the same recipe without it: 1.44x at 1.17), but no more
  strength per unit of visibility than the shipped file (docs/eval/as-written.md); off there.
* :class:`ChromaGenerator` — Haar sub-band mosaic of Y/Cb/Cr in, Cb/Cr sub-band perturbation out,
  bounded in the wavelet domain; luma is never touched.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rid_desktop.errors import ModelError

EPS_SCALE = 16 / 255  # the eps input channel carries eps / EPS_SCALE (about 0..2)


@dataclass
class GeneratorConfig:
    """Hyper-parameters stored next to the weights (safetensors metadata) so a file rebuilds itself."""

    kind: str = "pixel"  # "pixel" | "chroma"
    width: int = 64
    depth: int = 6
    scale: int = 8  # pixel-unshuffle factor: the trunk runs at 1/scale resolution (chroma: of the sub-bands x2)
    mask_floor: float = 1.0  # share of the budget allowed on perfectly flat regions (1.0 = no texture mask)
    mask_contrast: float = 0.04  # local luma std at which the full budget is allowed
    rms_cap: float = 0.56  # pixel: rms(delta) <= rms_cap * eps per image (PSNR >= 35 dB at 8/255); 0 = off
    pattern: int = 0  # pixel: period (px) of a learned universal pattern added before tanh; 0 = none
    key_channels: int = 0  # pixel: channels of per-pixel key noise the net turns into its change; 0 = unkeyed
    work_size: int = 0  # long side (px) at which the engine runs the net and upsamples its change; 0 = native
    detail_width: int = 0  # pixel: width of a half-resolution head that refines the trunk's change; 0 = none
    camera_rms_cap: float = 0.0  # pixel: rms cap once the change is upsampled 4x into a 12 MP photo; 0 = rms_cap

    def to_metadata(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> "GeneratorConfig":
        """Rebuild a config from a weights file's metadata, every field checked against CONFIG_RULES.

        Keys that are not config fields (training notes, future fields of a newer app) are ignored;
        missing fields take their defaults.

        Raises:
            ModelError: a field with the wrong type or outside its bounds, with one line naming it.
        """
        return cls(**validated_config_fields(meta))


@dataclass(frozen=True)
class FieldRule:
    """What one config value may be: a number type with inclusive bounds, or one of a set of words."""

    kind: type
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def parse(self, name: str, raw) -> object:
        text = str(raw).strip()
        if self.choices:
            if text not in self.choices:
                raise ModelError(f"invalid generator config: {name}={_shown(text)} (must be one of {', '.join(self.choices)})")
            return text
        try:
            value = int(text) if self.kind is int else float(text)
        except ValueError:
            what = "a whole number" if self.kind is int else "a number"
            raise ModelError(f"invalid generator config: {name}={_shown(text)} (must be {what})") from None
        if not math.isfinite(value) or not (self.low <= value <= self.high):
            raise ModelError(
                f"invalid generator config: {name}={_shown(text)} (must be between {self.low:g} and {self.high:g})"
            )
        return value


# One rule per GeneratorConfig field; a test checks that every field has one. Bounds are generous for
# real networks and keep a hostile file from allocating absurd tensors (width=1e7 asked for 7.9 GB).
CONFIG_RULES: dict[str, FieldRule] = {
    "kind": FieldRule(str, choices=("pixel", "chroma")),
    "width": FieldRule(int, 1, 1024),
    "depth": FieldRule(int, 1, 8),  # _Body has 8 dilations
    "scale": FieldRule(int, 1, 32),
    "mask_floor": FieldRule(float, 0.0, 1.0),
    "mask_contrast": FieldRule(float, 1e-6, 1.0),
    "rms_cap": FieldRule(float, 0.0, 1.0),
    "pattern": FieldRule(int, 0, 1024),
    "key_channels": FieldRule(int, 0, 16),
    "work_size": FieldRule(int, 0, 16384),
    "detail_width": FieldRule(int, 0, 256),
    "camera_rms_cap": FieldRule(float, 0.0, 1.0),
}


def validated_config_fields(meta: dict) -> dict:
    """The known config fields of ``meta``, parsed and checked (see CONFIG_RULES); unknown keys ignored."""
    fields: dict = {}
    for name, rule in CONFIG_RULES.items():
        if name in meta:
            fields[name] = rule.parse(name, meta[name])
    return fields


def _shown(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def bounded(raw: torch.Tensor, training: bool) -> torch.Tensor:
    """tanh bound; while training, a straight-through gradient keeps learning alive at saturation.

    With a plain tanh, a generator that saturates early (every output at +-1) gets no gradient and
    freezes on one sign pattern — what the first probe and our first runs collapsed to. Training
    adds ``raw - raw.detach()`` (zero in value, gradient 1) so signs can still flip; the forward value,
    and inference, are the plain tanh. :func:`raw_excess` keeps ``raw`` from drifting far out.
    """
    out = torch.tanh(raw)
    if training:
        out = out + (raw - raw.detach())
    return out


def raw_excess(raw: torch.Tensor, limit: float = 2.5) -> torch.Tensor:
    """Penalty on pre-tanh values beyond +-limit (training only): keeps the straight-through honest."""
    return torch.relu(raw.abs() - limit).pow(2).mean()


def cap_rms(delta: torch.Tensor, eps: torch.Tensor, cap: float) -> torch.Tensor:
    """Scale each image's perturbation down so that rms(delta) <= cap * eps (never up).

    A hard visibility guarantee: PSNR >= -20 log10(cap * eps). Scaling down keeps the L-inf bound.
    """
    if cap <= 0:
        return delta
    rms = delta.pow(2).flatten(1).mean(1).sqrt().reshape(-1, 1, 1, 1)
    scale = (cap * eps / rms.clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


class _ResBlock(nn.Module):
    def __init__(self, width: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class _Body(nn.Module):
    """Low-resolution residual trunk with growing dilation (large receptive field, few FLOPs).

    Head and tail are 1x1: on pixel-unshuffled input they are per-block linear transforms (like a
    learned DCT), so the 3x3 context lives only in the cheap narrow trunk.
    """

    def __init__(self, in_ch: int, out_ch: int, width: int, depth: int):
        super().__init__()
        self.head = nn.Conv2d(in_ch, width, 1)
        dilations = [1, 2, 4, 1, 2, 4, 1, 2][:depth]
        self.blocks = nn.Sequential(*[_ResBlock(width, d) for d in dilations])
        self.tail = nn.Conv2d(width, out_ch, 1)
        nn.init.normal_(self.tail.weight, std=1e-2)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(F.leaky_relu(self.blocks(self.head(x)), 0.1))


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if h > ph and w > pw else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def texture_mask(image: torch.Tensor, floor: float, contrast: float, window: int = 7) -> torch.Tensor:
    """Per-pixel share of the budget in [floor, 1]: more where local luma contrast hides change.

    Shape:
        image: (B, 3, H, W) in [0, 1] -> (B, 1, H, W)
    """
    luma = (0.299 * image[:, 0:1] + 0.587 * image[:, 1:2] + 0.114 * image[:, 2:3])
    pad = window // 2
    padded = F.pad(luma, (pad, pad, pad, pad), mode="replicate")
    mean = F.avg_pool2d(padded, window, stride=1)
    var = (F.avg_pool2d(padded * padded, window, stride=1) - mean * mean).clamp_min(0)
    std = (var + 1e-8).sqrt()
    return (floor + (1 - floor) * (std / contrast)).clamp(max=1.0)


class _DetailHead(nn.Module):
    """A small half-resolution net that adjusts the trunk's pre-tanh change to fine image detail.

    Why: the trunk works on 8x8 blocks, so each block's pattern is one of ``width`` learned shapes
    mixed by coarse features; per-photo optimisation puts its change on edges at pixel precision.
    This head sees the photo, the trunk's change and the key at 1/2 resolution (a 2x2 unshuffle)
    and adds a correction. Its output layer starts at zero, so growing a trained generator by this
    head keeps what it does until training moves it.
    """

    def __init__(self, key_channels: int, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(4 * (3 + 3 + key_channels), width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        self.out = nn.Conv2d(width, 12, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, image: torch.Tensor, raw: torch.Tensor, key: torch.Tensor | None) -> torch.Tensor:
        parts = [image, raw] + ([key] if key is not None else [])
        x, (h, w) = _pad_to_multiple(torch.cat(parts, 1), 2)
        y = F.leaky_relu(self.conv1(F.pixel_unshuffle(x, 2)), 0.1)
        y = F.leaky_relu(self.conv2(y), 0.1)
        return raw + F.pixel_shuffle(self.out(y), 2)[..., :h, :w]


class PixelGenerator(nn.Module):
    """x (B,3,H,W) in [0,1], eps -> perturbation (B,3,H,W) with |delta| <= eps everywhere."""

    def __init__(self, config: GeneratorConfig | None = None):
        super().__init__()
        self.config = config or GeneratorConfig(kind="pixel")
        s2 = self.config.scale**2
        self.body = _Body(3 * s2 + 1 + self.config.key_channels * s2, 3 * s2, self.config.width, self.config.depth)
        period = self.config.pattern
        self.universal = nn.Parameter(torch.zeros(1, 3, period, period)) if period > 0 else None
        width = self.config.detail_width
        self.detail = _DetailHead(self.config.key_channels, width) if width > 0 else None

    def universal_pattern(self, h: int, w: int) -> torch.Tensor | float:
        """The learned universal pattern tiled over an h x w image (0 when the config has none)."""
        if self.universal is None:
            return 0.0
        period = self.config.pattern
        reps = (-(-h // period), -(-w // period))
        return self.universal.repeat(1, 1, *reps)[..., :h, :w]

    def forward(self, x: torch.Tensor, eps: float | torch.Tensor, key: torch.Tensor | None = None) -> torch.Tensor:
        """Perturbation of ``x``; ``key`` (B, key_channels, H, W) standard-normal noise picks one of many.

        A keyed net without a key draws one from torch's global generator (callers that must be
        reproducible pass :func:`make_key`).
        """
        scale = self.config.scale
        signed = x * 2 - 1
        padded, (h, w) = _pad_to_multiple(signed, scale)
        feats = F.pixel_unshuffle(padded, scale)
        eps_t = torch.as_tensor(eps, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
        eps_map = (eps_t / EPS_SCALE).expand(feats.shape[0], 1, *feats.shape[-2:])
        parts = [feats, eps_map]  # key channels come last, so an unkeyed net grows into a keyed one
        if self.config.key_channels:
            if key is None:
                key = torch.randn(x.shape[0], self.config.key_channels, h, w, device=x.device, dtype=x.dtype)
            parts.append(F.pixel_unshuffle(_pad_to_multiple(key.to(x.dtype), scale)[0], scale))
        raw = F.pixel_shuffle(self.body(torch.cat(parts, 1)), scale)[..., :h, :w]
        raw = raw + self.universal_pattern(h, w)
        if self.detail is not None:
            raw = self.detail(signed, raw, key.to(x.dtype) if self.config.key_channels else None)
        mask = texture_mask(x, self.config.mask_floor, self.config.mask_contrast) if self.config.mask_floor < 1 else 1.0
        self.raw_penalty = raw_excess(raw) if self.training else None
        delta = eps_t * bounded(raw, self.training) * mask
        return cap_rms(delta, eps_t, self.config.rms_cap)


class ChromaGenerator(nn.Module):
    """Haar sub-bands of Y/Cb/Cr (B,3,4,h,w) + eps -> Cb/Cr sub-band perturbation (B,2,4,h,w) in [-1,1].

    The caller scales the unit output by the wavelet-domain bound and inverts the DWT
    (see :mod:`rid_desktop.engines.dwt_chroma`).
    """

    def __init__(self, config: GeneratorConfig | None = None):
        super().__init__()
        self.config = config or GeneratorConfig(kind="chroma")
        s2 = self.band_scale**2
        self.body = _Body(12 * s2 + 1, 8 * s2, self.config.width, self.config.depth)

    @property
    def band_scale(self) -> int:
        """Unshuffle factor on the half-resolution sub-band grid (scale 8 in pixels -> 4 here)."""
        return max(1, self.config.scale // 2)

    def forward(self, bands: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
        b, c, k, h, w = bands.shape
        scale = self.band_scale
        mosaic, _ = _pad_to_multiple(bands.reshape(b, c * k, h, w), scale)
        feats = F.pixel_unshuffle(mosaic, scale)
        eps_t = torch.as_tensor(eps, dtype=bands.dtype, device=bands.device).reshape(-1, 1, 1, 1)
        eps_map = (eps_t / EPS_SCALE).expand(b, 1, *feats.shape[-2:])
        raw = F.pixel_shuffle(self.body(torch.cat([feats, eps_map], 1)), scale)[..., :h, :w]
        self.raw_penalty = raw_excess(raw) if self.training else None
        return bounded(raw, self.training).reshape(b, 2, 4, h, w)


def make_key(shape: tuple[int, ...], seed: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """Standard-normal key noise from ``seed`` (drawn on the CPU so every device gets the same key)."""
    gen = torch.Generator().manual_seed(int(seed) & 0x7FFF_FFFF_FFFF_FFFF)
    return torch.randn(shape, generator=gen).to(device)


def build_generator(config: GeneratorConfig) -> nn.Module:
    if config.kind == "pixel":
        return PixelGenerator(config)
    if config.kind == "chroma":
        return ChromaGenerator(config)
    raise ValueError(f"unknown generator kind {config.kind!r}")


def run_generator(net: nn.Module, image: torch.Tensor, eps: float | torch.Tensor) -> torch.Tensor:
    """Protected image from one of our generators (differentiable; used by engines and training).

    Shape:
        image: (B, 3, H, W) in [0, 1] -> (B, 3, H, W) in [0, 1], |change| <= eps.
    """
    from rid_desktop.engines.chroma_ops import apply_chroma_bands, image_subbands

    if isinstance(net, ChromaGenerator):
        return apply_chroma_bands(image, net(image_subbands(image), eps), eps)
    return (image + net(image, eps)).clamp(0, 1)
