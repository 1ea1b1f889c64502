"""Choose the ``cuda`` module that the conformance kernels are written against.

Kernel modules do ``from .backend import cuda`` and decorate with ``cuda.jit`` at import time,
exactly as a student's notebook would do with ``from simtlab.emulator import cuda``.

The environment variable ``SIMTLAB_CUDA_BACKEND`` picks the implementation:

``simtlab`` (default)
    ``from simtlab.emulator import cuda``: the emulator under test.
``numba-sim``
    numba's own CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` is set here when it is not already set,
    which only works if ``numba.cuda`` has not been imported yet in this process).
``numba``
    numba's real CUDA target, for running the same suite on an NVIDIA GPU.

The choice is made once, when this module is first imported.
"""

from __future__ import annotations

import os
from types import ModuleType

BACKEND_ENV = "SIMTLAB_CUDA_BACKEND"
BACKENDS = ("simtlab", "numba-sim", "numba")


def selected_backend() -> str:
    """Return the backend named by ``SIMTLAB_CUDA_BACKEND`` (``simtlab`` when unset or empty)."""
    name = os.environ.get(BACKEND_ENV, "").strip() or "simtlab"
    if name not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={name!r} is not one of {', '.join(BACKENDS)}")
    return name


def _is_numba_simulator(module: ModuleType) -> bool:
    return module.jit.__module__.startswith("numba.cuda.simulator")


def _load(name: str) -> ModuleType:
    if name == "simtlab":
        try:
            from simtlab.emulator import cuda as module
        except ImportError as exc:
            raise ImportError(
                f"the simtlab emulator is not importable ({exc}); to check the suite itself against "
                f"numba's simulator instead, set {BACKEND_ENV}=numba-sim"
            ) from exc
        return module
    if name == "numba-sim":
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
        from numba import cuda as module

        if not _is_numba_simulator(module):
            raise RuntimeError(
                f"{BACKEND_ENV}=numba-sim, but numba.cuda was imported without the simulator "
                "(set NUMBA_ENABLE_CUDASIM=1 before anything imports numba.cuda)"
            )
        return module
    from numba import cuda as module

    if _is_numba_simulator(module):
        raise RuntimeError(f"{BACKEND_ENV}=numba needs a real GPU, but NUMBA_ENABLE_CUDASIM is set")
    return module


BACKEND: str = selected_backend()
IS_NUMBA_SIM: bool = BACKEND == "numba-sim"
cuda: ModuleType = _load(BACKEND)

__all__ = ["BACKEND", "BACKENDS", "BACKEND_ENV", "IS_NUMBA_SIM", "cuda", "selected_backend"]
