"""Benchmark of the LIST-based chain verification: `python -m bench` (see bench/README.md)."""
