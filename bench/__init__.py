"""Benchmarks of the matcher: ``make bench`` or ``python -m bench [--quick]``.

See docs/performance.md for what each one measures and the last results.
"""
