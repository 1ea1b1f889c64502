"""Parity with numba's CUDA simulator: same cases, same seed, size "tiny", output against output.

One subprocess per session (the ``sim_run`` fixture) runs every case the simulator can run
(``sim_ok``) under numba's simulator and saves the outputs; each test here runs the same case with
the same seed on the backend under test, in process, and compares the two.

Integers, booleans and the order-independent forms of nondeterministic outputs (sorted atomics'
olds, consistency verdicts) must be identical. Floats get a tolerance of a few units in the last
place, because the two backends may legitimately round differently:

* numba (on a GPU) types Python float literals and float arguments as float64, so
  ``x[i] * 2.5`` with a float32 ``x`` is computed in float64 and rounded once on the store; the
  emulator follows numpy's weak-scalar rule for literals (float32 stays float32), rounding each op.
  numba's simulator executes the kernel as Python on numpy scalars, so it mostly follows numpy
  too, but Python floats that are not literals (``acc = 0.0`` then ``acc += 1.0 / k``) stay float64.
* ``math.*`` in the simulator is Python's ``math`` module: float64, correctly rounded to float32 on
  the store; the emulator evaluates numpy's float32 ufuncs, which may be an ulp or two away.
* sums whose order differs (none of the cases sum floats in a backend-dependent order, but a
  tolerance keeps a legitimate change of evaluation order from being reported as a bug).

The simulator is slow (about 10^4 threads per second): ``test_simulator_budget`` keeps every tiny
case under a fixed number of launched threads and reports the simulator's total time.

``SIMTLAB_PARITY_SELF=1`` with ``SIMTLAB_CUDA_BACKEND=numba-sim`` runs the parity tests of the
simulator against itself: a check that the outputs of the suite are deterministic (the simulator's
threads interleave differently on every run, so this exercises the order-independent forms).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from .backend import BACKEND, IS_NUMBA_SIM, cuda
from .conftest import PARITY_SEED, SimRun
from .registry import Case, all_cases, case_rng, compare_outputs

SELF_PARITY = os.environ.get("SIMTLAB_PARITY_SELF") == "1"
MAX_TINY_THREADS = 1536

pytestmark = [
    pytest.mark.parity,
    pytest.mark.skipif(
        IS_NUMBA_SIM and not SELF_PARITY,
        reason="the backend under test is numba's simulator itself (set SIMTLAB_PARITY_SELF=1 to "
        "check the suite's determinism)",
    ),
]

CASES = [c for c in all_cases() if c.sim_ok]

# (rtol, atol) by dtype: a few units in the last place
PARITY_TOLERANCE = {
    np.dtype(np.float16): (2.0**-9, 2.0**-24),
    np.dtype(np.float32): (2.0**-21, 2.0**-126),
    np.dtype(np.float64): (2.0**-49, 2.0**-1022),
}


def parity_tolerance(case: Case, want: np.ndarray) -> tuple[float, float]:
    """Tolerance for comparing one floating-point output of ``case`` between two backends."""
    if case.parity_rtol is not None:
        return case.parity_rtol, case.parity_atol or 0.0
    return PARITY_TOLERANCE.get(np.asarray(want).dtype, (0.0, 0.0))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_parity_with_numba_simulator(case: Case, sim_run: SimRun) -> None:
    info = sim_run.meta["cases"].get(case.name)
    assert info is not None, f"the simulator run has no record of {case.name}"
    if "error" in info:
        pytest.fail(
            f"numba's simulator failed on {case.name}: the case itself is broken, not the backend "
            f"under test\n{info['error']}"
        )
    result = case.run(cuda, case_rng(case.name, PARITY_SEED), "tiny")
    sim_outputs = sim_run.outputs.get(case.name, {})
    problems = compare_outputs(
        result.got,
        sim_outputs,
        lambda key, want: parity_tolerance(case, want),
        label=f"{case.name}: {BACKEND} vs numba-sim",
    )
    for key in sorted(set(result.got) & set(sim_outputs)):
        if result.got[key].dtype != sim_outputs[key].dtype:
            problems.append(
                f"{case.name}[{key!r}]: dtype {result.got[key].dtype} on {BACKEND}, "
                f"{sim_outputs[key].dtype} on numba-sim"
            )
    assert not problems, "\n".join(problems)


def test_simulator_budget(sim_run: SimRun, request: pytest.FixtureRequest) -> None:
    """Tiny sizes stay tiny: a bounded number of threads per case (deterministic), and the
    simulator's total time is reported (3 to 10 s for the whole set on 2 shared cores when written)."""
    request.node.user_properties.append(("numba_sim_seconds", sim_run.meta["sim_seconds"]))
    request.node.user_properties.append(("numba_sim_wall_seconds", round(sim_run.wall_seconds, 2)))
    print(f"numba's simulator: {sim_run.meta['sim_seconds']} s for the parity set")
    cases = sim_run.meta["cases"]
    assert {name for name, info in cases.items() if info["sim_ok"]} == {c.name for c in CASES}
    if not sim_run.meta["recorder"]:
        pytest.skip("could not hook numba's simulator to count threads")
    too_big = {
        name: info["threads"]
        for name, info in cases.items()
        if info["sim_ok"] and info["threads"] > MAX_TINY_THREADS
    }
    assert not too_big, f"tiny cases launching more than {MAX_TINY_THREADS} threads: {too_big}"
    assert all(info["threads"] > 0 for info in cases.values() if info["sim_ok"])
