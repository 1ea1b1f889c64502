"""The checks lab test cells call: check_kernel, the sanitizer gate, metric gates, Rubric (in-process)."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda
from simtlab.grader import (
    CheckFailure,
    GraderSetupError,
    Rubric,
    check_kernel,
    check_metrics,
    default_launch,
    explain_mismatch,
    run_check,
    run_metrics,
    tricky_sizes,
)


@cuda.jit
def saxpy(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def saxpy_short(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size - 3:
        out[i] = a * x[i] + y[i]


@cuda.jit
def saxpy_unguarded(a, x, y, out):
    i = cuda.grid(1)
    out[i] = a * x[i] + y[i]


@cuda.jit
def saxpy_wrong(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] - y[i]


@cuda.jit
def block_sum_racy(x, partial):
    tile = cuda.shared.array(128, np.float32)
    t = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + t
    if i < x.size:
        tile[t] = x[i]
    else:
        tile[t] = 0.0
    cuda.syncthreads()
    s = 64
    while s > 0:
        if t < s:
            tile[t] += tile[t + s]
        s //= 2
    if t == 0:
        partial[cuda.blockIdx.x] = tile[0]


@cuda.jit
def matadd(a, b, out):
    col, row = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        out[row, col] = a[row, col] + b[row, col]


@cuda.jit
def matadd_columns(a, b, out):
    row, col = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        out[row, col] = a[row, col] + b[row, col]


@cuda.jit
def transpose_shared(a, out):
    tile = cuda.shared.array((32, 32), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    c = cuda.blockIdx.x * 32 + tx
    r = cuda.blockIdx.y * 32 + ty
    if r < a.shape[0] and c < a.shape[1]:
        tile[ty, tx] = a[r, c]
    cuda.syncthreads()
    c2 = cuda.blockIdx.y * 32 + tx
    r2 = cuda.blockIdx.x * 32 + ty
    if r2 < out.shape[0] and c2 < out.shape[1]:
        out[r2, c2] = tile[tx, ty]


def saxpy_inputs(rng, n):
    return np.float32(2.5), rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32), \
        np.zeros(n, np.float32)


def saxpy_ref(a, x, y, out):
    return a * x + y


def matadd_inputs(rng, shape):
    return rng.random(shape, dtype=np.float32), rng.random(shape, dtype=np.float32), np.zeros(shape, np.float32)


def columns_launch(kernel, args, shape):
    kernel[((shape[0] + 31) // 32, (shape[1] + 7) // 8), (32, 8)](*args)


def test_tricky_sizes_avoid_easy_sizes():
    sizes = tricky_sizes(12, block=128, seed=3)
    assert len(sizes) == 12 and len(set(sizes)) == 12
    assert 1 in sizes and 129 in sizes
    for n in sizes:
        assert n == 1 or (n % 128 and n & (n - 1))
    assert sizes == tricky_sizes(12, block=128, seed=3)
    assert sizes != tricky_sizes(12, block=128, seed=4)
    shapes = tricky_sizes(6, block=(32, 8), ndim=2, seed=1)
    assert all(len(s) == 2 for s in shapes)


def test_check_kernel_passes_and_reports(capsys):
    res = run_check(saxpy, saxpy_ref, saxpy_inputs, trials=5, seed=1)
    assert len(res.sizes) == 5 and res.sanitized == 5
    assert check_kernel(saxpy, saxpy_ref, saxpy_inputs, trials=3) is None
    assert "passed on 3 random inputs" in capsys.readouterr().out


def test_unwritten_tail_is_explained():
    with pytest.raises(CheckFailure) as ei:
        check_kernel(saxpy_short, saxpy_ref, saxpy_inputs, sizes=[1000])
    msg = str(ei.value)
    assert "input 1 of 1 (n=1000, seed=0)" in msg
    assert "3 of 1000 elements differ" in msg and "[997]" in msg
    assert "never written" in msg and "(n + threads - 1) // threads" in msg
    assert ei.value.trial == 0 and ei.value.size == 1000


def test_out_of_bounds_names_the_size_and_the_fix():
    with pytest.raises(CheckFailure) as ei:
        check_kernel(saxpy_unguarded, saxpy_ref, saxpy_inputs, sizes=[300])
    msg = str(ei.value)
    assert "OutOfBoundsError" in msg and "not a multiple of the block size (128)" in msg
    assert "fix:" in msg


def test_wrong_values_list_got_expected_difference():
    with pytest.raises(CheckFailure) as ei:
        check_kernel(saxpy_wrong, saxpy_ref, saxpy_inputs, sizes=[50])
    msg = str(ei.value)
    assert "got" in msg and "expected" in msg and "difference" in msg
    assert "every element is wrong" in msg


def test_racy_kernel_right_under_lockstep_fails_on_the_sanitizer():
    def inputs(rng, n):
        return rng.random(n, dtype=np.float32), np.zeros((n + 127) // 128, np.float32)

    def ref(x, partial):
        s = np.zeros(partial.size)
        np.add.at(s, np.arange(x.size) // 128, x)
        return s.astype(np.float32)

    # without the sanitizer the lockstep answer is right
    check_kernel(block_sum_racy, ref, inputs, sizes=[300], rtol=1e-4, sanitize=False, quiet=True)
    with pytest.raises(CheckFailure) as ei:
        check_kernel(block_sum_racy, ref, inputs, sizes=[300], rtol=1e-4)
    msg = str(ei.value)
    assert "only because the emulator runs threads in lockstep" in msg
    assert "racecheck" in msg and "syncthreads" in msg


def test_explain_mismatch_hints():
    want = np.arange(10, dtype=np.float32)
    got = want.copy()
    assert explain_mismatch("out", got, want) is None
    got[2] += 1e-3
    assert "close but not within the tolerance" in explain_mismatch("out", got, want)
    g2 = np.full((4, 6), np.nan, np.float32)
    w2 = np.ones((4, 6), np.float32)
    g2[:, :3] = 1
    assert "columns 3..5 were never written" in explain_mismatch("out", g2, w2)
    assert "shape" in explain_mismatch("out", np.zeros(3), np.zeros(4))
    gi = np.array([1, 2, 3], np.int32)
    assert "exact" in explain_mismatch("out", gi, np.array([1, 2, 4], np.int32))


def test_two_dimensional_default_launch_runs_x_along_columns():
    check_kernel(matadd, lambda a, b, out: a + b, matadd_inputs, sizes=[(37, 301), (5, 70)], threads=(32, 8),
                 quiet=True)
    grid, block = default_launch((32, 8))(matadd, matadd_inputs(np.random.default_rng(0), (37, 301)), (37, 301))
    assert grid == (10, 5) and block == (32, 8)


def test_metric_gates_pass_and_fail_with_line_and_advice():
    res = run_metrics(matadd, matadd_inputs, (150, 301), threads=(32, 8), max_sectors_per_request=5,
                      max_bank_conflicts=0, time_within=1.5, reference=matadd, quiet=True)
    assert res.values["sectors_per_request"] <= 5 and res.values["bank_conflicts"] == 0
    assert res.values["estimated_time"] == pytest.approx(res.values["reference_time"])
    with pytest.raises(CheckFailure) as ei:
        check_metrics(matadd_columns, matadd_inputs, (150, 301), launch=columns_launch, max_sectors_per_request=5,
                      time_within=1.5, reference=matadd, reference_launch=default_launch((32, 8)))
    msg = str(ei.value)
    assert "sectors per request (at most 5 allowed" in msg
    assert "out[row, col] = a[row, col] + b[row, col]" in msg and "line 5 of the kernel" in msg
    assert "threadIdx.x must index the last (column) axis" in msg
    assert "estimated time (a model" in msg and "reference solution" in msg


def test_bank_conflict_gate_names_the_line():
    def inputs(rng, shape):
        return rng.random(shape, dtype=np.float32), np.zeros(shape[::-1], np.float32)

    def launch(kernel, args, shape):
        kernel[((shape[1] + 31) // 32, (shape[0] + 31) // 32), (32, 32)](*args)

    check_kernel(transpose_shared, lambda a, out: a.T, inputs, sizes=[(70, 45)], launch=launch, quiet=True)
    with pytest.raises(CheckFailure) as ei:
        check_metrics(transpose_shared, inputs, (64, 64), launch=launch, max_bank_conflicts=0)
    msg = str(ei.value)
    assert "bank conflicts (at most 0 allowed)" in msg and "tile[tx, ty]" in msg and "[32][33]" in msg


def test_metric_gate_without_profiler_is_a_setup_error(monkeypatch):
    monkeypatch.delattr(cuda, "profile")
    with pytest.raises(GraderSetupError, match="profiler"):
        check_metrics(matadd, matadd_inputs, (20, 20), threads=(32, 8), max_sectors_per_request=5)


def test_rubric_partial_credit_and_requirements(capsys):
    r = Rubric(points=3)
    with r.part(1, "values"):
        check_kernel(saxpy_wrong, saxpy_ref, saxpy_inputs, sizes=[40], quiet=True)
    with r.part(2, "speed", requires=True):
        pass
    out = capsys.readouterr().out
    assert r.score() == 0.0 and isinstance(r.score(), float)
    assert "[ ] values (0/1)" in out and "counts only once this passes too: values" in out

    r = Rubric(points=3)
    with r.part(1, "values"):
        check_kernel(saxpy, saxpy_ref, saxpy_inputs, sizes=[40], quiet=True)
    with r.part(2, "speed", requires="values"):
        raise NameError("name 'launch_matadd' is not defined")
    assert r.score() == 1.0
    assert "NameError" in capsys.readouterr().out

    r = Rubric(points=2)
    with r.part(1, "a"):
        pass
    with pytest.raises(ValueError, match="add up to 1"):
        r.score()
    with pytest.raises(ValueError, match="more than"):
        with r.part(5, "too much"):
            pass
    with pytest.raises(ValueError, match="no earlier part"):
        with Rubric(1).part(1, "x", requires="y"):
            pass


@cuda.jit
def saxpy_reads_twice(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]
        out[i] = out[i] + 0 * x[(i + 32) % x.size]     # reads out and x again: twice the load traffic


@cuda.jit
def saxpy_stub(a, x, y, out):
    # YOUR CODE HERE
    raise NotImplementedError()


def test_traffic_gate_counts_bytes_in_whole_sectors():
    from simtlab.grader import sector_bytes

    assert sector_bytes(np.zeros(8, np.float32)) == 32 and sector_bytes(np.zeros(9, np.float32)) == 64
    assert sector_bytes(np.zeros(1000, np.float32), np.zeros(3, np.int8)) == 4000 + 32
    n = 1000
    _, x, y, out = saxpy_inputs(np.random.default_rng(0), n)
    res = run_metrics(saxpy, saxpy_inputs, n, max_load_bytes=sector_bytes(x, y), max_store_bytes=sector_bytes(out),
                      quiet=True)
    assert res.values["global_ld_bytes"] == 8000 and res.values["global_st_bytes"] == 4000
    with pytest.raises(CheckFailure) as ei:
        check_metrics(saxpy_reads_twice, saxpy_inputs, n, max_load_bytes=sector_bytes(x, y),
                      max_store_bytes=sector_bytes(out))
    msg = str(ei.value)
    assert "global loads moved 16,000 bytes (500 sectors of 32 bytes); at most 8,000 allowed" in msg
    assert "x[(i + 32) % x.size]" in msg and "(250 sectors)" in msg and "global stores moved 8,000 bytes" in msg


def test_an_exercise_stub_says_implement_this_instead_of_failing_the_check(capsys):
    from simtlab.emulator import KernelNotImplementedError

    with pytest.raises(NotImplementedError) as ei:
        check_kernel(saxpy_stub, saxpy_ref, saxpy_inputs, sizes=[100])
    assert isinstance(ei.value, KernelNotImplementedError) and not isinstance(ei.value, CheckFailure)
    assert "not implemented yet" in str(ei.value) and "raise NotImplementedError()" in str(ei.value)
    with pytest.raises(NotImplementedError):
        check_metrics(saxpy_stub, saxpy_inputs, 100, max_sectors_per_request=4)
    rubric = Rubric(2)
    with rubric.part(1, "values"):
        check_kernel(saxpy_stub, saxpy_ref, saxpy_inputs, sizes=[100])
    with rubric.part(1, "metrics", requires=True):
        check_metrics(saxpy_stub, saxpy_inputs, 100, max_sectors_per_request=4)
    assert rubric.score() == 0
    out = capsys.readouterr().out
    assert out.count("not implemented yet") == 2 and out.count("fix: replace") == 1   # said in full once
