"""The options that choose a protection (engine, strength, device, seed, model), shared by the commands.

``protect`` and ``check`` take them the same way and turn them into the same
:class:`~rid_desktop.settings.ProtectionSettings`, refusing an option the chosen engine cannot use
before any work starts. The engine names and which engines take ``--model`` come from the registry.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rid_desktop.engines import engine_names, engines_taking
from rid_desktop.engines.factory import engine_options
from rid_desktop.errors import UserError
from rid_desktop.settings import DEFAULT_ENGINE, OutputSettings, ProtectionSettings
from rid_desktop.strength import DEFAULT_STRENGTH, parse_strength


def add_engine_arguments(parser: argparse.ArgumentParser, *, seed_help: str, seed_default: int | None = 0) -> None:
    parser.add_argument("--engine", choices=engine_names(), default=DEFAULT_ENGINE, help="protection engine")
    parser.add_argument("--strength", default=DEFAULT_STRENGTH,
                        help="low, medium, high, or a budget in 255ths such as 6")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--seed", type=int, default=seed_default, help=seed_help)
    parser.add_argument("--model", default=None, metavar="PATH",
                        help="generator checkpoint (e.g. an official RID file; FILE:ema or FILE:model picks that "
                             "part of a training checkpoint, ema by default); fits --engine "
                        + ", ".join(engines_taking("model_path")))
    parser.add_argument("--attack-with", default=None, metavar="NAME[,NAME...]",
                        help="encoders the iterative engines optimise against: taef2 (default), an installed "
                             "full-size VAE (sd-vae-ft-mse, flux1-vae) or a diffusers VAE folder; several = an "
                             "ensemble; fits --engine " + ", ".join(engines_taking("targets")))


def settings_from_engine_arguments(args: argparse.Namespace,
                                   output: OutputSettings | None = None) -> ProtectionSettings:
    """The settings the engine options ask for; UserError (one line) for a bad value or a misfit option."""
    try:
        eps = parse_strength(args.strength)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    model = str(Path(args.model).expanduser().resolve()) if args.model else None
    targets = None
    if getattr(args, "attack_with", None) is not None:
        targets = tuple(name.strip() for name in args.attack_with.split(",") if name.strip())
        if not targets:
            raise UserError("--attack-with needs at least one model name, e.g. --attack-with sd-vae-ft-mse")
    settings = ProtectionSettings(engine=args.engine, eps=eps, device=args.device, seed=args.seed,
                                  model_path=model, targets=targets, output=output or OutputSettings())
    engine_options(settings)  # an option the engine cannot take is refused before any work starts
    return settings
