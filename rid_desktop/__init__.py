"""RID Desktop core: protect photos against AI misuse. Never imports Qt (see ui/ for the shell)."""

__version__ = "0.1.0"
