"""Kernels whose views the platform tests know by heart (imported by the tests of this folder)."""

from __future__ import annotations

import numpy as np

from simtlab.emulator import cuda


@cuda.jit
def axpy(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


@cuda.jit
def transpose_naive(a, out):
    x, y = cuda.grid(2)
    if x < a.shape[1] and y < a.shape[0]:
        out[x, y] = a[y, x]


TILE = 32
TILE_PAD = TILE + 1


@cuda.jit
def transpose_tiled(a, out):
    tile = cuda.shared.array((TILE, TILE), np.float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    bx, by = cuda.blockIdx.x * TILE, cuda.blockIdx.y * TILE
    for j in range(0, TILE, 8):
        tile[ty + j, tx] = a[by + ty + j, bx + tx]
    cuda.syncthreads()
    for j in range(0, TILE, 8):
        out[bx + ty + j, by + tx] = tile[tx, ty + j]


@cuda.jit
def transpose_padded(a, out):
    tile = cuda.shared.array((TILE, TILE_PAD), np.float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    bx, by = cuda.blockIdx.x * TILE, cuda.blockIdx.y * TILE
    for j in range(0, TILE, 8):
        tile[ty + j, tx] = a[by + ty + j, bx + tx]
    cuda.syncthreads()
    for j in range(0, TILE, 8):
        out[bx + ty + j, by + tx] = tile[tx, ty + j]


@cuda.jit
def reduce_tree(x, partial):
    s = cuda.shared.array(64, np.float32)
    t = cuda.threadIdx.x
    i = cuda.blockIdx.x * 64 + t
    s[t] = x[i] if i < x.size else 0.0
    cuda.syncthreads()
    stride = 1
    while stride < 64:
        if t % (2 * stride) == 0:
            s[t] += s[t + stride]
        cuda.syncthreads()
        stride *= 2
    if t == 0:
        partial[cuda.blockIdx.x] = s[0]


@cuda.jit
def all_write_first(out):
    out[0] = cuda.threadIdx.x          # every thread writes the same element: a race


@cuda.jit
def broadcast_and_wide(x, out):
    s = cuda.shared.array(64, np.float64)
    t = cuda.threadIdx.x
    s[t] = x[t]                        # 8-byte elements, stride 1: two phases, no conflict
    cuda.syncthreads()
    out[t] = s[0]                      # every lane the same word: broadcast


def line_of(kernel, text: str) -> int:
    """The file line number of the first kernel source line containing `text`."""
    import inspect

    lines, first = inspect.getsourcelines(kernel.py_func)
    for k, ln in enumerate(lines):
        if text in ln:
            return first + k
    raise AssertionError(f"{text!r} not in {kernel.__name__}")
