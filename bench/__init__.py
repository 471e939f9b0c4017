"""Benchmarks that back the app's speed, memory and protection claims (``python -m bench``).

Everything is measured in one run, on the machine at hand, with warm-up and the median of repeats,
and written to ``docs/benchmarks.md`` (+ ``.png`` plot, ``.json`` raw figures). See :mod:`bench.cli`.
"""
