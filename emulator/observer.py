"""The observer interface: how the memory model, sanitizer, profiler and visualisers watch a launch.

An observer is attached process-wide (``with observing(obs): ...``) and is told about every
launch, chunk, memory instruction, executed statement, branch and barrier. Events carry the
raw ingredients (lane mask, indices, chunk geometry); derived views (byte addresses per lane,
warp ids, active lanes per warp) are computed only when an observer asks for them. With no
observer attached the engine runs code generated without these calls and pays nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .lanes import LaneSpace, val


@dataclass
class LaunchInfo:
    """What is known about a launch before it runs."""

    kernel: str
    filename: str
    firstline: int
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    dynshared: int
    static_shared: int
    chip: object
    args: dict
    line_ops: dict
    report: object = None             # the LaunchReport observers fill in
    sample_blocks: int | None = None  # an observer may ask to run only this many blocks (profiling)
    only_blocks: list | None = None   # or only these linear block ids (replay); results are not written back
    kernel_object: object = None      # the Kernel being launched (its options, compiled code, py_func)


class _LaneEvent:
    """Common lane bookkeeping of the events below."""

    sp: LaneSpace
    mask: object
    warp_size: int

    @cached_property
    def active(self) -> np.ndarray:
        """(blocks, threads) boolean array of the lanes that executed."""
        sp = self.sp
        if self.mask is None:
            return np.ones((sp.nblocks, sp.nthreads), dtype=bool)
        if self.mask is False:
            return np.zeros((sp.nblocks, sp.nthreads), dtype=bool)
        return np.broadcast_to(self.mask, sp.shape).reshape(sp.nblocks, sp.nthreads)

    @cached_property
    def block_ids(self) -> np.ndarray:
        """Linear block id (in the grid) of each block of the chunk, shape (blocks,)."""
        sp = self.sp
        gx, gy, _ = sp.grid
        z0, y0, x0 = sp.block0
        bz, by, bx = np.meshgrid(np.arange(sp.shape[0]), np.arange(sp.shape[1]), np.arange(sp.shape[2]),
                                 indexing="ij")
        return ((x0 + bx) + (y0 + by) * gx + (z0 + bz) * gx * gy).reshape(-1)

    def active_per_warp(self) -> np.ndarray:
        """(blocks, warps) count of active lanes."""
        a = self.active
        ws = self.warp_size
        b, p = a.shape
        w = -(-p // ws)
        pad = np.zeros((b, w * ws), dtype=bool)
        pad[:, :p] = a
        return pad.reshape(b, w, ws).sum(axis=2)


@dataclass
class MemoryEvent(_LaneEvent):
    """One memory instruction (load, store or atomic) executed by the active lanes of a chunk."""

    kernel: str
    line: int
    kind: str          # "load", "store", "atomic"
    space: str         # "global", "shared", "local", "const"
    array: str         # the name used in the source
    alloc_id: int
    base_address: int  # emulated address of the allocation's first byte (0 for shared: block window)
    itemsize: int
    dtype: np.dtype
    indices: tuple     # storage indices (implicit block/lane indices included)
    strides: tuple
    offset0: int
    sp: LaneSpace
    mask: object
    warp_size: int
    op: str | None = None
    value: object = None    # stores and atomics: the value each lane stores (scalar or lane-broadcastable)

    @cached_property
    def byte_offsets(self) -> np.ndarray:
        """(blocks, threads) byte offset of each lane's access inside its allocation (or block window)."""
        off = self.offset0
        for e, s in zip(self.indices, self.strides):
            off = off + np.asarray(val(e), dtype=np.int64) * s
        off = np.asarray(off, dtype=np.int64)
        if self.space == "shared":
            # offsets inside each block's window, not inside the chunk's buffer
            off = off - self._window_starts()
        return np.broadcast_to(off, self.sp.shape).reshape(self.sp.nblocks, self.sp.nthreads)

    def _window_starts(self):
        sp = self.sp
        blocks = np.arange(sp.nblocks).reshape(sp.shape[0], sp.shape[1], sp.shape[2], 1, 1, 1)
        return blocks * self.strides[0]

    @cached_property
    def addresses(self) -> np.ndarray:
        """(blocks, threads) byte address of each lane's access (inactive lanes included)."""
        return self.base_address + self.byte_offsets


@dataclass
class StatementEvent(_LaneEvent):
    """One executed statement (or the header of an if/while/for) with its op kinds."""

    kernel: str
    line: int
    ops: tuple
    sp: LaneSpace
    mask: object
    warp_size: int
    frame_locals: dict | None = None

    def variables(self) -> dict[str, np.ndarray]:
        """The kernel's (or device function's) numeric variables after this statement, each as a
        (blocks, threads) array. Call it inside ``statement()``: the values change as the kernel runs."""
        out = {}
        for name, v in (self.frame_locals or {}).items():
            if name.startswith("_s_"):
                continue
            v = val(v)
            if isinstance(v, tuple) and all(isinstance(e, (int, float, bool, np.generic, np.ndarray)) for e in v):
                for k, e in enumerate(v):
                    out[f"{name}[{k}]"] = np.broadcast_to(np.asarray(e), self.sp.shape).reshape(
                        self.sp.nblocks, self.sp.nthreads)
                continue
            if isinstance(v, (int, float, bool, np.generic)) or (isinstance(v, np.ndarray) and v.ndim in (0, 6)):
                out[name] = np.broadcast_to(np.asarray(v), self.sp.shape).reshape(self.sp.nblocks, self.sp.nthreads)
        return out


@dataclass
class BranchEvent(_LaneEvent):
    """A branch (if/while/for condition) evaluated by the active lanes: ``taken`` per lane."""

    kernel: str
    line: int
    sp: LaneSpace
    mask: object
    taken: object
    warp_size: int


@dataclass
class BarrierEvent(_LaneEvent):
    """A barrier: ``kind`` is "block", "warp", "grid" or a fence name."""

    kernel: str
    line: int
    kind: str
    sp: LaneSpace
    mask: object
    warp_size: int


class Observer:
    """Base class: override what you need. ``wants_statements`` asks for statement/branch events."""

    wants_statements = False

    def launch_begin(self, launch: LaunchInfo) -> None: ...
    def chunk_begin(self, sp: LaneSpace) -> None: ...
    def memory(self, ev: MemoryEvent) -> None: ...
    def statement(self, ev: StatementEvent) -> None: ...
    def branch(self, ev: BranchEvent) -> None: ...
    def barrier(self, ev: BarrierEvent) -> None: ...
    def launch_end(self, launch: LaunchInfo, error: BaseException | None) -> None: ...
    def launch_refused(self, kernel: str, error: BaseException) -> None:
        """A launch was refused before it began (bad configuration or arguments)."""


_observers: list[Observer] = []


def attach(obs: Observer) -> Observer:
    """Attach an observer to every launch until :func:`detach`."""
    _observers.append(obs)
    return obs


def detach(obs: Observer) -> None:
    if obs in _observers:
        _observers.remove(obs)


@contextlib.contextmanager
def observing(*observers: Observer) -> Iterator[tuple[Observer, ...]]:
    """Attach observers for the duration of a ``with`` block."""
    for o in observers:
        attach(o)
    try:
        yield observers
    finally:
        for o in observers:
            detach(o)


def active_observers() -> tuple[Observer, ...]:
    return tuple(_observers)
