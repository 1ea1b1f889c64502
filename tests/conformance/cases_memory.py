"""Conformance cases: memory spaces (shared, dynamic shared, const, local), device arrays, launches."""

from __future__ import annotations

from types import ModuleType

import numpy as np
from numba import float32, int32

from .backend import cuda
from .registry import Result, blocks_for, case, pick

# ---------------------------------------------------------------------------------------------
# matrix multiply


@cuda.jit
def matmul_naive_kernel(A, B, C):
    col, row = cuda.grid(2)
    m, k = A.shape
    n = B.shape[1]
    if row < m and col < n:
        acc = 0.0
        for j in range(k):
            acc += A[row, j] * B[j, col]
        C[row, col] = acc


def _matmul_shapes(size: str) -> tuple[int, int, int]:
    return pick(size, (150, 70, 130), (17, 20, 9))


@case(tags=("matmul", "naive", "index-2d", "float32"), rtol=1e-4, atol=1e-4)
def matmul_naive(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """C = A @ B, one thread per output element, sizes not multiples of the block."""
    m, k, n = _matmul_shapes(size)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.zeros((m, n), np.float32)
    matmul_naive_kernel[(blocks_for(n, 16), blocks_for(m, 16)), (16, 16)](a, b, c)
    return Result({"C": c}, {"C": a.astype(np.float64) @ b.astype(np.float64)})


TILE = 16


@cuda.jit
def matmul_tiled_kernel(A, B, C):
    sA = cuda.shared.array((TILE, TILE), np.float32)
    sB = cuda.shared.array((TILE, TILE), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    col = cuda.blockIdx.x * TILE + tx
    row = cuda.blockIdx.y * TILE + ty
    m, k = A.shape
    n = B.shape[1]
    acc = np.float32(0.0)
    for t in range((k + TILE - 1) // TILE):
        ka = t * TILE + tx
        kb = t * TILE + ty
        sA[ty, tx] = A[row, ka] if row < m and ka < k else 0.0
        sB[ty, tx] = B[kb, col] if kb < k and col < n else 0.0
        cuda.syncthreads()
        for j in range(TILE):
            acc += sA[ty, j] * sB[j, tx]
        cuda.syncthreads()
    if row < m and col < n:
        C[row, col] = acc


@case(tags=("matmul", "tiled", "shared", "syncthreads", "float32"), rtol=1e-4, atol=1e-4)
def matmul_tiled(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Shared-memory tiled matmul with 16x16 tiles; M, K, N not multiples of 16."""
    m, k, n = _matmul_shapes(size)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    c = np.zeros((m, n), np.float32)
    matmul_tiled_kernel[(blocks_for(n, TILE), blocks_for(m, TILE)), (TILE, TILE)](a, b, c)
    return Result({"C": c}, {"C": a.astype(np.float64) @ b.astype(np.float64)})


# ---------------------------------------------------------------------------------------------
# dynamic shared memory


@cuda.jit
def dynshared_kernel(x, k, out_f, out_i, out_bits):
    # numba scalar types as dtypes here (np.float32 works on a GPU, but numba's simulator needs a
    # numba type or an np.dtype for dynamic shared arrays)
    fbuf = cuda.shared.array(0, float32)
    ibuf = cuda.shared.array(0, int32)
    t = cuda.threadIdx.x
    nt = cuda.blockDim.x
    i = cuda.grid(1)
    n = x.size
    # floats in words [0, nt), ints in words [nt, 2 nt) of the same buffer
    fbuf[t] = x[i] if i < n else 0.0
    ibuf[nt + t] = k[i] if i < n else 0
    cuda.syncthreads()
    if i < n:
        r = nt - 1 - t
        out_f[i] = fbuf[r]
        out_i[i] = ibuf[nt + r]
        # the int32 view of the word this thread stored as float32: its bit pattern
        out_bits[i] = ibuf[t]


@case(tags=("dynamic-shared", "shared", "aliasing", "syncthreads", "launch-4-args"))
def dynshared_alias(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """`cuda.shared.array(0, dtype)` with `kernel[g, b, 0, nbytes]`: a float32 and an int32 view of
    one dynamic buffer (all dynamic shared arrays alias, as in numba); per-block reversal through it."""
    n = pick(size, 50_001, 150)
    tpb = 128 if size == "full" else 64
    x = rng.standard_normal(n).astype(np.float32)
    k = rng.integers(-(2**31), 2**31, n, dtype=np.int32)
    out_f = np.zeros(n, np.float32)
    out_i = np.zeros(n, np.int32)
    out_bits = np.zeros(n, np.int32)
    blocks = blocks_for(n, tpb)
    dynshared_kernel[blocks, tpb, 0, 2 * tpb * 4](x, k, out_f, out_i, out_bits)
    pad = blocks * tpb - n
    xr = np.concatenate([x, np.zeros(pad, np.float32)]).reshape(blocks, tpb)[:, ::-1].ravel()[:n]
    kr = np.concatenate([k, np.zeros(pad, np.int32)]).reshape(blocks, tpb)[:, ::-1].ravel()[:n]
    return Result(
        {"f": out_f, "i": out_i, "bits": out_bits},
        {"f": xr, "i": kr, "bits": x.view(np.int32)},
    )


# ---------------------------------------------------------------------------------------------
# constant memory

POLY = np.array([0.5, -1.25, 0.75, 2.0, -0.125, 0.0625], dtype=np.float32)
NIBBLE_BITS = np.array([bin(v).count("1") for v in range(16)], dtype=np.int32)


@cuda.jit
def const_kernel(x, u, out_poly, out_bits):
    coef = cuda.const.array_like(POLY)
    table = cuda.const.array_like(NIBBLE_BITS)
    i = cuda.grid(1)
    if i < x.size:
        acc = np.float32(0.0)
        for j in range(coef.size):
            acc = acc * x[i] + coef[j]
        out_poly[i] = acc
        v = u[i]
        c = 0
        for _ in range(8):
            c += table[v & 15]
            v >>= 4
        out_bits[i] = c


@case(tags=("const", "module-global", "lookup-table", "float32"), rtol=1e-5, atol=1e-5)
def const_memory(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.const.array_like of module-level numpy arrays: polynomial coefficients and a LUT."""
    n = pick(size, 40_003, 111)
    tpb = 128 if size == "full" else 32
    x = rng.uniform(-1.5, 1.5, n).astype(np.float32)
    u = rng.integers(0, 2**31, n, dtype=np.int64)
    out_poly = np.zeros(n, np.float32)
    out_bits = np.zeros(n, np.int32)
    const_kernel[blocks_for(n, tpb), tpb](x, u, out_poly, out_bits)
    xd = x.astype(np.float64)
    poly = np.zeros(n)
    for c in POLY.astype(np.float64):
        poly = poly * xd + c
    return Result(
        {"poly": out_poly, "bits": out_bits},
        {"poly": poly, "bits": np.bitwise_count(u).astype(np.int32)},
    )


# ---------------------------------------------------------------------------------------------
# local arrays

SORT_K = 8


@cuda.jit
def local_sort_kernel(x, out, out_median):
    i = cuda.grid(1)
    if i < out.shape[0]:
        buf = cuda.local.array(SORT_K, np.float32)
        for j in range(SORT_K):
            buf[j] = x[i, j]
        # insertion sort, with a data-dependent inner while loop
        for j in range(1, SORT_K):
            v = buf[j]
            p = j - 1
            while p >= 0 and buf[p] > v:
                buf[p + 1] = buf[p]
                p -= 1
            buf[p + 1] = v
        for j in range(SORT_K):
            out[i, j] = buf[j]
        out_median[i] = 0.5 * (buf[SORT_K // 2 - 1] + buf[SORT_K // 2])


@case(tags=("local-array", "sort", "while", "short-circuit"), rtol=3e-7, atol=1e-7)
def local_sort(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Per-thread insertion sort of 8 values in a cuda.local.array."""
    n = pick(size, 12_345, 99)
    tpb = 64
    x = rng.standard_normal((n, SORT_K)).astype(np.float32)
    x[0] = 1.0
    out = np.zeros_like(x)
    out_median = np.zeros(n, np.float32)
    local_sort_kernel[blocks_for(n, tpb), tpb](x, out, out_median)
    s = np.sort(x, axis=1)
    med = 0.5 * (s[:, SORT_K // 2 - 1].astype(np.float64) + s[:, SORT_K // 2])
    return Result({"sorted": out, "median": out_median}, {"sorted": s, "median": med})


STACK_DEPTH = 32


@cuda.jit
def local_stack_kernel(vals, base, digits, ndigits):
    i = cuda.grid(1)
    if i < vals.size:
        stack = cuda.local.array(STACK_DEPTH, np.int32)
        top = 0
        v = vals[i]
        b = base[i]
        # push the digits least significant first ...
        while True:
            stack[top] = v % b
            top += 1
            v //= b
            if v == 0:
                break
        ndigits[i] = top
        # ... and pop them, most significant first
        pos = 0
        while top > 0:
            top -= 1
            digits[i, pos] = stack[top]
            pos += 1


@case(tags=("local-array", "stack", "while", "break"))
def local_stack(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """A small per-thread stack in a local array: digits of a number in a per-thread base."""
    n = pick(size, 20_007, 107)
    tpb = 32
    vals = rng.integers(0, 2**31, n, dtype=np.int64)
    vals[:2] = [0, 2**31 - 1]
    base = rng.integers(2, 17, n, dtype=np.int64)
    digits = np.full((n, STACK_DEPTH), -1, np.int32)
    ndigits = np.zeros(n, np.int32)
    local_stack_kernel[blocks_for(n, tpb), tpb](vals, base, digits, ndigits)
    exp_digits = np.full_like(digits, -1)
    exp_n = np.zeros_like(ndigits)
    for r, (v, b) in enumerate(zip(vals.tolist(), base.tolist())):
        ds = []
        while True:
            ds.append(v % b)
            v //= b
            if v == 0:
                break
        exp_n[r] = len(ds)
        exp_digits[r, : len(ds)] = ds[::-1]
    return Result({"digits": digits, "n": ndigits}, {"digits": exp_digits, "n": exp_n})


# ---------------------------------------------------------------------------------------------
# device arrays, host arrays, slicing, attributes


@cuda.jit
def scale_kernel(x, a, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = a * x[i]


@cuda.jit
def add_kernel(x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] + y[i]


@case(tags=("device-array", "to_device", "device_array", "copy_to_host", "pinned_array"), rtol=1e-6)
def device_arrays(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Chained launches on device arrays (to_device, device_array, device_array_like), copied back
    with copy_to_host() and copy_to_host(ary); to_device copies, so later host writes do not leak in."""
    n = pick(size, 70_001, 201)
    tpb = 256 if size == "full" else 64
    x = rng.integers(-1000, 1000, n).astype(np.float32)
    pinned = cuda.pinned_array(n, dtype=np.float32)
    pinned[:] = x
    d_x = cuda.to_device(pinned)
    d_tmp = cuda.device_array(n, dtype=np.float32)
    d_out = cuda.device_array_like(d_x)
    g = blocks_for(n, tpb)
    scale_kernel[g, tpb](d_x, 3.0, d_tmp)
    add_kernel[g, tpb](d_tmp, d_x, d_out)
    out = d_out.copy_to_host()
    tmp = np.zeros(n, np.float32)
    d_tmp.copy_to_host(tmp)
    pinned[:] = 0
    scale_kernel[g, tpb](d_x, -1.0, d_tmp)
    again = d_tmp.copy_to_host()
    meta = np.array(
        [d_out.size, d_out.ndim, d_out.shape[0], int(d_out.dtype == np.float32), int(isinstance(out, np.ndarray))]
    )
    return Result(
        {"out": out, "tmp": tmp, "again": again, "meta": meta},
        {"out": 4 * x, "tmp": 3 * x, "again": -x, "meta": np.array([n, 1, n, 1, 1])},
    )


@cuda.jit
def inplace_kernel(x, y):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = x[i] * 2 + y[i]


@case(tags=("host-array", "copy-back", "in-place", "int32"))
def host_arrays(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """A kernel launched on host numpy arrays: writes are copied back, read-only inputs unchanged."""
    n = pick(size, 80_001, 203)
    tpb = 128 if size == "full" else 64
    x = rng.integers(-1000, 1000, n, dtype=np.int32)
    y = rng.integers(-1000, 1000, n, dtype=np.int32)
    x0, y0 = x.copy(), y.copy()
    inplace_kernel[blocks_for(n, tpb), tpb](x, y)
    inplace_kernel[blocks_for(n, tpb), tpb](x, y)
    return Result({"x": x, "y": y}, {"x": (x0 * 2 + y0) * 2 + y0, "y": y0})


@cuda.jit
def offset_kernel(x, out, c):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i] + c


@cuda.jit
def rows_kernel(m, out):
    i, j = cuda.grid(2)
    if i < m.shape[0] and j < m.shape[1]:
        out[i, j] = m[i, j] * 10 + i - j


@case(tags=("device-array", "slicing", "strided", "views"))
def device_slicing(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Device array slices (offset, stepped, 2D non-contiguous) passed to kernels, and a kernel
    writing into a slice of a larger device array (the rest stays untouched)."""
    n = pick(size, 60_001, 181)
    tpb = 128 if size == "full" else 32
    x = rng.integers(-10**6, 10**6, n, dtype=np.int64)
    d_x = cuda.to_device(x)
    d_big = cuda.to_device(np.full(n, -5, np.int64))
    lo, hi = 7, n - 11
    m = hi - lo
    offset_kernel[blocks_for(m, tpb), tpb](d_x[lo:hi], d_big[lo:hi], 1)
    big = d_big.copy_to_host()
    ms = (n + 2) // 3
    d_step = cuda.device_array(ms, np.int64)
    offset_kernel[blocks_for(ms, tpb), tpb](d_x[::3], d_step, 0)
    step = d_step.copy_to_host()
    rows, cols = pick(size, (233, 301), (11, 18))
    mat = rng.integers(-100, 100, (rows, cols), dtype=np.int64)
    d_mat = cuda.to_device(mat)
    sub = d_mat[1:, 3:]
    d_sub_out = cuda.device_array((rows - 1, cols - 3), np.int64)
    bx, by = pick(size, (16, 16), (8, 4))
    rows_kernel[(blocks_for(rows - 1, bx), blocks_for(cols - 3, by)), (bx, by)](sub, d_sub_out)
    exp_big = np.full(n, -5, np.int64)
    exp_big[lo:hi] = x[lo:hi] + 1
    ii, jj = np.meshgrid(np.arange(rows - 1), np.arange(cols - 3), indexing="ij")
    return Result(
        {"big": big, "step": step, "sub": d_sub_out.copy_to_host()},
        {"big": exp_big, "step": x[::3], "sub": mat[1:, 3:] * 10 + ii - jj},
    )


@cuda.jit
def attrs_kernel(m, v, out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i, 0] = m.shape[0] * 1000 + m.shape[1]
        out[i, 1] = m.size
        out[i, 2] = m.ndim * 10 + v.ndim
        out[i, 3] = len(v) + len(m)
        out[i, 4] = m[i % m.shape[0], i % m.shape[1]]


@case(tags=("array-attributes", "shape", "size", "ndim", "len"))
def array_attributes(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """.shape/.size/.ndim and len() of array arguments inside a kernel."""
    n = pick(size, 10_007, 77)
    tpb = 64
    m = rng.integers(0, 1000, (37, 53), dtype=np.int32)
    v = np.zeros(29, np.float32)
    out = np.zeros((n, 5), np.int64)
    attrs_kernel[blocks_for(n, tpb), tpb](m, v, out)
    i = np.arange(n)
    exp = np.stack(
        [
            np.full(n, 37 * 1000 + 53),
            np.full(n, 37 * 53),
            np.full(n, 21),
            np.full(n, 29 + 37),
            m[i % 37, i % 53],
        ],
        axis=1,
    )
    return Result({"out": out}, {"out": exp})


@cuda.jit
def forall_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * x[i] - 3


@case(tags=("forall", "launch"))
def forall_launch(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """kernel.forall(n)(...) picks the launch shape itself; the guard handles any tail."""
    n = pick(size, 50_001, 97)
    x = rng.integers(-10**4, 10**4, n, dtype=np.int64)
    out = np.zeros(n, np.int64)
    forall_kernel.forall(n)(x, out)
    return Result({"out": out}, {"out": x * x - 3})


@case(tags=("stream", "launch", "device-array", "copy_to_host"), rtol=1e-6)
def stream_launch(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """`kernel[g, b, stream]` with transfers on the same stream, then stream.synchronize()."""
    n = pick(size, 65_537, 129)
    tpb = 256 if size == "full" else 64
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    stream = cuda.stream()
    d_x = cuda.to_device(x, stream=stream)
    d_y = cuda.to_device(y, stream=stream)
    d_out = cuda.device_array(n, np.float32, stream=stream)
    add_kernel[blocks_for(n, tpb), tpb, stream](d_x, d_y, d_out)
    out = np.zeros(n, np.float32)
    d_out.copy_to_host(out, stream=stream)
    stream.synchronize()
    cuda.synchronize()
    return Result({"out": out}, {"out": x.astype(np.float64) + y})


# ---------------------------------------------------------------------------------------------
# shared-memory transpose, per-thread local histogram

TT = 32
TT_PAD = TT + 1
TT_ROWS = 8


@cuda.jit
def transpose_kernel(a, out):
    tile = cuda.shared.array((TT, TT_PAD), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    bx = cuda.blockIdx.x * TT
    by = cuda.blockIdx.y * TT
    h, w = a.shape
    for k in range(0, TT, TT_ROWS):
        r = by + ty + k
        c = bx + tx
        if r < h and c < w:
            tile[ty + k, tx] = a[r, c]
    cuda.syncthreads()
    for k in range(0, TT, TT_ROWS):
        r = bx + ty + k
        c = by + tx
        if r < w and c < h:
            out[r, c] = tile[tx, ty + k]


@case(tags=("transpose", "shared", "syncthreads", "index-2d", "padding"), rtol=0.0)
def transpose_shared(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Tiled transpose through a padded 32x33 shared tile, blocks of 32x8 threads each moving 4 rows."""
    h, w = pick(size, (301, 457), (37, 45))
    a = rng.standard_normal((h, w)).astype(np.float32)
    out = np.zeros((w, h), np.float32)
    grid = ((w + TT - 1) // TT, (h + TT - 1) // TT)
    assert h % TT and w % TT
    transpose_kernel[grid, (TT, TT_ROWS)](a, out)
    return Result({"out": out}, {"out": a.T.copy()})


@cuda.jit
def local_hist_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        counts = cuda.local.array(10, np.int32)
        for d in range(10):
            counts[d] = 0
        v = x[i]
        while v > 0:
            counts[v % 10] += 1
            v //= 10
        best = 0
        for d in range(1, 10):
            if counts[d] > counts[best]:
                best = d
        for d in range(10):
            out[i, d] = counts[d]
        out[i, 10] = best


@case(tags=("local-array", "scatter", "histogram", "while"))
def local_histogram(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Per-thread digit histogram in a local array indexed by data (scatter into local memory)."""
    n = pick(size, 25_013, 111)
    tpb = 64
    x = rng.integers(0, 10**12, n, dtype=np.int64)
    x[:2] = [0, 10**11]
    out = np.zeros((n, 11), np.int32)
    local_hist_kernel[blocks_for(n, tpb), tpb](x, out)
    exp = np.zeros((n, 11), np.int32)
    for r, v in enumerate(x.tolist()):
        digits = [int(c) for c in str(v)] if v > 0 else []
        counts = np.bincount(np.array(digits, dtype=np.int64), minlength=10)
        exp[r, :10] = counts
        exp[r, 10] = int(np.argmax(counts))
    return Result({"out": out}, {"out": exp})
