"""Atomic read-modify-write operations on global and shared memory.

Within one statement the active lanes' atomics take effect one after another in lane order,
and each lane gets back the value it saw (its "old" value), as a GPU serialising same-address
atomics would in some order. Distinct addresses are done in one vectorised step; same-address
updates whose old values nobody reads use ``ufunc.at``; otherwise the lanes are applied one by
one.
"""

from __future__ import annotations

import numpy as np

from .errors import KernelTypeError, ReadOnlyError
from .lanes import val
from .memory import KArray, _gather_indices, _split

UFUNCS = {"add": np.add, "sub": np.subtract, "and": np.bitwise_and, "or": np.bitwise_or,
          "xor": np.bitwise_xor, "max": np.maximum, "min": np.minimum, "nanmax": np.fmax,
          "nanmin": np.fmin}
INT_ONLY = {"and", "or", "xor", "inc", "dec"}


def _apply(op: str, old, v, cmp=None):
    """New value(s) of an atomic op, vectorised over lanes with distinct addresses."""
    if op in UFUNCS:
        return UFUNCS[op](old, v)
    if op == "exch":
        return v
    if op == "inc":
        return np.where(old >= v, 0, old + 1).astype(old.dtype)
    if op == "dec":
        return np.where((old == 0) | (old > v), v, old - 1).astype(old.dtype)
    if op == "cas":
        return np.where(old == cmp, v, old)
    raise KernelTypeError(f"unknown atomic operation {op}")


def _typed_root(a: KArray) -> np.ndarray:
    it = a.dtype.itemsize
    n = a.root.size - a.root.size % it
    return a.root[:n].view(a.dtype)


def atomic(st, op: str, a, idx, v, m, name: str, want_old: bool):
    """``cuda.atomic.<op>(a, idx, v)`` for the active lanes; returns each lane's old value."""
    if a.__class__ is not KArray:
        raise KernelTypeError(f"cuda.atomic.{op}: '{name}' is not an array")
    if not a.writable:
        raise ReadOnlyError(f"cuda.atomic.{op} on '{name}', which is read-only {a.space} memory")
    if a.space not in ("global", "shared"):
        raise KernelTypeError(f"cuda.atomic.{op} works on global and shared arrays, not {a.space} ones")
    if op in INT_ONLY and a.dtype.kind not in "iu":
        raise KernelTypeError(f"cuda.atomic.{op} needs an integer array; '{name}' is {a.dtype}")
    if m is False:
        return None
    if op == "cas":
        cmp, v = v
        cmp = val(cmp)
    else:
        cmp = None
    idx = _split(a, idx, name)
    if len(idx) != a.ndim:
        raise KernelTypeError(f"cuda.atomic.{op}: '{name}' has {a.ndim} dimensions; index all of them "
                              "(pass a tuple for several)")
    full = a.pre + idx + a.post
    if st.obs:
        st.mem_event("atomic", a, name, full, m, op=op, value=val(v))
    safe = _gather_indices(st, a, full, m, name, f"atomic {op}")
    off = a.off0
    for d, e in enumerate(safe):
        off = off + e * a.data.strides[d]
    eoff = np.asarray(off) // a.dtype.itemsize
    v = val(v)
    shp = st.sp.shape      # every active lane performs the operation, even with uniform operands
    full_e = np.broadcast_to(eoff, shp).reshape(-1)
    full_v = np.broadcast_to(np.asarray(v).astype(a.dtype), shp).reshape(-1)
    full_c = np.broadcast_to(np.asarray(cmp).astype(a.dtype), shp).reshape(-1) if cmp is not None else None
    if m is not None:
        sel = np.broadcast_to(m, shp).reshape(-1)
        lanes = np.flatnonzero(sel)
        e, vv = full_e[lanes], full_v[lanes]
        cc = full_c[lanes] if full_c is not None else None
    else:
        lanes = None
        e, vv, cc = full_e, full_v, full_c
    rt = _typed_root(a)
    if e.size == 0:
        return None
    order = np.argsort(e, kind="stable")
    se = e[order]
    dup = se.size > 1 and bool((se[1:] == se[:-1]).any())
    if not dup:
        old = rt[e]
        rt[e] = _apply(op, old, vv, cc)
    elif not want_old and op in UFUNCS:
        UFUNCS[op].at(rt, e, vv)
        old = None
    else:
        old = _sequential(rt, e, vv, cc, op)
    if not want_old:
        return None
    if lanes is None:
        return old.reshape(shp)
    out = np.zeros(int(np.prod(shp)), dtype=a.dtype)
    out[lanes] = old
    return out.reshape(shp)


def _sequential(rt: np.ndarray, e: np.ndarray, v: np.ndarray, c, op: str) -> np.ndarray:
    """Apply lane by lane, in lane order, where lanes share addresses and old values are needed."""
    uniq, inv = np.unique(e, return_inverse=True)
    cur = rt[uniq].copy()
    old = np.empty_like(v)
    # each round handles the next pending lane of every address at once
    order = np.argsort(inv, kind="stable")
    counts = np.bincount(inv, minlength=uniq.size)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(inv.size, dtype=np.int64)
    rank[order] = np.arange(inv.size) - np.repeat(starts, counts)
    if counts.max() > 64 and op in ("add", "sub") and rt.dtype.kind in "iu":
        sign = -1 if op == "sub" else 1
        sv = v[order].astype(np.int64) * sign
        cs = np.cumsum(sv)
        base = np.repeat(cs[starts] - sv[starts], counts)
        excl = cs - sv - base
        old_sorted = (np.repeat(cur.astype(np.int64), counts) + excl).astype(rt.dtype)
        old[order] = old_sorted
        rt[uniq] = (cur.astype(np.int64) + np.add.reduceat(sv, starts)).astype(rt.dtype)
        return old
    by_rank = np.argsort(rank, kind="stable")
    rank_sorted = rank[by_rank]
    bounds = np.searchsorted(rank_sorted, np.arange(int(rank.max()) + 2))
    for r in range(int(rank.max()) + 1):
        lanes = by_rank[bounds[r]:bounds[r + 1]]
        slots = inv[lanes]
        o = cur[slots]
        old[lanes] = o
        cur[slots] = _apply(op, o, v[lanes], c[lanes] if c is not None else None)
    rt[uniq] = cur
    return old
