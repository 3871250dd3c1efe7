"""Benchmarks of issue 7: run each with `python -m bench.NAME` (add --quick for the CI smoke size)."""
