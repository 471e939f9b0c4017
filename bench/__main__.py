"""``python -m bench [--quick] [--out docs/benchmarks.md] [--repeats N] [--skip-12mp]``."""

from bench.cli import main

raise SystemExit(main())
