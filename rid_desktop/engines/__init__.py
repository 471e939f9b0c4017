"""Protection engines: one protocol (:mod:`.base`), one registry, one factory, several ways to perturb.

The built-in engines are registered here, by importing their modules (each one's ``@register_engine``
runs on import), so :mod:`.base` never imports an implementation and the list of names is derived
from what is registered, in this order (the order menus and ``--help`` show).
"""

from rid_desktop.engines.base import (
    Engine,
    EngineInfo,
    ProgressFn,
    create_engine,
    engine_info,
    engine_names,
    engines_taking,
    list_engines,
    project_linf,
)
from rid_desktop.engines import rid, dwt_chroma, combined, iterative  # noqa: E402,F401  (registration)
from rid_desktop.engines.fallback import CpuFallbackEngine, is_out_of_memory
from rid_desktop.engines.factory import build_engine, make_engine

__all__ = [
    "CpuFallbackEngine",
    "Engine",
    "EngineInfo",
    "ProgressFn",
    "build_engine",
    "create_engine",
    "engine_info",
    "engine_names",
    "engines_taking",
    "is_out_of_memory",
    "list_engines",
    "make_engine",
    "project_linf",
]
