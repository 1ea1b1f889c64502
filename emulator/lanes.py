"""The lane space of a chunk, symbolic affine indices, and active-lane masks.

A chunk is a box of whole blocks. Its threads are laid out over six axes
``(bz, by, bx, tz, ty, tx)``: block coordinates inside the box, then thread coordinates inside
the block. Every per-thread value is a numpy array broadcastable to that 6-D shape, so a value
that depends only on ``threadIdx.x`` is stored once per thread column, not once per thread:
broadcasting is the uniformity analysis. Values equal for the whole chunk stay Python or numpy
scalars.

Integer values built from thread and block indices by ``+``, ``-`` and ``*`` by constants stay
symbolic (:class:`Affine`) until something else needs them. An array index that is affine in
the lane axes becomes a strided view instead of a gather, which is where elementwise speed
comes from, and comparisons of affine values against scalars are decided for the whole chunk
when they can be (a non-tail chunk of ``if i < n:`` needs no mask at all).

Masks: ``None`` means every lane of the chunk is active, ``False`` means none is, otherwise a
boolean array broadcastable to the lane shape.
"""

from __future__ import annotations

import numpy as np

AXES = ("bz", "by", "bx", "tz", "ty", "tx")
NAXES = 6


class LaneSpace:
    """Geometry of one chunk: the box of blocks it holds and the block shape."""

    __slots__ = ("shape", "block0", "grid", "block", "nblocks", "nthreads", "size", "_aranges",
                 "lane_strides")

    def __init__(self, box: tuple[int, int, int], block0: tuple[int, int, int],
                 grid: tuple[int, int, int], block: tuple[int, int, int]) -> None:
        bz, by, bx = box
        dx, dy, dz = block
        self.shape = (bz, by, bx, dz, dy, dx)
        self.block0 = block0            # (z0, y0, x0) of the box's first block
        self.grid = grid                # (Gx, Gy, Gz)
        self.block = block              # (Dx, Dy, Dz)
        self.nblocks = bz * by * bx
        self.nthreads = dx * dy * dz
        self.size = self.nblocks * self.nthreads
        self._aranges: list[np.ndarray | None] = [None] * NAXES
        strides = []
        acc = 1
        for n in reversed(self.shape):
            strides.append(acc)
            acc *= n
        self.lane_strides = tuple(reversed(strides))

    def arange(self, axis: int) -> np.ndarray:
        """0..n-1 along one axis, shaped to broadcast over the lane space."""
        a = self._aranges[axis]
        if a is None:
            shp = [1] * NAXES
            shp[axis] = self.shape[axis]
            a = np.arange(self.shape[axis], dtype=np.int64).reshape(shp)
            self._aranges[axis] = a
        return a

    def full(self, value) -> np.ndarray:
        """A value broadcast to the whole lane shape (read-only view)."""
        return np.broadcast_to(value, self.shape)

    def unravel(self, flat: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Lane number (C order over the 6 axes) -> (blockIdx, threadIdx) as (x, y, z) triples."""
        bz, by, bx, tz, ty, tx = np.unravel_index(int(flat), self.shape)
        z0, y0, x0 = self.block0
        return (int(x0 + bx), int(y0 + by), int(z0 + bz)), (int(tx), int(ty), int(tz))


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


class Affine:
    """An int64 per-lane value ``c + sum(k[a] * axis_index[a])`` kept symbolic.

    Only ``+``, ``-`` and multiplication by integer scalars keep it affine; anything else
    turns it into an ordinary array (``value()``), cached on the object.
    """

    __slots__ = ("c", "k", "sp", "_v")
    __array_ufunc__ = None  # numpy defers to our reflected operators
    dtype = np.dtype(np.int64)

    def __init__(self, c: int, k: tuple[int, ...], sp: LaneSpace) -> None:
        self.c = int(c)
        self.k = k
        self.sp = sp
        self._v = None

    # -- materialisation -------------------------------------------------------------------
    def value(self) -> np.ndarray | np.int64:
        v = self._v
        if v is None:
            v = np.int64(self.c)
            for a, ka in enumerate(self.k):
                if ka:
                    v = v + ka * self.sp.arange(a)
            if not isinstance(v, np.ndarray):
                v = np.full((1,) * NAXES, v, dtype=np.int64)
            self._v = v
        return v

    def __array__(self, dtype=None, copy=None):
        v = np.asarray(self.value())
        return v.astype(dtype) if dtype is not None else v

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(n if ka else 1 for n, ka in zip(self.sp.shape, self.k))

    def bounds(self) -> tuple[int, int]:
        """Smallest and largest value over the whole chunk."""
        lo = hi = self.c
        for n, ka in zip(self.sp.shape, self.k):
            span = ka * (n - 1)
            if span < 0:
                lo += span
            else:
                hi += span
        return lo, hi

    # -- affine arithmetic -----------------------------------------------------------------
    def __add__(self, o):
        if _is_int(o):
            return Affine(self.c + int(o), self.k, self.sp)
        if isinstance(o, Affine):
            return Affine(self.c + o.c, tuple(a + b for a, b in zip(self.k, o.k)), self.sp)
        return self.value() + o

    __radd__ = __add__

    def __sub__(self, o):
        if _is_int(o):
            return Affine(self.c - int(o), self.k, self.sp)
        if isinstance(o, Affine):
            return Affine(self.c - o.c, tuple(a - b for a, b in zip(self.k, o.k)), self.sp)
        return self.value() - o

    def __rsub__(self, o):
        if _is_int(o):
            return Affine(int(o) - self.c, tuple(-a for a in self.k), self.sp)
        return o - self.value()

    def __mul__(self, o):
        if _is_int(o):
            o = int(o)
            return Affine(self.c * o, tuple(a * o for a in self.k), self.sp)
        return self.value() * o

    __rmul__ = __mul__

    def __neg__(self):
        return Affine(-self.c, tuple(-a for a in self.k), self.sp)

    def __pos__(self):
        return self

    # -- comparisons decided for the whole chunk when possible ------------------------------
    def _cmp(self, o, op, lo_true, hi_true):
        if _is_int(o) or isinstance(o, (float, np.floating)):
            lo, hi = self.bounds()
            if lo_true(lo, hi, o):
                return True
            if hi_true(lo, hi, o):
                return False
        return op(self.value(), o.value() if isinstance(o, Affine) else o)

    def __lt__(self, o):
        return self._cmp(o, np.less, lambda lo, hi, v: hi < v, lambda lo, hi, v: lo >= v)

    def __le__(self, o):
        return self._cmp(o, np.less_equal, lambda lo, hi, v: hi <= v, lambda lo, hi, v: lo > v)

    def __gt__(self, o):
        return self._cmp(o, np.greater, lambda lo, hi, v: lo > v, lambda lo, hi, v: hi <= v)

    def __ge__(self, o):
        return self._cmp(o, np.greater_equal, lambda lo, hi, v: lo >= v, lambda lo, hi, v: hi < v)

    def __eq__(self, o):
        return self._cmp(o, np.equal, lambda lo, hi, v: lo == hi == v, lambda lo, hi, v: v < lo or v > hi)

    def __ne__(self, o):
        return self._cmp(o, np.not_equal, lambda lo, hi, v: v < lo or v > hi, lambda lo, hi, v: lo == hi == v)

    __hash__ = None

    def __bool__(self):
        raise TypeError("a per-thread value has no single truth value")

    def __repr__(self) -> str:
        terms = " + ".join(f"{ka}*{AXES[a]}" for a, ka in enumerate(self.k) if ka)
        return f"Affine({self.c}{' + ' + terms if terms else ''})"


def _materializing(name):
    def fwd(self, *args):
        args = [a.value() if isinstance(a, Affine) else a for a in args]
        return getattr(self.value(), name)(*args)
    fwd.__name__ = name
    return fwd


for _name in ("__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__truediv__", "__rtruediv__",
              "__pow__", "__rpow__", "__lshift__", "__rlshift__", "__rshift__", "__rrshift__",
              "__and__", "__rand__", "__or__", "__ror__", "__xor__", "__rxor__", "__abs__",
              "__invert__", "astype"):
    setattr(Affine, _name, _materializing(_name))


def val(x):
    """Materialise a symbolic value; everything else passes through."""
    return x.value() if isinstance(x, Affine) else x


# -- masks --------------------------------------------------------------------------------

def _norm(r):
    if r.all():
        return None
    if not r.any():
        return False
    return r


def truth(c):
    """A condition as a Python bool (uniform) or a boolean lane array."""
    if isinstance(c, Affine):
        c = c.value()
    if isinstance(c, np.ndarray):
        if c.dtype != np.bool_:
            c = c != 0
        if c.ndim == 0:
            return bool(c)
        return c
    return bool(c)


def mand(m, c):
    """Lanes active in ``m`` whose condition ``c`` holds."""
    if m is False:
        return False
    if c is True or c is False:
        return m if c else False
    return _norm(c if m is None else (m & c))


def mandnot(m, c):
    """Lanes active in ``m`` whose condition ``c`` does not hold."""
    if m is False:
        return False
    if c is True or c is False:
        return False if c else m
    return _norm(~c if m is None else (m & ~c))


def mor(a, b):
    """Union of two masks."""
    if a is None or b is None:
        return None
    if a is False:
        return b
    if b is False:
        return a
    return _norm(a | b)


def count(m, sp: LaneSpace) -> int:
    """How many lanes a mask holds."""
    if m is None:
        return sp.size
    if m is False:
        return 0
    return int(np.count_nonzero(np.broadcast_to(m, sp.shape)))


def first_lane(m, sp: LaneSpace) -> int | None:
    """Lane number of the first lane in ``m`` (None if empty)."""
    if m is False:
        return None
    if m is None:
        return 0
    full = np.broadcast_to(m, sp.shape).reshape(-1)
    nz = np.flatnonzero(full)
    return int(nz[0]) if nz.size else None
