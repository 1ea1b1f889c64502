"""Kernels the toolchain tests compile with the real compiler (each written as a student writes them).

``COMPILING`` holds kernels numba.cuda compiles, with their arguments and what the PTX assembler must
report for them; the others are rejected by the real compiler, some of them accepted by the emulator.
"""

from __future__ import annotations

import numpy as np

from simtlab.emulator import cuda
from simtlab.emulator.cuda import threadIdx

TILE = 16
BLOCK = 256


@cuda.jit
def axpy(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def matmul_tiled(A, B, C):
    sA = cuda.shared.array((TILE, TILE), np.float32)
    sB = cuda.shared.array((TILE, TILE), np.float32)
    x, y = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    acc = np.float32(0.0)
    for i in range(A.shape[1] // TILE):
        sA[ty, tx] = A[y, tx + i * TILE]
        sB[ty, tx] = B[ty + i * TILE, x]
        cuda.syncthreads()
        for j in range(TILE):
            acc += sA[ty, j] * sB[j, tx]
        cuda.syncthreads()
    if y < C.shape[0] and x < C.shape[1]:
        C[y, x] = acc


@cuda.jit
def block_sum(x, out):
    s = cuda.shared.array(BLOCK, np.float32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    s[t] = x[i] if i < x.size else np.float32(0.0)
    cuda.syncthreads()
    stride = BLOCK // 2
    while stride > 0:
        if t < stride:
            s[t] += s[t + stride]
        cuda.syncthreads()
        stride //= 2
    if t == 0:
        out[cuda.blockIdx.x] = s[0]


@cuda.jit
def warp_sum(x, out):
    i = cuda.grid(1)
    v = x[i] if i < x.size else np.float32(0.0)
    offset = 16
    while offset > 0:
        v += cuda.shfl_down_sync(0xFFFFFFFF, v, offset)
        offset //= 2
    if cuda.laneid == 0:
        cuda.atomic.add(out, 0, v)


@cuda.jit(device=True)
def clamp(v, lo, hi):
    return min(max(v, lo), hi)


@cuda.jit
def clamp_all(x, lo, hi):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = clamp(x[i], lo, hi)


@cuda.jit
def histogram(values, bins):
    h = cuda.shared.array(256, np.int32)
    t = cuda.threadIdx.x
    h[t] = 0
    cuda.syncthreads()
    i = cuda.grid(1)
    if i < values.size:
        cuda.atomic.add(h, values[i] % 256, 1)
    cuda.syncthreads()
    cuda.atomic.add(bins, t, h[t])


@cuda.jit
def dynamic_scale(x, factor):
    buf = cuda.shared.array(0, np.float32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    if i < x.size:
        buf[t] = x[i]
    cuda.syncthreads()
    if i < x.size:
        x[i] = buf[t] * factor


@cuda.jit
def local_window(x, out):
    # a per-thread array indexed with run-time values: it lives in local memory (the stack frame)
    i = cuda.grid(1)
    win = cuda.local.array(64, np.float64)
    for k in range(64):
        win[k] = x[(i + k) % x.size]
    acc = 0.0
    for k in range(64):
        acc += win[(k * 7 + i) % 64] * win[k]
    if i < out.size:
        out[i] = acc


@cuda.jit
def many_live(x, out):
    # sixteen float64 accumulators live across the loop: a register-hungry kernel
    i = cuda.grid(1)
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = 0.0
    for k in range(x.shape[1]):
        v = x[i % x.shape[0], k]
        a0 += v
        a1 += v * 1.5
        a2 += v * v
        a3 += v * 2.5
        a4 += v * 3.5
        a5 += v * 4.5
        a6 += v * 5.5
        a7 += v * 6.5
        b0 += a0 * v
        b1 += a1 * v
        b2 += a2 * v
        b3 += a3 * v
        b4 += a4 * v
        b5 += a5 * v
        b6 += a6 * v
        b7 += a7 * v
    if i < out.size:
        out[i] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7


#: the same kernel, with the register count capped at 32
many_live_capped = cuda.jit(max_registers=32)(many_live.py_func)


# -- rejected by the real compiler --------------------------------------------------------------------------

@cuda.jit
def array_or_number(x, flag):
    # the emulator runs this; numba gives `v` one type for the whole kernel and cannot unify array and float
    i = cuda.grid(1)
    if flag > 0:
        v = x
    else:
        v = 1.0
    if i < x.size:
        x[i] = v[0] if flag > 0 else 2.0


@cuda.jit
def bare_thread_index(x):
    # the emulator resolves the imported name; numba.cuda types threadIdx only as cuda.threadIdx
    if threadIdx.x < x.size:
        x[threadIdx.x] = 1.0


@cuda.jit
def runtime_shared_shape(x, n):
    tile = cuda.shared.array(n, np.float32)
    t = cuda.threadIdx.x
    tile[t] = x[t]
    cuda.syncthreads()
    x[t] = tile[t] * 2


@cuda.jit
def too_much_shared(x):
    big = cuda.shared.array(16384, np.float32)
    t = cuda.threadIdx.x
    big[t] = x[t]
    cuda.syncthreads()
    x[t] = big[16383 - t]


def _f32(n: int) -> np.ndarray:
    return np.ones(n, np.float32)


#: kernel -> (arguments, expected: static shared bytes, barriers, dynamic shared?, register range)
COMPILING = {
    "axpy": (axpy, lambda: (np.float32(2.0), _f32(1000), _f32(1000), _f32(1000)), 0, 0, False, (8, 40)),
    "matmul_tiled": (matmul_tiled, lambda: (np.ones((64, 64), np.float32),) * 3, 2048, 1, False, (16, 64)),
    "block_sum": (block_sum, lambda: (_f32(1000), _f32(4)), 1024, 1, False, (8, 40)),
    "warp_sum": (warp_sum, lambda: (_f32(1000), _f32(1)), 0, 0, False, (8, 40)),
    "clamp_all": (clamp_all, lambda: (_f32(1000), np.float32(0.0), np.float32(1.0)), 0, 0, False, (8, 40)),
    "histogram": (histogram, lambda: (np.arange(1000, dtype=np.int32), np.zeros(256, np.int32)), 1024, 1, False,
                  (8, 40)),
    "dynamic_scale": (dynamic_scale, lambda: (_f32(1000), np.float32(3.0)), 0, 1, True, (8, 40)),
    "local_window": (local_window, lambda: (np.ones(1000), np.zeros(1000)), 0, 0, False, (16, 255)),
    "many_live": (many_live, lambda: (np.ones((100, 8)), np.zeros(1000)), 0, 0, False, (40, 255)),
}
