"""DiffPure: drown the perturbation in Gaussian noise, then let a diffusion model denoise it away.

An attacker's strongest generic clean-up (Nie et al., "Diffusion Models for Adversarial
Purification"): diffuse the image to a small timestep t* (``x_t = sqrt(abar) x + sqrt(1-abar) n``),
then run the reverse process back to t = 0. The model only knows natural images, so what it restores
is the photo without most of the adversarial pattern.

No weights ship with the app. Once a registry DiffPure model is installed (``rid-desktop models install
ddpm-celebahq-256``, or the GUI's "Install…") it is used by default; otherwise a person points us at a
*diffusers* model folder (``--diffpure-model`` or the ``RID_DESKTOP_DIFFPURE_MODEL`` environment
variable), either
- an unconditional ``UNet2DModel`` + scheduler (a ``DDPMPipeline``/``DDIMPipeline`` folder with
  ``unet/`` and ``scheduler/``, or a bare UNet folder with ``config.json`` and optionally
  ``scheduler_config.json``): denoised with deterministic DDIM steps, image tiled at the UNet's
  ``sample_size`` (replicate-padded), so photos of any size stay at native resolution; or
- a Stable Diffusion folder (``model_index.json`` with a ``vae``): img2img with an empty prompt at a
  low strength, as RID's own robustness test does (needs the ``transformers`` package).

Weights are read with safetensors only (``use_safetensors=True``); nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rid_desktop.errors import ModelError

DIFFPURE_MODEL_ENV = "RID_DESKTOP_DIFFPURE_MODEL"
NOT_CONFIGURED = "model not configured"
DEFAULT_T_STAR = 0.1
"""Fraction of the training timesteps to diffuse to (DiffPure uses 0.1 on ImageNet; SD strength)."""
DEFAULT_STEPS = 10
"""Reverse (denoising) steps between t* and 0."""
TILE_BATCH = 8


def configured_model_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The DiffPure model folder: the explicit argument (a folder or a registry name), else the
    environment variable, else an installed registry DiffPure model (``rid-desktop models install``),
    else None."""
    value = explicit if explicit not in (None, "") else os.environ.get(DIFFPURE_MODEL_ENV) or None
    if value is not None:
        from rid_desktop.models.registry import MODELS

        if str(value) in MODELS:
            from rid_desktop.models.diffusers_models import resolve_model_folder

            return resolve_model_folder(str(value), "diffpure")
        return Path(value).expanduser()
    return installed_diffpure_model()


def installed_diffpure_model() -> Path | None:
    """The first registry DiffPure model that is installed (never downloads), or None."""
    from rid_desktop.models.registry import locate, models_for_role

    for spec in models_for_role("diffpure"):
        try:
            return locate(spec.name)
        except ModelError:
            continue
    return None


@dataclass(frozen=True)
class DiffusionModelInfo:
    """What was found in a model folder: ``kind`` is "unconditional" or "img2img"."""

    folder: Path
    kind: str


