"""Per-launch and per-chunk state that generated kernel code reads and updates.

:class:`LaunchContext` holds what is fixed for a launch (kernel, chip, shared-memory layout,
observers, watchdog budget); :class:`ChunkState` (``_s_st`` in generated code) holds one
chunk's thread and block indices, its shared and local arrays, which lanes have returned, and
the line being executed, and forwards events to observers.
"""

from __future__ import annotations

import time

import numpy as np

from .devicearray import POISON_BYTE
from .errors import LaneLocation, WatchdogTimeout, with_lanes
from .lanes import Affine, LaneSpace, first_lane
from .memory import KArray
from .observer import BarrierEvent, BranchEvent, MemoryEvent, StatementEvent

SHARED_ALIGN = 16
CHECK_EVERY = 2048          # loop iterations between looks at the clock
_CONST_BASE = 1 << 48


def const_karray(ary: np.ndarray, name: str) -> KArray:
    """A module-level numpy array frozen into constant memory (as numba does at compile time)."""
    data = np.array(ary, copy=True, order="C")
    root = data.reshape(-1).view(np.uint8)
    root.flags.writeable = False
    data.flags.writeable = False
    return KArray(data, root, "const", base_addr=_CONST_BASE, frozen=True, writable=False, name=name)


class LaunchContext:
    """What stays the same for every chunk of one launch."""

    def __init__(self, *, kernel: str, filename: str, chip, grid, block, dynshared: int, shared_layout: dict,
                 shared_window: int, observers: tuple, budget: int, seconds: float = 20.0,
                 print_budget: int = 1000) -> None:
        self.kernel = kernel
        self.filename = filename
        self.chip = chip
        self.grid = grid
        self.block = block
        self.dynshared = dynshared
        self.shared_layout = shared_layout      # key -> byte offset in the block's window
        self.shared_window = shared_window      # bytes of shared memory per block (static + dynamic)
        self.dyn_offset = shared_window - dynshared
        self.observers = observers
        self.budget = budget
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.steps = 0
        self.print_budget = print_budget
        self.print_suppressed = 0


