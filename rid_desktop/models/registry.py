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
from dataclasses import dataclass
from pathlib import Path

from rid_desktop import paths
from rid_desktop.errors import ModelError
from rid_desktop.hashing import sha256_file  # noqa: F401  (models.download imports it from here)

MODELS_DIR_ENV = "RID_DESKTOP_MODELS_DIR"
BUNDLED_CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class ModelSpec:
    """A model file the app can locate, download and verify."""

    name: str
    filename: str
    sha256: str | None  # None only for user-supplied files (official RID checkpoints)
    url: str | None
    license: str
    purpose: str
    role: str  # "surrogate-encoder" | "surrogate-decoder" | "generator" | "rid-official"
    bundled: bool = False  # ships in checkpoints/ (ours), never downloaded


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


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    return MODELS[name]


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


def how_to_get(spec: ModelSpec) -> str:
    """One clause telling the user how to obtain a missing model file."""
    if spec.url:
        return f"run: rid-desktop models install {spec.name}"
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
