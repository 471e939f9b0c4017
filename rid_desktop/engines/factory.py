"""The one engine factory: ``make_engine(settings)``, used by the CLI, the GUI, the checks and eval.

It maps the user-facing settings to the engine's options (refusing a setting the engine cannot use,
with a one-line reason naming the engines that can), resolves the device, and on a GPU wraps the
engine so an out-of-memory error finishes the job on the CPU instead of failing it.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

from rid_desktop.device import resolve_device
from rid_desktop.engines.base import Engine, create_engine, engine_info, engines_taking
from rid_desktop.engines.fallback import CpuFallbackEngine
from rid_desktop.errors import UserError
from rid_desktop.settings import ProtectionSettings

log = logging.getLogger(__name__)

SETTING_OPTIONS = {"model_path": "a model file (--model)", "targets": "models to attack (--attack-with)"}
"""Settings that become engine options when set, and how a person knows them (for error messages)."""

SHARED_OPTIONS = ("seed",)
"""Settings every engine may use: passed to the engines whose factory takes them, never refused."""

Builder = Callable[[ProtectionSettings], Engine]


def engine_options(settings: ProtectionSettings) -> dict:
    """The engine options the settings ask for; UserError when the chosen engine cannot take one."""
    info = engine_info(settings.engine)
    options = {}
    for field, words in SETTING_OPTIONS.items():
        value = getattr(settings, field)
        if value is None:
            continue
        if field not in info.options:
            fits = ", ".join(engines_taking(field)) or "none"
            raise UserError(f"engine {settings.engine!r} does not take {words}; engines that do: {fits}")
        options[field] = list(value) if isinstance(value, tuple) else value
    for field in SHARED_OPTIONS:
        if field in info.options:
            options[field] = getattr(settings, field)
    return options


def build_engine(settings: ProtectionSettings, **options) -> Engine:
    """The engine named in ``settings`` with its options, on ``settings.device`` (no CPU fallback).

    ``options`` are extra engine options (e.g. ``steps`` for the iterative engines), checked by
    :func:`rid_desktop.engines.base.create_engine` like the rest.
    """
    return create_engine(settings.engine, device=resolve_device(settings.device),
                         **engine_options(settings), **options)


def make_engine(settings: ProtectionSettings, *, notify: Callable[[str], None] | None = None,
                build: Builder | None = None, **options) -> Engine:
    """Build the engine for ``settings``; on a GPU, one that finishes on the CPU after an out-of-memory.

    Args:
        settings: engine name, device, model file.
        notify: told once, in one line, when the engine switches to the CPU (default: a log warning).
        build: how to build one engine from settings (default :func:`build_engine`); the GUI's tests
            inject a small fast engine here and still get the real fallback logic.
        options: extra engine options passed to the default builder.
    """
    if build is None:
        def build(s: ProtectionSettings) -> Engine:
            return build_engine(s, **options)

    engine = build(settings)
    if resolve_device(settings.device).type == "cpu":
        return engine
    cpu_settings = dataclasses.replace(settings, device="cpu")
    return CpuFallbackEngine(engine, lambda: build(cpu_settings), notify or log.warning)
