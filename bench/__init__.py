"""Benchmarks of the matcher (``make bench``, ``python -m bench [--quick]``); see docs/performance.md."""
