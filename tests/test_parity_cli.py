"""``simtlab parity``: skips cleanly without a GPU (saying why), refuses numba's simulator as a GPU, and its
machinery (two backends in their own processes, output against output) works: exercised here with numba's
simulator as the oracle, since no GPU is needed for that."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simtlab.cli.parity import compare_arrays, compare_sides, run_parity

REPO = Path(__file__).resolve().parent.parent
needs_numba_cuda = pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                                      reason="numba-cuda (numba's CUDA target and simulator) is not installed")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simtlab.cli.main", "parity", *args], capture_output=True,
                          text=True, timeout=300, env=env, cwd=str(REPO))


def _has_gpu() -> bool:
    probe = subprocess.run([sys.executable, "-m", "simtlab.cli.parity_worker", "probe"], capture_output=True,
                           text=True, timeout=300)
    return bool(json.loads(probe.stdout)["gpu"])


def test_without_a_gpu_parity_skips_and_says_why(tmp_path):
    if _has_gpu():
        pytest.skip("this machine has a GPU: parity runs for real here")
    report = tmp_path / "parity.json"
    proc = _cli("--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("simtlab parity: skipped: ")
    data = json.loads(report.read_text())
    assert data["status"] == "skipped" and data["items"] == []
    assert "GPU" in data["reason"] or "numba-cuda" in data["reason"]


def test_numbas_simulator_is_not_a_gpu():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    proc = _cli("--suite", "conformance", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "simulator, which is not a GPU" in proc.stdout


def test_compare_arrays_is_exact_for_integers_and_tolerant_for_floats():
    same, detail, diff = compare_arrays(np.arange(5), np.arange(5), 1e-6, 0.0)
    assert same and diff == 0.0
    same, detail, _ = compare_arrays(np.array([1, 2, 3]), np.array([1, 2, 4]), 1.0, 1.0)
    assert not same and "first at (2,)" in detail and "simtlab 3" in detail
    x = np.linspace(1, 2, 100, dtype=np.float32)
    assert compare_arrays(x * (1 + 1e-7), x, 1e-6, 0.0)[0]
    same, detail, diff = compare_arrays(x + 1e-3, x, 1e-6, 0.0)
    assert not same and "100 of 100 elements differ" in detail and diff == pytest.approx(1e-3, rel=1e-3)
    assert not compare_arrays(np.ones(3), np.ones(4), 1.0, 1.0)[0]
    assert compare_arrays(np.array([np.nan]), np.array([np.nan]), 0.0, 0.0)[0]


def test_compare_sides_reports_one_sided_failures_and_outputs():
    mine = ({"a/out": np.ones(3), "b/out": np.ones(2)}, {"a": {"rtol": 1e-6, "atol": 0.0}, "b": {}, "c": {}})
    theirs = ({"a/out": np.ones(3) * 2}, {"a": {}, "b": {}, "c": {"error": "KeyError: x"}})
    items = {(i.name, i.status) for i in compare_sides("conformance", mine, theirs, "numba")}
    assert ("a/out", "differs") in items and ("b/out", "only on simtlab") in items and ("c", "error on numba") in items


@needs_numba_cuda
@pytest.mark.slow
def test_conformance_cases_compare_between_two_backends():
    only = ["map_axpy", "matmul_tiled", "histogram_shared", "block_reduce_tree"]
    report = run_parity(["conformance"], repo=REPO, oracle="numba-sim", size="tiny", only=only)
    assert report.status == "compared"
    names = {i.name.split("/")[0] for i in report.items}
    assert names == set(only)
    assert not report.differences, report.text()
    assert "conformance: " in report.text() and "no differences" in report.text()


LAB = {
    "cells": [
        {"cell_type": "markdown", "source": "# a lab"},
        {"cell_type": "code", "source": ["%chip teaching\n", "from simtlab.emulator import cuda\n"]},
        {"cell_type": "code", "source": [
            "@cuda.jit\n", "def scale(x, out):\n", "    i = cuda.grid(1)\n", "    if i < x.size:\n",
            "        out[i] = 3 * x[i] + 1\n"]},
        {"cell_type": "code", "source": [
            "### BEGIN SOLUTION\n", "x = np.random.default_rng().random(300).astype(np.float32)\n",
            "out = np.zeros_like(x)\n", "scale[3, 128](x, out)\n", "### END SOLUTION\n"]},
        {"cell_type": "code", "source": ["%%profile\n", "scale[3, 128](x, out)\n"]},
        {"cell_type": "code", "source": ["report = cuda.profile(scale[3, 128], x, out)\n"]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


@needs_numba_cuda
@pytest.mark.slow
def test_lab_notebooks_run_under_both_backends_and_their_arrays_compare(tmp_path):
    lab = tmp_path / "labs" / "source" / "lab09-demo"
    lab.mkdir(parents=True)
    (lab / "lab09-demo.ipynb").write_text(json.dumps(LAB))
    hidden = tmp_path / "labs" / "source" / "_private"
    hidden.mkdir()
    (hidden / "x.ipynb").write_text(json.dumps(LAB))
    report = run_parity(["labs"], repo=tmp_path, oracle="numba-sim")
    by_name = {i.name: i for i in report.items}
    assert by_name["lab09-demo/lab09-demo/x"].status == "same"
    assert by_name["lab09-demo/lab09-demo/out"].status == "same"
    # the simtlab-only profiler cell fails on numba's side only, and is reported as such
    assert by_name["lab09-demo/lab09-demo cell 5"].status == "error on numba-sim only"
    assert not any(name.startswith("_private") for name in by_name)
