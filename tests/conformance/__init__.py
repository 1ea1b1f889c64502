"""Conformance suite of the simtlab emulator, runnable on simtlab, numba's simulator or a real GPU.

See ``registry.py`` for what a case is and ``backend.py`` for how the backend is chosen.
"""
