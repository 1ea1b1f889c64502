"""The benchmark suite's kernels give numpy's results on simtlab, and ``benchmarks/run.py`` writes its table.

Correctness only, at small sizes (not multiples of the block or tile sizes, so every guard is exercised):
speed is measured by ``simtlab bench``, never asserted here.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `benchmarks/` is a folder of the repository, not an installed package
    sys.path.insert(0, str(REPO))

from benchmarks.kernels import BENCHMARKS, Benchmark, Runner  # noqa: E402


def simtlab_cuda() -> Any:
    """simtlab's drop-in ``cuda`` module (imported inside each test, so that a missing engine fails the
    tests rather than stopping collection)."""
    return importlib.import_module("simtlab.emulator").cuda


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[b.name for b in BENCHMARKS])
def test_kernel_matches_numpy(bench: Benchmark) -> None:
    cuda = simtlab_cuda()
    inputs = bench.inputs(bench.test, seed=1)
    got = bench.launch(cuda, inputs)
    ok, detail = bench.check(got, bench.numpy_expr(inputs))
    assert ok, f"{bench.name} at {bench.test}: {detail}"


@pytest.mark.parametrize("bench", BENCHMARKS, ids=[b.name for b in BENCHMARKS])
def test_repeated_runs_on_device_data_stay_correct(bench: Benchmark) -> None:
    """The harness times several runs on the same device arrays (histogram re-zeroes its bins, the others
    overwrite their outputs), so a second run must give the same correct result as the first."""
    cuda = simtlab_cuda()
    inputs = bench.inputs(bench.test, seed=2)
    expected = bench.numpy_expr(inputs)
    runner = Runner(cuda)
    state = bench.prepare(cuda, inputs)
    for _ in range(2):
        result = bench.run(runner, state)
        cuda.synchronize()
        ok, detail = bench.check(bench.fetch(result), expected)
        assert ok, detail
    assert runner.threads > 0


def test_main_quick_writes_the_vector_add_row(tmp_path: Path) -> None:
    from benchmarks.run import main

    simtlab_cuda()
    out = tmp_path / "results.md"
    rc = main(["--quick", "--no-sim", "--only", "vector_add", "--output", str(out)])
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| vector_add |")]
    assert len(rows) == 1, text
    assert "FAIL" not in rows[0] and "ERROR" not in rows[0], rows[0]
    assert "## Summary" in text
    assert rc == 0


def test_toolchain_figures_table_shows_both_register_sources(capsys) -> None:
    from benchmarks import toolchain_figures
    from simtlab.emulator import cuda
    from simtlab.emulator.chips import get_active_chip, select_chip
    from simtlab.emulator.toolchain import status

    before = get_active_chip()
    try:
        assert toolchain_figures.main(["--chip", "h100"]) == 0
    finally:
        select_chip(before)
    out = capsys.readouterr().out
    if not status()["available"]:
        assert "Not measured" in out
        return
    rows = [line.split("|") for line in out.splitlines() if line.startswith("| vector_add")]
    assert len(rows) == 1
    compiler = int(rows[0][4])
    kernel = toolchain_figures.Runner(cuda).k.vector_add
    assert compiler == cuda.compile_check(kernel, chip="h100").registers     # the table reads the real count
    assert "first call" in out and "counted by the real compiler" in out
