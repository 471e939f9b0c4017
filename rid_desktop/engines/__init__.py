"""Protection engines: one protocol (:mod:`.base`), one registry, several ways to perturb."""

from rid_desktop.engines.base import Engine, EngineInfo, create_engine, list_engines, project_linf

__all__ = ["Engine", "EngineInfo", "create_engine", "list_engines", "project_linf"]