class ChunkState:
    """State of one chunk (a box of blocks) while its code runs."""

    def __init__(self, ctx: LaunchContext, sp: LaneSpace) -> None:
        self.launch = ctx
        self.sp = sp
        self.obs = ctx.observers
        self.warp_size = ctx.chip.warp_size
        self.line = 0
        self.steps = ctx.steps
        self.budget = min(ctx.budget, ctx.steps + CHECK_EVERY)
        self.ret = False
        self.instrumented = False
        z0, y0, x0 = sp.block0

        def ax(c, axis):
            if sp.shape[axis] == 1:
                return c
            k = [0] * 6
            k[axis] = 1
            return Affine(c, tuple(k), sp)

        self.tid = (ax(0, 5), ax(0, 4), ax(0, 3))
        self.bid = (ax(x0, 2), ax(y0, 1), ax(z0, 0))
        self.bdim = sp.block
        self.gdim = sp.grid
        gx, gy, gz = sp.grid
        Dx, Dy, Dz = sp.block
        self.grid1 = self.bid[0] * Dx + self.tid[0]
        self.grid2 = (self.grid1, self.bid[1] * Dy + self.tid[1])
        self.grid3 = self.grid2 + (self.bid[2] * Dz + self.tid[2],)
        self.gridsize1 = gx * Dx
        self.gridsize2 = (gx * Dx, gy * Dy)
        self.gridsize3 = (gx * Dx, gy * Dy, gz * Dz)
        self._laneid = None
        self._shared_root = None
        self._shared: dict = {}
        self._local: dict = {}

    # -- indices ----------------------------------------------------------------------------------
    def thread_linear(self):
        Dx, Dy, _ = self.sp.block
        return self.tid[0] + self.tid[1] * Dx + self.tid[2] * (Dx * Dy)

    def laneid(self):
        if self._laneid is None:
            t = self.thread_linear()
            v = t.value() if isinstance(t, Affine) else np.int64(t)
            self._laneid = v % self.warp_size
        return self._laneid

    def block_linear_in_chunk(self):
        sp = self.sp
        bz, by, bx = sp.shape[:3]
        if sp.nblocks == 1:
            return 0
        return Affine(0, (by * bx, bx, 1, 0, 0, 0), sp)

    def first_active(self, m):
        return first_lane(m, self.sp)

    # -- memory -------------------------------------------------------------------------------------
    def shared_array(self, key, shape, dtype: np.dtype, line: int) -> KArray:
        a = self._shared.get(key)
        if a is not None:
            return a
        ctx, sp = self.launch, self.sp
        if self._shared_root is None:
            self._shared_root = np.full(max(sp.nblocks * ctx.shared_window, 1), POISON_BYTE, dtype=np.uint8)
        win = self._shared_root[:sp.nblocks * ctx.shared_window].reshape(sp.nblocks, ctx.shared_window)
        size = int(np.prod(shape, dtype=np.int64))
        if size == 0:           # dynamic shared memory: every such array aliases one buffer
            n = ctx.dynshared // dtype.itemsize
            data = win[:, ctx.dyn_offset:ctx.dyn_offset + n * dtype.itemsize].view(dtype).reshape(sp.nblocks, n)
        else:
            off = ctx.shared_layout[key]
            data = win[:, off:off + size * dtype.itemsize].view(dtype).reshape((sp.nblocks,) + tuple(shape))
        a = KArray(data, self._shared_root, "shared", pre=(self.block_linear_in_chunk(),), name="")
        self._shared[key] = a
        return a

    def local_array(self, key, shape, dtype: np.dtype, fresh: bool) -> KArray:
        a = None if fresh else self._local.get(key)
        if a is not None:
            return a
        sp = self.sp
        n = int(np.prod(shape, dtype=np.int64))
        root = np.full(n * sp.size * dtype.itemsize, POISON_BYTE, dtype=np.uint8)
        data = root.view(dtype).reshape(tuple(shape) + (sp.size,))
        lane = Affine(0, sp.lane_strides, sp) if sp.size > 1 else 0
        a = KArray(data, root, "local", post=(lane,))
        if not fresh:
            self._local[key] = a
        return a

    # -- lanes leaving ------------------------------------------------------------------------------
    def exit_lanes(self, m) -> None:
        from .lanes import mor
        self.ret = mor(self.ret, m)

    def watchdog(self, line: int, m) -> None:
        """Called when the step counter passes ``budget``: a checkpoint or the real limit."""
        ctx = self.launch
        if self.steps <= ctx.budget and time.monotonic() < ctx.deadline:
            self.budget = min(ctx.budget, self.steps + CHECK_EVERY)
            return
        limit = (f"budget of {ctx.budget:,} loop iterations" if self.steps > ctx.budget
                 else f"time budget of {ctx.seconds:g} s")
        err = WatchdogTimeout(
            f"the launch ran past the watchdog's {limit}; threads were still looping at line {line}",
            fix="check that the loop's condition eventually becomes false for every thread (an index that "
                "never advances is the usual cause); if the loop really is that long, raise the budget with "
                "cuda.set_watchdog(steps=..., seconds=...)")
        err.line = line
        lane = first_lane(m, self.sp)
        if lane is not None:
            blk, thr = self.sp.unravel(lane)
            from .lanes import count
            with_lanes(err, LaneLocation(blk, thr, count(m, self.sp)))
        raise err

    # -- observer events ------------------------------------------------------------------------------
    def mem_event(self, kind: str, a: KArray, name: str, full: tuple, m, op: str | None = None,
                  value=None) -> None:
        base = a.alloc.base if a.alloc is not None else a.base_addr
        ev = MemoryEvent(kernel=self.launch.kernel, line=self.line, kind=kind, space=a.space, array=name,
                         alloc_id=a.alloc.id if a.alloc is not None else 0, base_address=base,
                         itemsize=a.dtype.itemsize, dtype=a.dtype, indices=full, strides=a.data.strides,
                         offset0=a.off0, sp=self.sp, mask=m, warp_size=self.warp_size, op=op, value=value)
        for o in self.obs:
            o.memory(ev)

    def stmt_event(self, line: int, m, ops: tuple, frame_locals: dict | None = None) -> None:
        ev = StatementEvent(kernel=self.launch.kernel, line=line, ops=ops, sp=self.sp, mask=m,
                            warp_size=self.warp_size, frame_locals=frame_locals)
        for o in self.obs:
            o.statement(ev)

    def branch_event(self, line: int, m, taken) -> None:
        ev = BranchEvent(kernel=self.launch.kernel, line=line, sp=self.sp, mask=m, taken=taken,
                         warp_size=self.warp_size)
        for o in self.obs:
            o.branch(ev)

    def barrier_event(self, kind: str, m) -> None:
        ev = BarrierEvent(kernel=self.launch.kernel, line=self.line, kind=kind, sp=self.sp, mask=m,
                          warp_size=self.warp_size)
        for o in self.obs:
            o.barrier(ev)
