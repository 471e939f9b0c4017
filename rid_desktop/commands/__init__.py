"""CLI sub-commands. Each module exposes ``register(subparsers)`` which adds its parser and
``set_defaults(handler=run)``, with ``run(args) -> int`` returning the exit code (see :mod:`rid_desktop.cli`)."""
