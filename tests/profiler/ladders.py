"""Classic optimisation sequences used to check that the timing model ranks steps as real GPUs do.

The parallel-reduction ladder follows M. Harris, "Optimizing Parallel Reduction in CUDA" (NVIDIA,
2007), with the unrolled last warp written with shuffles as modern versions do. Each kernel sums
blocks of its input into ``out[blockIdx.x]``.
"""

import numpy as np

from simtlab.emulator import cuda

BLOCK = 256
FULL = 0xFFFFFFFF


@cuda.jit
def reduce1_interleaved_divergent(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + tid
    sdata[tid] = x[i]
    cuda.syncthreads()
    s = 1
    while s < cuda.blockDim.x:
        if tid % (2 * s) == 0:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s *= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sdata[0]


@cuda.jit
def reduce2_interleaved_conflicts(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + tid
    sdata[tid] = x[i]
    cuda.syncthreads()
    s = 1
    while s < cuda.blockDim.x:
        index = 2 * s * tid
        if index < cuda.blockDim.x:
            sdata[index] += sdata[index + s]
        cuda.syncthreads()
        s *= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sdata[0]


@cuda.jit
def reduce3_sequential(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + tid
    sdata[tid] = x[i]
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sdata[0]


@cuda.jit
def reduce4_first_add(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * (cuda.blockDim.x * 2) + tid
    sdata[tid] = x[i] + x[i + cuda.blockDim.x]
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        out[cuda.blockIdx.x] = sdata[0]


@cuda.jit
def reduce5_unroll_last_warp(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * (cuda.blockDim.x * 2) + tid
    sdata[tid] = x[i] + x[i + cuda.blockDim.x]
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 32:
        if tid < s:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid < 32:
        v = sdata[tid] + sdata[tid + 32]
        v += cuda.shfl_down_sync(FULL, v, 16)
        v += cuda.shfl_down_sync(FULL, v, 8)
        v += cuda.shfl_down_sync(FULL, v, 4)
        v += cuda.shfl_down_sync(FULL, v, 2)
        v += cuda.shfl_down_sync(FULL, v, 1)
        if tid == 0:
            out[cuda.blockIdx.x] = v


@cuda.jit
def reduce6_multiple_elements(x, out):
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * (cuda.blockDim.x * 2) + tid
    grid_size = cuda.blockDim.x * 2 * cuda.gridDim.x
    v = np.float32(0.0)
    while i < x.size:
        v += x[i] + x[i + cuda.blockDim.x]
        i += grid_size
    sdata[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 32:
        if tid < s:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid < 32:
        v = sdata[tid] + sdata[tid + 32]
        v += cuda.shfl_down_sync(FULL, v, 16)
        v += cuda.shfl_down_sync(FULL, v, 8)
        v += cuda.shfl_down_sync(FULL, v, 4)
        v += cuda.shfl_down_sync(FULL, v, 2)
        v += cuda.shfl_down_sync(FULL, v, 1)
        if tid == 0:
            out[cuda.blockIdx.x] = v


REDUCTION_LADDER = [
    (reduce1_interleaved_divergent, 1),
    (reduce2_interleaved_conflicts, 1),
    (reduce3_sequential, 1),
    (reduce4_first_add, 2),
    (reduce5_unroll_last_warp, 2),
    (reduce6_multiple_elements, 16),
]


def run_reduction_ladder(n: int, chip: str, sample_blocks=None) -> list:
    """Profile each step on `n` float32 values on `chip`; returns the reports (sums are checked)."""
    x = np.random.default_rng(0).random(n, dtype=np.float32)
    dx = cuda.to_device(x)
    reports = []
    for kernel, per_thread in REDUCTION_LADDER:
        blocks = n // (BLOCK * per_thread)
        out = cuda.device_array(blocks, np.float32)
        r = cuda.profile(kernel[blocks, BLOCK], dx, out, chip=chip, sample_blocks=sample_blocks)
        if sample_blocks is None:
            got = float(out.copy_to_host().sum(dtype=np.float64))
            assert abs(got - float(x.sum(dtype=np.float64))) < 1e-3 * n, (kernel.__name__, got)
        reports.append(r)
    return reports


# --- transpose (Ruetsch & Micikevicius, "Optimizing Matrix Transpose in CUDA", NVIDIA 2009) -------------

TILE = 32
PADDED = TILE + 1   # numba wants shared-array shapes as literals or module-level constants
ROWS = 8


@cuda.jit
def copy_tile(a, out):
    x = cuda.blockIdx.x * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.y * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        out[y + j, x] = a[y + j, x]


@cuda.jit
def transpose_naive(a, out):
    x = cuda.blockIdx.x * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.y * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        out[x, y + j] = a[y + j, x]


@cuda.jit
def transpose_shared_conflicts(a, out):
    tile = cuda.shared.array((TILE, TILE), np.float32)
    x = cuda.blockIdx.x * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.y * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        tile[cuda.threadIdx.y + j, cuda.threadIdx.x] = a[y + j, x]
    cuda.syncthreads()
    x = cuda.blockIdx.y * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.x * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        out[y + j, x] = tile[cuda.threadIdx.x, cuda.threadIdx.y + j]


@cuda.jit
def transpose_shared_padded(a, out):
    tile = cuda.shared.array((TILE, PADDED), np.float32)
    x = cuda.blockIdx.x * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.y * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        tile[cuda.threadIdx.y + j, cuda.threadIdx.x] = a[y + j, x]
    cuda.syncthreads()
    x = cuda.blockIdx.y * TILE + cuda.threadIdx.x
    y = cuda.blockIdx.x * TILE + cuda.threadIdx.y
    for j in range(0, TILE, ROWS):
        out[y + j, x] = tile[cuda.threadIdx.x, cuda.threadIdx.y + j]


TRANSPOSE_LADDER = [transpose_naive, transpose_shared_conflicts, transpose_shared_padded]


def run_transpose_ladder(n: int, chip: str, sample_blocks=None) -> list:
    """Profile copy and the transpose steps on an n x n float32 matrix; returns the reports (copy first)."""
    a = np.random.default_rng(1).random((n, n), dtype=np.float32)
    da = cuda.to_device(a)
    reports = []
    for kernel in [copy_tile] + TRANSPOSE_LADDER:
        out = cuda.device_array((n, n), np.float32)
        r = cuda.profile(kernel[(n // TILE, n // TILE), (TILE, ROWS)], da, out, chip=chip, sample_blocks=sample_blocks)
        if sample_blocks is None:
            want = a if kernel is copy_tile else a.T
            assert np.array_equal(out.copy_to_host(), want), kernel.__name__
        reports.append(r)
    return reports
