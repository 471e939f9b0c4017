"""The one interface every protection engine implements, and the name registry that builds them.

An engine takes an RGB image tensor in [0, 1] and returns the protected image, with
``|protected - image|_inf <= eps`` guaranteed (enforced again by :func:`project_linf`), at the
input's own resolution. The CLI, the batch runner and the GUI only ever talk to this interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import torch

from rid_desktop.errors import UserError

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` between tiles or optimisation steps.

It may raise :class:`rid_desktop.errors.Cancelled` to stop the engine promptly (within one tile/step).
"""


@runtime_checkable
class Engine(Protocol):
    """A way of computing a bounded protective perturbation."""

    name: str

    def protect(
        self,
        image: torch.Tensor,
        eps: float,
        *,
        seed: int | None = None,
        progress: ProgressFn | None = None,
    ) -> torch.Tensor:
        """Protect a batch of images.

        Args:
            image: RGB in [0, 1]. Shape (B, 3, H, W), any H, W >= 1.
            eps: L-infinity budget in [0, 1] pixel units (8/255 = "medium").
            seed: fixes every random choice, so the same input gives the same output; ``None``
                draws a fresh key from the OS (see :func:`resolve_seed`).
            progress: optional callback, see :data:`ProgressFn`.

        Returns:
            Protected image, same shape/dtype/device as ``image``, in [0, 1].
        """
        ...


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or fresh OS randomness when ``None``.

    Why: a keyed protection is only as safe as its key is unguessable. Re-running the app on a
    protected copy with the same key would reproduce (and let an attacker subtract) the change, so by
    default every photo gets a new key that is used once and never written anywhere; ``--seed``
    exists only to reproduce a result.
    """
    if seed is None:
        import secrets

        return secrets.randbits(62)
    return int(seed)


def project_linf(original: torch.Tensor, candidate: torch.Tensor, eps: float) -> torch.Tensor:
    """Clamp ``candidate`` into the L-inf ball of radius eps around ``original`` and into [0, 1]."""
    delta = (candidate - original).clamp(-eps, eps)
    return (original + delta).clamp(0.0, 1.0)


def add_bounded_delta(original: torch.Tensor, delta: torch.Tensor, eps: float) -> torch.Tensor:
    """``clip(original + clamp(delta, -eps, eps), 0, 1)`` computed in ``delta``'s own storage.

    Same result as :func:`project_linf` of ``original + delta``, without the three extra
    full-resolution copies (a 12 MP photo is 144 MB per float copy). ``delta`` is consumed: pass a
    fresh tensor nobody else holds (what :func:`rid_desktop.engines.tiling.tiled_delta` returns).
    """
    return delta.clamp_(-eps, eps).add_(original).clamp_(0.0, 1.0)


def check_image_tensor(image: torch.Tensor) -> None:
    """Validate the (B, 3, H, W) float [0, 1] contract at the engine boundary."""
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"expected an image batch of shape (B, 3, H, W), got {tuple(image.shape)}")
    if not image.is_floating_point():
        raise ValueError(f"expected a float image in [0, 1], got dtype {image.dtype}")


@dataclass(frozen=True)
class EngineInfo:
    """What the UI and CLI show about an engine."""

    name: str
    label: str
    description: str
    factory: Callable[..., Engine] = field(repr=False)


_ENGINES: dict[str, EngineInfo] = {}


def register_engine(name: str, label: str, description: str):
    """Decorator registering an engine factory under a stable name (used by CLI, GUI, settings)."""

    def wrap(factory: Callable[..., Engine]) -> Callable[..., Engine]:
        _ENGINES[name] = EngineInfo(name, label, description, factory)
        return factory

    return wrap


def list_engines() -> list[EngineInfo]:
    _load_builtin_engines()
    return list(_ENGINES.values())


def create_engine(name: str, *, device: torch.device | str = "cpu", **options) -> Engine:
    """Build an engine by registry name (e.g. "rid", "dwt-chroma", "iterative")."""
    _load_builtin_engines()
    if name not in _ENGINES:
        known = ", ".join(sorted(_ENGINES))
        raise UserError(f"unknown engine {name!r}; choose one of: {known}")
    return _ENGINES[name].factory(device=torch.device(device), **options)


def _load_builtin_engines() -> None:
    # Importing the modules runs their @register_engine decorators.
    from rid_desktop.engines import combined, dwt_chroma, iterative, rid  # noqa: F401
