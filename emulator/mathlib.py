"""Arithmetic inside kernels: math functions, casts, Python builtins, bit operations, fp16.

Every function takes uniform scalars or lane arrays and keeps numpy's dtype rules (a float32
argument gives a float32 result, as numba's math functions do). Where numba's result type is
different from numpy's (``math.floor`` returns an integer), numba's is followed.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .errors import KernelTypeError
from .lanes import Affine, truth, val


def _f(x):
    x = val(x)
    return x


def _is_float(x) -> bool:
    if isinstance(x, float):
        return True
    return isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f"


def _to_int(x):
    """Round toward zero and make an int64 (numba's math.floor/ceil/trunc return integers)."""
    if isinstance(x, np.ndarray):
        return x.astype(np.int64)
    return np.int64(x)


def _ufunc1(uf):
    def f(x):
        return uf(_f(x))
    return f


def _erf_like(fn):
    vec = np.frompyfunc(fn, 1, 1)

    def f(x):
        x = _f(x)
        dt = x.dtype if isinstance(x, (np.ndarray, np.generic)) and x.dtype.kind == "f" else np.dtype(np.float64)
        if isinstance(x, np.ndarray):
            return vec(x.astype(np.float64)).astype(dt)
        return dt.type(fn(float(x)))
    return f


math_sqrt = _ufunc1(np.sqrt)
math_exp = _ufunc1(np.exp)
math_expm1 = _ufunc1(np.expm1)
math_log = _ufunc1(np.log)
math_log2 = _ufunc1(np.log2)
math_log10 = _ufunc1(np.log10)
math_log1p = _ufunc1(np.log1p)
math_sin = _ufunc1(np.sin)
math_cos = _ufunc1(np.cos)
math_tan = _ufunc1(np.tan)
math_asin = _ufunc1(np.arcsin)
math_acos = _ufunc1(np.arccos)
math_atan = _ufunc1(np.arctan)
math_sinh = _ufunc1(np.sinh)
math_cosh = _ufunc1(np.cosh)
math_tanh = _ufunc1(np.tanh)
math_asinh = _ufunc1(np.arcsinh)
math_acosh = _ufunc1(np.arccosh)
math_atanh = _ufunc1(np.arctanh)
math_fabs = _ufunc1(np.fabs)
math_degrees = _ufunc1(np.degrees)
math_radians = _ufunc1(np.radians)
math_isnan = _ufunc1(np.isnan)
math_isinf = _ufunc1(np.isinf)
math_isfinite = _ufunc1(np.isfinite)
math_erf = _erf_like(math.erf)
math_erfc = _erf_like(math.erfc)
math_gamma = _erf_like(math.gamma)
math_lgamma = _erf_like(math.lgamma)


def _rounding(uf):
    def f(x):
        x = _f(x)
        if _is_float(x):
            return _to_int(uf(x))
        return x
    return f


math_floor = _rounding(np.floor)
math_ceil = _rounding(np.ceil)
math_trunc = _rounding(np.trunc)


def _floatify(x):
    x = _f(x)
    if _is_float(x):
        return x
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    return np.float64(x)


def _ufunc2(uf):
    def f(x, y):
        return uf(_floatify(x), _floatify(y))
    return f


math_atan2 = _ufunc2(np.arctan2)
math_pow = _ufunc2(np.power)
math_copysign = _ufunc2(np.copysign)
math_fmod = _ufunc2(np.fmod)
math_hypot = _ufunc2(np.hypot)


def math_ldexp(x, i):
    return np.ldexp(_floatify(x), _f(i))


def math_remainder(x, y):
    x, y = _floatify(x), _floatify(y)
    return x - np.rint(x / y) * y


# numpy functions some students call in kernels
np_sqrt, np_exp, np_expm1, np_log, np_log2, np_log10, np_log1p = (math_sqrt, math_exp, math_expm1, math_log,
                                                                   math_log2, math_log10, math_log1p)
np_sin, np_cos, np_tan, np_arcsin, np_arccos, np_arctan = (math_sin, math_cos, math_tan, math_asin, math_acos,
                                                           math_atan)
np_sinh, np_cosh, np_tanh = math_sinh, math_cosh, math_tanh
np_isnan, np_isinf, np_isfinite, np_fabs = math_isnan, math_isinf, math_isfinite, math_fabs
np_arctan2, np_hypot, np_copysign, np_fmod = math_atan2, math_hypot, math_copysign, math_fmod


def np_floor(x):
    return np.floor(_f(x))


def np_ceil(x):
    return np.ceil(_f(x))


def np_trunc(x):
    return np.trunc(_f(x))


def np_abs(x):
    return np.abs(_f(x))


np_absolute = np_abs


def np_minimum(a, b):
    return np.minimum(_f(a), _f(b))


def np_maximum(a, b):
    return np.maximum(_f(a), _f(b))


def np_power(a, b):
    return np.power(_f(a), _f(b))


def np_sign(x):
    return np.sign(_f(x))


# -- casts and builtins ----------------------------------------------------------------------

def cast(x, dtype: np.dtype):
    """``np.float32(x)`` and friends: C-style conversion (truncation toward zero, wrap-around)."""
    x = _f(x)
    if isinstance(x, np.ndarray):
        return x.astype(dtype)
    return np.asarray(x).astype(dtype)[()]


def builtin_int(x):
    x = _f(x)
    if isinstance(x, (bool, np.bool_)):
        return int(x)
    if isinstance(x, int):
        return x
    if isinstance(x, float):
        return int(x) if math.isfinite(x) else np.int64(0)
    if isinstance(x, np.ndarray):
        return x if x.dtype.kind in "iu" else x.astype(np.int64)
    return x if x.dtype.kind in "iu" else np.int64(x)


def builtin_float(x):
    x = _f(x)
    if isinstance(x, (int, float, bool)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.astype(np.float64)
    return np.float64(x)


def builtin_bool(x):
    return truth(x)


def builtin_complex(a, b=0):
    return _f(a) + 1j * _f(b)


def builtin_abs(x):
    x = _f(x)
    if isinstance(x, np.ndarray):
        return np.abs(x)
    return abs(x)


def _reduce(better, pyfn, args):
    """Python's rule, which numba follows: keep the first value unless a later one compares better
    (so NaN handling depends on argument order, unlike np.maximum / np.minimum)."""
    if len(args) == 1:
        raise KernelTypeError("min()/max() of a single value: kernels compare scalars, e.g. max(a, b)")
    args = [_f(a) for a in args]
    if not any(isinstance(a, np.ndarray) for a in args):
        return pyfn(args)
    r = args[0]
    for a in args[1:]:
        r = np.where(better(a, r), a, r)
    return r


def builtin_min(*args):
    return _reduce(np.less, builtins.min, args)


def builtin_max(*args):
    return _reduce(np.greater, builtins.max, args)


def builtin_len(x):
    if isinstance(x, tuple):
        return len(x)
    if hasattr(x, "shape") and not isinstance(x, (np.ndarray, Affine)):
        return x.shape[0]
    raise KernelTypeError("len() needs an array or a tuple")


def builtin_round(x, ndigits=None):
    x = _f(x)
    if ndigits is None:
        if isinstance(x, np.ndarray):
            return np.rint(x).astype(np.int64) if x.dtype.kind == "f" else x
        return round(x) if isinstance(x, (int, float)) else np.int64(np.rint(x))
    return np.round(x, int(ndigits))


# -- bit operations (cuda.popc, clz, ffs, brev) ---------------------------------------------------

def _unsigned(x):
    """View an integer value as unsigned of the same width (Python ints as 64-bit)."""
    x = _f(x)
    if isinstance(x, (int, bool)):
        return np.uint64(x & 0xFFFFFFFFFFFFFFFF), np.dtype(np.int64)
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise KernelTypeError(f"bit operations need integers, got {x.dtype}")
    dt = x.dtype if x.dtype.kind != "b" else np.dtype(np.uint8)
    u = x.astype(dt).view(np.dtype(f"u{dt.itemsize}"))
    return (u if u.ndim else u[()]), dt


def _bit_length(u):
    u = np.asarray(u)
    width = u.dtype.itemsize * 8
    y = u.copy()
    s = 1
    while s < width:
        y |= y >> np.asarray(s, dtype=u.dtype)
        s *= 2
    return np.bitwise_count(y)


def popc(x):
    u, dt = _unsigned(x)
    r = np.bitwise_count(u)
    return r.astype(np.int32) if isinstance(r, np.ndarray) else np.int32(r)


def clz(x):
    u, dt = _unsigned(x)
    width = np.asarray(u).dtype.itemsize * 8
    r = (width - _bit_length(u).astype(np.int32))
    return r if r.ndim else np.int32(r)


def ffs(x):
    u, dt = _unsigned(x)
    u = np.asarray(u)
    low = u & (~u + np.asarray(1, dtype=u.dtype))
    r = _bit_length(low).astype(np.int32)
    return r if r.ndim else np.int32(r)


_BREV_MASKS = [(1, 0x5555555555555555), (2, 0x3333333333333333), (4, 0x0F0F0F0F0F0F0F0F),
               (8, 0x00FF00FF00FF00FF), (16, 0x0000FFFF0000FFFF), (32, 0x00000000FFFFFFFF)]


def brev(x):
    u, dt = _unsigned(x)
    u = np.asarray(u)
    width = u.dtype.itemsize * 8
    t = u.dtype.type
    for s, mask in _BREV_MASKS:
        if s >= width:
            break
        mk = t(mask & ((1 << width) - 1))
        u = ((u >> t(s)) & mk) | ((u & mk) << t(s))
    r = u.view(np.dtype(f"u{dt.itemsize}"))
    return r if r.ndim else r[()]


def _wide(x):
    return np.asarray(x, dtype=np.float64)


def fma(a, b, c):
    """cuda.fma: one rounding for float32 (computed in float64); float64 is rounded twice here."""
    a, b, c = _f(a), _f(b), _f(c)
    dt = np.result_type(a, b, c)
    if dt in (np.float32, np.float16):
        r = _wide(a) * _wide(b) + _wide(c)
        return r.astype(dt) if r.ndim else dt.type(r)
    return a * b + c


def cbrt(x):
    return np.cbrt(_f(x))


# -- fp16 (cuda.fp16) ----------------------------------------------------------------------------

def _h(x):
    x = _f(x)
    if isinstance(x, np.ndarray):
        return x.astype(np.float16) if x.ndim else np.float16(x)
    return np.float16(x)


def _h2(fn):
    def f(a, b):
        return _h(fn(_h(a), _h(b)))
    return f


def _h1(fn):
    def f(a):
        return _h(fn(_h(a)))
    return f


fp16_hadd = _h2(lambda a, b: a + b)
fp16_hsub = _h2(lambda a, b: a - b)
fp16_hmul = _h2(lambda a, b: a * b)
fp16_hdiv = _h2(lambda a, b: np.float32(a) / np.float32(b))
fp16_hmax = _h2(np.maximum)
fp16_hmin = _h2(np.minimum)
fp16_hneg = _h1(lambda a: -a)
fp16_habs = _h1(np.abs)
fp16_hsqrt = _h1(lambda a: np.sqrt(np.float32(a)))
fp16_hrsqrt = _h1(lambda a: np.float32(1) / np.sqrt(np.float32(a)))
fp16_hrcp = _h1(lambda a: np.float32(1) / np.float32(a))
fp16_hexp = _h1(lambda a: np.exp(np.float32(a)))
fp16_hexp2 = _h1(lambda a: np.exp2(np.float32(a)))
fp16_hexp10 = _h1(lambda a: np.power(np.float32(10), np.float32(a)))
fp16_hlog = _h1(lambda a: np.log(np.float32(a)))
fp16_hlog2 = _h1(lambda a: np.log2(np.float32(a)))
fp16_hlog10 = _h1(lambda a: np.log10(np.float32(a)))
fp16_hsin = _h1(lambda a: np.sin(np.float32(a)))
fp16_hcos = _h1(lambda a: np.cos(np.float32(a)))
fp16_hceil = _h1(np.ceil)
fp16_hfloor = _h1(np.floor)
fp16_htrunc = _h1(np.trunc)
fp16_hrint = _h1(np.rint)


def fp16_hfma(a, b, c):
    return _h(_wide(_h(a)) * _wide(_h(b)) + _wide(_h(c)))


def _hcmp(fn):
    def f(a, b):
        return fn(_h(a), _h(b))
    return f


fp16_heq = _hcmp(np.equal)
fp16_hne = _hcmp(np.not_equal)
fp16_hgt = _hcmp(np.greater)
fp16_hge = _hcmp(np.greater_equal)
fp16_hlt = _hcmp(np.less)
fp16_hle = _hcmp(np.less_equal)
