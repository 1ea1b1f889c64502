"""Affine accesses, and the bookkeeping that lets racecheck skip the per-lane work for most of them.

Most memory instructions of a kernel index with affine functions of the thread and block indices
(``out[i]``, ``tile[ty, tx]``, ``sa[ty, k]``); the engine keeps such indices symbolic. For them the byte
offset of every lane is ``c + sum(S[a] * lane_index[a])`` over the six lane axes, so the range of bytes
the instruction touches is known without looking at a single lane.

racecheck uses this to *defer* an instruction: when its range overlaps no range that could conflict
with it in the current scope (a barrier interval of the chunk for shared memory, the launch for global
memory), no lane can be in a hazard with an earlier access, and its accesses only need to be written
into the shadow tables if a later instruction overlaps them. Many never are (an output written once, a
tile read after the barrier that follows its writes); those cost O(1) instead of O(lanes). A deferred
instruction is *materialised* (run through the per-lane loop, which then finds nothing) as soon as a
later overlapping instruction needs the table to be exact, always before that instruction and in
program order, so the tables hold exactly what per-lane checking of every instruction would have
written.

initcheck uses the same description to check and mark its byte flags through a strided numpy view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lanes import Affine, _is_int

MAX_BOOK = 96           # regions kept per table and scope before they are merged into two coarse ones
DEFER = True            # False: check every instruction lane by lane (the reference the tests compare with)
FAST_INIT = True        # False: initcheck lane by lane too


@dataclass(frozen=True)
class AffineAccess:
    """``offset = c + sum(S[a] * index[a])`` bytes over the lane axes (bz, by, bx, tz, ty, tx)."""

    c: int
    S: tuple[int, int, int, int, int, int]


def affine_of(ev, box=None) -> AffineAccess | None:
    """The event's byte offsets as an affine function of the lane indices, or None. Symbolic (``Affine``)
    indices give it directly; an index the engine had to materialise (an affine expression assigned
    under a mask, say) is accepted when its values over the box of active lanes fit an affine function."""
    c = int(ev.offset0)
    S = [0, 0, 0, 0, 0, 0]
    for e, st in zip(ev.indices, ev.strides):
        if e.__class__ is Affine:
            c += e.c * st
            for a, ka in enumerate(e.k):
                if ka:
                    S[a] += ka * st
        elif _is_int(e):
            c += int(e) * st
        elif box is not None and isinstance(e, np.ndarray):
            fit = _fit(e, box)
            if fit is None:
                return None
            c += fit[0] * st
            for a, ka in enumerate(fit[1]):
                S[a] += ka * st
        else:
            return None
    return AffineAccess(c, tuple(S))


def _fit(e: np.ndarray, box) -> tuple[int, list[int]] | None:
    """``(c, k)`` with ``e == c + sum(k[a] * index[a])`` over the box (extrapolated outside it), or None."""
    if e.dtype.kind not in "iu" or e.ndim > 6:
        return None
    e6 = e.reshape((1,) * (6 - e.ndim) + e.shape)
    sl = tuple(slice(lo, hi + 1) if e6.shape[a] > 1 else slice(None) for a, (lo, hi) in enumerate(box))
    r = e6[sl].astype(np.int64, copy=False)
    if r.size == 0:
        return None
    origin = int(r[(0,) * 6])
    k = [0] * 6
    pred = np.int64(origin)
    for a in range(6):
        if r.shape[a] > 1:
            step = [0] * 6
            step[a] = 1
            k[a] = int(r[tuple(step)]) - origin
            shp = [1] * 6
            shp[a] = r.shape[a]
            pred = pred + k[a] * np.arange(r.shape[a], dtype=np.int64).reshape(shp)
    if not np.array_equal(r, np.broadcast_to(pred, r.shape)):
        return None
    return origin - sum(k[a] * box[a][0] for a in range(6) if r.shape[a] > 1), k


def in_window(acc: AffineAccess, sp, window: int) -> AffineAccess:
    """For shared memory: the offset inside the block's window (the chunk buffer's block term removed)."""
    bz, by, bx = sp.shape[:3]
    mult = (by * bx, bx, 1)
    S = tuple(s - window * mult[a] if a < 3 else s for a, s in enumerate(acc.S))
    return AffineAccess(acc.c, S)


def span(acc: AffineAccess, shape: tuple[int, ...], axes=range(6)) -> tuple[int, int]:
    """Smallest and largest offset over every lane (active or not) along ``axes``."""
    lo = hi = acc.c
    for a in axes:
        d = acc.S[a] * (shape[a] - 1)
        if d < 0:
            lo += d
        else:
            hi += d
    return lo, hi


def injective(acc: AffineAccess, shape: tuple[int, ...], axes=range(6)) -> bool:
    """Do different lanes (along ``axes``) always get different offsets? (Strides that nest like the
    digits of a mixed-radix number: each at least the span of the smaller ones plus one.)"""
    dims = sorted((abs(acc.S[a]), shape[a]) for a in axes if shape[a] > 1)
    reach = 0
    for s, n in dims:
        if s == 0 or s <= reach:
            return False
        reach += s * (n - 1)
    return True


def active_box(mask, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...] | None:
    """Per lane axis, the first and last index of an active lane (None if no lane is active)."""
    if mask is None:
        return tuple((0, n - 1) for n in shape)
    m = np.asarray(mask)
    m = m.reshape((1,) * (6 - m.ndim) + m.shape)
    box = []
    for a in range(6):
        if m.shape[a] == 1:
            box.append((0, shape[a] - 1))
            continue
        hit = np.flatnonzero(m.any(axis=tuple(b for b in range(6) if b != a)))
        if hit.size == 0:
            return None
        box.append((int(hit[0]), int(hit[-1])))
    return tuple(box)


def restrict(acc: AffineAccess, box) -> tuple[AffineAccess, tuple[int, ...]]:
    """The map over the box of active lanes only: (shifted map, extents of the box)."""
    c = acc.c + sum(s * lo for s, (lo, _) in zip(acc.S, box))
    return AffineAccess(c, acc.S), tuple(hi - lo + 1 for lo, hi in box)


GRID_PAIRS = ((5, 2), (4, 1), (3, 0))      # (thread axis, block axis) of x, y, z


def digits(acc: AffineAccess, box, mask, shape: tuple[int, ...]) -> tuple[tuple[int, int, int, bool], ...]:
    """The active lanes' offsets as ``acc.c + sum(stride * j)`` over "digits" ``(stride, lo, hi, thread)``
    with ``lo <= j <= hi`` (a superset of them, exact for box-shaped masks).

    A thread axis and the block axis of the same dimension whose strides nest like ``cuda.grid(1)``
    (block stride = thread stride * block size) form one digit, the global index, whose range is taken
    from the mask: the usual ``if i < n`` guard then bounds it exactly. ``thread`` says whether the digit
    varies across the threads of one block."""
    m = None
    if mask is not None:
        m = np.asarray(mask)
        m = m.reshape((1,) * (6 - m.ndim) + m.shape)
    out = []
    used = set()
    for t, b in GRID_PAIRS:
        st, sb = acc.S[t], acc.S[b]
        if st == 0 or sb != st * shape[t] or shape[b] == 1:
            continue
        if m is not None and (m.shape[t] > 1 or m.shape[b] > 1):
            proj = m.any(axis=tuple(a for a in range(6) if a not in (t, b)))
            proj = np.broadcast_to(proj.reshape(m.shape[b], m.shape[t]), (shape[b], shape[t]))
            x = np.flatnonzero(proj)          # row-major over (block, thread): the global index itself
            lo, hi = int(x[0]), int(x[-1])
        else:
            lo, hi = box[b][0] * shape[t] + box[t][0], box[b][1] * shape[t] + box[t][1]
        out.append((st, lo, hi, True))
        used.update((t, b))
    for a in range(6):
        lo, hi = box[a]
        if a not in used and (hi > lo or acc.S[a] * lo != 0):
            out.append((acc.S[a], lo, hi, a >= 3))
    return tuple(out)


def _mixed_radix(ds) -> bool:
    """Injective when each stride exceeds the reach of all smaller ones (``ds``: (stride, extent) pairs)."""
    reach = 0
    for s, n in sorted((abs(s), n) for s, n in ds if n > 1):
        if s == 0 or s <= reach:
            return False
        reach += s * (n - 1)
    return True


@dataclass
class Region:
    """One instruction's accesses to one table: its byte range in the table's scope, whether it writes,
    its affine map (``acc``; None if not affine) with the digits of its active lanes, whether block
    digits count for injectivity (global memory; shared memory gives each block its own window) and,
    while deferred, what materialising it needs."""

    lo: int
    hi: int                       # exclusive
    write: bool
    acc: AffineAccess | None = None
    digits: tuple = ()
    per_block: bool = False       # shared memory: only the thread digits must be injective
    chunk: object = None          # the chunk whose lanes made the accesses (lane coordinates are per chunk)
    pending: tuple | None = None  # (event, chunk, barrier epochs, warp epochs, sequence number)

    def overlaps(self, lo: int, hi: int) -> bool:
        return self.lo < hi and lo < self.hi

    def _counted(self, ds):
        return [(s, hi - lo + 1) for s, lo, hi, th in ds if th or not self.per_block]

    def injective(self) -> bool:
        """Do its active lanes (of one block, for shared memory) all touch different elements?"""
        return self.acc is not None and _mixed_radix(self._counted(self.digits))

    def same_lanes(self, other: Region) -> bool:
        """Every element both touch was touched by the same thread in both (one map, injective over the
        lanes of both)."""
        if (self.acc is None or self.acc != other.acc or len(self.digits) != len(other.digits)
                or self.chunk is not other.chunk):
            return False
        union = [(s, min(lo, lo2), max(hi, hi2), th) for (s, lo, hi, th), (_, lo2, hi2, _) in
                 zip(self.digits, other.digits)]
        return _mixed_radix(self._counted(union))

    def disjoint(self, other: Region) -> bool:
        """Provably no common element: same strides and the two lattices interleave without meeting (the
        two joined by an extra digit of size 2 are injective)."""
        a, b = self.acc, other.acc
        if a is None or b is None or a.S != b.S or len(self.digits) != len(other.digits):
            return False
        ca = a.c + sum(s * lo for s, lo, _, _ in self.digits)
        cb = b.c + sum(s * lo for s, lo, _, _ in other.digits)
        ds = [(s, max(hi - lo, hi2 - lo2) + 1) for (s, lo, hi, _), (_, lo2, hi2, _) in
              zip(self.digits, other.digits) if s != 0]
        return cb != ca and _mixed_radix(ds + [(cb - ca, 2)])


@dataclass
class Book:
    """The regions of one table in the current scope, in program order."""

    regions: list[Region] = field(default_factory=list)

    def conflicts(self, r: Region) -> bool:
        """Could ``r`` be in a hazard with an access already in the book?"""
        for o in self.regions:
            if (o.write or r.write) and o.overlaps(r.lo, r.hi) and not o.same_lanes(r) and not o.disjoint(r):
                return True
        return False

    def pending_overlapping(self, r: Region | None) -> list[Region]:
        """Deferred regions to materialise before ``r`` (all of them if ``r`` is None), in program order."""
        return [o for o in self.regions if o.pending is not None and (r is None or o.overlaps(r.lo, r.hi))]

    def add(self, r: Region) -> None:
        self.regions.append(r)

    def too_long(self) -> bool:
        return len(self.regions) > MAX_BOOK

    def collapse(self) -> None:
        """Merge the (materialised) regions into one read and one write region covering them."""
        out = []
        for w in (False, True):
            rs = [o for o in self.regions if o.write == w]
            if rs:
                out.append(Region(min(o.lo for o in rs), max(o.hi for o in rs), w))
        self.regions = out


def strided_view(buf: np.ndarray, acc: AffineAccess, shape: tuple[int, ...], extra: int = 0) -> np.ndarray | None:
    """A writeable view of the uint8 ``buf`` with one element per lane at byte ``c + sum(S[a] * i[a])``
    (axes with stride 0 kept at size 1), plus a trailing axis of ``extra`` consecutive bytes when
    ``extra`` > 0; None when some lane (active or not) would fall outside ``buf``."""
    lo, hi = span(acc, shape)
    if lo < 0 or hi + max(extra, 1) > buf.shape[0]:
        return None
    vshape = tuple(n if s else 1 for n, s in zip(shape, acc.S))
    strides = tuple(s if s else 0 for s in acc.S)
    if extra:
        vshape += (extra,)
        strides += (1,)
    return np.lib.stride_tricks.as_strided(buf[acc.c:], shape=vshape, strides=strides, writeable=True)
