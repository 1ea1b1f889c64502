"""Run every conformance case and compare its outputs with the numpy reference.

Default backend (``simtlab``): every case at size "full". With ``SIMTLAB_CUDA_BACKEND=numba-sim``
the cases run at size "tiny" (the simulator is slow) and cases the simulator cannot run are
skipped with their reason; this is how kernels and references are validated independently of the
emulator. ``SIMTLAB_CONFORMANCE_SIZE`` overrides the size, ``SIMTLAB_CONFORMANCE_SEED`` the seed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from .backend import BACKEND, IS_NUMBA_SIM, cuda
from .registry import SIZES, Case, all_cases, case_rng, compare_outputs

SIZE = os.environ.get("SIMTLAB_CONFORMANCE_SIZE") or ("tiny" if IS_NUMBA_SIM else "full")
SEED = int(os.environ.get("SIMTLAB_CONFORMANCE_SEED", "0"))
CASES = all_cases()

# Every feature the suite was asked to cover has at least one case carrying its tag.
REQUIRED_TAGS = (
    "map", "zip", "index-2d", "index-3d", "grid2", "grid3", "guard", "stencil-1d", "stencil-2d",
    "tiled", "naive", "tree", "shfl_down_sync", "shfl_xor_sync", "shfl_up_sync", "shfl_sync",
    "hillis-steele", "histogram", "global", "shared", "cas", "compare_and_swap", "atomic.max",
    "atomic.min", "atomic.sub", "atomic.and_", "atomic.or_", "atomic.xor", "atomic.exch",
    "atomic.inc", "atomic.dec", "old-values", "ballot_sync", "any_sync", "all_sync", "eq_sync",
    "activemask", "match_any_sync", "match_all_sync", "lanemask_lt", "popc", "clz", "ffs", "brev",
    "syncthreads_count", "syncthreads_and", "syncthreads_or", "local-array", "device-function",
    "tuple-return", "nested-call", "early-return", "while", "break", "continue", "grid-stride",
    "dynamic-shared", "const", "fp16", "float64", "int32", "int64", "uint32", "floordiv", "mod",
    "math", "min", "max", "abs", "casts", "swap", "ternary", "short-circuit", "device-array",
    "host-array", "slicing", "forall", "stream", "grid-sync", "syncwarp", "threadfence",
)


def test_registry_is_complete() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 45, f"only {len(CASES)} conformance cases"
    tags = {t for c in CASES for t in c.tags}
    missing = [t for t in REQUIRED_TAGS if t not in tags]
    assert not missing, f"no case covers {missing}"
    for c in CASES:
        assert c.tags, c.name
        assert c.sim_ok or c.sim_reason, c.name
    assert SIZE in SIZES


def _tolerance(case: Case):
    def tol(key: str, want: np.ndarray) -> tuple[float, float]:
        return case.tolerance(key)

    return tol


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_matches_reference(case: Case) -> None:
    if IS_NUMBA_SIM and not case.sim_ok:
        pytest.skip(f"numba's simulator cannot run it: {case.sim_reason}")
    result = case.run(cuda, case_rng(case.name, SEED), SIZE)
    problems = compare_outputs(result.got, result.expected, _tolerance(case), label=f"{case.name}@{BACKEND}")
    assert not problems, "\n".join(problems)
