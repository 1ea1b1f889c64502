"""Shared fixtures of the conformance suite."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PARITY_SEED = int(os.environ.get("SIMTLAB_PARITY_SEED", "20240611"))


@dataclass
class SimRun:
    """What ``_sim_runner.py`` produced: outputs per case, metadata, recorded launches."""

    directory: Path
    outputs: dict[str, dict[str, np.ndarray]]
    meta: dict[str, Any]
    launches: list[dict[str, Any]]
    wall_seconds: float


def run_python(script: Path, args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """Run ``script`` with this interpreter; fail the test with its output if it does not exit 0."""
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(HERE.parent.parent),
    )
    if proc.returncode != 0:
        pytest.fail(f"{script.name} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    """Run the conformance cases once per session at size "tiny" under numba's simulator
    (in a subprocess: the simulator must be enabled before numba.cuda is imported)."""
    import time

    if importlib.util.find_spec("numba_cuda") is None:
        pytest.skip("numba-cuda (numba's CUDA target and its simulator) is not installed")
    out = tmp_path_factory.mktemp("numba-sim")
    env = dict(os.environ, SIMTLAB_CUDA_BACKEND="numba-sim", NUMBA_ENABLE_CUDASIM="1")
    start = time.perf_counter()
    run_python(HERE / "_sim_runner.py", ["--out", str(out), "--seed", str(PARITY_SEED)], env, timeout=900)
    wall = time.perf_counter() - start
    with np.load(out / "outputs.npz") as npz:
        flat = {key: npz[key] for key in npz.files}
    outputs: dict[str, dict[str, np.ndarray]] = {}
    for key, value in flat.items():
        case_name, output = key.split("/", 1)
        outputs.setdefault(case_name, {})[output] = value
    return SimRun(
        directory=out,
        outputs=outputs,
        meta=json.loads((out / "meta.json").read_text()),
        launches=json.loads((out / "launches.json").read_text()),
        wall_seconds=wall,
    )
