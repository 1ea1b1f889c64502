"""Every conformance kernel is valid numba CUDA: numba's real compiler types and lowers each launch.

The contract requires kernel source that runs on the emulator to run unchanged under numba.cuda on
an NVIDIA GPU. This test needs no GPU: the ``sim_run`` fixture records the argument types of every
launch (cases the simulator cannot run included), and ``_numba_typing.py`` compiles each one with
numba's CUDA front end (type inference and lowering to LLVM IR for compute capability 8.0) in a
process without the simulator.
"""

from __future__ import annotations

import json
import os

import pytest

from .conftest import HERE, SimRun, run_python
from .registry import Case, all_cases

pytestmark = pytest.mark.slow

CASES = all_cases()


@pytest.fixture(scope="module")
def typing_results(sim_run: SimRun, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("numba-typing") / "typing.json"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["SIMTLAB_CUDA_BACKEND"] = "numba"
    run_python(
        HERE / "_numba_typing.py",
        ["--launches", str(sim_run.directory / "launches.json"), "--out", str(out)],
        env,
        timeout=900,
    )
    result = json.loads(out.read_text())
    if "unavailable" in result:
        pytest.skip(result["unavailable"])
    return result["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_kernels_type_under_numba(case: Case, typing_results: dict[str, list[dict[str, str]]]) -> None:
    entries = typing_results.get(case.name)
    assert entries, f"no kernel launch was recorded for {case.name}"
    failures = [f"{e['kernel']}{e['args']}:\n{e['error']}" for e in entries if "error" in e]
    assert not failures, "\n\n".join(failures)
