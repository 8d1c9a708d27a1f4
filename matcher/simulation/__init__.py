"""Simulated practices with known ground truth, for the demo, tests and benchmarks.

Stands alone: imports only :mod:`matcher.vocab`. Its phrase banks are data files
(``simulation/data/*.toml``).
"""

from .simulate import World, simulate_world

__all__ = ["World", "simulate_world"]