def inspect_model_dir(folder: str | os.PathLike) -> DiffusionModelInfo:
    """Decide how to use a diffusers folder, without loading weights.

    Raises:
        ModelError: the folder is missing or is not a supported diffusers layout.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ModelError(f"DiffPure model folder not found: {folder}")
    index, config = folder / "model_index.json", folder / "config.json"
    if index.is_file():
        components = _read_json(index)
        if "vae" in components and "unet" in components:
            kind = "img2img"
        elif "unet" in components and "scheduler" in components:
            kind = "unconditional"
        else:
            raise ModelError(
                f"{folder.name}: model_index.json has neither a UNet+scheduler nor a Stable Diffusion layout"
            )
    elif config.is_file() and _read_json(config).get("_class_name") == "UNet2DModel":
        kind = "unconditional"
    else:
        raise ModelError(
            f"{folder.name} is not a diffusers model folder "
            "(expected model_index.json, or config.json of a UNet2DModel)"
        )
    if not any(folder.rglob("*.safetensors")):
        raise ModelError(
            f"{folder.name} has no .safetensors weights; only safetensors model folders are accepted "
            "(re-save it with save_pretrained(..., safe_serialization=True))"
        )
    return DiffusionModelInfo(folder, kind)


class DiffusionPurifier:
    """A loaded DiffPure model; call :meth:`purify`. Build with :func:`load_diffusion_purifier` (cached)."""

    def __init__(self, folder: str | os.PathLike, device: torch.device | str = "cpu"):
        self.info = inspect_model_dir(folder)
        self.device = torch.device(device)
        try:
            if self.info.kind == "unconditional":
                self._load_unconditional()
            else:
                self._load_img2img()
        except ModelError:
            raise
        except ImportError as exc:
            raise ModelError(
                f"{self.info.folder.name} needs {_missing_package(exc)} "
                "(Stable Diffusion folders need 'transformers': pip install transformers)"
            ) from exc
        except Exception as exc:  # noqa: BLE001 - any loading failure is "this folder is not usable"
            raise ModelError(f"cannot load DiffPure model {self.info.folder.name}: {_short(exc)}") from exc

    # -- loading -------------------------------------------------------------------------------

    def _load_unconditional(self) -> None:
        from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel

        folder = self.info.folder
        if (folder / "model_index.json").is_file():
            unet = UNet2DModel.from_pretrained(folder, subfolder="unet", use_safetensors=True)
            scheduler_config = DDPMScheduler.load_config(folder, subfolder="scheduler")
        else:
            unet = UNet2DModel.from_pretrained(folder, use_safetensors=True)
            has_scheduler = (folder / "scheduler_config.json").is_file()
            scheduler_config = DDPMScheduler.load_config(folder) if has_scheduler else DDPMScheduler().config
        self.unet = unet.to(self.device).eval().requires_grad_(False)
        # Deterministic DDIM reverse steps work with any DDPM-trained epsilon/v/sample model.
        self.scheduler = DDIMScheduler.from_config(scheduler_config)
        size = self.unet.config.sample_size
        self.tile = (size, size) if isinstance(size, int) else tuple(size)

    def _load_img2img(self) -> None:
        from diffusers import StableDiffusionImg2ImgPipeline

        pipe = StableDiffusionImg2ImgPipeline.from_pretrained(
            self.info.folder, use_safetensors=True, safety_checker=None, requires_safety_checker=False
        )
        pipe.set_progress_bar_config(disable=True)
        self.pipeline = pipe.to(self.device)

    # -- purification ----------------------------------------------------------------------------

    @torch.no_grad()
    def purify(
        self,
        image: torch.Tensor,
        *,
        t_star: float | None = DEFAULT_T_STAR,
        noise_sigma: float | None = None,
        steps: int | None = None,
        seed: int = 0,
    ) -> torch.Tensor:
        """Diffuse to t* and denoise back.

        Args:
            image: (B, 3, H, W) in [0, 1].
            t_star: diffusion depth as a fraction of the training timesteps (img2img: the strength).
            noise_sigma: alternative to ``t_star``: Gaussian noise std in [0, 1] pixel units; the
                timestep whose noise-to-signal ratio matches it is used (IWMF-Diff's sigma_y).
            steps: reverse steps from t* to 0 (default :data:`DEFAULT_STEPS`).
            seed: fixes the added noise, so an original and its protected copy get the same noise.

        Returns:
            (B, 3, H, W) in [0, 1] on the input's device.
        """
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected (B, 3, H, W), got {tuple(image.shape)}")
        steps = DEFAULT_STEPS if steps is None else steps
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if self.info.kind == "img2img":
            strength = t_star if noise_sigma is None else self._strength_for_sigma(noise_sigma)
            return self._purify_img2img(image, strength, steps, seed)
        return self._purify_unconditional(image, t_star, noise_sigma, steps, seed)

    def start_timestep(self, t_star: float | None, noise_sigma: float | None) -> int:
        """The training timestep to diffuse to, from a depth fraction or a pixel-unit noise std."""
        alphas = self.scheduler.alphas_cumprod
        total = len(alphas)
        if noise_sigma is not None:
            # x_t / sqrt(abar) = x + sqrt((1 - abar) / abar) n, with x in [-1, 1]: sigma doubles.
            ratio = ((1 - alphas) / alphas).sqrt()
            return int((ratio - 2 * noise_sigma).abs().argmin())
        if t_star is None or not 0 < t_star <= 1:
            raise ValueError(f"t_star must be in (0, 1], got {t_star}")
        return min(total - 1, max(1, round(t_star * total)))

    def _strength_for_sigma(self, noise_sigma: float) -> float:
        alphas = self.pipeline.scheduler.alphas_cumprod
        ratio = ((1 - alphas) / alphas).sqrt()
        return float((int((ratio - 2 * noise_sigma).abs().argmin()) + 1) / len(alphas))

    def _purify_unconditional(self, image, t_star, noise_sigma, steps, seed) -> torch.Tensor:
        start = self.start_timestep(t_star, noise_sigma)
        # A fresh scheduler per call: set_timesteps mutates it, and the GUI may call from threads.
        scheduler = type(self.scheduler).from_config(self.scheduler.config)
        total = scheduler.config.num_train_timesteps
        scheduler.set_timesteps(min(total, max(steps, math.ceil(steps * total / max(start, 1)))))
        timesteps = [int(t) for t in scheduler.timesteps if int(t) <= start] or [start]
        tiles, layout = _to_tiles(image.to(self.device, torch.float32), self.tile)
        generator = torch.Generator().manual_seed(seed)
        noise = torch.randn(tiles.shape, generator=generator).to(self.device)
        clean = tiles * 2 - 1
        out = torch.empty_like(clean)
        for i in range(0, clean.shape[0], TILE_BATCH):
            x0, n = clean[i : i + TILE_BATCH], noise[i : i + TILE_BATCH]
            sample = scheduler.add_noise(x0, n, torch.tensor([timesteps[0]]))
            for t in timesteps:
                model_output = self.unet(sample, t).sample
                sample = scheduler.step(model_output, t, sample, eta=0.0).prev_sample
            out[i : i + TILE_BATCH] = sample
        purified = _from_tiles((out + 1) / 2, layout)
        return purified.clamp(0, 1).to(image.device, image.dtype)

    def _purify_img2img(self, image, strength, steps, seed) -> torch.Tensor:
        if not 0 < strength <= 1:
            raise ValueError(f"img2img strength must be in (0, 1], got {strength}")
        height, width = image.shape[-2:]
        padded = _pad_to_multiple(image.to(self.device, torch.float32), (8, 8))
        generator = torch.Generator(device="cpu").manual_seed(seed)
        result = self.pipeline(
            prompt=[""] * image.shape[0],
            image=padded,
            strength=strength,
            num_inference_steps=max(1, math.ceil(steps / strength)),
            guidance_scale=1.0,
            generator=generator,
            output_type="pt",
        ).images
        return result[..., :height, :width].clamp(0, 1).to(image.device, image.dtype)


@functools.lru_cache(maxsize=2)
def _cached(folder: str, device: str) -> DiffusionPurifier:
    return DiffusionPurifier(folder, device)


def load_diffusion_purifier(folder: str | os.PathLike, device: torch.device | str = "cpu") -> DiffusionPurifier:
    """Load (once per folder and device) the DiffPure model in ``folder``; ModelError if unusable."""
    return _cached(str(Path(folder).expanduser().resolve()), str(torch.device(device)))


def _pad_to_multiple(image: torch.Tensor, multiple: tuple[int, int]) -> torch.Tensor:
    height, width = image.shape[-2:]
    pad_h = -height % multiple[0]
    pad_w = -width % multiple[1]
    if pad_h or pad_w:
        image = F.pad(image, (0, pad_w, 0, pad_h), mode="replicate")
    return image


def _to_tiles(image: torch.Tensor, tile: tuple[int, int]) -> tuple[torch.Tensor, tuple]:
    """(B,C,H,W) -> (B*nh*nw, C, th, tw) tiles of the replicate-padded image, plus what undoes it."""
    batch, channels, height, width = image.shape
    padded = _pad_to_multiple(image, tile)
    th, tw = tile
    nh, nw = padded.shape[-2] // th, padded.shape[-1] // tw
    tiles = padded.view(batch, channels, nh, th, nw, tw).permute(0, 2, 4, 1, 3, 5).reshape(-1, channels, th, tw)
    return tiles, (batch, channels, height, width, nh, nw)


def _from_tiles(tiles: torch.Tensor, layout: tuple) -> torch.Tensor:
    batch, channels, height, width, nh, nw = layout
    th, tw = tiles.shape[-2:]
    full = tiles.view(batch, nh, nw, channels, th, tw).permute(0, 3, 1, 4, 2, 5)
    full = full.reshape(batch, channels, nh * th, nw * tw)
    return full[..., :height, :width]


def _missing_package(exc: ImportError) -> str:
    """"the 'x' package" from an ImportError, including diffusers' multi-line "requires the x library"."""
    name = getattr(exc, "name", None)
    if not name:
        found = re.search(r"requires the (\S+) library", str(exc))
        name = found.group(1) if found else None
    return f"the '{name}' package" if name else f"a package that is not installed ({_short(exc)})"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {path.name}: {_short(exc)}") from exc


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
