"""The one interface every protection engine implements, and the name registry that builds them.

The registry is filled by :mod:`rid_desktop.engines` (the package's ``__init__`` imports each
implementation, whose ``@register_engine`` runs); this module never imports an implementation.

An engine takes an RGB image tensor in [0, 1] and returns the protected image, with
``|protected - image|_inf <= eps`` guaranteed (enforced again by :func:`project_linf`), at the
input's own resolution. The CLI, the batch runner and the GUI only ever talk to this interface.
"""

from __future__ import annotations

import inspect
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
    """What the UI and CLI show about an engine, and the options its factory takes."""

    name: str
    label: str
    description: str
    factory: Callable[..., Engine] = field(repr=False)
    options: tuple[str, ...] = ()  # keyword options besides ``device``, read from the factory's signature


_ENGINES: dict[str, EngineInfo] = {}


def register_engine(name: str, label: str, description: str):
    """Decorator registering an engine factory under a stable name (used by CLI, GUI, settings)."""

    def wrap(factory: Callable[..., Engine]) -> Callable[..., Engine]:
        _ENGINES[name] = EngineInfo(name, label, description, factory, _option_names(factory))
        return factory

    return wrap


def _option_names(factory: Callable[..., Engine]) -> tuple[str, ...]:
    """Named keyword options of a factory; a catch-all ``**options`` is refused (options must be known)."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params):
        raise TypeError(f"engine factory {factory.__qualname__} must name its options (no *args/**kwargs)")
    return tuple(p.name for p in params if p.name not in ("self", "device"))


def list_engines() -> list[EngineInfo]:
    """Every registered engine, in registration order (the order menus and ``--help`` show)."""
    return list(_ENGINES.values())


def engine_names() -> list[str]:
    return [info.name for info in list_engines()]


def engine_info(name: str) -> EngineInfo:
    """The registered engine ``name``; UserError naming the choices otherwise."""
    if name not in _ENGINES:
        raise UserError(f"unknown engine {name!r}; choose one of: {', '.join(engine_names())}")
    return _ENGINES[name]


def engines_taking(option: str) -> list[str]:
    """Names of the engines whose factory takes ``option`` (e.g. ``model_path``)."""
    return [info.name for info in list_engines() if option in info.options]


def create_engine(name: str, *, device: torch.device | str = "cpu", **options) -> Engine:
    """Build an engine by registry name (e.g. "rid", "dwt-chroma", "iterative").

    Raises:
        UserError: an unknown engine, or an option that engine does not take (never silently ignored).
    """
    info = engine_info(name)
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        takes = ", ".join(info.options) or "no options"
        raise UserError(f"engine {name!r} does not take {', '.join(unknown)} (it takes: {takes})")
    return info.factory(device=torch.device(device), **options)
