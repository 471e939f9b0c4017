"""Full-size diffusers autoencoders as scorers and attack targets: the encoders attackers actually use.

The checks and the iterative engine talk to "an encoder" (images in [0, 1] -> latent) and "a decoder"
(latent -> image in [0, 1]), like the TAEF2 surrogate. :func:`load_vae_pair` wraps a diffusers
``AutoencoderKL`` (Stable Diffusion, FLUX) that way: the encoder returns the *mean* of the latent
distribution (deterministic), shifted and scaled as the diffusion model sees it
(``(mean - shift_factor) * scaling_factor``), so scores are in that model's own latent units.

Weights are read from safetensors only (``use_safetensors=True``); a model is given by registry name
(installed with ``rid-desktop models install``) or by a diffusers folder. Nothing is downloaded here.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch import nn

from rid_desktop.errors import ModelError


def build_from_config(config: dict) -> nn.Module:
    """An uninitialised-weights diffusers model of the class named in ``config["_class_name"]``."""
    import diffusers

    name = config.get("_class_name")
    if name not in ("AutoencoderKL", "UNet2DModel"):
        raise ModelError(f"unsupported model class {name!r} in the registry config")
    kwargs = {k: v for k, v in config.items() if not k.startswith("_")}
    return getattr(diffusers, name)(**kwargs)


class VAEEncoder(nn.Module):
    """Image (B, 3, H, W) in [0, 1] -> scaled latent mean (B, C, H/8, W/8). Differentiable (PGD target)."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae
        self.scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
        self.shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        mean = self.vae.encode(image * 2 - 1).latent_dist.mean
        return (mean - self.shift) * self.scale


class VAEDecoder(nn.Module):
    """Scaled latent from :class:`VAEEncoder` -> image (B, 3, H, W) in [0, 1] (for the "AI view")."""

    def __init__(self, vae: nn.Module):
        super().__init__()
        self.vae = vae
        self.scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
        self.shift = float(getattr(vae.config, "shift_factor", 0.0) or 0.0)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        image = self.vae.decode(latent / self.scale + self.shift).sample
        return ((image + 1) / 2).clamp(0, 1)


def resolve_model_folder(model: str | os.PathLike, role: str) -> Path:
    """A registry name (must be installed, of ``role``) or an existing diffusers folder -> folder."""
    from rid_desktop.models.registry import MODELS, get_spec, locate

    text = str(model)
    if text in MODELS:
        spec = get_spec(text)
        if spec.role != role:
            choices = ", ".join(sorted(n for n, s in MODELS.items() if s.role == role))
            raise ModelError(f"{text} is not a {_role_words(role)}; choose one of: {choices}")
        return locate(text)
    folder = Path(model).expanduser()
    if (folder / "config.json").is_file():
        return folder
    choices = ", ".join(sorted(n for n, s in MODELS.items() if s.role == role))
    raise ModelError(f"{text} is neither a known model ({choices}) nor a diffusers model folder")


def load_vae_pair(model: str | os.PathLike, device: torch.device | str = "cpu") -> tuple[VAEEncoder, VAEDecoder]:
    """(encoder, decoder) of a full-size VAE, frozen, in eval mode, on ``device`` (cached per folder)."""
    folder = resolve_model_folder(model, "scoring-vae")
    return _load_pair(str(folder.resolve()), str(torch.device(device)))


@functools.lru_cache(maxsize=2)
def _load_pair(folder: str, device: str) -> tuple[VAEEncoder, VAEDecoder]:
    try:
        from diffusers import AutoencoderKL

        vae = AutoencoderKL.from_pretrained(folder, use_safetensors=True)
    except Exception as exc:  # noqa: BLE001 - any loading failure means "this folder is not usable"
        text = " ".join(str(exc).split())
        raise ModelError(f"cannot load the VAE in {Path(folder).name}: {text[:200]}") from exc
    vae = vae.to(device).eval().requires_grad_(False)
    return VAEEncoder(vae), VAEDecoder(vae)


def _role_words(role: str) -> str:
    return {"scoring-vae": "full-size VAE for scoring", "diffpure": "DiffPure diffusion model"}.get(role, role)
