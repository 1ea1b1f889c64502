"""The bug zoo: kernels with one planted bug each, and what the sanitizer must say about it.

Every kernel marks the source lines of the bug with ``# @name`` comments; a :class:`Bug` names the
tool and kind that must catch it and the marked lines where the later access (``line``) and the earlier
one (``other``) sit. ``run`` launches the kernel with inputs that trigger the bug; ``raises`` is the
engine error the launch ends with, for the bugs the engine itself refuses to run past.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from simtlab.emulator import (
    BarrierDivergenceError,
    MisalignedAccessError,
    OutOfBoundsError,
    WarpMaskError,
    cuda,
)

F = np.float32
TILE = 8
TILE_PADDED = TILE + 1  # numba needs shared shapes as constants, not expressions


@dataclass
class Bug:
    name: str
    kernel: object
    run: Callable[[], None]
    tool: str
    kind: str
    line: str
    other: str | None = None
    raises: type[BaseException] | None = None
    scope: str | None = None          # "warp", "block" or "grid" for races
    severity: str = "error"


def line_of(kernel, tag: str) -> int:
    """Line number of the line marked ``# @tag`` in the kernel's source."""
    lines, start = inspect.getsourcelines(kernel.py_func)
    hits = [start + i for i, text in enumerate(lines) if text.rstrip().endswith(f"# @{tag}")]
    assert len(hits) == 1, f"tag @{tag} found {len(hits)} times in {kernel.__name__}"
    return hits[0]


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(F)


# ------------------------------------------------------------------------------------------------ racecheck

@cuda.jit
def matmul_no_barrier_after_load(a, b, c):
    sa = cuda.shared.array((TILE, TILE), F)
    sb = cuda.shared.array((TILE, TILE), F)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row, col = cuda.grid(2)
    acc = F(0)
    for k0 in range(0, a.shape[1], TILE):
        sa[ty, tx] = a[row, k0 + tx]  # @store
        sb[ty, tx] = b[k0 + ty, col]
        for k in range(TILE):
            acc += sa[ty, k] * sb[k, tx]  # @load
        cuda.syncthreads()
    c[row, col] = acc


@cuda.jit
def matmul_no_barrier_before_overwrite(a, b, c):
    sa = cuda.shared.array((TILE, TILE), F)
    sb = cuda.shared.array((TILE, TILE), F)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row, col = cuda.grid(2)
    acc = F(0)
    for k0 in range(0, a.shape[1], TILE):
        sa[ty, tx] = a[row, k0 + tx]  # @store
        sb[ty, tx] = b[k0 + ty, col]
        cuda.syncthreads()
        for k in range(TILE):
            acc += sa[ty, k] * sb[k, tx]  # @load
    c[row, col] = acc


def _matmul(kernel):
    a, b = _rand(16, 32), _rand(32, 16, seed=1)
    c = np.zeros((16, 16), F)
    return lambda: kernel[(2, 2), (TILE, TILE)](a, b, c)


