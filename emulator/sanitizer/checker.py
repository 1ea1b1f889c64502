"""The sanitizer observer: memcheck, racecheck, synccheck and initcheck over one launch at a time.

:class:`Sanitizer` is an :class:`~simtlab.emulator.Observer`. For every memory instruction the engine
reports (per chunk, lanes in lockstep) it checks the active lanes against shadow memory:

* **racecheck** keeps the last writer and two readers of every element of shared memory (per block,
  per barrier interval) and of every global array the kernel writes (over the whole launch). Two
  accesses to one element by different threads, at least one a write and not both atomics, are a
  hazard unless a barrier orders them: ``syncthreads`` within a block, ``syncwarp`` within a warp,
  ``this_grid().sync()`` for the grid. Accesses by different blocks are never ordered inside a launch,
  except a write its block published with ``threadfence`` and an atomic, read by a block that did an
  atomic after that (the "last block" pattern). Writes of the same value by two threads are reported as
  warnings (when the engine reports stored values).
* **initcheck** keeps one flag per byte of each block's shared memory, each thread's local arrays and
  each tracked device allocation (``device_array`` memory carries its own record, kept across
  launches), and reports reads of bytes never written.
* **memcheck** and **synccheck** report the errors the engine refuses to run past (out-of-bounds and
  negative indices, misaligned arrays, divergent or mismatched barriers, warp masks naming lanes that
  do not execute the call) and use of a freed allocation.

An instruction is checked when the next event arrives (the engine reports an access just before it
bounds-checks it, so an access that turns out to be out of bounds is reported as that, not as a race
on whatever memory it would have hit). Findings are grouped by (tool, kind, array, lines): the first
occurrence keeps its coordinates and ``more`` counts the others. They are added to the launch's
``LaunchReport``; in "raise" mode the first one raises :class:`SanitizerError` from inside the launch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np

from ..errors import OutOfBoundsError, SimtError
from ..lanes import val
from ..memory import KArray
from ..observer import BarrierEvent, LaunchInfo, MemoryEvent, Observer
from ..report import Finding, LaunchReport
from . import _regions as _R
from . import _shadow as S
from ._engine import finding_from_error, lane_address, tool_of, user_index

CACHE = S.TableCache()

TOOLS: tuple[str, ...] = ("memcheck", "racecheck", "synccheck", "initcheck")
MODES: tuple[str, ...] = ("report", "raise")
DEVICE_FENCES = ("threadfence", "threadfence_system")


class SanitizerError(SimtError):
    """Raised in "raise" mode at the first finding; ``finding`` and ``report`` say what and where."""

    def __init__(self, finding: Finding, report: LaunchReport | None = None) -> None:
        super().__init__(f"[{finding.tool}] {finding.kind}: {finding.message}", line=finding.line, fix=finding.fix)
        self.finding = finding
        self.report = report
        self.block, self.thread = finding.block, finding.thread
        self.lanes = finding.more + 1


def check_tools(tools: Iterable[str] | str) -> frozenset[str]:
    """Validate a tool selection ("all", one name, or several) and return it as a set."""
    if isinstance(tools, str):
        tools = TOOLS if tools == "all" else (tools,)
    sel = frozenset(tools)
    bad = sorted(sel - set(TOOLS))
    if bad or not sel:
        raise ValueError(f"unknown sanitizer tool(s) {bad or '(none given)'}; choose from {', '.join(TOOLS)}")
    return sel


def _coords_of_thread(g: int, grid: tuple, block: tuple) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """(blockIdx, threadIdx) of a linear thread id over the grid (block id * threads per block + thread)."""
    nt = block[0] * block[1] * block[2]
    bid, p = divmod(int(g), nt)
    gx, gy, _ = grid
    dx, dy, _ = block
    return ((bid % gx, (bid // gx) % gy, bid // (gx * gy)), (p % dx, (p // dx) % dy, p // (dx * dy)))


def _walk_karrays(v) -> Iterable[KArray]:
    if isinstance(v, KArray):
        yield v
    elif isinstance(v, tuple):
        for e in v:
            yield from _walk_karrays(e)


class _Chunk:
    """Per-chunk state: block ids, barrier epochs, shared-memory and local-array shadows."""

    def __init__(self, sp, ws: int, base: int) -> None:
        self.sp = sp
        nb = sp.nblocks
        gx, gy, _ = sp.grid
        z0, y0, x0 = sp.block0
        bz, by, bx = np.meshgrid(np.arange(sp.shape[0]), np.arange(sp.shape[1]), np.arange(sp.shape[2]),
                                 indexing="ij")
        self.gid = ((x0 + bx) + (y0 + by) * gx + (z0 + bz) * gx * gy).reshape(-1).astype(np.int64)
        self.bgid = self.gid + base          # block ids unique over the process (see TableCache)
        self.bep = np.zeros(nb, dtype=np.int32)
        self.wep = np.zeros((nb, -(-sp.nthreads // ws)), dtype=np.int32)
        self.shared_init: np.ndarray | None = None
        self.books: dict[int, _R.Book] = {}      # racecheck's regions of the current barrier interval
        self.local_init: dict[str, np.ndarray] = {}
        self.warp_synced = False      # a syncwarp happened: lanes of one warp may be ordered differently
        self.window_starts: np.ndarray | None = None


class _Launch:
    """Per-launch state of the sanitizer."""

    def __init__(self, info: LaunchInfo) -> None:
        self.info = info
        self.report: LaunchReport = info.report
        self.grid, self.block = info.grid, info.block
        self.nt = info.block[0] * info.block[1] * info.block[2]
        self.ws = int(info.chip.warp_size)
        self.window = max(int(info.static_shared) + int(info.dynshared), 16)
        self.allocs: dict[int, object] = {}
        written: set[int] = set()
        for k in (k for v in info.args.values() for k in _walk_karrays(v)):
            if k.alloc is not None:
                self.allocs[k.alloc.id] = k.alloc
                if not k.frozen:
                    written.add(k.alloc.id)
        self.frozen = set(self.allocs) - written
        self.tables: dict[tuple[int, int], S.Table] = {}
        self.books: dict[tuple[int, int], _R.Book] = {}
        self.base = CACHE.new_launch(self.grid[0] * self.grid[1] * self.grid[2])
        self.fence_seq = S.EMPTY_I64
        self.acq_seq = S.EMPTY_I64
        self.seq = 0
        self.groups: dict[tuple, Finding] = {}
        self.pending: MemoryEvent | None = None
        self.pending_poison: tuple | None = None
        self.chunk: _Chunk | None = None
        self.to_raise: Finding | None = None

    def global_table(self, alloc_id: int, itemsize: int) -> S.Table:
        t = self.tables.get((alloc_id, itemsize))
        if t is None:
            t = self.tables[(alloc_id, itemsize)] = CACHE.global_table(self.allocs[alloc_id], itemsize)
        return t

    def fences(self) -> None:
        if self.fence_seq.shape[0] == 0:
            n = self.grid[0] * self.grid[1] * self.grid[2]
            self.fence_seq = np.zeros(n, dtype=np.int64)
            self.acq_seq = np.zeros(n, dtype=np.int64)


class Sanitizer(Observer):
    """The four sanitizer tools as one observer (see the module docstring).

    ``tools``: which of memcheck, racecheck, synccheck, initcheck run. ``mode``: "report" collects
    findings in each launch's report; "raise" raises :class:`SanitizerError` at the first one.
    ``echo``: print each launch's findings to stderr when it ends. ``keep``: how many reports of
    sanitized launches :attr:`reports` keeps (oldest dropped first).
    """

    wants_statements = False

    def __init__(self, tools: Iterable[str] | str = TOOLS, mode: str = "report", echo: bool = False,
                 keep: int = 1000) -> None:
        if mode not in MODES:
            raise ValueError(f"sanitizer mode must be one of {MODES}, not {mode!r}")
        self.tools = check_tools(tools)
        self.mode = mode
        self.echo = echo
        self.keep = keep
        self.reports: list[LaunchReport] = []
        self._L: _Launch | None = None
        self._race = "racecheck" in self.tools
        self._init = "initcheck" in self.tools
        self.on_refused = None    # set by a session: called with errors of launches refused before they began

    # -- observer interface ---------------------------------------------------------------------------
    def launch_refused(self, kernel: str, error: BaseException) -> None:
        if self.on_refused is not None and isinstance(error, SimtError):
            self.on_refused(error)

    def launch_begin(self, launch: LaunchInfo) -> None:
        self._L = _Launch(launch)
        if "memcheck" in self.tools:
            for name, v in launch.args.items():
                for k in _walk_karrays(v):
                    if k.alloc is not None and getattr(k.alloc, "freed", False):
                        self._add(Finding(
                            "memcheck", "use-after-free",
                            f"argument '{name}' is a device array whose memory (allocation at 0x{k.alloc.base:x}) "
                            "was freed", "error", array=name, address=int(k.alloc.base),
                            fix="keep the device array alive (a variable that refers to it) for as long as kernels "
                                "use it, or allocate a new one"), raise_now=False)

    def chunk_begin(self, sp) -> None:
        L = self._L
        if L is None:
            return
        self._flush()
        if L.to_raise is not None:
            f, L.to_raise = L.to_raise, None
            raise SanitizerError(f, L.report)
        L.chunk = _Chunk(sp, L.ws, L.base)

    def memory(self, ev: MemoryEvent) -> None:
        L = self._L
        if L is None:
            return
        if L.pending is not None:
            self._flush()
        L.pending = ev
        if ev.kind == "atomic" and ev.space == "global" and self._init and L.chunk is not None:
            # the atomic changes memory before this event is checked: look at the 0xFF fill now
            alloc = L.allocs.get(ev.alloc_id)
            if alloc is not None and getattr(alloc, "init", None) is not None and ev.mask is not False:
                lanes = _compact(ev, L, L.chunk)
                L.pending_poison = (lanes, _poisoned(lanes[0], alloc.root, ev.itemsize))

    def barrier(self, ev: BarrierEvent) -> None:
        L = self._L
        if L is None:
            return
        if L.pending is not None:
            self._flush()
        C = L.chunk
        L.seq += 1
        if C is None:
            return
        kind = ev.kind
        if kind == "block":
            passed = ev.active.any(axis=1)
            C.bep += passed.astype(np.int32)
            if passed.all():
                C.books.clear()         # a new interval everywhere: earlier shared accesses are all ordered
        elif kind == "warp":
            C.wep += (ev.active_per_warp() > 0).astype(np.int32)
            C.warp_synced = True
        elif kind == "grid":
            # every block has passed the grid barrier: all earlier accesses are ordered before later ones
            C.bep += 1
            L.base = CACHE.new_launch(L.grid[0] * L.grid[1] * L.grid[2])
            C.bgid = C.gid + L.base
            L.tables.clear()
            L.books.clear()
            C.books.clear()
        elif kind in DEVICE_FENCES and self._race:
            L.fences()
            L.fence_seq[C.gid[ev.active.any(axis=1)]] = L.seq

    def launch_end(self, launch: LaunchInfo, error: BaseException | None) -> None:
        L = self._L
        if L is None:
            return
        raise_it: Finding | None = None
        try:
            if not isinstance(error, SanitizerError):
                ev = None
                if isinstance(error, OutOfBoundsError):
                    ev, L.pending = L.pending, None      # the access the engine refused: not checked further
                try:
                    self._flush()
                except SanitizerError as e:
                    if error is None:
                        raise_it = e.finding
                if isinstance(error, SimtError) and tool_of(error) in self.tools:
                    f = finding_from_error(error, ev, launch.filename)
                    if f is not None:
                        self._add(f, raise_now=False)
                        error.sanitizer_finding = f      # the exception carries its finding
            if L.to_raise is not None and error is None and raise_it is None:
                raise_it = L.to_raise
        finally:
            self._finish(L)
        if raise_it is not None:
            raise SanitizerError(raise_it, L.report)

    # -- bookkeeping -------------------------------------------------------------------------------------
    def _finish(self, L: _Launch) -> None:
        self._L = None
        for f in L.groups.values():
            L.report.add_finding(f)
        for alloc in L.allocs.values():
            init = getattr(alloc, "init", None)
            if init is not None and init.all():
                alloc.init = None
        self.reports.append(L.report)
        del self.reports[:-self.keep]
        if self.echo and L.groups and self.mode == "report":       # in raise mode the exception says it
            print(f"simtlab sanitizer: {len(L.groups)} finding(s) in kernel '{L.info.kernel}':", file=sys.stderr)
            for f in L.groups.values():
                print("  " + str(f).replace("\n", "\n  "), file=sys.stderr)

    def _add(self, f: Finding, raise_now: bool = True, count: int = 1, key: tuple | None = None) -> None:
        """Add a finding (or one more occurrence of an equal one); in raise mode, raise on a new one."""
        L = self._L
        key = key or (f.tool, f.kind, f.array, f.line, f.other_line, f.severity)
        old = L.groups.get(key)
        if old is not None:
            old.more += count
            return
        f.more += count - 1
        L.groups[key] = f
        if self.mode == "raise":
            if raise_now:
                raise SanitizerError(f, L.report)
            if L.to_raise is None:
                L.to_raise = f

    def _flush(self) -> None:
        L = self._L
        ev, L.pending = L.pending, None
        pre, L.pending_poison = L.pending_poison, None
        if ev is not None and L.chunk is not None:
            self._check(L, L.chunk, ev, pre)

    # -- one memory instruction ----------------------------------------------------------------------
    def _check(self, L: _Launch, C: _Chunk, ev: MemoryEvent, pre: tuple | None = None) -> None:
        space = ev.space
        if space == "const" or ev.mask is False:
            return
        L.seq += 1
        code = S.LOAD if ev.kind == "load" else S.ATOMIC if ev.kind == "atomic" else S.STORE
        alloc = None
        race = init = False
        if space == "global":
            alloc = L.allocs.get(ev.alloc_id)
            race = self._race and alloc is not None and ev.alloc_id not in L.frozen
            init = self._init and alloc is not None and getattr(alloc, "init", None) is not None
        elif space == "shared":
            race, init = self._race, self._init
        elif space == "local":
            init = self._init
        if not (race or init):
            return
        box = _R.active_box(ev.mask, ev.sp.shape)
        if box is None:
            return
        acc = _R.affine_of(ev, box)
        if race:
            self._racecheck(L, C, ev, code, acc, box)
            if space == "global" and code == S.ATOMIC:
                L.fences()
                L.acq_seq[C.gid[ev.active.any(axis=1)]] = L.seq
        if init:
            self._initcheck(L, C, ev, code, acc, box, alloc, pre)

    # -- racecheck -------------------------------------------------------------------------------------
    def _racecheck(self, L: _Launch, C: _Chunk, ev: MemoryEvent, code: int, acc, box) -> None:
        itemsize = int(ev.itemsize)
        sp = ev.sp
        if ev.space == "global":
            t = L.global_table(ev.alloc_id, itemsize)
            book = L.books.setdefault((ev.alloc_id, itemsize), _R.Book())
            racc, per_block = acc, False
        else:
            t = CACHE.shared_table(max(sp.nblocks * L.window // itemsize, 1), itemsize)
            book = C.books.setdefault(itemsize, _R.Book())
            racc, per_block = (_R.in_window(acc, sp, L.window) if acc is not None else None), True
        if racc is not None:
            ds = _R.digits(racc, box, ev.mask, sp.shape)
            lo = racc.c + sum(min(s * lo_, s * hi_) for s, lo_, hi_, _ in ds)
            hi = racc.c + sum(max(s * lo_, s * hi_) for s, lo_, hi_, _ in ds)
            reg = _R.Region(lo, hi + itemsize, code != S.LOAD, racc, ds, per_block, C)
        else:
            keys = _compact(ev, L, C)[0]          # every lane's offset, inactive ones included: a safe range
            lo, hi = (int(keys.min()), int(keys.max())) if keys.size else (0, 0)
            reg = _R.Region(lo, hi + itemsize, code != S.LOAD)
        deferrable = _R.DEFER and racc is not None and (code != S.STORE or reg.injective())
        if deferrable and not book.conflicts(reg):
            reg.pending = (ev, C, C.bep.copy(), C.wep.copy(), L.seq)
            book.add(reg)
        else:
            for o in book.pending_overlapping(reg):
                self._materialize(L, t, o)
            self._scan(L, t, ev, code, C, C.bep, C.wep, L.seq)
            book.add(reg)
        if book.too_long():
            for o in book.pending_overlapping(None):
                self._materialize(L, t, o)
            book.collapse()

    def _materialize(self, L: _Launch, t: S.Table, r: _R.Region) -> None:
        """Write a deferred instruction's accesses into its table (finding nothing: nothing overlapped it)."""
        ev, C, bep, wep, seq = r.pending
        r.pending = None
        code = S.LOAD if ev.kind == "load" else S.ATOMIC if ev.kind == "atomic" else S.STORE
        self._scan(L, t, ev, code, C, bep, wep, seq)

    def _scan(self, L: _Launch, t: S.Table, ev: MemoryEvent, code: int, C: _Chunk, bep, wep, seq: int) -> None:
        vals = _value_bits(ev) if code != S.LOAD else S.EMPTY_I64_2D
        keys, P, Wt, act, rshape = _compact(ev, L, C, vals6=vals)
        if vals.size:
            vals = _writeable(np.broadcast_to(vals, rshape).reshape(keys.shape))
        race_scan = S.kernels()[0]
        window = L.window if ev.space == "shared" else 0
        fence, acq = (L.fence_seq, L.acq_seq) if ev.space == "global" else (S.EMPTY_I64, S.EMPTY_I64)
        R = t.readers() if code == S.LOAD else t.R
        WV = t.values() if vals.size else t.WV
        rec, cnt = S.new_records()
        race_scan(code, keys, P, Wt, act, t.key_shift, window, L.nt, L.ws, C.bgid, L.base, bep, wep, seq,
                  fence, acq, t.W, R, WV, vals, ev.line, rec, cnt)
        if cnt[1]:
            self._race_findings(L, ev, rec, cnt, C)

    # -- initcheck -------------------------------------------------------------------------------------
    def _initcheck(self, L: _Launch, C: _Chunk, ev: MemoryEvent, code: int, acc, box, alloc, pre) -> None:
        itemsize = int(ev.itemsize)
        sp = ev.sp
        read, write = code != S.STORE, code != S.LOAD
        bacc = bshape = None
        if acc is not None:
            bacc, bshape = _R.restrict(acc, box)        # the map over the box of active lanes only
        if ev.space == "global":
            bitmap = alloc.init
        elif ev.space == "shared":
            if C.shared_init is None:
                C.shared_init = np.zeros(sp.nblocks * L.window, dtype=np.uint8)
            bitmap = C.shared_init
            if bacc is not None:
                lo, hi = _R.span(_R.in_window(bacc, sp, L.window), bshape)
                if lo < 0 or hi + itemsize > L.window:
                    bacc = None             # some lane lies outside its block's window: check per lane
        else:
            bitmap = C.local_init.get(ev.array)
            if bacc is not None:
                need = _R.span(bacc, bshape)[1] + itemsize
            else:
                offs = _compact(ev, L, C)[0]
                need = int(offs.max()) + itemsize if offs.size else 0
            if bitmap is None or bitmap.shape[0] < need:
                grown = np.zeros(max(need, 1), dtype=np.uint8)
                if bitmap is not None:
                    grown[:bitmap.shape[0]] = bitmap
                bitmap = C.local_init[ev.array] = grown
        fast = _R.FAST_INIT and bacc is not None and pre is None
        if fast and self._init_fast(ev, bitmap, bacc, bshape, box, read, write):
            return
        if pre is not None:
            (keys, P, Wt, act, _), poisoned = pre
        else:
            keys, P, Wt, act, _ = _compact(ev, L, C)
            poisoned = S.EMPTY_BOOL_2D
            if ev.space == "global" and read:
                poisoned = _poisoned(keys, alloc.root, itemsize)
        init_scan = S.kernels()[1]
        window = L.window if ev.space == "shared" else 0
        rec, cnt = S.new_records()
        init_scan(keys, P, Wt, act, window, L.nt, itemsize, bitmap, poisoned, read, write, rec, cnt)
        if cnt[1]:
            self._init_findings(L, ev, rec, cnt)

    @staticmethod
    def _init_fast(ev: MemoryEvent, bitmap: np.ndarray, bacc, bshape, box, read: bool, write: bool) -> bool:
        """initcheck through strided views of the flags over the box of active lanes. False when a lane
        reads an unwritten element (the per-lane loop then reports it) or the view does not fit."""
        view = _R.strided_view(bitmap, bacc, bshape)
        if view is None:
            return False
        mask = None
        if ev.mask is not None:
            m = _pad6(ev.mask)
            mask = m[tuple(slice(lo, hi + 1) if m.shape[a] > 1 else slice(None) for a, (lo, hi) in enumerate(box))]
            if mask.all():
                mask = None
        if read:
            unwritten = view == 0
            if mask is not None:
                unwritten = unwritten & mask
            if unwritten.any():
                return False
        if write:
            full = _R.strided_view(bitmap, bacc, bshape, extra=int(ev.itemsize))
            if mask is None:
                full[...] = 1
            else:
                shape = np.broadcast_shapes(full.shape[:6], mask.shape) + (full.shape[6],)
                full = np.lib.stride_tricks.as_strided(full, shape=shape, strides=_bstrides(full, shape),
                                                       writeable=True)
                np.copyto(full, np.uint8(1), where=mask[..., None])
        return True

    # -- findings ---------------------------------------------------------------------------------------
    def _where(self, ev: MemoryEvent, lane: int) -> tuple[tuple, int, str]:
        idx = user_index(ev, lane)
        addr = lane_address(ev, lane)
        name = f"{ev.array}[{', '.join(map(str, idx))}]"
        if ev.space == "shared":
            txt = f"shared {name} (byte {addr} of the block's shared memory)"
        elif ev.space == "local":
            txt = f"local {name}"
        else:
            txt = f"global {name} (address 0x{addr:x})"
        return idx, addr, txt

    def _race_findings(self, L: _Launch, ev: MemoryEvent, rec: np.ndarray, cnt: np.ndarray, C: _Chunk) -> None:
        first_key = None
        new: list[Finding] = []
        for i in range(int(cnt[0])):
            lane, hk, ob, op, oline, sev = (int(x) for x in rec[i])
            og = (ob - L.base) * L.nt + op
            kind = S.KIND_NAMES[hk]
            severity = "warning" if sev == S.SEV_WARNING else "error"
            scope = _scope(L, C, lane, og)
            key = ("racecheck", kind, ev.array, ev.line, oline, severity, scope)
            first_key = first_key or key
            if key in L.groups:
                L.groups[key].more += 1
                continue
            new.append(self._race_finding(L, ev, lane, kind, og, oline, severity, scope))
            L.groups[key] = new[-1]
        extra = int(cnt[1] - cnt[0])
        if extra and first_key is not None:
            L.groups[first_key].more += extra
        if self.mode == "raise" and new:
            raise SanitizerError(new[0], L.report)

    def _race_finding(self, L: _Launch, ev: MemoryEvent, lane: int, kind: str, og: int, oline: int,
                      severity: str, scope: str) -> Finding:
        blk, thr = ev.sp.unravel(lane)
        oblk, othr = _coords_of_thread(og, L.grid, L.block)
        idx, addr, where = self._where(ev, lane)
        same_block = scope != "grid"
        same_warp = scope == "warp"
        me = f"thread {thr} of block {blk}"
        other = f"thread {othr}" + ("" if same_block else f" of block {oblk}")
        stmt = "in the same statement" if oline == ev.line else f"at line {oline}"
        if kind == "read-after-write":
            what = f"{me} reads {where} at line {ev.line}; {other} wrote it {stmt}"
        elif kind == "write-after-read":
            what = f"{me} writes {where} at line {ev.line}; {other} read it {stmt}"
        else:
            what = f"{me} writes {where} at line {ev.line}; {other} also wrote it {stmt}"
        if not same_block:
            why = "and blocks run in no guaranteed order within a launch"
            fix = ("blocks cannot wait for each other inside a launch: split the work into two kernel launches, "
                   "give each block its own elements, or combine values with cuda.atomic operations")
        elif oline == ev.line and kind == "write-after-write":
            why = "in the same statement, which the threads (even the lanes of one warp) execute in no guaranteed order"
            fix = ""
        elif same_warp:
            why = ("with no cuda.syncwarp() between the two accesses: the lanes of a warp are scheduled "
                   "independently (lockstep is not guaranteed)")
            fix = ("read the value into a variable, call cuda.syncwarp(), then write (and cuda.syncwarp() again before "
                   "the next read), or use warp shuffles (cuda.shfl_down_sync) instead of shared memory")
        else:
            why = "with no cuda.syncthreads() between the two accesses"
            fix = ("put cuda.syncthreads() between the write and the reads of other threads (and another before "
                   "the element is overwritten), reached by every thread of the block")
        if kind == "write-after-write" and oline == ev.line:
            fix = ("let a single thread write the element (e.g. under `if cuda.threadIdx.x == 0:`), give each "
                   "thread its own element, or combine the values with cuda.atomic.add")
        msg = f"{what} {why}"
        if severity == "warning":
            msg += " (both wrote the same value, so the result looks right, but the race is still there)"
        return Finding("racecheck", kind, msg, severity, line=ev.line, other_line=oline, array=ev.array, index=idx,
                       address=addr, block=blk, thread=thr, other_block=oblk, other_thread=othr, fix=fix)

    def _init_findings(self, L: _Launch, ev: MemoryEvent, rec: np.ndarray, cnt: np.ndarray) -> None:
        key = ("initcheck", "uninitialized-read", ev.array, ev.line, None, "error")
        if key in L.groups:
            L.groups[key].more += int(cnt[1])
            return
        lane = int(rec[0, 0])
        blk, thr = ev.sp.unravel(lane)
        idx, addr, where = self._where(ev, lane)
        verb = "an atomic on" if ev.kind == "atomic" else "a read of"
        if ev.space == "shared":
            msg = (f"thread {thr} of block {blk} does {verb} {where} at line {ev.line}, which no thread of this "
                   "block has written in this launch (shared memory starts with garbage)")
            fix = ("write the element before reading it (every element the block reads, halo cells included), "
                   "with cuda.syncthreads() between the writes and the reads")
        elif ev.space == "local":
            msg = (f"thread {thr} of block {blk} does {verb} {where} at line {ev.line}, which this thread has not "
                   "written (local arrays start with garbage)")
            fix = "initialise the local array (e.g. in a loop setting every element) before reading it"
        else:
            msg = (f"thread {thr} of block {blk} does {verb} {where} at line {ev.line}, which was allocated with "
                   "cuda.device_array and never written since (its contents are garbage)")
            fix = ("fill the array first: cuda.to_device(np.zeros(...)) instead of cuda.device_array, or a kernel "
                   "that writes every element before others read it")
        self._add(Finding("initcheck", "uninitialized-read", msg, "error", line=ev.line, array=ev.array, index=idx,
                          address=addr, block=blk, thread=thr, fix=fix), count=int(cnt[1]), key=key)


