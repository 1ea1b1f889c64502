"""Conformance cases: indexing, guards, control flow, device functions, tuples, stencils."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .backend import cuda
from .registry import Result, blocks_for, case, pick

# ---------------------------------------------------------------------------------------------
# map / zip


@cuda.jit
def axpy_kernel(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]


# A Python float *argument* is float64 for numba (the product is rounded once, on the store) but a
# weak scalar for numba's simulator; the contract only pins down literals, hence the parity atol.
@case(tags=("map", "guard", "float32", "scalar-arg"), rtol=1e-6, atol=1e-6, parity_rtol=2.0**-21, parity_atol=1e-6)
def map_axpy(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """out = a * x + y with a float scalar argument."""
    n = pick(size, 100_003, 203)
    tpb = 128
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    a = 2.5
    axpy_kernel[blocks_for(n, tpb), tpb](a, x, y, out)
    return Result({"out": out}, {"out": a * x.astype(np.float64) + y})


@cuda.jit
def zip_kernel(x, y, k, out_f, out_i):
    i = cuda.grid(1)
    if i < x.size:
        out_f[i] = x[i] * y[i] - x[i] / y[i] + k[i]
        out_i[i] = k[i] * 3 - (k[i] >> 1) + (k[i] & 7)


@case(tags=("zip", "guard", "float32", "int32", "mixed-types"), rtol=1e-5, atol=1e-4)
def zip_mixed(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Three input arrays of two dtypes combined elementwise (float32 op int32 is float64)."""
    n = pick(size, 77_777, 181)
    tpb = 96
    x = rng.uniform(-2, 2, n).astype(np.float32)
    y = (rng.uniform(0.5, 2.0, n) * rng.choice([-1, 1], n)).astype(np.float32)
    k = rng.integers(-1000, 1000, n, dtype=np.int32)
    out_f = np.zeros(n, dtype=np.float64)
    out_i = np.zeros(n, dtype=np.int32)
    zip_kernel[blocks_for(n, tpb), tpb](x, y, k, out_f, out_i)
    exp_f = (x * y - x / y).astype(np.float64) + k
    exp_i = k * 3 - (k >> 1) + (k & 7)
    return Result({"out_f": out_f, "out_i": out_i}, {"out_f": exp_f, "out_i": exp_i})


# ---------------------------------------------------------------------------------------------
# indexing


@cuda.jit
def index2d_kernel(out):
    x, y = cuda.grid(2)
    sx, sy = cuda.gridsize(2)
    if y < out.shape[0] and x < out.shape[1]:
        out[y, x, 0] = x
        out[y, x, 1] = y
        out[y, x, 2] = cuda.threadIdx.x
        out[y, x, 3] = cuda.threadIdx.y
        out[y, x, 4] = cuda.blockIdx.x
        out[y, x, 5] = cuda.blockIdx.y
        out[y, x, 6] = cuda.blockDim.x + 1000 * cuda.blockDim.y
        out[y, x, 7] = cuda.gridDim.x + 1000 * cuda.gridDim.y
        out[y, x, 8] = sx + 100000 * sy
        out[y, x, 9] = cuda.threadIdx.z + cuda.blockIdx.z + cuda.blockDim.z + cuda.gridDim.z


