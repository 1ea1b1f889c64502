"""Shadow memory of the sanitizer: layouts, constants and allocation of the tables the loops update.

racecheck keeps, for every element of a tracked memory (one key per ``itemsize`` slot of a global
allocation, or of the shared windows of a chunk's blocks), the last writer and up to two readers:
who (a linear thread id over the grid), at which source line, in which barrier interval, and for
writers when (an event sequence number, for the threadfence rule), whether by an atomic and, when the
engine reports stored values, what value. An access by another thread that no barrier orders after
the recorded one is a hazard.

initcheck keeps one flag per byte: written or not.

The loops themselves (:mod:`._loops`) run lane by lane in lane order, which is also the order the
engine's lockstep execution gives the lanes of one instruction, so two lanes of one statement
touching the same element are seen as the unordered pair they are on a GPU. They are compiled with
numba because this per-lane bookkeeping has no efficient numpy formulation.
"""

from __future__ import annotations

import weakref

import numpy as np

LOAD, STORE, ATOMIC = 0, 1, 2
RAW, WAR, WAW = 0, 1, 2
KIND_NAMES = {RAW: "read-after-write", WAR: "write-after-read", WAW: "write-after-write"}
SEV_ERROR, SEV_WARNING = 0, 1

# per key, the writer table W (int32, (n, 6)) holds: block id in the grid (-1: none), thread in the
# block, source line, epochs (barrier count << 16 | syncwarp count), event sequence number, flags; the
# reader table R (int32, (n, 8)) two slots of: block, thread, line, epochs
F_ATOMIC, F_HASVAL = 1, 2

RECORD_CAP = 32         # hazard records kept per instruction (the rest are only counted)

EMPTY_I64 = np.zeros(0, dtype=np.int64)
EMPTY_I64_2D = np.zeros((0, 0), dtype=np.int64)
EMPTY_BOOL_2D = np.zeros((0, 0), dtype=np.bool_)
_NO_READERS = np.zeros((0, 8), dtype=np.int32)


class Table:
    """racecheck's shadow of one memory at one access size: ``n`` keys of ``1 << key_shift`` bytes each.

    Created zeroed (block id 0 never belongs to a launch, so every entry starts empty) and reused across
    chunks and launches: entries of earlier ones are recognised by their block ids (see ``race_scan``).
    """

    __slots__ = ("n", "key_shift", "W", "R", "WV", "__weakref__")

    def __init__(self, n: int, itemsize: int) -> None:
        self.n = n
        self.key_shift = int(itemsize).bit_length() - 1
        self.W = np.zeros((n, 6), dtype=np.int32)
        self.R = _NO_READERS
        self.WV = EMPTY_I64

    @property
    def nbytes(self) -> int:
        return self.W.nbytes + self.R.nbytes + self.WV.nbytes

    def readers(self) -> np.ndarray:
        """The reader slots, created (empty) on the first read."""
        if self.R.shape[0] != self.n:
            self.R = np.zeros((self.n, 8), dtype=np.int32)
        return self.R

    def values(self) -> np.ndarray:
        """The written values' bits, created on the first store whose values are known."""
        if self.WV.shape[0] != self.n:
            self.WV = np.zeros(self.n, dtype=np.int64)
        return self.WV


class TableCache:
    """Tables kept between launches (allocating and touching tens of megabytes per launch would cost more
    than checking): shared-memory tables by access size, grown as needed, and global tables per
    allocation (dropped with it). Past ``budget`` bytes the global tables are forgotten."""

    def __init__(self, budget: int = 1 << 30) -> None:
        self.budget = budget
        self.shared: dict[int, Table] = {}
        self.globals: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.block_base = 1

    def shared_table(self, nkeys: int, itemsize: int) -> Table:
        t = self.shared.get(itemsize)
        if t is None or t.n < nkeys:
            t = self.shared[itemsize] = Table(nkeys, itemsize)
        return t

    def global_table(self, alloc, itemsize: int) -> Table:
        per = self.globals.get(alloc)
        if per is None:
            per = self.globals[alloc] = {}
        t = per.get(itemsize)
        if t is None:
            n = max(alloc.nbytes // itemsize, 1)
            if self.nbytes() + 56 * n > self.budget:
                self.globals.clear()
                per = self.globals[alloc] = {}
            t = per[itemsize] = Table(n, itemsize)
        return t

    def nbytes(self) -> int:
        return sum(t.nbytes for per in self.globals.values() for t in per.values()) + \
            sum(t.nbytes for t in self.shared.values())

    def new_launch(self, nblocks: int) -> int:
        """Block ids for a launch of ``nblocks`` blocks start at the returned base (ids stay in int32)."""
        if self.block_base + nblocks >= (1 << 31) - 1:
            self.shared.clear()
            self.globals.clear()
            self.block_base = 1
        base = self.block_base
        self.block_base += nblocks
        return base


def new_records() -> tuple[np.ndarray, np.ndarray]:
    """Buffers the loops fill: hazard records (lane, kind, other block, other thread, other line, severity) and
    counts (records written, hazards in all)."""
    return np.zeros((RECORD_CAP, 6), dtype=np.int64), np.zeros(2, dtype=np.int64)


def kernels() -> tuple[object, object]:
    """The compiled (race_scan, init_scan) loops; numba is imported (and the loops compiled or loaded from
    its on-disk cache) on first use."""
    from . import _loops
    return _loops.race_scan, _loops.init_scan
