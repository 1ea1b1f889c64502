"""Kernel-side arrays and the loads and stores every thread makes on them.

A :class:`KArray` is what a kernel sees for a global, shared, local or constant array. Its
storage may carry implicit index dimensions the kernel never writes: a shared array stores one
copy per block of the chunk (a leading index that is the block's number in the chunk) and a
local array one copy per thread (a trailing index that is the lane number). Loads and stores
take the kernel's indices, add the implicit ones, and then either

* build a strided *view* when every index is an int or an :class:`~.lanes.Affine` and the whole
  chunk is in bounds (no gather, no mask needed), or
* gather / scatter the active lanes, checking every active lane's index.

Every access can be reported to observers with the byte address of each lane.
"""

from __future__ import annotations

import numpy as np

from .errors import KernelTypeError, OutOfBoundsError, ReadOnlyError, with_lanes
from .lanes import Affine, LaneSpace, _is_int, val


class KArray:
    """An array as a kernel sees it (see module docstring)."""

    __slots__ = ("data", "root", "off0", "space", "alloc", "base_addr", "pre", "post", "frozen",
                 "writable", "shape", "ndim", "size", "dtype", "name")

    def __init__(self, data: np.ndarray, root: np.ndarray, space: str, *, alloc=None, base_addr: int = 0,
                 pre: tuple = (), post: tuple = (), frozen: bool = False, writable: bool = True,
                 name: str = "") -> None:
        self.data = data
        self.root = root
        self.off0 = data.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        self.space = space
        self.alloc = alloc
        self.base_addr = base_addr
        self.pre = pre
        self.post = post
        self.frozen = frozen
        self.writable = writable
        self.name = name
        self.shape = data.shape[len(pre):data.ndim - len(post)]
        self.ndim = len(self.shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.dtype = data.dtype

    def with_prefix(self, idx: tuple) -> KArray:
        """The sub-array a partial index selects (possibly a different one per thread)."""
        return KArray(self.data, self.root, self.space, alloc=self.alloc, base_addr=self.base_addr,
                      pre=self.pre + idx, post=self.post, frozen=self.frozen, writable=self.writable,
                      name=self.name)

    def sliced(self, idx: tuple) -> KArray:
        """Basic slicing with uniform bounds: a numpy view of the storage."""
        full = (slice(None),) * (len(self.pre) + 0) + idx
        # pending prefix indices stay pending: they refer to storage dims before the sliced ones
        sub = self.data[full]
        return KArray(sub, self.root, self.space, alloc=self.alloc, base_addr=self.base_addr, pre=self.pre,
                      post=self.post, frozen=self.frozen, writable=self.writable, name=self.name)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"<{self.space} array {self.name or ''} shape={self.shape} dtype={self.dtype}>"


# -- helpers ------------------------------------------------------------------------------------

def _index_error(st, a: KArray, name: str, full, dim: int, bad, what: str = "read") -> OutOfBoundsError:
    sp: LaneSpace = st.sp
    lane = None
    if isinstance(bad, np.ndarray):
        flat = np.flatnonzero(np.broadcast_to(bad, sp.shape))
        lane, nbad = int(flat[0]), int(flat.size)
    else:
        nbad = 0
        m = st.cur_mask
        from .lanes import count, first_lane
        lane = first_lane(m, sp)
        nbad = count(m, sp)
    user = list(full[len(a.pre):len(full) - len(a.post)])
    shown = []
    for e in user:
        v = val(e)
        if isinstance(v, np.ndarray):
            v = np.broadcast_to(v, sp.shape).reshape(-1)[lane] if lane is not None else v.reshape(-1)[0]
        shown.append(str(int(v)))
    idx_txt = ", ".join(shown)
    n = a.data.shape[dim]
    udim = dim - len(a.pre)
    neg = any(int(s) < 0 for s in shown)
    fix = ("indices must be >= 0: Python's negative (from-the-end) indexing does not exist on a GPU"
           if neg else
           f"guard the access so that the index on axis {udim} stays below {n} "
           f"(e.g. `if i < {name}.shape[{udim}]:`); the launch may have more threads than elements")
    space = "" if a.space == "global" else f"{a.space} "
    err = OutOfBoundsError(
        f"{what} of {space}array '{name}' at [{idx_txt}] is out of bounds "
        f"(shape {a.shape}: the index on axis {udim} must be in 0..{n - 1})", fix=fix)
    if lane is not None:
        blk, thr = sp.unravel(lane)
        from .errors import LaneLocation
        with_lanes(err, LaneLocation(blk, thr, nbad))
    return err


def _check_int(e, name: str):
    dt = e.dtype if isinstance(e, (np.ndarray, np.generic)) else None
    if isinstance(e, (float, complex)) or (dt is not None and dt.kind not in "iub"):
        kind = dt if dt is not None else type(e).__name__
        raise KernelTypeError(f"array '{name}' indexed with a {kind} value; indices must be integers",
                              fix="convert the index with int(...)")
    if isinstance(e, (bool, np.bool_)) or (dt is not None and dt.kind == "b"):
        raise KernelTypeError(f"array '{name}' indexed with a boolean; indices must be integers",
                              fix="convert the index with int(...)")


def _affine_view(a: KArray, full: tuple, sp: LaneSpace):
    """A strided view (or scalar element) when every index is int/Affine and in bounds for the
    whole chunk; None otherwise."""
    dshape = a.data.shape
    dstr = a.data.strides
    off = a.off0
    s6 = [0, 0, 0, 0, 0, 0]
    sym = False
    for d, e in enumerate(full):
        n = dshape[d]
        if e.__class__ is Affine:
            lo, hi = e.bounds()
            if lo < 0 or hi >= n:
                return None
            st_ = dstr[d]
            off += e.c * st_
            for ax, ka in enumerate(e.k):
                if ka:
                    s6[ax] += ka * st_
            sym = True
        else:
            e = int(e)
            if e < 0 or e >= n:
                return None
            off += e * dstr[d]
    if not sym:
        return a.root[off:off + a.dtype.itemsize].view(a.dtype)[0]
    shape6 = tuple(n if s else 1 for n, s in zip(sp.shape, s6))
    return np.ndarray(shape6, a.dtype, buffer=a.root, offset=off, strides=tuple(s6))


def _split(a: KArray, idx, name: str):
    if idx.__class__ is not tuple:
        idx = (idx,)
    if len(idx) > a.ndim:
        raise KernelTypeError(f"array '{name}' has {a.ndim} dimension(s) but was indexed with {len(idx)}",
                              fix=f"use {a.ndim} index(es), e.g. {name}[{', '.join('i' * 1 for _ in range(a.ndim))}]")
    return idx


def _gather_indices(st, a: KArray, full, m, name: str, what: str):
    """Materialise and bounds-check the indices of the active lanes; returns safe index arrays."""
    out = []
    bads = []
    for d, e in enumerate(full):
        e = val(e)
        _check_int(e, name)
        n = a.data.shape[d]
        if isinstance(e, np.ndarray):
            if e.dtype != np.int64:
                e = e.astype(np.int64)      # narrow index types would wrap in address arithmetic
            if e.size and (int(e.min()) < 0 or int(e.max()) >= n):
                oob = (e < 0) | (e >= n)
                bad = oob if m is None else oob & m
                if bad.any():
                    bads.append((d, bad))
                e = np.where(oob, 0, e)
        elif e < 0 or e >= n:
            bads.append((d, None))
        out.append(e)
    if bads:
        sp = st.sp
        if all(b is not None for _, b in bads):
            union = bads[0][1]
            for _, b in bads[1:]:
                union = union | b
            first = int(np.flatnonzero(np.broadcast_to(union, sp.shape))[0])
            dim = next(d for d, b in bads if np.broadcast_to(b, sp.shape).reshape(-1)[first])
            raise _index_error(st, a, name, full, dim, union, what)
        raise _index_error(st, a, name, full, next(d for d, b in bads if b is None), None, what)
    return tuple(out)


# -- loads ---------------------------------------------------------------------------------------

def load(st, a, idx, m, name: str):
    """``a[idx]`` for the active lanes ``m``."""
    if a.__class__ is not KArray:
        if isinstance(a, tuple):
            i = val(idx)
            if not _is_int(i):
                raise KernelTypeError(f"tuple '{name}' must be indexed with a constant integer")
            return a[int(i)]
        raise KernelTypeError(f"'{name}' is a {type(a).__name__}, not an array, and cannot be indexed")
    idx = _split(a, idx, name)
    if any(e.__class__ is slice for e in idx):
        return a.sliced(idx)
    if len(idx) < a.ndim:
        return a.with_prefix(idx)
    full = a.pre + idx + a.post
    simple = True
    for e in full:
        if not (e.__class__ is Affine or _is_int(e)):
            simple = False
            break
    if simple:
        r = _affine_view(a, full, st.sp)
        if r is not None:
            if st.obs:
                st.mem_event("load", a, name, full, m)
            if r.__class__ is np.ndarray and not a.frozen:
                r = r.copy()
            return r
    if st.obs:
        st.mem_event("load", a, name, full, m)
    safe = _gather_indices(st, a, full, m, name, "read")
    r = a.data[safe]
    if r.__class__ is not np.ndarray:
        return r
    return r


# -- stores --------------------------------------------------------------------------------------

def _last_active(v, m, sp: LaneSpace):
    full_v = np.broadcast_to(v, sp.shape).reshape(-1)
    if m is None:
        return full_v[-1]
    full_m = np.broadcast_to(m, sp.shape).reshape(-1)
    nz = np.flatnonzero(full_m)
    return full_v[nz[-1]]


def store(st, a, idx, v, m, name: str) -> None:
    """``a[idx] = v`` for the active lanes ``m`` (the highest lane wins where lanes collide)."""
    if a.__class__ is not KArray:
        raise KernelTypeError(f"'{name}' is a {type(a).__name__}, not an array; it cannot be assigned into")
    if not a.writable:
        raise ReadOnlyError(f"'{name}' is in {a.space} memory, which kernels can only read",
                            fix="write the results to an ordinary device array instead")
    idx = _split(a, idx, name)
    if len(idx) < a.ndim or any(e.__class__ is slice for e in idx):
        raise KernelTypeError(f"assignment to '{name}' must index every dimension ({a.ndim})",
                              fix="assign one element at a time, e.g. inside a loop")
    full = a.pre + idx + a.post
    v = val(v)
    if st.obs:
        st.mem_event("store", a, name, full, m, value=v)
    simple = True
    for e in full:
        if not (e.__class__ is Affine or _is_int(e)):
            simple = False
            break
    if simple:
        r = _affine_view(a, full, st.sp)
        if r is not None:
            if r.__class__ is not np.ndarray:          # one element for every lane
                if isinstance(v, np.ndarray) and v.ndim:
                    v = _last_active(v, m, st.sp)
                a.data[tuple(int(e) for e in full)] = v
                return
            vshape = v.shape if isinstance(v, np.ndarray) else ()
            mshape = m.shape if m is not None else ()
            if np.broadcast_shapes(r.shape, vshape, mshape) == r.shape:
                np.copyto(r, v, casting="unsafe", where=True if m is None else m)
                return
    safe = _gather_indices(st, a, full, m, name, "write")
    shapes = [e.shape for e in safe if isinstance(e, np.ndarray)]
    if isinstance(v, np.ndarray):
        shapes.append(v.shape)
    if m is not None:
        shapes.append(m.shape)
    shp = np.broadcast_shapes(*shapes) if shapes else ()
    if m is not None:
        sel = np.broadcast_to(m, shp).reshape(-1)
        cols = tuple(np.broadcast_to(e, shp).reshape(-1)[sel] if isinstance(e, np.ndarray) else e for e in safe)
        vv = np.broadcast_to(v, shp).reshape(-1)[sel] if isinstance(v, np.ndarray) else v
    else:
        cols = tuple(np.broadcast_to(e, shp).reshape(-1) if isinstance(e, np.ndarray) else e for e in safe)
        vv = np.broadcast_to(v, shp).reshape(-1) if isinstance(v, np.ndarray) else v
    a.data[cols] = vv