@case(tags=("index-2d", "grid2", "guard"))
def index_2d(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.grid(2)/gridsize(2) and threadIdx/blockIdx/blockDim/gridDim .x/.y on a 2D launch."""
    h, w = pick(size, (301, 257), (13, 21))
    bx, by = pick(size, (16, 8), (8, 4))
    gx, gy = blocks_for(w, bx), blocks_for(h, by)
    out = np.full((h, w, 10), -1, dtype=np.int32)
    index2d_kernel[(gx, gy), (bx, by)](out)
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    exp = np.empty_like(out)
    exp[..., 0] = xx
    exp[..., 1] = yy
    exp[..., 2] = xx % bx
    exp[..., 3] = yy % by
    exp[..., 4] = xx // bx
    exp[..., 5] = yy // by
    exp[..., 6] = bx + 1000 * by
    exp[..., 7] = gx + 1000 * gy
    exp[..., 8] = gx * bx + 100000 * gy * by
    exp[..., 9] = 0 + 0 + 1 + 1
    return Result({"out": out}, {"out": exp})


@cuda.jit
def index3d_kernel(out):
    x, y, z = cuda.grid(3)
    sx, sy, sz = cuda.gridsize(3)
    d, h, w = out.shape[0], out.shape[1], out.shape[2]
    if x < w and y < h and z < d:
        tx, ty, tz = cuda.threadIdx.x, cuda.threadIdx.y, cuda.threadIdx.z
        bx, by, bz = cuda.blockIdx.x, cuda.blockIdx.y, cuda.blockIdx.z
        out[z, y, x, 0] = x
        out[z, y, x, 1] = y
        out[z, y, x, 2] = z
        out[z, y, x, 3] = tx + 100 * ty + 10000 * tz
        out[z, y, x, 4] = bx + 100 * by + 10000 * bz
        out[z, y, x, 5] = (bz * cuda.gridDim.y + by) * cuda.gridDim.x + bx
        out[z, y, x, 6] = (tz * cuda.blockDim.y + ty) * cuda.blockDim.x + tx
        out[z, y, x, 7] = cuda.blockDim.x + 100 * cuda.blockDim.y + 10000 * cuda.blockDim.z
        out[z, y, x, 8] = cuda.gridDim.x + 100 * cuda.gridDim.y + 10000 * cuda.gridDim.z
        out[z, y, x, 9] = sx + 1000 * sy + 1000000 * sz


@case(tags=("index-3d", "grid3", "guard"))
def index_3d(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.grid(3)/gridsize(3) and every .x/.y/.z index register on a 3D launch."""
    d, h, w = pick(size, (13, 37, 45), (3, 5, 9))
    b = pick(size, (8, 4, 3), (4, 4, 2))
    g = (blocks_for(w, b[0]), blocks_for(h, b[1]), blocks_for(d, b[2]))
    out = np.full((d, h, w, 10), -1, dtype=np.int32)
    index3d_kernel[g, b](out)
    zz, yy, xx = np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    tx, ty, tz = xx % b[0], yy % b[1], zz % b[2]
    bx, by, bz = xx // b[0], yy // b[1], zz // b[2]
    exp = np.empty_like(out)
    exp[..., 0] = xx
    exp[..., 1] = yy
    exp[..., 2] = zz
    exp[..., 3] = tx + 100 * ty + 10000 * tz
    exp[..., 4] = bx + 100 * by + 10000 * bz
    exp[..., 5] = (bz * g[1] + by) * g[0] + bx
    exp[..., 6] = (tz * b[1] + ty) * b[0] + tx
    exp[..., 7] = b[0] + 100 * b[1] + 10000 * b[2]
    exp[..., 8] = g[0] + 100 * g[1] + 10000 * g[2]
    exp[..., 9] = g[0] * b[0] + 1000 * g[1] * b[1] + 1000000 * g[2] * b[2]
    return Result({"out": out}, {"out": exp})


# ---------------------------------------------------------------------------------------------
# guards and early return


@cuda.jit
def guarded_kernel(x, n, out):
    i = cuda.grid(1)
    if i < n:
        out[i] = x[i] * 2 - 1


@case(tags=("guard", "int64", "tail"))
def guard_tail(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Only i < n is written: the output is longer than n and its tail keeps its sentinel."""
    n = pick(size, 50_001, 150)
    tpb = 256 if size == "full" else 64
    pad = 300
    x = rng.integers(-(10**9), 10**9, n + pad, dtype=np.int64)
    out = np.full(n + pad, -7, dtype=np.int64)
    guarded_kernel[blocks_for(n, tpb), tpb](x, n, out)
    exp = np.full_like(out, -7)
    exp[:n] = x[:n] * 2 - 1
    return Result({"out": out}, {"out": exp})


@cuda.jit
def early_return_kernel(x, n, out):
    i = cuda.grid(1)
    if i >= n:
        return
    v = x[i]
    if v < 0:
        out[i] = -1
        return
    if v % 7 == 0:
        return
    out[i] = v * 2 + 1


@case(tags=("early-return", "guard", "int32"))
def early_return(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """`if i >= n: return` plus data-dependent returns in the middle of the kernel."""
    n = pick(size, 60_001, 171)
    tpb = 128 if size == "full" else 64
    x = rng.integers(-50, 100, n + 40, dtype=np.int32)
    out = np.full(n + 40, 12345, dtype=np.int32)
    early_return_kernel[blocks_for(n, tpb), tpb](x, n, out)
    exp = np.full_like(out, 12345)
    v = x[:n]
    exp[:n] = np.where(v < 0, -1, np.where(v % 7 == 0, 12345, v * 2 + 1))
    return Result({"out": out}, {"out": exp})


# ---------------------------------------------------------------------------------------------
# loops


@cuda.jit
def collatz_kernel(x, steps, peak):
    i = cuda.grid(1)
    if i < x.size:
        v = x[i]
        top = v
        s = 0
        while v != 1:
            if v % 2 == 0:
                v = v // 2
            else:
                v = 3 * v + 1
            top = max(top, v)
            s += 1
        steps[i] = s
        peak[i] = top


def _collatz_reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = x.astype(np.int64).copy()
    steps = np.zeros(len(v), dtype=np.int32)
    peak = v.copy()
    live = v != 1
    while live.any():
        vl = v[live]
        vl = np.where(vl % 2 == 0, vl // 2, 3 * vl + 1)
        v[live] = vl
        peak[live] = np.maximum(peak[live], vl)
        steps[live] += 1
        live = v != 1
    return steps, peak


@case(tags=("while", "divergence", "data-dependent-loop", "int64"))
def collatz_while(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Data-dependent while loop: Collatz steps (and peak) per element."""
    n = pick(size, 30_011, 131)
    tpb = 128 if size == "full" else 32
    x = rng.integers(1, 100_000, n, dtype=np.int64)
    x[:3] = [1, 2, 27]
    steps = np.full(n, -1, dtype=np.int32)
    peak = np.zeros(n, dtype=np.int64)
    collatz_kernel[blocks_for(n, tpb), tpb](x, steps, peak)
    exp_steps, exp_peak = _collatz_reference(x)
    return Result({"steps": steps, "peak": peak}, {"steps": exp_steps, "peak": exp_peak})


@cuda.jit
def break_continue_kernel(lim, cap, out_acc, out_iters, out_last):
    i = cuda.grid(1)
    if i < lim.size:
        acc = 0
        iters = 0
        last = -1
        for j in range(lim[i]):
            iters += 1
            if j % 3 == 1:
                continue
            acc += j * (i % 5 + 1)
            last = j
            if acc > cap[i]:
                break
        # a while-True loop left with break
        k = 0
        while True:
            k += 1
            if k * k > lim[i]:
                break
        out_acc[i] = acc
        out_iters[i] = iters
        out_last[i] = last * 1000 + k


def _break_continue_reference(lim: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, ...]:
    n = len(lim)
    mult = np.arange(n) % 5 + 1
    acc = np.zeros(n, dtype=np.int64)
    iters = np.zeros(n, dtype=np.int64)
    last = np.full(n, -1, dtype=np.int64)
    live = np.ones(n, dtype=bool)
    for j in range(int(lim.max()) + 1):
        live &= j < lim
        iters[live] += 1
        step = live & (j % 3 != 1)
        acc[step] += j * mult[step]
        last[step] = j
        live &= ~(step & (acc > cap))
    k = np.floor(np.sqrt(lim)).astype(np.int64) + 1
    return acc, iters, last * 1000 + k


@case(tags=("for", "break", "continue", "divergence", "while"))
def break_continue(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Divergent for loop with continue and break, and a while True left with break."""
    n = pick(size, 40_009, 149)
    tpb = 64
    lim = rng.integers(0, 60, n, dtype=np.int32)
    cap = rng.integers(0, 2000, n, dtype=np.int32)
    out_acc = np.zeros(n, dtype=np.int64)
    out_iters = np.zeros(n, dtype=np.int64)
    out_last = np.zeros(n, dtype=np.int64)
    break_continue_kernel[blocks_for(n, tpb), tpb](lim, cap, out_acc, out_iters, out_last)
    acc, iters, last = _break_continue_reference(lim, cap)
    return Result(
        {"acc": out_acc, "iters": out_iters, "last": out_last},
        {"acc": acc, "iters": iters, "last": last},
    )


@cuda.jit
def grid_stride_kernel(x, out, visits):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    count = 0
    for i in range(start, x.size, stride):
        out[i] = x[i] * x[i] + 1
        count += 1
    visits[start] = count


@case(tags=("grid-stride", "gridsize", "for"))
def grid_stride(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """range(start, n, cuda.gridsize(1)) with a grid much smaller than n."""
    n = pick(size, 100_003, 301)
    blocks, tpb = pick(size, (7, 96), (2, 40))
    x = rng.integers(-3000, 3000, n, dtype=np.int64)
    out = np.zeros(n, dtype=np.int64)
    visits = np.full(blocks * tpb, -1, dtype=np.int32)
    grid_stride_kernel[blocks, tpb](x, out, visits)
    threads = blocks * tpb
    exp_visits = (n - np.arange(threads) + threads - 1) // threads
    return Result({"out": out, "visits": visits}, {"out": x * x + 1, "visits": exp_visits})


# ---------------------------------------------------------------------------------------------
# device functions, tuples, ternaries, short-circuit


@cuda.jit(device=True)
def ordered_pair(a, b):
    if a <= b:
        return a, b
    return b, a


@cuda.jit(device=True)
def square(v):
    return v * v


@cuda.jit(device=True)
def sum_of_squares(a, b):
    return square(a) + square(b)


@cuda.jit(device=True)
def py_divmod(a, b):
    return a // b, a % b


@cuda.jit
def device_fn_kernel(x, y, k, d, out_lo, out_hi, out_ss, out_q, out_r):
    i = cuda.grid(1)
    if i < x.size:
        lo, hi = ordered_pair(x[i], y[i])
        out_lo[i] = lo
        out_hi[i] = hi
        out_ss[i] = sum_of_squares(x[i], y[i])
        q, r = py_divmod(k[i], d[i])
        out_q[i] = q
        out_r[i] = r


@case(tags=("device-function", "tuple-return", "nested-call", "floordiv", "mod"), rtol=1e-6)
def device_functions(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Device functions returning tuples, and one calling another device function."""
    n = pick(size, 45_001, 133)
    tpb = 128 if size == "full" else 64
    x = rng.integers(-100, 100, n).astype(np.float32)
    y = rng.integers(-100, 100, n).astype(np.float32)
    k = rng.integers(-500, 500, n, dtype=np.int32)
    d = rng.integers(1, 12, n, dtype=np.int32) * rng.choice(np.array([-1, 1], dtype=np.int32), n)
    outs = {
        "lo": np.zeros(n, np.float32),
        "hi": np.zeros(n, np.float32),
        "ss": np.zeros(n, np.float32),
        "q": np.zeros(n, np.int32),
        "r": np.zeros(n, np.int32),
    }
    device_fn_kernel[blocks_for(n, tpb), tpb](
        x, y, k, d, outs["lo"], outs["hi"], outs["ss"], outs["q"], outs["r"]
    )
    exp = {
        "lo": np.minimum(x, y),
        "hi": np.maximum(x, y),
        "ss": x * x + y * y,
        "q": k // d,
        "r": k % d,
    }
    return Result(outs, exp)


@cuda.jit
def tuples_kernel(x, y, sel, out_a, out_b, out_sum, out_tern, out_iter):
    i = cuda.grid(1)
    if i < x.size:
        a = x[i]
        b = y[i]
        if a > b:
            a, b = b, a
        t = (a, b, a + b)
        lo, hi, s = t
        out_a[i] = lo
        out_b[i] = t[1]
        out_sum[i] = s
        out_tern[i] = a if sel[i] % 2 == 0 else -b
        acc = 0
        m = np.int64(sel[i])
        for v in (m, 2 * m, m + 3):
            acc = acc * 10 + v
        out_iter[i] = acc


@case(tags=("tuple", "swap", "ternary", "tuple-iteration", "int32"))
def tuples_ternary(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Tuple swap `a, b = b, a`, tuple packing/unpacking/indexing/iteration and `a if c else b`."""
    n = pick(size, 33_333, 111)
    tpb = 64
    x = rng.integers(-10**6, 10**6, n, dtype=np.int32)
    y = rng.integers(-10**6, 10**6, n, dtype=np.int32)
    sel = rng.integers(0, 9, n, dtype=np.int32)
    outs = {k: np.zeros(n, np.int32) for k in ("a", "b", "sum", "tern")}
    outs["iter"] = np.zeros(n, np.int64)
    tuples_kernel[blocks_for(n, tpb), tpb](
        x, y, sel, outs["a"], outs["b"], outs["sum"], outs["tern"], outs["iter"]
    )
    lo, hi = np.minimum(x, y), np.maximum(x, y)
    exp = {
        "a": lo,
        "b": hi,
        "sum": lo + hi,
        "tern": np.where(sel % 2 == 0, lo, -hi),
        "iter": (sel.astype(np.int64) * 10 + 2 * sel) * 10 + sel + 3,
    }
    return Result(outs, exp)


@cuda.jit
def short_circuit_kernel(x, n, out):
    i = cuda.grid(1)
    r = 0
    if i < n and x[i] > 0:
        r += 1
    if i >= n or x[i] == 0:
        r += 10
    if i > 0 and i < n and x[i - 1] < x[i]:
        r += 100
    if i + 1 < n and x[i + 1] != 0 and x[i] % x[i + 1] == 0:
        r += 1000
    if not (i < n) or not (x[i] >= -3):
        r += 10000
    out[i] = r


@case(tags=("short-circuit", "and", "or", "not", "guard", "mod"))
def short_circuit(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """`and`/`or`/`not` short-circuits guard reads past the end, before index 0 and a modulo by 0.

    x has exactly n elements but every launched thread (including the tail past n) writes a result.
    """
    n = pick(size, 25_013, 97)
    tpb = 128 if size == "full" else 32
    blocks = blocks_for(n, tpb)
    x = rng.integers(-5, 6, n, dtype=np.int32)
    out = np.full(blocks * tpb, -1, dtype=np.int32)
    short_circuit_kernel[blocks, tpb](x, n, out)
    i = np.arange(blocks * tpb)
    xe = np.zeros(blocks * tpb + 1, dtype=np.int64)
    xe[:n] = x
    inb = i < n
    prev = np.where(i > 0, xe[np.maximum(i - 1, 0)], 0)
    nxt = xe[i + 1]
    exp = np.zeros(blocks * tpb, dtype=np.int64)
    exp += np.where(inb & (xe[i] > 0), 1, 0)
    exp += np.where(~inb | (xe[i] == 0), 10, 0)
    exp += np.where((i > 0) & inb & (prev < xe[i]), 100, 0)
    has_next = (i + 1 < n) & (nxt != 0)
    safe_next = np.where(has_next, nxt, 1)
    exp += np.where(has_next & (xe[i] % safe_next == 0), 1000, 0)
    exp += np.where(~inb | (xe[i] < -3), 10000, 0)
    return Result({"out": out}, {"out": exp.astype(np.int32)})


# ---------------------------------------------------------------------------------------------
# stencils


@cuda.jit
def stencil1d_kernel(x, out):
    i = cuda.grid(1)
    n = x.size
    if i < n:
        a = x[max(i - 2, 0)]
        b = x[max(i - 1, 0)]
        c = x[i]
        d = x[min(i + 1, n - 1)]
        e = x[min(i + 2, n - 1)]
        out[i] = 0.125 * a + 0.25 * b + 0.25 * c + 0.25 * d + 0.125 * e


@case(tags=("stencil-1d", "clamp", "float32"), rtol=1e-5, atol=1e-6)
def stencil_1d(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """5-point 1D stencil read from global memory, clamped at both ends with min/max."""
    n = pick(size, 100_001, 203)
    tpb = 256 if size == "full" else 64
    x = rng.standard_normal(n).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    stencil1d_kernel[blocks_for(n, tpb), tpb](x, out)
    i = np.arange(n)
    xd = x.astype(np.float64)

    def at(j: np.ndarray) -> np.ndarray:
        return xd[np.clip(j, 0, n - 1)]

    exp = 0.125 * at(i - 2) + 0.25 * at(i - 1) + 0.25 * xd + 0.25 * at(i + 1) + 0.125 * at(i + 2)
    return Result({"out": out}, {"out": exp})


STENCIL_TPB = 64
STENCIL_R = 3
STENCIL_TILE = STENCIL_TPB + 2 * STENCIL_R  # shared array shapes must be compile-time constants


@cuda.jit
def stencil1d_shared_kernel(x, out):
    tile = cuda.shared.array(STENCIL_TILE, np.float32)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    n = x.size
    tile[t + STENCIL_R] = x[i] if i < n else 0.0
    if t < STENCIL_R:
        left = i - STENCIL_R
        tile[t] = x[left] if left >= 0 and left < n else 0.0
        right = i + STENCIL_TPB
        tile[t + STENCIL_TPB + STENCIL_R] = x[right] if right < n else 0.0
    cuda.syncthreads()
    if i < n:
        acc = 0.0
        for k in range(-STENCIL_R, STENCIL_R + 1):
            acc += tile[t + STENCIL_R + k]
        out[i] = acc


@case(tags=("stencil-1d", "shared", "syncthreads", "halo", "ternary"), rtol=1e-5, atol=1e-5)
def stencil_1d_shared(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """7-point box sum through a shared tile with halos; zero outside the array."""
    n = pick(size, 50_003, 150)
    x = rng.standard_normal(n).astype(np.float32)
    out = np.zeros(n, dtype=np.float32)
    stencil1d_shared_kernel[blocks_for(n, STENCIL_TPB), STENCIL_TPB](x, out)
    xp = np.concatenate([np.zeros(STENCIL_R), x.astype(np.float64), np.zeros(STENCIL_R)])
    exp = sum(xp[k : k + n] for k in range(2 * STENCIL_R + 1))
    return Result({"out": out}, {"out": exp})


@cuda.jit
def stencil2d_kernel(x, out):
    col, row = cuda.grid(2)
    h, w = x.shape
    if row < h and col < w:
        if row == 0 or col == 0 or row == h - 1 or col == w - 1:
            out[row, col] = x[row, col]
        else:
            around = x[row - 1, col] + x[row + 1, col] + x[row, col - 1] + x[row, col + 1]
            out[row, col] = 0.25 * around - x[row, col]


@case(tags=("stencil-2d", "index-2d", "grid2", "float32"), rtol=1e-5, atol=1e-5)
def stencil_2d(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """5-point 2D Laplacian-like stencil on the interior; boundary copied."""
    h, w = pick(size, (301, 333), (13, 17))
    b = pick(size, (32, 8), (8, 8))
    x = rng.standard_normal((h, w)).astype(np.float32)
    out = np.zeros_like(x)
    stencil2d_kernel[(blocks_for(w, b[0]), blocks_for(h, b[1])), b](x, out)
    xd = x.astype(np.float64)
    exp = xd.copy()
    exp[1:-1, 1:-1] = 0.25 * (xd[:-2, 1:-1] + xd[2:, 1:-1] + xd[1:-1, :-2] + xd[1:-1, 2:]) - xd[1:-1, 1:-1]
    return Result({"out": out}, {"out": exp})


# ---------------------------------------------------------------------------------------------
# divergent control flow under the active-lane mask


@cuda.jit(device=True)
def digit_count(v):
    if v < 0:
        return -1
    if v == 0:
        return 0
    k = 0
    p = 1
    while k < 12:
        if v < p:
            return k
        p *= 10
        k += 1
    return 99


@cuda.jit(device=True)
def clamp_or_double(v, lo, hi):
    if v < lo:
        return lo
    elif v > hi:
        return hi
    return v * 2 if v % 2 == 0 else v


@cuda.jit
def divergent_return_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i, 0] = digit_count(x[i])
        out[i, 1] = clamp_or_double(x[i], -50, 50)


@case(tags=("device-function", "early-return", "divergence", "while", "elif"))
def device_fn_divergent_return(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Device functions that return from different places for different lanes (inside a loop too)."""
    n = pick(size, 40_007, 133)
    tpb = 64
    x = (rng.integers(-100, 100, n) * 10.0 ** rng.integers(0, 10, n)).astype(np.int64)
    x[:4] = [0, -1, 1, 9]
    out = np.zeros((n, 2), np.int64)
    divergent_return_kernel[blocks_for(n, tpb), tpb](x, out)
    digits = np.array([len(str(v)) if v > 0 else (0 if v == 0 else -1) for v in x.tolist()])
    clamp = np.where(x < -50, -50, np.where(x > 50, 50, np.where(x % 2 == 0, x * 2, x)))
    return Result({"out": out}, {"out": np.stack([digits, clamp], axis=1)})


@cuda.jit
def liveness_kernel(x, lim, out):
    i = cuda.grid(1)
    if i < x.size:
        a = x[i]
        b = 0
        c = -1
        acc = 0
        for j in range(12):
            if (a + j) % 3 == 0:
                b = b * 2 + j
                continue
            if (a + j) % 5 == 0:
                c = j
            else:
                acc += b - c
            if j >= lim[i]:
                break
        t = acc
        if a % 2 == 0:
            t = t * 3
        out[i, 0] = acc
        out[i, 1] = b
        out[i, 2] = c
        out[i, 3] = t


def _liveness_reference(x: np.ndarray, lim: np.ndarray) -> np.ndarray:
    rows = []
    for a, m in zip(x.tolist(), lim.tolist()):
        b, c, acc = 0, -1, 0
        for j in range(12):
            if (a + j) % 3 == 0:
                b = b * 2 + j
                continue
            if (a + j) % 5 == 0:
                c = j
            else:
                acc += b - c
            if j >= m:
                break
        rows.append([acc, b, c, acc * 3 if a % 2 == 0 else acc])
    return np.array(rows, np.int64).reshape(-1, 4)


@case(tags=("divergence", "masked-assignment", "continue", "break", "loop-carried"))
def masked_assignment(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Variables assigned by some lanes only (in some iterations, some branches) and read later by
    all lanes: inactive lanes must keep their old values."""
    n = pick(size, 30_011, 133)
    tpb = 96
    x = rng.integers(-1000, 1000, n, dtype=np.int64)
    lim = rng.integers(0, 14, n, dtype=np.int32)
    out = np.zeros((n, 4), np.int64)
    liveness_kernel[blocks_for(n, tpb), tpb](x, lim, out)
    return Result({"out": out}, {"out": _liveness_reference(x, lim)})


@cuda.jit
def nested_loops_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        m = x[i]
        total = 0
        for j in range(m % 7):
            for k in range(j, m % 11):
                if (j * k) % 4 == 3:
                    break
                total += j * k + 1
            w = j
            while w > 0 and total % 13 != 0:
                total += w
                w -= 2
        out[i] = total


def _nested_loops_reference(x: np.ndarray) -> np.ndarray:
    out = []
    for m in x.tolist():
        total = 0
        for j in range(m % 7):
            for k in range(j, m % 11):
                if (j * k) % 4 == 3:
                    break
                total += j * k + 1
            w = j
            while w > 0 and total % 13 != 0:
                total += w
                w -= 2
        out.append(total)
    return np.array(out, np.int64)


@case(tags=("for", "while", "break", "nested-loops", "divergence"))
def nested_divergent_loops(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Nested loops whose trip counts differ per lane, a break in the inner loop, and a while loop
    with a compound condition after it."""
    n = pick(size, 30_001, 129)
    tpb = 64
    x = rng.integers(0, 1000, n, dtype=np.int64)
    out = np.zeros(n, np.int64)
    nested_loops_kernel[blocks_for(n, tpb), tpb](x, out)
    return Result({"out": out}, {"out": _nested_loops_reference(x)})


@cuda.jit
def range_forms_kernel(lo, hi, out):
    i = cuda.grid(1)
    if i < lo.size:
        a = lo[i]
        b = hi[i]
        acc = 0
        for j in range(b - 1, a - 1, -1):
            acc = (acc * 31 + j) % 1000003
        out[i, 0] = acc
        acc = 0
        for j in range(a, b, 3):
            acc = (acc * 17 + j) % 1000003
        out[i, 1] = acc
        acc = 0
        for j in range(b, a, -4):
            acc += j
        out[i, 2] = acc
        acc = 0
        for j in range(-5, 5):
            acc += j * a
        out[i, 3] = acc


def _range_forms_reference(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    rows = []
    for a, b in zip(lo.tolist(), hi.tolist()):
        r0 = 0
        for j in range(b - 1, a - 1, -1):
            r0 = (r0 * 31 + j) % 1000003
        r1 = 0
        for j in range(a, b, 3):
            r1 = (r1 * 17 + j) % 1000003
        rows.append([r0, r1, sum(range(b, a, -4)), sum(j * a for j in range(-5, 5))])
    return np.array(rows, np.int64).reshape(-1, 4)


@case(tags=("for", "range", "negative-step", "empty-range"))
def range_forms(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """range() with negative and non-unit steps, negative bounds, per-lane (possibly empty) bounds."""
    n = pick(size, 20_003, 97)
    tpb = 32
    lo = rng.integers(-30, 30, n, dtype=np.int64)
    hi = lo + rng.integers(-5, 40, n)
    out = np.zeros((n, 4), np.int64)
    range_forms_kernel[blocks_for(n, tpb), tpb](lo, hi, out)
    return Result({"out": out}, {"out": _range_forms_reference(lo, hi)})


@cuda.jit
def augmented_kernel(x, y, f, out_i, out_f, out_v):
    i = cuda.grid(1)
    if i < x.size:
        out_i[i, 0] = x[i]
        out_i[i, 0] += 5
        out_i[i, 0] -= y[i]
        out_i[i, 0] *= 3
        out_i[i, 1] = out_i[i, 0]
        out_i[i, 1] //= 4
        out_i[i, 2] = out_i[i, 0]
        out_i[i, 2] %= 7
        out_i[i, 3] = x[i]
        out_i[i, 3] <<= 2
        out_i[i, 3] >>= 1
        out_i[i, 3] |= 1
        out_i[i, 3] &= 0xFFF
        out_i[i, 3] ^= 0x55
        out_f[i, 0] = f[i]
        out_f[i, 0] *= 2.0
        out_f[i, 0] -= 1.5
        out_f[i, 1] = f[i]
        out_f[i, 1] /= 4.0
        out_f[i, 1] **= 2
        v = x[i]
        v += y[i]
        v *= 2
        v -= 1
        v //= 3
        v %= 1000
        out_v[i] = v


@case(tags=("augmented-assignment", "int32", "float32", "floordiv", "mod"), rtol=1e-6, atol=1e-7)
def augmented_assign(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Augmented assignment (+= -= *= //= %= <<= >>= |= &= ^= /= **=) on array elements and locals."""
    n = pick(size, 30_007, 101)
    tpb = 64
    x = rng.integers(-10_000, 10_000, n, dtype=np.int32)
    y = rng.integers(-10_000, 10_000, n, dtype=np.int32)
    f = rng.uniform(-4, 4, n).astype(np.float32)
    out_i = np.zeros((n, 4), np.int32)
    out_f = np.zeros((n, 2), np.float32)
    out_v = np.zeros(n, np.int64)
    augmented_kernel[blocks_for(n, tpb), tpb](x, y, f, out_i, out_f, out_v)
    a = x.astype(np.int64)
    b = y.astype(np.int64)
    s = (a + 5 - b) * 3
    bits = ((((a << 2) >> 1) | 1) & 0xFFF) ^ 0x55
    fd = f.astype(np.float64)
    exp_i = np.stack([s, s // 4, s % 7, bits], axis=1).astype(np.int32)
    exp_f = np.stack([fd * 2.0 - 1.5, (fd / 4.0) ** 2], axis=1)
    exp_v = (((a + b) * 2 - 1) // 3) % 1000
    return Result({"i": out_i, "f": out_f, "v": out_v}, {"i": exp_i, "f": exp_f, "v": exp_v})


@cuda.jit
def expressions_kernel(x, y, z, f, out, outf):
    i = cuda.grid(1)
    if i < x.size:
        a = x[i]
        b = y[i]
        c = z[i]
        out[i, 0] = 1 if a < b < c else 0
        out[i, 1] = 1 if a == b or not (b <= c) else 0
        out[i, 2] = a**2 + b**3
        out[i, 3] = -a + (+b) - ~c
        out[i, 4] = a * (b > c)
        out[i, 5] = 1 if a != b != c else 0
        g = f[i]
        outf[i, 0] = g**2
        outf[i, 1] = abs(g) ** 0.5
        outf[i, 2] = 2.0**g
        outf[i, 3] = g**-1


@case(tags=("expressions", "chained-comparison", "power", "unary"), rtol=2e-6, atol=1e-7)
def expressions(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Chained comparisons, `not`, unary -/+/~, ** on ints and floats, int times bool."""
    n = pick(size, 30_011, 123)
    tpb = 64
    x, y, z = (rng.integers(-50, 50, n, dtype=np.int64) for _ in range(3))
    y[:5] = x[:5]
    f = rng.uniform(0.5, 3, n).astype(np.float32) * rng.choice(np.array([-1, 1], np.float32), n)
    out = np.zeros((n, 6), np.int64)
    outf = np.zeros((n, 4), np.float32)
    expressions_kernel[blocks_for(n, tpb), tpb](x, y, z, f, out, outf)
    exp = np.stack(
        [
            (x < y) & (y < z),
            (x == y) | ~(y <= z),
            x**2 + y**3,
            -x + y - ~z,
            x * (y > z),
            (x != y) & (y != z),
        ],
        axis=1,
    ).astype(np.int64)
    g = f.astype(np.float64)
    expf = np.stack([g**2, np.abs(g) ** 0.5, 2.0**g, 1.0 / g], axis=1)
    return Result({"int": out, "float": outf}, {"int": exp, "float": expf})


@cuda.jit(device=True)
def sum_flags(p, q):
    return p + q


@cuda.jit
def bool_arith_kernel(x, out):
    i = cuda.grid(1)
    if i < x.size:
        a = x[i]
        out[i, 0] = (a > 0) + (a > 10) + (a > 20)
        out[i, 1] = (a % 2 == 0) * 5 + (a < 0)
        out[i, 2] = sum_flags(a > 3, a > 6)


@case(
    tags=("bool-arithmetic", "python-semantics"),
    sim_ok=False,
    sim_reason="numba's simulator adds numpy bools with numpy's rules (True + True is True); numba "
    "follows Python (True + True == 2)",
)
def bool_arithmetic(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Arithmetic on comparison results counts them, as in Python: (a > 0) + (a > 10) is 0, 1 or 2."""
    n = pick(size, 20_011, 101)
    tpb = 64
    x = rng.integers(-30, 30, n, dtype=np.int64)
    out = np.zeros((n, 3), np.int64)
    bool_arith_kernel[blocks_for(n, tpb), tpb](x, out)

    def b(m: np.ndarray) -> np.ndarray:
        return m.astype(np.int64)

    exp = np.stack(
        [b(x > 0) + b(x > 10) + b(x > 20), b(x % 2 == 0) * 5 + b(x < 0), b(x > 3) + b(x > 6)], axis=1
    )
    return Result({"out": out}, {"out": exp})


SCALE = 3
OFFSET = -7.5
WEIGHTS = (0.25, 0.5, 0.25)
LUT = np.array([5, -3, 8, 13, 0, 21, -34, 55, 89, -144, 233], dtype=np.int64)


@cuda.jit
def globals_kernel(x, out_f, out_i):
    i = cuda.grid(1)
    n = x.size
    if i < n:
        left = x[i - 1] if i > 0 else 0.0
        right = x[i + 1] if i + 1 < n else 0.0
        out_f[i] = WEIGHTS[0] * left + WEIGHTS[1] * x[i] + WEIGHTS[2] * right + OFFSET
        out_i[i] = SCALE * i + LUT[i % LUT.size] + len(WEIGHTS)


@case(tags=("globals", "module-constants", "global-tuple", "global-array"), rtol=1e-6, atol=1e-6)
def global_constants(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Module-level scalars, a tuple and a numpy array read directly by a kernel (numba freezes them
    as compile-time constants)."""
    n = pick(size, 40_001, 99)
    tpb = 64
    x = rng.standard_normal(n).astype(np.float32)
    out_f = np.zeros(n, np.float32)
    out_i = np.zeros(n, np.int64)
    globals_kernel[blocks_for(n, tpb), tpb](x, out_f, out_i)
    xd = np.concatenate([[0.0], x.astype(np.float64), [0.0]])
    exp_f = 0.25 * xd[:-2] + 0.5 * xd[1:-1] + 0.25 * xd[2:] - 7.5
    i = np.arange(n)
    return Result({"f": out_f, "i": out_i}, {"f": exp_f, "i": SCALE * i + LUT[i % LUT.size] + 3})
