"""Semantics of the vectorised engine that the conformance suite does not pin down on its own."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from simtlab.emulator import cuda
from simtlab.emulator.kernel import plan_chunks

F = np.float32
rng = np.random.default_rng(7)


@cuda.jit
def read_then_overwrite(x, out):
    i = cuda.grid(1)
    if i < x.size:
        t = x[i]
        x[i] = -1.0
        out[i] = t


def test_a_loaded_value_does_not_change_when_the_array_is_written_later():
    x = rng.random(1000).astype(F)
    ref = x.copy()
    out = np.zeros_like(x)
    read_then_overwrite[4, 256](x, out)
    assert (out == ref).all() and (x == -1).all()


@cuda.jit
def copy_shifted(src, dst):
    i = cuda.grid(1)
    if i + 1 < dst.size:
        dst[i + 1] = src[i]


def test_aliased_arguments_see_lockstep_semantics():
    a = np.arange(300, dtype=F)
    copy_shifted[2, 256](a, a)          # the same array as source and destination
    # lockstep: every thread reads before any thread of the statement writes
    assert a[0] == 0 and (a[1:] == np.arange(299, dtype=F)).all()


@cuda.jit
def divergent(x, out):
    i = cuda.grid(1)
    if i >= x.size:
        return
    v = x[i]
    if v > 0.5:
        r = v * 2
        if v > 0.75:
            r = r + 100
    elif v > 0.25:
        r = -v
    else:
        r = 7.0
    out[i] = r


def test_nested_divergent_branches_merge_per_thread():
    x = rng.random(777).astype(F)
    out = np.zeros_like(x)
    divergent[4, 200](x, out)
    ref = np.where(x > 0.5, np.where(x > 0.75, x * 2 + 100, x * 2), np.where(x > 0.25, -x, 7.0)).astype(F)
    assert np.array_equal(out, ref)


@cuda.jit
def loops(n, out):
    i = cuda.grid(1)
    if i >= out.shape[0]:
        return
    s = 0
    last = -1
    for k in range(n[i]):
        if k % 3 == 1:
            continue
        if k > 2 * i:
            break
        s += k
        last = k
    j = 0
    while True:
        j += 1
        if j >= i:
            break
    out[i, 0] = s
    out[i, 1] = last
    out[i, 2] = k if n[i] > 0 else -5
    out[i, 3] = j


def test_break_continue_and_loop_variables_per_thread():
    m = 150
    n = rng.integers(0, 40, size=m)
    out = np.zeros((m, 4), np.int64)
    loops[3, 64](n, out)
    for i in range(m):
        s, last, kk = 0, -1, -5
        for k in range(n[i]):
            kk = k
            if k % 3 == 1:
                continue
            if k > 2 * i:
                break
            s += k
            last = k
        j = 0
        while True:
            j += 1
            if j >= i:
                break
        assert tuple(out[i]) == (s, last, kk, j), i


@cuda.jit(device=True)
def clamp_pair(a, lo, hi):
    if a < lo:
        return lo, 0
    if a > hi:
        return hi, 2
    return a, 1


@cuda.jit
def uses_device_function(x, out, where):
    i = cuda.grid(1)
    if i < x.size:
        v, w = clamp_pair(x[i], 0.2, 0.8)
        out[i] = v
        where[i] = w


def test_device_function_with_divergent_returns_and_a_tuple():
    x = rng.random(500).astype(F)
    out = np.zeros_like(x)
    where = np.zeros(500, np.int64)
    uses_device_function[2, 256](x, out, where)
    assert np.allclose(out, np.clip(x, 0.2, 0.8))
    assert (where == np.where(x < 0.2, 0, np.where(x > 0.8, 2, 1))).all()


@cuda.jit
def map2d(a, out):
    x, y = cuda.grid(2)
    if y < a.shape[0] and x < a.shape[1]:
        out[y, x] = a[y, x] * 2 + y - x


@pytest.mark.parametrize("max_lanes", [64, 1000, 1 << 18])
def test_results_do_not_depend_on_the_chunk_size(max_lanes):
    a = rng.random((37, 53)).astype(F)
    out = np.zeros_like(a)
    cuda.set_chunk_budget(max_lanes=max_lanes)
    try:
        map2d[(7, 5), (8, 8)](a, out)
    finally:
        cuda.set_chunk_budget(max_lanes=1 << 18)
    yy, xx = np.mgrid[0:37, 0:53]
    assert np.array_equal(out, (a * 2 + yy - xx).astype(F))


def test_chunks_cover_the_grid_once_in_linear_order():
    for grid, bpc in [((5, 3, 2), 1), ((5, 3, 2), 4), ((5, 3, 2), 7), ((5, 3, 2), 16), ((5, 3, 2), 100)]:
        seen = []
        for (bz, by, bx), (z0, y0, x0) in plan_chunks(grid, bpc):
            assert bz * by * bx <= max(bpc, 1) or bpc >= 30
            for z in range(z0, z0 + bz):
                for y in range(y0, y0 + by):
                    for x in range(x0, x0 + bx):
                        seen.append(x + y * grid[0] + z * grid[0] * grid[1])
        assert seen == list(range(30)), (grid, bpc)


@cuda.jit
def vadd(x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] * 2.0 + y[i] * x[i] - 1.0


def test_peak_memory_is_bounded_by_the_chunk_not_the_grid():
    peaks = []
    for n in (1 << 18, 1 << 21):
        x = cuda.to_device(np.ones(n, F))
        y = cuda.to_device(np.ones(n, F))
        out = cuda.device_array(n, F)
        vadd[(n + 255) // 256, 256](x, y, out)   # compile outside the measurement
        tracemalloc.start()
        vadd[(n + 255) // 256, 256](x, y, out)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert (out.copy_to_host() == 2.0).all()
    # 8x the grid, the same chunk: the peak must not grow with the grid
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_kernels_compile_once():
    x = np.ones(10, F)
    vadd[1, 32](x, x, np.zeros_like(x))
    c = vadd.compiled((), False)
    vadd[1, 32](x, x, np.zeros_like(x))
    assert vadd.compiled((), False) is c


@cuda.jit
def talk(x):
    i = cuda.grid(1)
    if i < 3:
        print("thread", i, x[i])


def test_print_in_kernels(capsys):
    talk[1, 32](np.array([1.5, 2.5, 3.5]))
    assert capsys.readouterr().out.splitlines() == ["thread 0 1.5", "thread 1 2.5", "thread 2 3.5"]


@cuda.jit
def and_guard(x, out):
    i = cuda.grid(1)
    if i < x.size and x[i] > 0:
        out[i] = 1
    out2 = 5 if i < x.size and x[i] < 0 else 6
    if i < out.size:
        out[i] += out2


def test_short_circuit_and_guards_an_out_of_bounds_read():
    x = np.array([1.0, -1.0, 0.0, 2.0])
    out = np.zeros(4)
    and_guard[1, 64](x, out)
    assert out.tolist() == [7.0, 5.0, 6.0, 7.0]


def test_device_arrays_host_api():
    a = np.arange(24, dtype=np.int32).reshape(4, 6)
    d = cuda.to_device(a)
    assert d.shape == (4, 6) and d.dtype == np.int32 and d.size == 24 and d.ndim == 2
    assert d.address % 256 == 0
    sub = d[1:3]
    assert sub.shape == (2, 6) and sub.address == d.address + 24
    assert (sub.copy_to_host() == a[1:3]).all()
    host = np.empty((4, 6), np.int32)
    d.copy_to_host(host)
    assert (host == a).all()
    fresh = cuda.device_array(4, np.float32)
    assert np.isnan(fresh.copy_to_host()).all()     # poisoned, not zeros
    cai = d.__cuda_array_interface__
    assert cai["shape"] == (4, 6) and cai["data"][0] == d.address


@cuda.jit
def merges(x, out):
    i = cuda.grid(1)
    if i >= x.size:
        return
    v = x[i]
    a = 1
    if v > 0.5:
        a = 2                      # read after the if by lanes that did not take it
    else:
        b = a + 10                 # the else part reads a's old value
        out[i, 4] = b
    c = 0
    for k in range(4):
        if (i + k) % 2 == 0:
            c = c + k              # lanes skipping this iteration keep their c for the next
        if k == 2 and v < 0.2:
            break
        if k == 1 and v > 0.9:
            continue
        c = c + 100
    d = 5
    while d > 0:
        d -= 1
        if v > 0.3:
            e = d                  # e is read after the loop
    out[i, 0] = a
    out[i, 1] = c
    out[i, 2] = e if v > 0.3 else -1
    out[i, 3] = d


def test_merges_of_variables_assigned_under_partial_masks():
    x = rng.random(300).astype(F)
    out = np.zeros((300, 5), np.int64)
    merges[2, 256](x, out)
    for i, v in enumerate(x):
        a = 2 if v > 0.5 else 1
        b = 11 if v <= 0.5 else 0
        c = 0
        for k in range(4):
            if (i + k) % 2 == 0:
                c += k
            if k == 2 and v < 0.2:
                break
            if k == 1 and v > 0.9:
                continue
            c += 100
        d, e = 5, -1
        while d > 0:
            d -= 1
            if v > 0.3:
                e = d
        assert tuple(out[i]) == (a, c, e if v > 0.3 else -1, d, b), i


@cuda.jit
def hist_u8(data, bins):
    i = cuda.grid(1)
    if i < data.size:
        cuda.atomic.add(bins, data[i], 1)


def test_atomics_with_narrow_index_types():
    data = rng.integers(0, 256, 5000).astype(np.uint8)
    bins = np.zeros(256, np.int32)
    hist_u8[20, 256](data, bins)
    assert (bins == np.bincount(data, minlength=256)).all()
