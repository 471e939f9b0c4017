"""Every model the app knows: where it comes from, its checksum, its license, what it is for.

Look-up order for a model file (first hit wins):
1. an explicit path given by the caller;
2. the folder named by ``RID_DESKTOP_MODELS_DIR`` (tests and CI point it at ``../shared/models``);
3. ``checkpoints/`` inside the install (our own trained weights ship there);
4. the per-user data folder (:func:`rid_desktop.paths.user_data_dir` / "models"), where
   ``rid-desktop models install`` downloads third-party weights after verifying their SHA-256.

Our bundled generators have no checksum in this file (they are retrained more often than the code
changes); theirs are in ``checkpoints/SHA256SUMS`` (``sha256sum`` format), so a damaged or tampered
bundled file — e.g. NaN weights that would turn every photo black — is refused on load and reported
by ``rid-desktop models verify``. After retraining, regenerate it with
``python -m rid_desktop.models.registry --write-bundled-checksums``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rid_desktop import paths
from rid_desktop.errors import ModelError
from rid_desktop.hashing import sha256_file  # noqa: F401  (models.download imports it from here)

MODELS_DIR_ENV = "RID_DESKTOP_MODELS_DIR"
BUNDLED_CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class ModelSpec:
    """A model the app can locate, download and verify.

    ``kind`` "file": one weights file named ``filename``. "diffusers-vae" / "diffusers-unet": a
    diffusers model folder named ``filename``, assembled at install time from the one downloaded
    weights file (``url``, verified by ``sha256``) and the architecture ``config`` (and ``scheduler``)
    recorded here — so every byte that is downloaded has a published SHA-256 to check.
    """

    name: str
    filename: str
    sha256: str | None  # None: user-supplied, or no published hash could be verified (never downloaded)
    url: str | None
    license: str
    purpose: str
    role: str  # "surrogate-encoder" | "surrogate-decoder" | "generator" | "rid-official" | "scoring-vae" | "diffpure"
    bundled: bool = False  # ships in checkpoints/ (ours), never downloaded
    revision: str | None = None  # the source repository commit the URL is pinned to
    size_bytes: int | None = None  # download size as published (pages round it: used for display and disk checks)
    kind: str = "file"
    config: dict | None = field(default=None, compare=False)
    scheduler: dict | None = field(default=None, compare=False)
    homepage: str | None = None
    source_note: str = ""  # where the hash/size/licence were read, or why they could not be verified

    @property
    def is_folder(self) -> bool:
        return self.kind != "file"


_TAESD_COMMIT = "5cccb12dc72074a4be35680c3b108548a7c69978"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec(
            name="taef2-encoder",
            filename="taef2_encoder.pth",
            sha256="10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
            url=f"https://github.com/madebyollin/taesd/raw/{_TAESD_COMMIT}/taef2_encoder.pth",
            license="MIT",
            purpose="Surrogate image encoder (distilled FLUX.2 VAE): what protection attacks and measures.",
            role="surrogate-encoder",
        ),
        ModelSpec(
            name="taef2-decoder",
            filename="taef2_decoder.pth",
            sha256="0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
            url=f"https://github.com/madebyollin/taesd/raw/{_TAESD_COMMIT}/taef2_decoder.pth",
            license="MIT",
            purpose="Surrogate decoder for the 'AI view' preview (what an autoencoder sees).",
            role="surrogate-decoder",
        ),
        ModelSpec(
            name="rid-compact-pixel",
            filename="rid-compact-pixel.safetensors",
            sha256=None,  # ships inside the app (checkpoints/), see its model card
            url=None,
            license="MIT (trained by the RID Desktop project)",
            purpose="Default RID generator: compact pixel-space perturbation network, all strengths.",
            role="generator",
            bundled=True,
        ),
        ModelSpec(
            name="rid-compact-chroma",
            filename="rid-compact-chroma.safetensors",
            sha256=None,
            url=None,
            license="MIT (trained by the RID Desktop project)",
            purpose="Default DWT-chroma generator: perturbs only Cb/Cr Haar sub-bands.",
            role="generator",
            bundled=True,
        ),
        ModelSpec(
            # The RID authors publish it on Google Drive only (no stable direct URL, no checksum):
            # the user downloads it and copies it into the models folder, or passes its path.
            name="rid-official",
            filename="rid_official.pth",
            sha256=None,
            url=None,
            license="MIT (per the RID repository, github.com/Guohanzhong/RID)",
            purpose="Official RID generator, supplied by the user (DiT, 512x512 tiles; arXiv 2412.09844).",
            role="rid-official",
        ),
    ]
}


_SD_VAE_COMMIT = "651c6dc459a3ae175a511e7086a28d7e8182ac0c"
_FLUX_SCHNELL_COMMIT = "8e48687bab3241d35328b3d08ba0d2873e73f7ee"
_DDPM_CELEBAHQ_COMMIT = "4cb6117472e6e4f45c5afe606b101858c27c3802"
_SDXL_VAE_FIX_COMMIT = "9292e146692bb47baa25d8d64e86e46b5f524101"

_KL_F8 = dict(  # the Stable Diffusion autoencoder (kl-f8) as diffusers configures it
    _class_name="AutoencoderKL", in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
    block_out_channels=[128, 256, 512, 512], norm_num_groups=32, act_fn="silu", sample_size=256,
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
)

OPTIONAL_MODELS = [
    ModelSpec(
        name="sd-vae-ft-mse",
        filename="sd-vae-ft-mse",
        kind="diffusers-vae",
        url=f"https://huggingface.co/stabilityai/sd-vae-ft-mse/resolve/{_SD_VAE_COMMIT}/diffusion_pytorch_model.safetensors",
        revision=_SD_VAE_COMMIT,
        sha256="a1d993488569e928462932c8c38a0760b874d166399b14414135bd9c42df5815",
        size_bytes=335_000_000,
        license="MIT",
        purpose="Stable Diffusion 1.x/2.x VAE (ft-MSE): score protection with the encoder SD personalization uses.",
        role="scoring-vae",
        config=dict(_KL_F8, scaling_factor=0.18215),
        homepage="https://huggingface.co/stabilityai/sd-vae-ft-mse",
        source_note="hash, size (335 MB, rounded) and licence from the model's Hugging Face file page",
    ),
    ModelSpec(
        name="flux1-vae",
        filename="flux1-vae",
        kind="diffusers-vae",
        url=f"https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/{_FLUX_SCHNELL_COMMIT}"
        "/vae/diffusion_pytorch_model.safetensors",
        revision=_FLUX_SCHNELL_COMMIT,
        sha256="f5b59a26851551b67ae1fe58d32e76486e1e812def4696a4bea97f16604d40a3",
        size_bytes=167_666_902,
        license="Apache-2.0 (FLUX.1 [schnell])",
        purpose="FLUX.1 autoencoder (16 latent channels): score protection with the encoder FLUX editing uses.",
        role="scoring-vae",
        config=dict(_KL_F8, latent_channels=16, sample_size=1024, use_quant_conv=False, use_post_quant_conv=False,
                    scaling_factor=0.3611, shift_factor=0.1159),
        homepage="https://huggingface.co/black-forest-labs/FLUX.1-schnell",
        source_note="licence from the official page; hash and exact size from the LFS pointer of identical "
        "copies of FLUX.1-schnell's vae/ (not read from the official file page)",
    ),
    ModelSpec(
        name="sdxl-vae-fp16-fix",
        filename="sdxl-vae-fp16-fix",
        kind="diffusers-vae",
        url=f"https://huggingface.co/madebyollin/sdxl-vae-fp16-fix/resolve/{_SDXL_VAE_FIX_COMMIT}"
        "/diffusion_pytorch_model.safetensors",
        revision=_SDXL_VAE_FIX_COMMIT,
        sha256=None,
        size_bytes=335_000_000,
        license="MIT",
        purpose="SDXL VAE (fp16-fix): score protection with the encoder SDXL uses. Not installable yet (see docs).",
        role="scoring-vae",
        config=dict(_KL_F8, sample_size=1024, scaling_factor=0.13025),
        homepage="https://huggingface.co/madebyollin/sdxl-vae-fp16-fix",
        source_note="licence from the model page; no published SHA-256 for this revision's diffusers file "
        "could be verified, so it is never downloaded",
    ),
    ModelSpec(
        name="ddpm-celebahq-256",
        filename="ddpm-celebahq-256",
        kind="diffusers-unet",
        url=f"https://huggingface.co/google/ddpm-ema-celebahq-256/resolve/{_DDPM_CELEBAHQ_COMMIT}"
        "/diffusion_pytorch_model.bin",
        revision=_DDPM_CELEBAHQ_COMMIT,
        sha256="3ec1b462abd49605d4f7cddfe453626e9aea1edc8c2449450a1c054efb863abf",
        size_bytes=455_000_000,
        license="Apache-2.0",
        purpose="DiffPure robustness check: unconditional DDPM (EMA) trained on CelebA-HQ faces, 256 px.",
        role="diffpure",
        config=dict(
            _class_name="UNet2DModel", sample_size=256, in_channels=3, out_channels=3, center_input_sample=False,
            time_embedding_type="positional", freq_shift=1, flip_sin_to_cos=False,
            down_block_types=["DownBlock2D"] * 4 + ["AttnDownBlock2D", "DownBlock2D"],
            up_block_types=["UpBlock2D", "AttnUpBlock2D"] + ["UpBlock2D"] * 4,
            block_out_channels=[128, 128, 256, 256, 512, 512], layers_per_block=2, mid_block_scale_factor=1,
            downsample_padding=0, act_fn="silu", attention_head_dim=None, norm_num_groups=32, norm_eps=1e-6,
        ),
        scheduler=dict(_class_name="DDPMScheduler", num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02,
                       beta_schedule="linear", clip_sample=True, prediction_type="epsilon"),
        homepage="https://huggingface.co/google/ddpm-ema-celebahq-256",
        source_note="hash, size (455 MB, rounded) and licence from the model's Hugging Face file page; "
        "published as a PyTorch .bin only: read weights-only and converted to safetensors at install",
    ),
]


def models_for_role(role: str, *, installable_only: bool = False) -> list[ModelSpec]:
    """Registry entries of one role ("diffpure", "scoring-vae", ...), in registry order — e.g. what an
    "Install…" button offers where DiffPure says "model not configured"."""
    return [s for s in MODELS.values() if s.role == role and (s.sha256 and s.url or not installable_only)]


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


MODELS.update({spec.name: spec for spec in OPTIONAL_MODELS})

INSTALL_RECEIPT = "rid-install.json"
"""Written into an installed model folder: source, revision and the SHA-256 of every file in it."""


def search_dirs() -> list[Path]:
    """Folders searched for model files, in priority order (steps 2-4 of the module docstring)."""
    dirs: list[Path] = []
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        dirs.append(Path(env))
    dirs.append(paths.checkpoints_dir())
    dirs.append(paths.user_data_dir() / "models")
    return dirs


def locate(name: str, explicit: str | os.PathLike | None = None, *, verify: bool = True) -> Path:
    """Find a model file on disk, verifying its SHA-256 when the registry knows it.

    Raises:
        ModelError: not found anywhere (the message names ``rid-desktop models install``), or
            found with the wrong checksum (damaged or tampered file).
    """
    spec = get_spec(name)
    candidates = [Path(explicit)] if explicit else [d / spec.filename for d in search_dirs()]
    expected = expected_sha256(spec)
    for path in candidates:
        if spec.is_folder:
            if not (path / INSTALL_RECEIPT).is_file():
                continue
            if verify and not _complete_folder(path):
                raise ModelError(
                    f"model folder {path} is damaged or incomplete; run: rid-desktop models install {spec.name} --force"
                )
            return path
        if path.is_file():
            if verify and expected and sha256_file(path) != expected:
                remedy = how_to_get(spec) if spec.bundled else f"delete it and {how_to_get(spec)}"
                raise ModelError(
                    f"model file {path} is damaged or not the expected {spec.name} (checksum mismatch); {remedy}"
                )
            return path
    if explicit:
        raise ModelError(f"model file not found: {explicit}")
    where = ", ".join(str(d) for d in search_dirs())
    raise ModelError(f"model {spec.name} is not installed (looked in {where}); {how_to_get(spec)}")


def expected_sha256(spec: ModelSpec) -> str | None:
    """The checksum a file of ``spec`` must have: the registry's, or for bundled models the one in
    ``checkpoints/SHA256SUMS``; None for user-supplied files (nothing to compare against)."""
    if spec.sha256:
        return spec.sha256
    if spec.bundled:
        return bundled_checksums().get(spec.filename)
    return None


def bundled_checksums() -> dict[str, str]:
    """File name -> SHA-256 from ``checkpoints/SHA256SUMS`` (empty when the file is absent)."""
    try:
        text = (paths.checkpoints_dir() / BUNDLED_CHECKSUMS).read_text(encoding="utf-8")
    except OSError:
        return {}
    sums: dict[str, str] = {}
    for line in text.splitlines():
        digest, _, name = line.strip().partition(" ")
        name = name.strip().lstrip("*")
        if len(digest) == 64 and name:
            sums[name] = digest.lower()
    return sums


def write_bundled_checksums() -> Path:
    """Rewrite ``checkpoints/SHA256SUMS`` from the bundled weights on disk (after retraining)."""
    folder = paths.checkpoints_dir()
    lines = [f"{sha256_file(path)}  {path.name}" for path in sorted(folder.glob("*.safetensors"))]
    target = folder / BUNDLED_CHECKSUMS
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _complete_folder(folder: Path) -> bool:
    """An installed model folder: its receipt is there and every file it lists has the recorded size.

    (The full SHA-256 check of hundreds of MB is left to install time and ``models verify``.)
    """
    receipt = folder / INSTALL_RECEIPT
    if not receipt.is_file():
        return False
    import json

    try:
        files = json.loads(receipt.read_text(encoding="utf-8"))["files"]
        return all((folder / rel).is_file() and (folder / rel).stat().st_size == entry["size"]
                   for rel, entry in files.items())
    except (OSError, ValueError, KeyError, TypeError):
        return False


def how_to_get(spec: ModelSpec) -> str:
    """One clause telling the user how to obtain a missing model file."""
    if spec.url and spec.sha256:
        return f"run: rid-desktop models install {spec.name}"
    if spec.url:
        return f"it cannot be installed yet: no published SHA-256 to verify it against ({spec.source_note})"
    if spec.bundled:
        return f"it ships with the app in {paths.checkpoints_dir()}; reinstall RID Desktop"
    return (
        f"it is supplied by you: copy the file to {paths.user_data_dir() / 'models' / spec.filename} "
        "or pass its path explicitly"
    )


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--write-bundled-checksums"]:
        sys.exit("usage: python -m rid_desktop.models.registry --write-bundled-checksums")
    print(f"wrote {write_bundled_checksums()}")
