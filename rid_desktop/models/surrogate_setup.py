"""Find or install the surrogate models (the AI view and the checks need them; protection does not).

Why a structured result: the GUI's first-run set-up used to search the self-test's printed lines for
"installed to"; it needs to know which models were found, which were installed now and why the
others failed, as data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rid_desktop.errors import UserError


@dataclass
class SurrogateSetup:
    """found: already on disk; installed: downloaded now; failed: name -> one-line reason."""

    found: dict[str, Path] = field(default_factory=dict)
    installed: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return not self.failed


def surrogate_names() -> list[str]:
    from rid_desktop.models.registry import MODELS

    return [spec.name for spec in MODELS.values() if spec.role.startswith("surrogate")]


def ensure_surrogates(install: bool = True) -> SurrogateSetup:
    """Locate each surrogate; when missing and ``install``, download it (verified) into the data folder."""
    from rid_desktop.models import download
    from rid_desktop.models.registry import locate

    result = SurrogateSetup()
    for name in surrogate_names():
        try:
            result.found[name] = locate(name)
            continue
        except UserError as exc:
            missing = str(exc)
        if not install:
            result.failed[name] = f"not installed ({missing})"
            continue
        try:
            result.installed[name] = download.install_model(name)
        except (UserError, OSError) as exc:
            result.failed[name] = f"could not be downloaded ({exc})"
    return result
