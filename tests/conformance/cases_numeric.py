"""Conformance cases: integer and floating-point arithmetic, casts, math.*, bit intrinsics, fp16."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np

from .backend import cuda
from .registry import Result, blocks_for, case, pick

# ---------------------------------------------------------------------------------------------
# casts


@cuda.jit
def casts_kernel(f, d, k, k64, out_i, out_f):
    i = cuda.grid(1)
    if i < f.size:
        out_i[i, 0] = int(f[i])
        out_i[i, 1] = np.int32(f[i])
        out_i[i, 2] = np.int32(k64[i])
        out_i[i, 3] = np.uint32(k[i])
        out_i[i, 4] = int(f[i] > 0) + 2 * int(bool(k[i]))
        out_i[i, 5] = np.int64(k[i]) * 100000
        out_f[i, 0] = float(k[i]) / 3.0
        out_f[i, 1] = np.float32(d[i])
        out_f[i, 2] = np.float64(f[i]) * 0.1
        out_f[i, 3] = float(f[i])


@case(tags=("casts", "int()", "float()", "np.float32()", "np.int32()", "wraparound"), rtol=1e-15)
def casts(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """int()/float()/np.float32()/np.int32()/np.uint32()/np.int64()/np.float64() inside a kernel.

    int() of a float truncates toward zero; np.int32/np.uint32 of an out-of-range integer wrap
    modulo 2**32 (numba's C conversion); np.float32() of a float64 rounds to nearest, which shows
    in a float64 output.
    """
    n = pick(size, 40_001, 137)
    tpb = 128 if size == "full" else 32
    f = rng.uniform(-1000, 1000, n).astype(np.float32)
    f[:4] = [-2.75, 2.75, -0.5, 0.0]
    d = rng.standard_normal(n) * 1000.0
    k = rng.integers(-50_000, 50_000, n, dtype=np.int32)
    k[:2] = [0, -1]
    k64 = rng.integers(-(2**40), 2**40, n, dtype=np.int64)
    out_i = np.zeros((n, 6), dtype=np.int64)
    out_f = np.zeros((n, 4), dtype=np.float64)
    casts_kernel[blocks_for(n, tpb), tpb](f, d, k, k64, out_i, out_f)
    exp_i = np.stack(
        [
            np.trunc(f).astype(np.int64),
            np.trunc(f).astype(np.int64),
            k64.astype(np.int32).astype(np.int64),
            k.astype(np.uint32).astype(np.int64),
            (f > 0).astype(np.int64) + 2 * (k != 0),
            k.astype(np.int64) * 100000,
        ],
        axis=1,
    )
    exp_f = np.stack(
        [k.astype(np.float64) / 3.0, d.astype(np.float32).astype(np.float64), f.astype(np.float64) * 0.1, f],
        axis=1,
    )
    return Result({"ints": out_i, "floats": out_f}, {"ints": exp_i, "floats": exp_f})


# ---------------------------------------------------------------------------------------------
# integer arithmetic


@cuda.jit
def int_math_kernel(a, b, u, big, out32, outu, out64):
    i = cuda.grid(1)
    if i < a.size:
        x = a[i]
        y = b[i]
        out32[i, 0] = x * y
        out32[i, 1] = x + y - 7
        out32[i, 2] = (x << 3) - (y >> 2)
        out32[i, 3] = (x & 0xFF) | (y ^ 0x5A5A)
        out32[i, 4] = ~x
        out32[i, 5] = -x
        w = u[i]
        outu[i, 0] = w >> 3
        outu[i, 1] = w & 0xFFFF
        outu[i, 2] = w | 1
        outu[i, 3] = w ^ np.uint32(0x5A5A5A5A)
        outu[i, 4] = ~w
        outu[i, 5] = w // 7 + w % 7
        g = big[i]
        out64[i, 0] = g * 3 + 1
        out64[i, 1] = g >> 5
        out64[i, 2] = g // 1000
        out64[i, 3] = g % 1000
        out64[i, 4] = g * g - g


@case(tags=("int32", "int64", "uint32", "bitwise", "shifts"))
def int_math(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """int32/int64/uint32 arithmetic, shifts and bitwise ops, all without overflow."""
    n = pick(size, 50_021, 155)
    tpb = 256 if size == "full" else 64
    a = rng.integers(-30_000, 30_000, n, dtype=np.int32)
    b = rng.integers(-30_000, 30_000, n, dtype=np.int32)
    u = rng.integers(0, 2**32, n, dtype=np.uint32)
    big = rng.integers(-(2**30), 2**30, n, dtype=np.int64)
    out32 = np.zeros((n, 6), np.int32)
    outu = np.zeros((n, 6), np.uint32)
    out64 = np.zeros((n, 5), np.int64)
    int_math_kernel[blocks_for(n, tpb), tpb](a, b, u, big, out32, outu, out64)
    exp32 = np.stack([a * b, a + b - 7, (a << 3) - (b >> 2), (a & 0xFF) | (b ^ 0x5A5A), ~a, -a], axis=1)
    expu = np.stack([u >> 3, u & 0xFFFF, u | 1, u ^ np.uint32(0x5A5A5A5A), ~u, u // 7 + u % 7], axis=1)
    exp64 = np.stack([big * 3 + 1, big >> 5, big // 1000, big % 1000, big * big - big], axis=1)
    return Result(
        {"i32": out32, "u32": outu, "i64": out64},
        {"i32": exp32.astype(np.int32), "u32": expu.astype(np.uint32), "i64": exp64},
    )


@cuda.jit
def literal_promotion_kernel(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i, 0] = a[i] * 3000000000
        out[i, 1] = a[i] + 2**40
        out[i, 2] = a[i] & 0xFFFFFFFF


@case(
    tags=("int32", "int64", "literal-promotion"),
    sim_ok=False,
    sim_reason="numba's simulator computes with numpy scalars, and NumPy 2 raises OverflowError when an "
    "int32 meets a Python int literal outside the int32 range; numba types such literals as int64",
)
def int_literal_promotion(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """An int32 value combined with an integer literal that does not fit int32 gives int64 (numba's
    typing), where numpy's weak-scalar rule would raise: the contract defers to numba here."""
    n = pick(size, 20_011, 101)
    tpb = 64
    a = rng.integers(-(2**31), 2**31, n, dtype=np.int32)
    a[:3] = [-1, 0, 2**31 - 1]
    out = np.zeros((n, 3), np.int64)
    literal_promotion_kernel[blocks_for(n, tpb), tpb](a, out)
    a64 = a.astype(np.int64)
    exp = np.stack([a64 * 3000000000, a64 + 2**40, a64 & 0xFFFFFFFF], axis=1)
    return Result({"out": out}, {"out": exp})


@cuda.jit
def divmod_kernel(a, b, a64, b64, fa, fb, out, outf):
    i = cuda.grid(1)
    if i < a.size:
        out[i, 0] = a[i] // b[i]
        out[i, 1] = a[i] % b[i]
        out[i, 2] = a64[i] // b64[i]
        out[i, 3] = a64[i] % b64[i]
        out[i, 4] = a[i] // -3
        out[i, 5] = a[i] % -3
        out[i, 6] = -a[i] // 4
        out[i, 7] = (-a[i]) % 4
        outf[i, 0] = fa[i] // fb[i]
        outf[i, 1] = fa[i] % fb[i]


@case(tags=("floordiv", "mod", "negative", "python-semantics", "int32", "int64", "float64"), rtol=1e-12)
def int_divmod_negative(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """// and % with negative operands follow Python (floor) semantics, for ints and floats."""
    n = pick(size, 30_007, 119)
    tpb = 64
    a = rng.integers(-1000, 1000, n, dtype=np.int32)
    b = rng.integers(1, 20, n, dtype=np.int32) * rng.choice(np.array([-1, 1], dtype=np.int32), n)
    a64 = rng.integers(-(10**12), 10**12, n, dtype=np.int64)
    b64 = rng.integers(1, 10**6, n, dtype=np.int64) * rng.choice(np.array([-1, 1], dtype=np.int64), n)
    fa = np.round(rng.uniform(-100, 100, n), 2)
    fb = np.round(rng.uniform(0.5, 9, n), 1) * rng.choice([-1.0, 1.0], n)
    out = np.zeros((n, 8), np.int64)
    outf = np.zeros((n, 2), np.float64)
    divmod_kernel[blocks_for(n, tpb), tpb](a, b, a64, b64, fa, fb, out, outf)
    a_ = a.astype(np.int64)
    exp = np.stack(
        [a_ // b, a_ % b, a64 // b64, a64 % b64, a_ // -3, a_ % -3, -a_ // 4, (-a_) % 4], axis=1
    )
    expf = np.stack([fa // fb, fa % fb], axis=1)
    return Result({"int": out, "float": outf}, {"int": exp, "float": expf})


@cuda.jit
def minmax_abs_kernel(a, b, c, x, y, out_i, out_f):
    i = cuda.grid(1)
    if i < a.size:
        out_i[i, 0] = min(a[i], b[i])
        out_i[i, 1] = max(a[i], b[i], c[i])
        out_i[i, 2] = abs(a[i])
        out_i[i, 3] = min(abs(b[i]), 7)
        out_f[i, 0] = min(x[i], y[i])
        out_f[i, 1] = max(x[i], y[i], 0.5)
        out_f[i, 2] = abs(x[i])


@case(tags=("min", "max", "abs", "builtins"), rtol=0.0)
def min_max_abs(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """min/max (two and three arguments) and abs on ints and floats."""
    n = pick(size, 20_011, 101)
    tpb = 32
    a, b, c = (rng.integers(-10**6, 10**6, n, dtype=np.int32) for _ in range(3))
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    out_i = np.zeros((n, 4), np.int32)
    out_f = np.zeros((n, 3), np.float32)
    minmax_abs_kernel[blocks_for(n, tpb), tpb](a, b, c, x, y, out_i, out_f)
    exp_i = np.stack([np.minimum(a, b), np.maximum(np.maximum(a, b), c), np.abs(a), np.minimum(np.abs(b), 7)], 1)
    exp_f = np.stack([np.minimum(x, y), np.maximum(np.maximum(x, y), np.float32(0.5)), np.abs(x)], 1)
    return Result({"int": out_i, "float": out_f}, {"int": exp_i, "float": exp_f})


# ---------------------------------------------------------------------------------------------
# math.*


@cuda.jit
def math_kernel(p, s, out):
    i = cuda.grid(1)
    if i < p.size:
        a = p[i]
        b = s[i]
        out[i, 0] = math.sqrt(a)
        out[i, 1] = math.exp(b)
        out[i, 2] = math.log(a)
        out[i, 3] = math.sin(b)
        out[i, 4] = math.cos(b)
        out[i, 5] = math.tanh(b)
        out[i, 6] = math.erf(b)
        out[i, 7] = math.floor(b * 4)
        out[i, 8] = math.ceil(b * 4)
        out[i, 9] = math.pow(a, b)
        out[i, 10] = math.fabs(b)
        out[i, 11] = math.copysign(a, b)
        out[i, 12] = math.atan2(b, a)
        out[i, 13] = math.hypot(a, b)
        out[i, 14] = math.log1p(a)
        out[i, 15] = math.expm1(b)


def _math_reference(p: np.ndarray, s: np.ndarray) -> np.ndarray:
    from math import erf

    a = p.astype(np.float64)
    b = s.astype(np.float64)
    # b * 4 is exact in any precision, so floor/ceil do not depend on how the product is typed
    b4 = b * 4
    return np.stack(
        [
            np.sqrt(a),
            np.exp(b),
            np.log(a),
            np.sin(b),
            np.cos(b),
            np.tanh(b),
            np.array([erf(v) for v in b]),
            np.floor(b4),
            np.ceil(b4),
            np.power(a, b),
            np.abs(b),
            np.copysign(a, b),
            np.arctan2(b, a),
            np.hypot(a, b),
            np.log1p(a),
            np.expm1(b),
        ],
        axis=1,
    )


def _math_inputs(rng: np.random.Generator, n: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    p = rng.uniform(0.1, 10.0, n).astype(dtype)
    s = rng.uniform(-3.0, 3.0, n).astype(dtype)
    s[:3] = [0.0, -0.0, -1.0]
    return p, s


# numba's simulator evaluates math.* in float64 (Python's math) and rounds once on the store; an
# emulator evaluating float32 functions may be a few ulps away, as a GPU's sinf/expf/... may be.
@case(tags=("math", "float32"), rtol=2e-6, atol=1e-6, parity_rtol=2.0**-20, parity_atol=1e-7)
def math_float32(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """math.sqrt/exp/log/sin/cos/tanh/erf/floor/ceil/pow/fabs/copysign/atan2/hypot/log1p/expm1 on float32."""
    n = pick(size, 20_003, 97)
    tpb = 64
    p, s = _math_inputs(rng, n, np.float32)
    out = np.zeros((n, 16), np.float32)
    math_kernel[blocks_for(n, tpb), tpb](p, s, out)
    return Result({"out": out}, {"out": _math_reference(p, s)})


@case(tags=("math", "float64"), rtol=1e-13, atol=1e-15, parity_rtol=1e-13, parity_atol=1e-15)
def math_float64(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """The same math.* functions on float64 inputs, to float64 accuracy."""
    n = pick(size, 20_003, 97)
    tpb = 64
    p, s = _math_inputs(rng, n, np.float64)
    out = np.zeros((n, 16), np.float64)
    math_kernel[blocks_for(n, tpb), tpb](p, s, out)
    return Result({"out": out}, {"out": _math_reference(p, s)})


@cuda.jit
def float64_kernel(d, out_cancel, out_series, out_f32err):
    i = cuda.grid(1)
    if i < d.size:
        v = d[i]
        out_cancel[i] = (v + 1e10) - 1e10
        acc = 0.0
        for k in range(1, 200):
            acc += 1.0 / (k + v * v)
        out_series[i] = acc
        out_f32err[i] = np.float32(v) - v


@case(
    tags=("float64", "precision"),
    rtol=1e-13,
    key_tol={"cancel": (0.0, 0.0), "f32err": (0.0, 0.0)},
)
def float64_precision(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """float64 stays float64: cancellation and float32 rounding errors that float32 would lose."""
    n = pick(size, 20_001, 99)
    tpb = 128 if size == "full" else 32
    d = rng.standard_normal(n)
    out_cancel = np.zeros(n)
    out_series = np.zeros(n)
    out_f32err = np.zeros(n)
    float64_kernel[blocks_for(n, tpb), tpb](d, out_cancel, out_series, out_f32err)
    k = np.arange(1, 200, dtype=np.float64)
    series = np.array([np.sum(1.0 / (k + v * v)) for v in d])
    return Result(
        {"cancel": out_cancel, "series": out_series, "f32err": out_f32err},
        {
            "cancel": (d + 1e10) - 1e10,
            "series": series,
            "f32err": d.astype(np.float32).astype(np.float64) - d,
        },
    )


# ---------------------------------------------------------------------------------------------
# bit intrinsics


def _bit_length(x: np.ndarray) -> np.ndarray:
    v = x.copy()
    n = np.zeros(v.shape, dtype=np.int64)
    while np.any(v):
        nz = v != 0
        n[nz] += 1
        v = v >> v.dtype.type(1)
    return n


def _ref_popc(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int64)


def _ref_clz(x: np.ndarray, width: int) -> np.ndarray:
    return width - _bit_length(x)


def _ref_ffs(x: np.ndarray) -> np.ndarray:
    lowest = x & (~x + x.dtype.type(1))
    return _bit_length(lowest)


def _ref_brev(x: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros_like(x)
    one = x.dtype.type(1)
    for bit in range(width):
        out |= ((x >> x.dtype.type(bit)) & one) << x.dtype.type(width - 1 - bit)
    return out


@cuda.jit
def bitops32_kernel(u, s, out):
    i = cuda.grid(1)
    if i < u.size:
        v = u[i]
        out[i, 0] = cuda.popc(v)
        out[i, 1] = cuda.clz(v)
        out[i, 2] = cuda.ffs(v)
        out[i, 3] = cuda.brev(v)
        w = s[i]
        out[i, 4] = cuda.popc(w)
        out[i, 5] = cuda.clz(w)
        out[i, 6] = cuda.ffs(w)


@case(tags=("popc", "clz", "ffs", "brev", "uint32", "int32"))
def bitops_u32(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """popc/clz/ffs/brev on uint32 (edge values included) and on non-negative int32."""
    n = pick(size, 30_001, 123)
    tpb = 128 if size == "full" else 32
    shifts = rng.integers(0, 32, n).astype(np.uint32)
    u = (rng.integers(0, 2**32, n, dtype=np.uint32) >> shifts).astype(np.uint32)
    u[:6] = [0, 1, 0x80000000, 0xFFFFFFFF, 0x00010000, 0x7FFFFFFF]
    s = (rng.integers(0, 2**31, n, dtype=np.int32) >> shifts.astype(np.int32)).astype(np.int32)
    s[:3] = [0, 1, 0x7FFFFFFF]
    out = np.zeros((n, 7), np.int64)
    bitops32_kernel[blocks_for(n, tpb), tpb](u, s, out)
    su = s.astype(np.uint32)
    exp = np.stack(
        [
            _ref_popc(u),
            _ref_clz(u, 32),
            _ref_ffs(u),
            _ref_brev(u, 32).astype(np.int64),
            _ref_popc(su),
            _ref_clz(su, 32),
            _ref_ffs(su),
        ],
        axis=1,
    )
    return Result({"out": out}, {"out": exp})


@cuda.jit
def bitops64_kernel(u, s32, s64, out, out_brev):
    i = cuda.grid(1)
    if i < u.size:
        v = u[i]
        out[i, 0] = cuda.popc(v)
        out[i, 1] = cuda.clz(v)
        out[i, 2] = cuda.ffs(v)
        out_brev[i] = cuda.brev(v)
        out[i, 3] = cuda.popc(s32[i])
        out[i, 4] = cuda.clz(s32[i])
        out[i, 5] = cuda.ffs(s32[i])
        out[i, 6] = cuda.popc(s64[i])
        out[i, 7] = cuda.clz(s64[i])
        out[i, 8] = cuda.ffs(s64[i])


@case(
    tags=("popc", "clz", "ffs", "brev", "uint64", "int64", "negative"),
    sim_ok=False,
    sim_reason="numba's simulator formats every value as 32 unsigned bits: clz/ffs/brev of 64-bit values "
    "and popc/clz/ffs of negative values are wrong there",
)
def bitops_64_signed(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """popc/clz/ffs/brev at 64 bits, and on negative (two's complement) int32/int64."""
    n = pick(size, 30_001, 123)
    tpb = 128 if size == "full" else 32
    shifts = rng.integers(0, 64, n).astype(np.uint64)
    u = rng.integers(0, 2**64, n, dtype=np.uint64) >> shifts
    u[:5] = [0, 1, 2**63, 2**64 - 1, 2**40]
    s32 = rng.integers(-(2**31), 2**31, n, dtype=np.int32)
    s32[:3] = [-1, -(2**31), 0]
    s64 = rng.integers(-(2**63), 2**63, n, dtype=np.int64)
    s64[:3] = [-1, -(2**63), 0]
    out = np.zeros((n, 9), np.int64)
    out_brev = np.zeros(n, np.uint64)
    bitops64_kernel[blocks_for(n, tpb), tpb](u, s32, s64, out, out_brev)
    b32 = s32.view(np.uint32)
    b64 = s64.view(np.uint64)
    exp = np.stack(
        [
            _ref_popc(u),
            _ref_clz(u, 64),
            _ref_ffs(u),
            _ref_popc(b32),
            _ref_clz(b32, 32),
            _ref_ffs(b32),
            _ref_popc(b64),
            _ref_clz(b64, 64),
            _ref_ffs(b64),
        ],
        axis=1,
    )
    return Result({"out": out, "brev": out_brev}, {"out": exp, "brev": _ref_brev(u, 64)})


# ---------------------------------------------------------------------------------------------
# fused multiply-add and cube root


@cuda.jit
def fma_cbrt_kernel(a, b, c, out_err, out_cbrt):
    i = cuda.grid(1)
    if i < a.size:
        p = a[i] * b[i]
        out_err[i] = cuda.fma(a[i], b[i], -p)
        out_cbrt[i] = cuda.cbrt(c[i])


@case(
    tags=("fma", "cbrt", "float32"),
    rtol=1e-6,
    key_tol={"err": (0.0, 0.0)},
    sim_ok=False,
    sim_reason="numba's simulator computes cuda.fma as a*b+c with two roundings (the error term is then "
    "always 0) and cuda.cbrt as x ** (1/3), which is NaN for negative x",
)
def fma_cbrt(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.fma is fused (one rounding): fma(a, b, -round(a*b)) is the exact rounding error."""
    n = pick(size, 20_001, 99)
    tpb = 64
    a = rng.standard_normal(n).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    c = rng.uniform(-30, 30, n).astype(np.float32)
    c[:3] = [-8.0, 27.0, 0.0]
    out_err = np.zeros(n, np.float32)
    out_cbrt = np.zeros(n, np.float32)
    fma_cbrt_kernel[blocks_for(n, tpb), tpb](a, b, c, out_err, out_cbrt)
    p = (a * b).astype(np.float64)
    err = (a.astype(np.float64) * b - p).astype(np.float32)
    return Result({"err": out_err, "cbrt": out_cbrt}, {"err": err, "cbrt": np.cbrt(c.astype(np.float64))})


# ---------------------------------------------------------------------------------------------
# float16


@cuda.jit
def fp16_kernel(x, y, a, b, c, out_h, out_cmp):
    i = cuda.grid(1)
    if i < x.size:
        out_h[0, i] = cuda.fp16.hadd(x[i], y[i])
        out_h[1, i] = cuda.fp16.hsub(x[i], y[i])
        out_h[2, i] = cuda.fp16.hmul(x[i], y[i])
        out_h[3, i] = cuda.fp16.hdiv(x[i], y[i])
        out_h[4, i] = cuda.fp16.hfma(a[i], b[i], c[i])
        out_h[5, i] = cuda.fp16.hneg(x[i])
        out_h[6, i] = cuda.fp16.habs(y[i])
        out_h[7, i] = cuda.fp16.hmax(x[i], y[i])
        out_h[8, i] = cuda.fp16.hmin(x[i], y[i])
        out_h[9, i] = x[i] + y[i] - x[i]
        out_cmp[0, i] = cuda.fp16.heq(x[i], y[i])
        out_cmp[1, i] = cuda.fp16.hlt(x[i], y[i])
        out_cmp[2, i] = cuda.fp16.hge(x[i], y[i])
        out_cmp[3, i] = x[i] > y[i]


FP16_OPS = ("add", "sub", "mul", "div", "fma", "neg", "abs", "max", "min", "ops")


@case(tags=("fp16", "float16", "cuda.fp16"), rtol=0.0, key_tol={"div": (1e-3, 0.0)})
def fp16_arith(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.fp16 arithmetic and comparisons on float16 arrays, rounded to float16 after each op.

    hfma's inputs are chosen so that a*b is exact in float16: fused and unfused agree there (the
    fused behaviour on general inputs is checked by fp16_fused_rounding). hdiv may be 1 ulp off.
    """
    n = pick(size, 30_001, 127)
    tpb = 128 if size == "full" else 32
    x = rng.standard_normal(n).astype(np.float16)
    y = (rng.standard_normal(n) * 4).astype(np.float16)
    y[y == 0] = np.float16(0.5)
    y[:4] = x[:4]
    a = (rng.integers(-8, 9, n) / 2).astype(np.float16)
    b = rng.integers(-16, 17, n).astype(np.float16)
    c = (rng.standard_normal(n) * 10).astype(np.float16)
    out_h = np.zeros((10, n), np.float16)
    out_cmp = np.zeros((4, n), np.uint8)
    fp16_kernel[blocks_for(n, tpb), tpb](x, y, a, b, c, out_h, out_cmp)
    exp_h = [
        x + y,
        x - y,
        x * y,
        x / y,
        (a.astype(np.float64) * b + c).astype(np.float16),
        -x,
        np.abs(y),
        np.maximum(x, y),
        np.minimum(x, y),
        (x + y) - x,
    ]
    got = {name: out_h[k] for k, name in enumerate(FP16_OPS)}
    exp = {name: exp_h[k] for k, name in enumerate(FP16_OPS)}
    got["cmp"] = out_cmp
    exp["cmp"] = np.stack([x == y, x < y, x >= y, x > y]).astype(np.uint8)
    return Result(got, exp)


@cuda.jit
def fp16_fused_kernel(a, b, c, x, out):
    i = cuda.grid(1)
    if i < a.size:
        out[0, i] = cuda.fp16.hfma(a[i], b[i], c[i])
        out[1, i] = cuda.fp16.hfloor(x[i])
        out[2, i] = cuda.fp16.hceil(x[i])
        out[3, i] = cuda.fp16.htrunc(x[i])
        out[4, i] = cuda.fp16.hrint(x[i])


@case(
    tags=("fp16", "float16", "cuda.fp16", "fma", "rounding"),
    rtol=0.0,
    sim_ok=False,
    sim_reason="numba's simulator rounds hfma twice (a*b, then +c) and its hfloor computes ceil",
)
def fp16_fused_rounding(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """hfma rounds once (fused); hfloor/hceil/htrunc/hrint (ties to even) on float16."""
    n = pick(size, 30_001, 127)
    tpb = 128 if size == "full" else 32
    a, b, c = (rng.standard_normal(n).astype(np.float16) for _ in range(3))
    x = (rng.standard_normal(n) * 8).astype(np.float16)
    x[:6] = [0.5, 1.5, 2.5, -0.5, -2.5, -3.25]
    out = np.zeros((5, n), np.float16)
    fp16_fused_kernel[blocks_for(n, tpb), tpb](a, b, c, x, out)
    fused = (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(np.float16)
    names = ("fma", "floor", "ceil", "trunc", "rint")
    exp = [fused, np.floor(x), np.ceil(x), np.trunc(x), np.rint(x)]
    return Result({nm: out[k] for k, nm in enumerate(names)}, {nm: exp[k] for k, nm in enumerate(names)})


# ---------------------------------------------------------------------------------------------
# NaN and infinity


@cuda.jit
def nan_kernel(x, y, out_f, out_b):
    i = cuda.grid(1)
    if i < x.size:
        a = x[i]
        b = y[i]
        out_f[i, 0] = max(a, b)
        out_f[i, 1] = min(a, b)
        out_f[i, 2] = max(b, a, np.float32(0.0))
        out_f[i, 3] = a + b
        out_f[i, 4] = a * b
        out_b[i, 0] = math.isnan(a)
        out_b[i, 1] = math.isinf(a)
        out_b[i, 2] = math.isfinite(a)
        out_b[i, 3] = a != a
        out_b[i, 4] = a < b
        out_b[i, 5] = a >= b
        out_b[i, 6] = a == b


def _py_max(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Python's (and numba's) max(a, b): b if b > a else a; NaN only wins from the first position
    return np.where(b > a, b, a)


def _py_min(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b < a, b, a)


@case(tags=("nan", "inf", "min", "max", "isnan", "float32", "python-semantics"), rtol=1e-7)
def nan_semantics(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """min/max follow Python with NaN (first argument wins unless the other compares greater),
    unlike np.maximum; comparisons with NaN are false; math.isnan/isinf/isfinite; inf arithmetic."""
    n = pick(size, 20_011, 101)
    tpb = 64
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0], np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    y = rng.standard_normal(n).astype(np.float32)
    pick_x = rng.random(n) < 0.3
    pick_y = rng.random(n) < 0.3
    x[pick_x] = rng.choice(specials, int(pick_x.sum()))
    y[pick_y] = rng.choice(specials, int(pick_y.sum()))
    out_f = np.zeros((n, 5), np.float32)
    out_b = np.zeros((n, 7), np.uint8)
    with np.errstate(invalid="ignore"):
        nan_kernel[blocks_for(n, tpb), tpb](x, y, out_f, out_b)
        exp_f = np.stack(
            [_py_max(x, y), _py_min(x, y), _py_max(_py_max(y, x), np.float32(0.0)), x + y, x * y], axis=1
        )
        exp_b = np.stack(
            [np.isnan(x), np.isinf(x), np.isfinite(x), x != x, x < y, x >= y, x == y], axis=1
        ).astype(np.uint8)
    return Result({"f": out_f, "b": out_b}, {"f": exp_f, "b": exp_b})


# ---------------------------------------------------------------------------------------------
# small integer and boolean arrays

BRIGHTEN = 20


@cuda.jit
def gray_kernel(img, out, hist):
    x, y = cuda.grid(2)
    if y < img.shape[0] and x < img.shape[1]:
        r = img[y, x, 0]
        g = img[y, x, 1]
        b = img[y, x, 2]
        v = int(0.299 * r + 0.587 * g + 0.114 * b + 0.5)
        v = min(255, max(0, v + BRIGHTEN))
        out[y, x] = v
        cuda.atomic.add(hist, v, 1)


@case(tags=("uint8", "image", "index-2d", "clamp", "atomic.add", "histogram"))
def uint8_image(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """RGB uint8 image to brightened grayscale (uint8 arithmetic promoted, clamped) plus its histogram."""
    h, w = pick(size, (241, 317), (11, 19))
    b = pick(size, (32, 8), (8, 8))
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out = np.zeros((h, w), np.uint8)
    hist = np.zeros(256, np.int32)
    gray_kernel[(blocks_for(w, b[0]), blocks_for(h, b[1])), b](img, out, hist)
    f = img.astype(np.float64)
    v = np.trunc(0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2] + 0.5).astype(np.int64)
    v = np.clip(v + BRIGHTEN, 0, 255)
    return Result(
        {"gray": out, "hist": hist},
        {"gray": v.astype(np.uint8), "hist": np.bincount(v.ravel(), minlength=256)},
    )


@cuda.jit
def bool_kernel(m, k, x, out_b, out_x):
    i = cuda.grid(1)
    if i < m.size:
        out_b[i, 0] = m[i] and not k[i]
        out_b[i, 1] = m[i] != k[i]
        out_b[i, 2] = m[i] or x[i] > 0
        out_x[i] = x[i] if m[i] else -x[i]


@case(tags=("bool", "bool-array", "ternary", "int16"))
def bool_arrays(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Boolean arrays in and out, `and`/`or`/`not` on bools, int16 values selected by a mask."""
    n = pick(size, 30_001, 99)
    tpb = 64
    m = rng.random(n) < 0.5
    k = rng.random(n) < 0.5
    x = rng.integers(-1000, 1000, n).astype(np.int16)
    out_b = np.zeros((n, 3), np.bool_)
    out_x = np.zeros(n, np.int16)
    bool_kernel[blocks_for(n, tpb), tpb](m, k, x, out_b, out_x)
    exp_b = np.stack([m & ~k, m != k, m | (x > 0)], axis=1)
    return Result({"b": out_b, "x": out_x}, {"b": exp_b, "x": np.where(m, x, -x).astype(np.int16)})
