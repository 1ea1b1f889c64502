"""Helpers the generated kernel code calls (imported there as ``_s_rt``).

Control-flow and mask helpers come from :mod:`.lanes`, memory from :mod:`.memory`, warp
intrinsics from :mod:`.warp`, atomics from :mod:`.atomics` and arithmetic from
:mod:`.mathlib`; this module adds assignment under a mask, integer division with the
division-by-zero check, ``range`` handling, barriers, ``print`` and constants.
"""

from __future__ import annotations

import numpy as np

from .atomics import atomic  # noqa: F401
from .errors import BarrierDivergenceError, KernelTypeError, KernelZeroDivisionError, LaneLocation, with_lanes
from .lanes import Affine, _is_int, mand, mandnot, mor, truth, val  # noqa: F401
from .mathlib import *  # noqa: F401,F403
from .memory import KArray, load, store  # noqa: F401
from .warp import (  # noqa: F401
    activemask,
    all_sync,
    any_sync,
    ballot_sync,
    eq_sync,
    lanemask_lt,
    match_all_sync,
    match_any_sync,
    shfl_down_sync,
    shfl_sync,
    shfl_up_sync,
    shfl_xor_sync,
    syncwarp,
)


class Undefined:
    """The value of a variable before its first assignment on some path."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def _fail(self, *a):
        raise KernelTypeError(f"variable '{self.name}' is used before it is assigned (on some path "
                              "through the kernel it never got a value)",
                              fix=f"give '{self.name}' a value before the if/loop that sets it")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _fail
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __lt__ = __le__ = __gt__ = __ge__ = _fail
    __neg__ = __bool__ = __index__ = __int__ = __float__ = __array__ = __and__ = __or__ = __xor__ = _fail
    __eq__ = __ne__ = __pow__ = __rpow__ = __lshift__ = __rshift__ = __invert__ = __getitem__ = _fail
    __hash__ = None


NO_VALUE = Undefined("the return value")


def asg(m, new, old):
    """``old = new`` for the lanes in ``m``; other lanes keep ``old``."""
    if m is None or old.__class__ is Undefined:
        return new
    if new.__class__ is tuple:
        if old.__class__ is tuple and len(old) == len(new):
            return tuple(asg(m, n, o) for n, o in zip(new, old))
        return new
    if new.__class__ is KArray or old.__class__ is KArray:
        if new is old:
            return new
        raise KernelTypeError("an array variable is assigned different arrays in different threads",
                              fix="use one array name per array; select elements with indices instead")
    if new is old:
        return new
    return np.where(m, val(new), val(old))


def unpack(v, n: int):
    if v.__class__ is not tuple:
        raise KernelTypeError(f"cannot unpack a {type(v).__name__} into {n} names")
    if len(v) != n:
        raise KernelTypeError(f"cannot unpack {len(v)} values into {n} names")
    return v


def as_tuple(v):
    if v.__class__ is not tuple:
        raise KernelTypeError(f"kernels can loop over range(...) or a tuple, not a {type(v).__name__}")
    return v


def select(c, r1, r2, m1, m2):
    """Value of ``a if c else b`` for each lane."""
    if m1 is False:
        return r2
    if m2 is False:
        return r1
    if c is True or c is False:
        return r1 if c else r2
    if r1.__class__ is tuple:
        return tuple(np.where(c, val(a), val(b)) for a, b in zip(r1, r2))
    return np.where(c, val(r1), val(r2))


def land(a, b):
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return a & b


def lor(a, b):
    if a is True or b is True:
        return True
    if a is False:
        return b
    if b is False:
        return a
    return a | b


def land_all(*parts):
    r = True
    for p in parts:
        r = land(r, truth(p))
    return r


def not_(v):
    t = truth(v)
    if t is True or t is False:
        return not t
    return ~t


def bool_to_int(v):
    """Booleans used in arithmetic count as 0 and 1 (int64), as in Python and numba."""
    v = val(v)
    if isinstance(v, np.ndarray) and v.dtype == np.bool_:
        return v.astype(np.int64)
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    return v


def invert(v):
    return ~val(v)


def _is_intlike(x) -> bool:
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind in "iub"
    return isinstance(x, (int, bool))


def _check_divisor(st, b, m, op: str) -> None:
    if isinstance(b, np.ndarray):
        z = b == 0
        if m is not None:
            z = z & m
        if z.any():
            flat = np.flatnonzero(np.broadcast_to(z, st.sp.shape))
            blk, thr = st.sp.unravel(int(flat[0]))
            raise with_lanes(KernelZeroDivisionError(f"integer {op} by zero",
                                                     fix="guard the division: GPUs return garbage for it"),
                             LaneLocation(blk, thr, int(flat.size)))
    elif b == 0:
        err = KernelZeroDivisionError(f"integer {op} by zero", fix="guard the division: GPUs return garbage for it")
        first = st.first_active(m)
        if first is not None:
            blk, thr = st.sp.unravel(first)
            with_lanes(err, LaneLocation(blk, thr, 1))
        raise err


def _intdiv(st, a, b, m, op, uf, pyop):
    a, b = val(a), val(b)
    if _is_intlike(a) and _is_intlike(b):
        _check_divisor(st, b, m, op)
        if isinstance(a, int) and isinstance(b, int):
            return pyop(a, b)
        if isinstance(b, np.ndarray):
            b = np.where(b == 0, 1, b)
        return uf(a, b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        a = np.float64(a)
    return uf(a, b)


def floordiv(st, a, b, m):
    return _intdiv(st, a, b, m, "division (//)", np.floor_divide, lambda x, y: x // y)


def mod(st, a, b, m):
    return _intdiv(st, a, b, m, "modulo (%)", np.remainder, lambda x, y: x % y)


def truediv(a, b):
    a, b = val(a), val(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return np.float64(a) / b
    return a / b


def power(a, b):
    a, b = val(a), val(b)
    if isinstance(a, int) and isinstance(b, int):
        return a ** b if b >= 0 else float(a) ** b
    try:
        return np.power(a, b)
    except ValueError as exc:
        raise KernelTypeError(f"power: {exc}", fix="use a float base, e.g. float(x) ** k") from None


def getattr_(obj, name: str):
    if obj.__class__ is KArray:
        if name in ("shape", "size", "ndim", "dtype"):
            return getattr(obj, name)
    elif name in ("real", "imag"):
        return getattr(val(obj), name)
    elif obj is GRID_GROUP and name == "sync":
        return obj.sync
    raise KernelTypeError(f"'{type(obj).__name__}' has no attribute '{name}' inside kernels")


def mkslice(lo, hi, step):
    parts = []
    for p in (lo, hi, step):
        p = val(p)
        if p is not None and not _is_int(p):
            raise KernelTypeError("slice bounds must be the same integer for every thread")
        parts.append(None if p is None else int(p))
    return slice(*parts)


def range_args(a, b, c):
    out = []
    for x in (a, b, c):
        x = val(x) if not isinstance(x, Affine) else x
        if isinstance(x, (float, np.floating)) or (isinstance(x, np.ndarray) and x.dtype.kind not in "iub"):
            raise KernelTypeError("range() arguments must be integers", fix="convert them with int(...)")
        out.append(x)
    if _is_int(out[2]) and out[2] == 0:
        raise KernelTypeError("range() step must not be zero")
    return out[0], out[1], out[2]


def range_cond(cur, stop, step):
    if _is_int(step):
        return truth(cur < stop) if step > 0 else truth(cur > stop)
    step = val(step)
    return np.where(step > 0, val(cur) < val(stop), val(cur) > val(stop))


# -- barriers and fences ---------------------------------------------------------------------------

def _check_barrier(st, m, what: str, scope: str = "block") -> None:
    ret = st.ret
    if m is None and ret is False:
        return
    sp = st.sp
    act = np.ones(sp.shape, dtype=bool) if m is None else np.broadcast_to(m, sp.shape)
    live = np.ones(sp.shape, dtype=bool) if ret is False else ~np.broadcast_to(ret, sp.shape)
    if scope == "grid":
        a, lv = act.reshape(1, -1), live.reshape(1, -1)
    else:
        a, lv = act.reshape(sp.nblocks, -1), live.reshape(sp.nblocks, -1)
    has = a.any(axis=1)
    bad = ((a != lv).any(axis=1)) & has
    if bad.any():
        b = int(np.flatnonzero(bad)[0])
        missing = lv[b] & ~a[b]
        p = int(np.flatnonzero(missing)[0]) if missing.any() else int(np.flatnonzero(a[b] & ~lv[b])[0])
        lane = b * a.shape[1] + p
        blk, thr = sp.unravel(lane)
        who = "block" if scope == "block" else "grid"
        err = BarrierDivergenceError(
            f"{what} was reached by {int(a[b].sum())} of the {int(lv[b].sum())} live threads of the {who}; "
            f"the others (first: blockIdx={blk}, threadIdx={thr}) are on another path. "
            "On a GPU this hangs or corrupts shared memory",
            fix="make the condition around the barrier the same for every thread of the block, or move the "
                "barrier out of the if/loop so that all threads reach it")
        err.block, err.thread, err.lanes = blk, thr, int(missing.sum())
        raise err


def syncthreads(st, m, pred=True):
    _check_barrier(st, m, "cuda.syncthreads()")
    if st.obs:
        st.barrier_event("block", m)


def _block_reduce(st, m, pred, how):
    p = val(pred)
    if isinstance(p, (bool, np.bool_, float, np.floating)) or (
            isinstance(p, np.ndarray) and p.dtype.kind not in "iu"):
        kind = "a boolean" if isinstance(p, (bool, np.bool_)) or getattr(p, "dtype", None) == np.bool_ else "a float"
        raise KernelTypeError(f"cuda.syncthreads_{how}() takes an integer predicate; numba rejects {kind}",
                              fix="pass an int, e.g. cuda.syncthreads_count(1 if cond else 0)")
    _check_barrier(st, m, f"cuda.syncthreads_{how}()")
    if st.obs:
        st.barrier_event("block", m)
    sp = st.sp
    p = np.broadcast_to(truth(pred), sp.shape)
    if m is not None:
        p = p & np.broadcast_to(m, sp.shape)
    pb = p.reshape(sp.nblocks, -1)
    if how == "count":
        r = pb.sum(axis=1).astype(np.int32)
    elif how == "and":
        act = np.broadcast_to(True if m is None else m, sp.shape).reshape(sp.nblocks, -1)
        r = ((pb == act) | ~act).all(axis=1).astype(np.int32)
    else:
        r = pb.any(axis=1).astype(np.int32)
    return r.reshape(sp.shape[0], sp.shape[1], sp.shape[2], 1, 1, 1)


def syncthreads_count(st, m, pred):
    return _block_reduce(st, m, pred, "count")


def syncthreads_and(st, m, pred):
    return _block_reduce(st, m, pred, "and")


def syncthreads_or(st, m, pred):
    return _block_reduce(st, m, pred, "or")


def threadfence(st, m, kind: str) -> None:
    if st.obs:
        st.barrier_event(kind, m)


class _GridGroup:
    """What ``cuda.cg.this_grid()`` returns; its ``sync()`` is a grid-wide barrier."""

    def __repr__(self) -> str:
        return "<grid group>"


GRID_GROUP = _GridGroup()


def group_sync(st, m, g) -> None:
    if g is not GRID_GROUP:
        raise KernelTypeError("only cuda.cg.this_grid().sync() is supported")
    _check_barrier(st, m, "cuda.cg.this_grid().sync()", scope="grid")
    if st.obs:
        st.barrier_event("grid", m)


# -- print ----------------------------------------------------------------------------------------

def print_(st, m, args: tuple) -> None:
    """``print`` in a kernel: one line per active thread, in thread order, up to a budget."""
    sp = st.sp
    act = np.ones(sp.size, dtype=bool) if m is None else np.broadcast_to(m, sp.shape).reshape(-1)
    lanes = np.flatnonzero(act)
    cols = []
    for a in args:
        a = val(a)
        if isinstance(a, np.ndarray):
            cols.append(np.broadcast_to(a, sp.shape).reshape(-1))
        else:
            cols.append(a)
    for lane in lanes:
        if st.launch.print_budget <= 0:
            st.launch.print_suppressed += 1
            continue
        st.launch.print_budget -= 1
        parts = [str(c[lane]) if isinstance(c, np.ndarray) else str(c) for c in cols]
        print(" ".join(parts))


def materialize_const(value):
    """Constants of the generated code; global numpy arrays become constant-memory arrays."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "__constarray__":
        from .state import const_karray
        return const_karray(value[1], value[2])
    return value
