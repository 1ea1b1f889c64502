"""The L1/L2 model over the emulated sector stream."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda

N = 1 << 18


@cuda.jit
def offset_copy(a, out, off):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i + off]


@cuda.jit
def read_twice(a, out):
    i = cuda.grid(1)
    out[i] = a[i]
    cuda.syncthreads()
    out[i] += a[(i + 4096) % a.size]


@pytest.fixture(scope="module")
def arrays():
    return cuda.to_device(np.arange(N + 64, dtype=np.float32)), cuda.device_array(N, np.float32)


@pytest.mark.parametrize("chip", ["teaching", "h100"])
def test_misaligned_copy_reuses_sectors_in_l1_and_l2(arrays, chip):
    a, out = arrays
    aligned = cuda.profile(offset_copy[N // 256, 256], a, out, 0, chip=chip)
    shifted = cuda.profile(offset_copy[N // 256, 256], a, out, 1, chip=chip)
    assert shifted["global load sectors"] == aligned["global load sectors"] * 5 // 4
    assert aligned["L1 hit rate"] == 0.0
    assert shifted["L1 hit rate"] > 10.0                      # the neighbouring warp's sector is in L1
    read_a, read_s = aligned["DRAM bytes read"], shifted["DRAM bytes read"]
    assert read_a == N * 4
    assert read_s <= 1.01 * read_a                             # not 25% more: the caches absorb it
    assert shifted["DRAM bytes written"] == aligned["DRAM bytes written"] == N * 4
    assert shifted.time_us <= 1.1 * aligned.time_us


def test_second_read_of_recent_data_hits_l2():
    a = cuda.to_device(np.ones(1 << 16, np.float32))
    out = cuda.device_array(1 << 16, np.float32)
    r = cuda.profile(read_twice[256, 256], a, out)
    assert r["DRAM bytes read"] == (1 << 16) * 4             # every sector comes from DRAM once
    assert r["L2 hit rate (reads)"] > 0 or r["L1 hit rate"] > 0
    first = read_twice.py_func.__code__.co_firstlineno
    line2 = r.per_line[first + 5]
    assert line2["dram_sectors"] < r.per_line[first + 3]["dram_sectors"]


def test_no_data_caches_on_g80_means_every_sector_is_dram_traffic(arrays):
    a, out = arrays
    r = cuda.profile(offset_copy[N // 256, 256], a, out, 0, chip="g80")
    assert r.get("L1 hit rate") is None and r.get("L2 hit rate (reads)") is None
    assert r["DRAM bytes read"] == N * 4 and r["DRAM bytes written"] == N * 4