def _scope(L: _Launch, C: _Chunk, lane: int, og: int) -> str:
    """"warp", "block" or "grid": the smallest group holding both threads of a hazard."""
    b, p = divmod(lane, L.nt)
    ob, op = divmod(og, L.nt)
    if int(C.gid[b]) != ob:
        return "grid"
    return "warp" if p // L.ws == op // L.ws else "block"


def _pad6(x) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape((1,) * (6 - x.ndim) + x.shape) if x.ndim < 6 else x


def _compact(ev: MemoryEvent, L: _Launch, C: _Chunk, vals6: np.ndarray | None = None) -> tuple:
    """The lanes of an instruction as the loops take them: (keys (blocks, m), threads P (m,), weights Wt (m,),
    act (blocks, m) or empty, the 6-D shape they were broadcast to).

    Byte offsets are computed from the event's indices (as ``MemoryEvent.byte_offsets`` does) but kept at
    their broadcast shape: when the address and the mask (and the stored value) do not depend on a thread
    axis, all threads along it touch the same element, and the first two of them stand for all
    (a hazard with any of them is a hazard with one of these two, as long as no syncwarp has made lanes of
    one warp ordered differently from the others). This is what makes ``sa[ty, k]`` in a tiled matmul
    cost 2 lanes per row instead of 16.
    """
    sp = ev.sp
    off = np.int64(ev.offset0)
    for e, st in zip(ev.indices, ev.strides):
        v = val(e)
        off = off + (v.astype(np.int64, copy=False) if isinstance(v, np.ndarray) else np.int64(v)) * st
    off = _pad6(off)
    if ev.space == "shared":
        if C.window_starts is None or C.window_starts.shape[0] != sp.shape[0]:
            C.window_starts = (np.arange(sp.nblocks, dtype=np.int64).reshape(sp.shape[0], sp.shape[1], sp.shape[2],
                                                                              1, 1, 1))
        off = off - C.window_starts * ev.strides[0]
    mask = None if ev.mask is None else _pad6(ev.mask)
    shape = list(sp.shape)
    dz, dy, dx = sp.shape[3:]
    tvals, twts = [], []
    for a in (3, 4, 5):
        n = shape[a]
        if (n > 2 and not C.warp_synced and off.shape[a] == 1 and (mask is None or mask.shape[a] == 1)
                and (vals6 is None or vals6.size == 0 or vals6.shape[a] == 1)):
            shape[a] = 2
            tvals.append(np.array([0, 1], dtype=np.int64))
            twts.append(np.array([1, n - 1], dtype=np.int64))     # the second stands for all the others
        else:
            tvals.append(np.arange(n, dtype=np.int64))
            twts.append(np.ones(n, dtype=np.int64))
    m = shape[3] * shape[4] * shape[5]
    nb = sp.nblocks
    P = ((tvals[0][:, None, None] * dy + tvals[1][None, :, None]) * dx + tvals[2][None, None, :]).reshape(-1)
    Wt = (twts[0][:, None, None] * twts[1][None, :, None] * twts[2][None, None, :]).reshape(-1)
    keys = _writeable(np.broadcast_to(off, shape).reshape(nb, m))
    act = S.EMPTY_BOOL_2D if mask is None else _writeable(np.broadcast_to(mask, shape).reshape(nb, m))
    return keys, P, Wt, act, tuple(shape)


