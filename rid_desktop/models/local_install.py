"""Install a registry model from a file the user already has (offline machines, slow networks).

Why: without a network the download can only fail; a person who fetched the file elsewhere needs a
way to point at it. The file is checked against the registry's SHA-256 before it is copied, and the
copy is atomic, so a wrong or partial file is never installed.
"""

from __future__ import annotations

import os
import shutil

from pathlib import Path

from rid_desktop.errors import ModelError
from rid_desktop.models.download import install_dir
from rid_desktop.models.fetch import part_path
from rid_desktop.models.registry import get_spec, sha256_file


def install_from_file(name: str, source: Path) -> Path:
    """Verify ``source`` against model ``name``'s published SHA-256 and copy it into :func:`install_dir`.

    Raises:
        ModelError: unknown model, no checksum to verify against, unreadable file, or a file that is
            not this model (nothing is installed then).
    """
    spec = get_spec(name)
    if not spec.sha256:
        raise ModelError(f"model {spec.name} has no published checksum, so a file cannot be verified for it")
    source = Path(source)
    try:
        actual = sha256_file(source)
    except OSError as exc:
        raise ModelError(f"cannot read {source}: {exc.strerror or exc}") from None
    if actual != spec.sha256:
        wanted = spec.url.rsplit("/", 1)[-1] if spec.is_folder and spec.url else spec.filename
        raise ModelError(f"{source.name} is not {spec.name} (its SHA-256 does not match the published one); "
                         f"the file to choose is {wanted}")
    if spec.is_folder:  # a diffusers model: its folder is built from the verified weights file
        from rid_desktop.models.download import build_folder

        install_dir().mkdir(parents=True, exist_ok=True)
        return build_folder(spec, source)
    dest = install_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)  # copied beside, then renamed: a half-copied model is never used
    try:
        shutil.copyfile(source, part)
        os.replace(part, dest)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise ModelError(f"cannot install {source.name}: {exc.strerror or exc}") from None
    return dest
