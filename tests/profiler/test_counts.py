"""Exact counts for the textbook cases: coalescing, bank conflicts, constant and local memory, atomics,
divergence, and the naive vs tiled transpose."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda

F = np.float32


@cuda.jit
def strided_load(a, out, s):
    i = cuda.threadIdx.x
    out[i] = a[i * s]


@cuda.jit
def offset_load(a, out, off):
    i = cuda.threadIdx.x
    out[i] = a[i + off]


@cuda.jit
def double_load(a, out):
    i = cuda.threadIdx.x
    out[i] = a[i]


@pytest.fixture(scope="module")
def big():
    return cuda.to_device(np.zeros(4096, F)), cuda.device_array(4096, F)


@pytest.mark.parametrize(("stride", "sectors"), [(1, 4), (2, 8), (4, 16), (32, 32)])
def test_float32_warp_load_sectors_by_stride(big, stride, sectors):
    a, out = big
    r = cuda.profile(strided_load[1, 32], a, out, stride)
    assert r["global load requests"] == 1
    assert r["global load sectors"] == sectors
    assert r["global load sectors per request"] == sectors
    assert r["global sectors if coalesced"] == 4 + 4          # the load's ideal 4 and the store's 4
    assert r["excessive global sectors"] == sectors - 4
    line = strided_load.py_func.__code__.co_firstlineno + 3
    assert r.per_line[line]["global_ld_sectors"] == sectors and r.per_line[line]["global_ld_ideal"] == 4


def test_misaligned_sequential_warp_load_touches_five_sectors(big):
    a, out = big
    r = cuda.profile(offset_load[1, 32], a, out, 1)
    assert r["global load sectors"] == 5
    assert r["global store sectors"] == 4
    msgs = [f.message for f in r.findings if f.kind == "uncoalesced"]
    assert msgs and "5 sectors per request, ideal 4" in msgs[0] and "sector boundary" in msgs[0]


def test_float64_and_partial_warps():
    a = cuda.to_device(np.zeros(64, np.float64))
    out = cuda.device_array(64, np.float64)
    r = cuda.profile(double_load[1, 32], a, out)
    assert r["global load sectors"] == 8                     # 32 x 8 bytes = 256 bytes
    r = cuda.profile(double_load[1, 20], a, out)               # one partial warp of 20 lanes
    assert r["global load sectors"] == 5 and r["active threads per warp instruction"] == 20


def test_uncoalesced_finding_names_the_stride(big):
    a, out = big
    r = cuda.profile(strided_load[1, 32], a, out, 32)
    f = [f for f in r.findings if f.kind == "uncoalesced"][0]
    assert f.line == strided_load.py_func.__code__.co_firstlineno + 3
    assert "32 sectors per request, ideal 4" in f.message and "128 bytes apart" in f.message


# -- shared memory ------------------------------------------------------------------------------------


@cuda.jit
def column_read(out, pad):
    t32 = cuda.shared.array((32, 32), np.float32)
    t33 = cuda.shared.array((32, 33), np.float32)
    tx = cuda.threadIdx.x
    t32[0, tx] = 1.0      # rows: conflict-free stores
    t33[0, tx] = 1.0
    cuda.syncthreads()
    v = np.float32(0)
    if pad == 0:
        v = t32[tx, 0]
    else:
        v = t33[tx, 0]
    out[tx] = v


@cuda.jit
def strided_shared(out, s):
    buf = cuda.shared.array(1024, np.float32)
    tx = cuda.threadIdx.x
    buf[tx * s] = 1.0
    out[tx] = buf[tx * s]


@cuda.jit
def broadcast_shared(out):
    buf = cuda.shared.array(32, np.float32)
    tx = cuda.threadIdx.x
    buf[tx] = tx
    cuda.syncthreads()
    out[tx] = buf[7]


@cuda.jit
def shared64(out, s):
    buf = cuda.shared.array(2048, np.float64)
    tx = cuda.threadIdx.x
    buf[tx * s] = 1.0
    out[tx] = buf[tx * s]


def test_column_of_32x32_tile_is_32_way_and_padding_removes_it():
    out = cuda.device_array(32, F)
    r = cuda.profile(column_read[1, 32], out, 0)
    line = column_read.py_func.__code__.co_firstlineno + 10
    assert r.per_line[line]["shared_ld_wavefronts"] == 32 and r.per_line[line]["shared_ways"] == 32
    assert r["shared load bank conflicts"] == 31
    f = [f for f in r.findings if f.kind == "bank-conflict" and f.line == line][0]
    assert "32-way bank conflict" in f.message and "pad the tile's row to 33" in f.message
    r = cuda.profile(column_read[1, 32], out, 1)
    assert r["shared load wavefronts"] == 1 and r["shared load bank conflicts"] == 0
    assert not [f for f in r.findings if f.kind == "bank-conflict"]


def test_all_lanes_one_word_is_a_broadcast():
    out = cuda.device_array(32, F)
    r = cuda.profile(broadcast_shared[1, 32], out)
    assert r["shared load wavefronts"] == 1 and r["shared load bank conflicts"] == 0


@pytest.mark.parametrize("s", [1, 2, 3, 4, 5, 8, 12, 16, 31, 32])
def test_stride_s_words_is_gcd_s_32_way(s):
    out = cuda.device_array(32, F)
    r = cuda.profile(strided_shared[1, 32], out, s)
    way = np.gcd(s, 32)
    assert r["shared load wavefronts"] == way and r["shared store wavefronts"] == way
    assert r["shared bank conflicts"] == 2 * (way - 1)


def test_eight_byte_accesses_are_served_in_half_warps():
    out = cuda.device_array(32, np.float64)
    r = cuda.profile(shared64[1, 32], out, 1)
    assert r["shared load wavefronts"] == 2 and r["shared load bank conflicts"] == 0   # 256 bytes: 2 x 128
    r = cuda.profile(shared64[1, 32], out, 2)   # 16 lanes x 16-byte stride = 256 bytes per half-warp
    assert r["shared load wavefronts"] == 4 and r["shared load bank conflicts"] == 2


def test_g80_has_16_banks_and_half_warp_phases():
    out = cuda.device_array(32, F)
    with cuda.use_chip("g80"):
        r1 = cuda.profile(strided_shared[1, 32], out, 1)
        r2 = cuda.profile(strided_shared[1, 32], out, 2)
        r16 = cuda.profile(strided_shared[1, 32], out, 16)
    assert r1["shared load wavefronts"] == 2 and r1["shared load bank conflicts"] == 0   # two half-warps
    assert r2["shared load wavefronts"] == 4                                            # 2-way per half
    assert r16["shared load wavefronts"] == 32                                          # 16-way per half


# -- global memory on cc 1.0: half-warp segments ----------------------------------------------------


def test_g80_coalescing_is_all_or_nothing_per_half_warp(big):
    a, out = big
    with cuda.use_chip("g80"):
        r = cuda.profile(offset_load[1, 32], a, out, 0)
        assert r["global load sectors"] == 4                  # two 64-byte transactions
        r = cuda.profile(offset_load[1, 32], a, out, 1)
        assert r["global load sectors"] == 32                 # misaligned: 16 transactions per half-warp
        assert r["DRAM bytes read"] == 32 * 32


# -- constant and local memory ------------------------------------------------------------------------

TABLE = np.arange(64, dtype=F)


@cuda.jit
def const_read(mode, out):
    c = cuda.const.array_like(TABLE)
    t = cuda.threadIdx.x
    if mode == 0:
        out[t] = c[5]
    elif mode == 1:
        out[t] = c[t]
    else:
        out[t] = c[t // 8]


@pytest.mark.parametrize(("mode", "reads"), [(0, 1), (1, 32), (2, 4)])
def test_constant_memory_serialises_distinct_addresses(mode, reads):
    out = cuda.device_array(32, F)
    r = cuda.profile(const_read[1, 32], mode, out)
    assert r["constant requests"] == 1
    assert r["constant reads after serialisation"] == reads
    assert bool([f for f in r.findings if f.kind == "constant-serialization"]) == (reads > 1)


@cuda.jit
def local_uniform(out):
    buf = cuda.local.array(8, np.float32)
    t = cuda.grid(1)
    for k in range(8):
        buf[k] = t + k
    s = np.float32(0)
    for k in range(8):
        s += buf[k]
    out[t] = s


def test_local_arrays_are_interleaved_so_a_uniform_index_is_coalesced():
    out = cuda.device_array(64, F)
    r = cuda.profile(local_uniform[2, 32], out)
    assert r["local store requests"] == 16 and r["local load requests"] == 16
    assert r["local store sectors per request"] == 4 and r["local load sectors per request"] == 4
    assert out.copy_to_host()[3] == sum(3 + k for k in range(8))


# -- atomics --------------------------------------------------------------------------------------------


@cuda.jit
def atomics(counter, per_thread):
    t = cuda.grid(1)
    cuda.atomic.add(counter, 0, 1)
    cuda.atomic.add(per_thread, t, 1)


def test_same_address_atomics_are_counted_for_serialisation():
    counter = cuda.to_device(np.zeros(1, F))
    per = cuda.to_device(np.zeros(128, F))
    r = cuda.profile(atomics[2, 64], counter, per)
    assert r["global atomic requests"] == 8
    assert r["most atomics on one address"] == 128
    assert r["most lanes of a warp on one atomic address"] == 32
    line = atomics.py_func.__code__.co_firstlineno + 3
    assert r.per_line[line]["global_atom_sectors"] == 4        # one sector per request
    assert [f for f in r.findings if f.kind == "atomic-contention" and f.line == line]
    assert counter.copy_to_host()[0] == 128


# -- divergence -------------------------------------------------------------------------------------------


@cuda.jit
def branches(out):
    t = cuda.threadIdx.x
    if t % 2 == 0:          # every warp diverges
        out[t] = 1
    else:
        out[t] = 2
    if t < 32:              # uniform within each warp
        out[t] += 1
    if t < 48:              # diverges in warp 1 only
        out[t] += 1


def test_divergent_warps_and_branch_efficiency():
    out = cuda.device_array(128, F)
    r = cuda.profile(branches[1, 128], out)
    first = branches.py_func.__code__.co_firstlineno
    assert r["branch instructions"] == 12
    assert r["divergent branches"] == 5
    assert r["branch efficiency"] == pytest.approx(100 * 7 / 12, abs=0.01)
    assert r.per_line[first + 3]["divergent_branches"] == 4
    assert r.per_line[first + 7].get("divergent_branches", 0) == 0
    assert r.per_line[first + 9]["divergent_branches"] == 1
    assert [f for f in r.findings if f.kind == "divergence" and f.line == first + 3]


# -- transposes -------------------------------------------------------------------------------------------


def test_naive_vs_tiled_transpose_counts():
    from .ladders import run_transpose_ladder
    copy, naive, conflicts, padded = run_transpose_ladder(256, "teaching")
    blocks, warps_per_block, rows_per_thread = 64, 8, 4
    requests = blocks * warps_per_block * rows_per_thread
    assert naive["global load requests"] == requests and naive["global store requests"] == requests
    assert naive["global load sectors per request"] == 4
    assert naive["global store sectors per request"] == 32
    for r in (conflicts, padded):
        assert r["global load sectors per request"] == 4 and r["global store sectors per request"] == 4
    assert conflicts["shared load wavefronts"] == 32 * requests and conflicts["shared store wavefronts"] == requests
    assert padded["shared load wavefronts"] == requests and padded["shared bank conflicts"] == 0
    assert naive["DRAM bytes written"] == copy["DRAM bytes written"]    # the L2 merges the partial sectors