@cuda.jit
def reduce_no_barrier_in_loop(x, out):
    s = cuda.shared.array(128, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    step = 64
    while step > 0:
        if t < step:
            s[t] += s[t + step]  # @both
        step //= 2
    if t == 0:
        out[cuda.blockIdx.x] = s[0]


@cuda.jit
def reduce_last_warp_no_syncwarp(x, out):
    s = cuda.shared.array(128, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    step = 64
    while step > 32:
        if t < step:
            s[t] += s[t + step]
        cuda.syncthreads()
        step //= 2
    if t < 32:
        s[t] += s[t + 32]  # @first
        s[t] += s[t + 16]  # @second
        s[t] += s[t + 8]
        s[t] += s[t + 4]
        s[t] += s[t + 2]
        s[t] += s[t + 1]
    if t == 0:
        out[cuda.blockIdx.x] = s[0]


def _reduce(kernel):
    x = _rand(512)
    out = np.zeros(4, F)
    return lambda: kernel[4, 128](x, out)


@cuda.jit
def global_rmw_across_blocks(x, total):
    s = cuda.shared.array(64, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    if t == 0:
        acc = F(0)
        for j in range(64):
            acc += s[j]
        total[0] = total[0] + acc  # @rmw


@cuda.jit
def global_neighbour_without_barrier(x, out):
    i = cuda.grid(1)
    out[i] = x[i] * 2  # @write
    if i + 1 < out.size:
        x[i] = out[i + 1]  # @read


@cuda.jit
def global_waw_same_block(out):
    out[cuda.blockIdx.x] = cuda.threadIdx.x  # @write


@cuda.jit
def global_waw_same_value(out):
    out[cuda.blockIdx.x] = 7  # @write


@cuda.jit
def scan_in_place(x, out):
    s = cuda.shared.array(64, np.int32)
    t = cuda.threadIdx.x
    s[t] = x[t]
    cuda.syncthreads()
    off = 1
    while off < 64:
        if t >= off:
            s[t] += s[t - off]  # @rw
        cuda.syncthreads()
        off *= 2
    out[t] = s[t]


@cuda.jit
def stencil_in_place_global(x):
    i = cuda.grid(1)
    if 0 < i and i < x.size - 1:
        x[i] = (x[i - 1] + x[i + 1]) * F(0.5)  # @rw


@cuda.jit
def shared_flag_all_threads(x, out):
    flag = cuda.shared.array(1, np.int32)
    t = cuda.threadIdx.x
    flag[0] = t  # @write
    cuda.syncthreads()
    out[cuda.grid(1)] = flag[0] + x[cuda.grid(1)]


@cuda.jit
def histogram_plain_increment(data, hist):
    h = cuda.shared.array(8, np.int32)
    t = cuda.threadIdx.x
    if t < 8:
        h[t] = 0
    cuda.syncthreads()
    b = data[cuda.grid(1)]
    h[b] += 1  # @inc
    cuda.syncthreads()
    if t < 8:
        cuda.atomic.add(hist, t, h[t])


@cuda.jit
def transpose_tile_no_barrier(a, out):
    tile = cuda.shared.array((TILE, TILE_PADDED), F)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    bx, by = cuda.blockIdx.x * TILE, cuda.blockIdx.y * TILE
    tile[ty, tx] = a[by + ty, bx + tx]  # @store
    out[bx + ty, by + tx] = tile[tx, ty]  # @load


@cuda.jit
def next_block_reads_previous(x, out):
    b = cuda.blockIdx.x
    if cuda.threadIdx.x == 0:
        out[b] = x[b] * 2  # @write
        if b > 0:
            x[b] = out[b - 1]  # @read


@cuda.jit
def counter_reset_without_barrier(x, out):
    count = cuda.shared.array(1, np.int32)
    t = cuda.threadIdx.x
    if t == 0:
        count[0] = 0  # @reset
    if x[cuda.grid(1)] > 0:
        cuda.atomic.add(count, 0, 1)  # @atomic
    cuda.syncthreads()
    if t == 0:
        out[cuda.blockIdx.x] = count[0]


@cuda.jit
def last_block_without_threadfence(x, partial, counter, total):
    i = cuda.grid(1)
    if cuda.threadIdx.x == 0:
        partial[cuda.blockIdx.x] = x[i]  # @publish
        ticket = cuda.atomic.add(counter, 0, 1)
        if ticket == cuda.gridDim.x - 1:
            acc = F(0)
            for b in range(cuda.gridDim.x):
                acc += partial[b]  # @gather
            total[0] = acc


@cuda.jit
def phases_without_grid_sync(x, tmp, out):
    i = cuda.grid(1)
    n = x.size
    tmp[i] = x[i] * 2  # @phase1
    out[i] = tmp[n - 1 - i]  # @phase2


# ------------------------------------------------------------------------------------------------ synccheck

@cuda.jit
def barrier_in_one_branch(x):
    t = cuda.threadIdx.x
    if t < 16:
        cuda.syncthreads()  # @barrier
    x[t] = t


@cuda.jit
def barriers_in_both_branches(x):
    t = cuda.threadIdx.x
    if t % 2 == 0:
        x[t] = 1
        cuda.syncthreads()  # @then
    else:
        x[t] = 2
        cuda.syncthreads()  # @else


@cuda.jit
def barrier_in_divergent_loop(x):
    t = cuda.threadIdx.x
    for _ in range(t % 3):
        x[t] += 1
        cuda.syncthreads()  # @barrier


@cuda.jit
def shuffle_full_mask_in_branch(x):
    t = cuda.threadIdx.x
    v = x[t]
    if t < 16:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, 1)  # @shfl
    x[t] = v


@cuda.jit
def syncwarp_after_exit(x):
    t = cuda.threadIdx.x
    if t >= 20:
        return
    x[t] = t
    cuda.syncwarp()  # @syncwarp


@cuda.jit
def ballot_in_branch(x, out):
    t = cuda.threadIdx.x
    if x[t] > 0:
        out[t] = cuda.ballot_sync(0xFFFFFFFF, t % 2 == 0)  # @ballot


# ------------------------------------------------------------------------------------------------ memcheck

@cuda.jit
def tail_read_off_by_one(x, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] + x[i + 1]  # @read


@cuda.jit
def missing_guard_store(x, out):
    i = cuda.grid(1)
    out[i] = x[i % x.size] * 2  # @store


@cuda.jit
def negative_index(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] - x[i - 1]  # @read


@cuda.jit
def shared_halo_overflow(x, out):
    s = cuda.shared.array(32, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    out[cuda.grid(1)] = s[t] + s[t + 1]  # @read


@cuda.jit
def column_overflow_2d(a, out):
    r, c = cuda.grid(2)
    if r < a.shape[0] and c < a.shape[1]:
        out[r, c] = a[r, c + 1] - a[r, c]  # @read


@cuda.jit
def copy_f32(x, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i]  # @copy


def _misaligned():
    raw = cuda.device_array(64, dtype=np.uint8)
    raw.copy_to_device(np.zeros(64, np.uint8))
    bad = raw[2:34].view(np.float32)
    copy_f32[1, 8](bad, cuda.device_array(8, F))


# ------------------------------------------------------------------------------------------------ initcheck

@cuda.jit
def stencil_halo_not_loaded(x, out):
    s = cuda.shared.array(34, F)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    s[t + 1] = x[i]
    cuda.syncthreads()
    out[i] = s[t] + s[t + 1] + s[t + 2]  # @read


@cuda.jit
def read_device_array_never_written(scratch, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = scratch[i] + 1  # @read


@cuda.jit
def local_partially_initialised(x, out):
    acc = cuda.local.array(4, F)
    i = cuda.grid(1)
    for k in range(3):
        acc[k] = x[i] * k
    total = F(0)
    for k in range(4):
        total += acc[k]  # @read
    out[i] = total


@cuda.jit
def counter_never_zeroed(x, counter):
    i = cuda.grid(1)
    if x[i] > 0:
        cuda.atomic.add(counter, 0, 1)  # @atomic


@cuda.jit
def shared_sum_never_zeroed(x, out):
    total = cuda.shared.array(1, F)
    if cuda.threadIdx.x == 0:
        for j in range(32):
            total[0] += x[cuda.blockIdx.x * 32 + j]  # @read
        out[cuda.blockIdx.x] = total[0]


def _bugs() -> list[Bug]:
    x256 = _rand(256)
    o256 = np.zeros(256, F)
    return [
        Bug("tiled matmul, no barrier after loading the tiles", matmul_no_barrier_after_load,
            _matmul(matmul_no_barrier_after_load), "racecheck", "read-after-write", "load", "store", scope="warp"),
        Bug("tiled matmul, no barrier before the tiles are overwritten", matmul_no_barrier_before_overwrite,
            _matmul(matmul_no_barrier_before_overwrite), "racecheck", "write-after-read", "store", "load"),
        Bug("tree reduction without syncthreads in the loop", reduce_no_barrier_in_loop,
            _reduce(reduce_no_barrier_in_loop), "racecheck", "read-after-write", "both", "both", scope="block"),
        Bug("last-warp reduction without syncwarp", reduce_last_warp_no_syncwarp,
            _reduce(reduce_last_warp_no_syncwarp), "racecheck", "read-after-write", "second", "first",
            scope="warp"),
        Bug("global read-modify-write race across blocks", global_rmw_across_blocks,
            lambda: global_rmw_across_blocks[4, 64](x256, np.zeros(1, F)), "racecheck", "write-after-read",
            "rmw", "rmw", scope="grid"),
        Bug("global neighbour read without a barrier", global_neighbour_without_barrier,
            lambda: global_neighbour_without_barrier[2, 128](_rand(256), o256), "racecheck", "read-after-write",
            "read", "write", scope="warp"),
        Bug("every thread of a block writes one global element", global_waw_same_block,
            lambda: global_waw_same_block[4, 64](np.zeros(4, np.int64)), "racecheck", "write-after-write",
            "write", "write", scope="warp"),
        Bug("in-place Hillis-Steele scan (single buffer)", scan_in_place,
            lambda: scan_in_place[1, 64](np.arange(64, dtype=np.int32), np.zeros(64, np.int32)), "racecheck",
            "write-after-read", "rw", "rw"),
        Bug("in-place stencil on global memory", stencil_in_place_global,
            lambda: stencil_in_place_global[4, 64](_rand(256)), "racecheck", "write-after-read", "rw", "rw"),
        Bug("shared flag written by every thread", shared_flag_all_threads,
            lambda: shared_flag_all_threads[2, 64](np.arange(128, dtype=np.int32), np.zeros(128, np.int32)),
            "racecheck", "write-after-write", "write", "write"),
        Bug("shared histogram with += instead of an atomic", histogram_plain_increment,
            lambda: histogram_plain_increment[2, 64](np.arange(128, dtype=np.int32) % 8, np.zeros(8, np.int32)),
            "racecheck", "write-after-read", "inc", "inc"),
        Bug("tiled transpose without a barrier", transpose_tile_no_barrier,
            lambda: transpose_tile_no_barrier[(2, 2), (TILE, TILE)](_rand(16, 16), np.zeros((16, 16), F)),
            "racecheck", "read-after-write", "load", "store"),
        Bug("a block reads what the previous block wrote", next_block_reads_previous,
            lambda: next_block_reads_previous[4, 32](_rand(4), np.zeros(4, F)), "racecheck", "read-after-write",
            "read", "write", scope="grid"),
        Bug("shared counter reset with no barrier before the atomics", counter_reset_without_barrier,
            lambda: counter_reset_without_barrier[2, 64](_rand(128), np.zeros(2, np.int32)), "racecheck",
            "write-after-write", "atomic", "reset"),
        Bug("last block sums the partials without a threadfence", last_block_without_threadfence,
            lambda: last_block_without_threadfence[4, 32](_rand(128), np.zeros(4, F), np.zeros(1, np.int32),
                                                          np.zeros(1, F)),
            "racecheck", "read-after-write", "gather", "publish", scope="grid"),
        Bug("two phases that need a grid barrier between them", phases_without_grid_sync,
            lambda: phases_without_grid_sync[4, 32](_rand(128), np.zeros(128, F), np.zeros(128, F)), "racecheck",
            "read-after-write", "phase2", "phase1", scope="grid"),
        Bug("barrier in only one branch", barrier_in_one_branch,
            lambda: barrier_in_one_branch[1, 32](np.zeros(32, np.int64)), "synccheck", "divergent-barrier",
            "barrier", raises=BarrierDivergenceError),
        Bug("different barriers in the two branches", barriers_in_both_branches,
            lambda: barriers_in_both_branches[1, 32](np.zeros(32, np.int64)), "synccheck", "mismatched-barriers",
            "then", "else", raises=BarrierDivergenceError),
        Bug("barrier in a loop whose trip count depends on the thread", barrier_in_divergent_loop,
            lambda: barrier_in_divergent_loop[1, 32](np.zeros(32, np.int64)), "synccheck", "divergent-barrier",
            "barrier", raises=BarrierDivergenceError),
        Bug("full-mask shuffle inside a divergent branch", shuffle_full_mask_in_branch,
            lambda: shuffle_full_mask_in_branch[1, 32](_rand(32)), "synccheck", "invalid-warp-mask", "shfl",
            raises=WarpMaskError),
        Bug("syncwarp after some lanes returned", syncwarp_after_exit,
            lambda: syncwarp_after_exit[1, 32](np.zeros(32, np.int64)), "synccheck", "invalid-warp-mask",
            "syncwarp", raises=WarpMaskError),
        Bug("full-mask ballot under a data-dependent branch", ballot_in_branch,
            lambda: ballot_in_branch[1, 32](_rand(32), np.zeros(32, np.uint32)), "synccheck", "invalid-warp-mask",
            "ballot", raises=WarpMaskError),
        Bug("off-by-one tail read", tail_read_off_by_one,
            lambda: tail_read_off_by_one[4, 64](x256, o256), "memcheck", "out-of-bounds", "read",
            raises=OutOfBoundsError),
        Bug("store without a bounds guard", missing_guard_store,
            lambda: missing_guard_store[3, 100](x256, o256), "memcheck", "out-of-bounds", "store",
            raises=OutOfBoundsError),
        Bug("negative index at the first element", negative_index,
            lambda: negative_index[4, 64](x256, o256), "memcheck", "negative-index", "read",
            raises=OutOfBoundsError),
        Bug("shared halo read past the end of the tile", shared_halo_overflow,
            lambda: shared_halo_overflow[2, 32](_rand(64), np.zeros(64, F)), "memcheck", "out-of-bounds", "read",
            raises=OutOfBoundsError),
        Bug("2-D read one column past the edge", column_overflow_2d,
            lambda: column_overflow_2d[(1, 1), (8, 8)](_rand(8, 8), np.zeros((8, 8), F)), "memcheck",
            "out-of-bounds", "read", raises=OutOfBoundsError),
        Bug("misaligned float32 view of a byte buffer", copy_f32, _misaligned, "memcheck", "misaligned", "",
            raises=MisalignedAccessError),
        Bug("stencil halo cells never loaded into shared memory", stencil_halo_not_loaded,
            lambda: stencil_halo_not_loaded[2, 32](_rand(64), np.zeros(64, F)), "initcheck", "uninitialized-read",
            "read"),
        Bug("kernel reads a device_array nobody wrote", read_device_array_never_written,
            lambda: read_device_array_never_written[1, 64](cuda.device_array(64, F), np.zeros(64, F)),
            "initcheck", "uninitialized-read", "read"),
        Bug("local array summed past the initialised part", local_partially_initialised,
            lambda: local_partially_initialised[1, 32](_rand(32), np.zeros(32, F)), "initcheck",
            "uninitialized-read", "read"),
        Bug("atomic counter in a device_array that was never zeroed", counter_never_zeroed,
            lambda: counter_never_zeroed[1, 32](_rand(32), cuda.device_array(1, np.int32)), "initcheck",
            "uninitialized-read", "atomic"),
        Bug("shared accumulator never zeroed", shared_sum_never_zeroed,
            lambda: shared_sum_never_zeroed[2, 32](_rand(64), np.zeros(2, F)), "initcheck", "uninitialized-read",
            "read"),
    ]


BUGS: list[Bug] = _bugs()