def _writeable(a: np.ndarray) -> np.ndarray:
    """A C-contiguous, writeable array (one type signature for the compiled loops)."""
    a = np.ascontiguousarray(a)
    return a if a.flags.writeable else a.copy()


def _bstrides(a: np.ndarray, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of ``a`` broadcast to ``shape`` (0 where ``a`` has size 1)."""
    return tuple(0 if n == 1 and m != 1 else st for n, m, st in zip(a.shape, shape, a.strides))


def _poisoned(keys: np.ndarray, root: np.ndarray, itemsize: int) -> np.ndarray:
    """Per lane: does the element it accesses still hold the 0xFF fill of fresh device memory in every byte?"""
    last = root.shape[0] - 1
    k = np.clip(keys, 0, last)
    out = np.ones(keys.shape, dtype=np.bool_)
    for j in range(itemsize):
        out &= root[np.minimum(k + j, last)] == 0xFF
    return out


def _value_bits(ev: MemoryEvent) -> np.ndarray:
    """The stored values of a store/atomic as raw bits in int64, at their 6-D broadcast shape, when the engine
    reports them (``MemoryEvent.value``); empty otherwise."""
    v = getattr(ev, "value", None)
    if v is None or ev.itemsize > 8:
        return S.EMPTY_I64_2D
    try:
        a = np.asarray(v).astype(ev.dtype, copy=False)
    except (TypeError, ValueError):
        return S.EMPTY_I64_2D
    ints = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}[ev.itemsize]
    return _pad6(np.ascontiguousarray(a).view(ints).astype(np.int64))
