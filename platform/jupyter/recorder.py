"""Recording what a launch did, through the engine's public observer interface only.

The visualizers never look inside the engine: they read a launch's `LaunchReport` and what a
:class:`LaunchRecorder` (an ordinary ``simtlab.emulator.Observer``) saw while the launch ran.
A recorder keeps, per launch, a :class:`Recording`:

- per global array, for every element (or every bin of elements for very large arrays): how many
  times it was read, written and updated atomically, and the smallest and largest global thread
  number that read / wrote it (enough to say "block 3, thread 17" when one thread touched it and
  "threads 0..255 of blocks 0..1" when many did);
- per (block, warp): the lanes that were ever active, how many warp instructions were issued and
  how many lanes took part (memory instructions, or every statement when statements are recorded);
- per memory instruction site (line, array, load/store/atomic, space): how often warps issued it,
  and for one *focus block* the byte offset of every lane of its first few executions (the warp
  view draws lanes -> sectors and lanes -> banks from these);
- with ``statements=True``, the focus block's statement-by-statement trace (line, active lanes,
  branch outcomes, memory accesses), which the step-through replay shows.

Global thread number ("gid") = linear block id x threads per block + linear thread id, where
linear ids follow CUDA (``x + y*Dx + z*Dx*Dy``). Lanes of one event come in increasing gid order.

Use :func:`record` for one launch, or ``with recording() as recs:`` for every launch of a block of
code. Recording costs time proportional to the lanes of every memory instruction, so it is
opt-in; nothing is recorded when no recorder is attached.
"""

from __future__ import annotations

import contextlib
import linecache
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from simtlab.emulator import Observer, observing

NONE = -1                     # "no thread" in the reader/writer arrays
MAX_ELEMENTS = 1 << 22        # arrays larger than this are recorded in bins of elements
MAX_WARP_CELLS = 1 << 22      # blocks x warps beyond which per-warp statistics are not kept
MAX_STEPS = 50_000            # statement trace length kept for the focus block


def _dim3(v: Any) -> tuple[int, int, int]:
    t = tuple(int(x) for x in (v if isinstance(v, tuple | list) else (v,)))
    return (t + (1, 1, 1))[:3]


def linear_block(block: tuple[int, ...] | int, grid: tuple[int, int, int]) -> int:
    """CUDA's linear id of a block given as an int or an (x, y, z) tuple."""
    if isinstance(block, int | np.integer):
        return int(block)
    x, y, z = _dim3(tuple(block))
    return x + y * grid[0] + z * grid[0] * grid[1]


def unravel3(linear: int, dims: tuple[int, int, int]) -> tuple[int, int, int]:
    """Linear id -> (x, y, z) for a grid or block of shape `dims` = (Dx, Dy, Dz)."""
    z, rem = divmod(int(linear), dims[0] * dims[1])
    y, x = divmod(rem, dims[0])
    return (x, y, z)


@dataclass
class ArrayRecord:
    """Per-element access counts of one global array (see the module docstring)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    itemsize: int
    bin_size: int                 # elements per recorded cell (1: exact)
    reads: np.ndarray
    writes: np.ndarray
    atomics: np.ndarray
    read_min: np.ndarray          # smallest gid that read each cell (NONE: never read)
    read_max: np.ndarray
    write_min: np.ndarray         # smallest gid that wrote (stored or atomically updated) each cell
    write_max: np.ndarray
    lines: dict[str, set[int]] = field(default_factory=lambda: {"load": set(), "store": set(), "atomic": set()})
    dropped: int = 0              # lane accesses that could not be mapped to an element

    @property
    def size(self) -> int:
        """Elements of the array."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else int(self.reads.size)

    @classmethod
    def empty(cls, name: str, shape: tuple[int, ...], dtype: Any, max_elements: int) -> ArrayRecord:
        dt = np.dtype(dtype)
        size = int(np.prod(shape, dtype=np.int64)) if shape else 0
        bin_size = max(1, -(-size // max_elements)) if size > max_elements else 1
        cells = -(-size // bin_size) if size else 0

        def counts() -> np.ndarray:
            return np.zeros(cells, dtype=np.int64)

        def gids(v: int) -> np.ndarray:
            return np.full(cells, v, dtype=np.int64)

        big = np.iinfo(np.int64).max
        return cls(name=name, shape=tuple(int(s) for s in shape), dtype=str(dt), itemsize=dt.itemsize,
                   bin_size=bin_size, reads=counts(), writes=counts(), atomics=counts(), read_min=gids(big),
                   read_max=gids(NONE), write_min=gids(big), write_max=gids(NONE))

    def add(self, kind: str, line: int, cells: np.ndarray, gid: np.ndarray) -> None:
        """Count one instruction's accesses: `cells` (flat cell index per active lane) with its `gid`."""
        self.lines.setdefault(kind, set()).add(line)
        if cells.size == 0:
            return
        n = self.reads.size
        counts = np.bincount(cells, minlength=n)
        if kind == "load":
            self.reads += counts
            lo, hi = self.read_min, self.read_max
        else:
            (self.writes if kind == "store" else self.atomics).__iadd__(counts)
            if kind == "atomic":
                self.reads += counts       # an atomic reads the old value as well
                self._minmax(self.read_min, self.read_max, cells, gid, counts)
            lo, hi = self.write_min, self.write_max
        self._minmax(lo, hi, cells, gid, counts)

    @staticmethod
    def _minmax(lo: np.ndarray, hi: np.ndarray, cells: np.ndarray, gid: np.ndarray, counts: np.ndarray) -> None:
        np.minimum.at(lo, cells, gid)
        np.maximum.at(hi, cells, gid)

    def finish(self) -> None:
        """Replace the 'never' sentinel of the minima by NONE."""
        big = np.iinfo(np.int64).max
        self.read_min[self.read_min == big] = NONE
        self.write_min[self.write_min == big] = NONE


@dataclass
class Sample:
    """One execution of a memory instruction by the focus block: every lane's byte offset."""

    active: np.ndarray            # (threads,) bool
    offsets: np.ndarray           # (threads,) int64 byte offset in the allocation (shared: in the block window)
    base_address: int


@dataclass
class SiteRecord:
    """A memory instruction site: one line, array, kind and space."""

    line: int
    array: str
    kind: str
    space: str
    itemsize: int
    warp_requests: int = 0        # warp instructions issued over the grid (warps with an active lane)
    lane_accesses: int = 0        # active lanes over the grid
    samples: list[Sample] = field(default_factory=list)

    @property
    def key(self) -> tuple[int, str, str, str]:
        return (self.line, self.array, self.kind, self.space)


@dataclass
class Step:
    """One entry of the focus block's statement trace (for the step-through replay)."""

    index: int
    line: int
    kind: str                     # "statement", "branch", "barrier"
    active: np.ndarray            # (threads,) bool: lanes that executed it
    taken: np.ndarray | None = None                      # branches: lanes whose condition was true
    ops: tuple = ()
    accesses: list[tuple[str, str, str, np.ndarray, np.ndarray]] = field(default_factory=list)
    # (array, kind, space, element index per lane (-1 inactive), byte offset per lane)
    variables: dict[str, np.ndarray] | None = None       # each variable's value per thread after the statement


@dataclass
class Recording:
    """Everything recorded about one launch (see the module docstring)."""

    kernel: str
    filename: str
    firstline: int
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    dynshared: int
    static_shared: int
    chip: Any
    report: Any
    focus_block: int
    nthreads: int
    nwarps: int
    nblocks: int
    warp_size: int
    arrays: dict[str, ArrayRecord] = field(default_factory=dict)
    sites: dict[tuple[int, str, str, str], SiteRecord] = field(default_factory=dict)
    lanes_ever: np.ndarray | None = None      # (blocks, warps) uint64 bitmask of lanes ever active
    issued: np.ndarray | None = None          # (blocks, warps) warp instructions issued
    active_sum: np.ndarray | None = None      # (blocks, warps) active lanes summed over those instructions
    blocks_run: np.ndarray | None = None      # (blocks,) bool: blocks that executed (sampling may skip some)
    warp_source: str = "memory"               # which events the per-warp statistics come from
    steps: list[Step] = field(default_factory=list)
    steps_truncated: bool = False
    source: dict[int, str] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def chip_name(self) -> str:
        return getattr(self.chip, "name", str(self.chip))

    def block_index(self, linear: int) -> tuple[int, int, int]:
        """(x, y, z) blockIdx of a linear block id."""
        return unravel3(linear, self.grid)

    def thread_index(self, tid: int) -> tuple[int, int, int]:
        """(x, y, z) threadIdx of a linear thread id."""
        return unravel3(tid, self.block)

    def who(self, gid: int) -> str:
        """'block (x, y, z) thread (x, y, z)' for a global thread number."""
        b, t = divmod(int(gid), self.nthreads)
        return f"block {self.block_index(b)} thread {self.thread_index(t)}"

    def line_text(self, line: int) -> str:
        """The source text of a kernel line ('' when unknown)."""
        return self.source.get(line, "")

    def __repr__(self) -> str:
        g = "x".join(map(str, self.grid))
        b = "x".join(map(str, self.block))
        return (f"<Recording of {self.kernel}[{g}, {b}] on '{self.chip_name}': arrays {sorted(self.arrays)}, "
                f"{len(self.sites)} memory sites, {len(self.steps)} steps>")


def kernel_source(filename: str, firstline: int, lastline: int | None = None) -> dict[int, str]:
    """The kernel's source lines by line number, read from linecache (which also knows notebook cells).

    Without `lastline`, lines are taken from the ``def`` line while they are indented deeper than it
    (or blank), i.e. the kernel's body.
    """
    lines = linecache.getlines(filename) if filename else []
    out: dict[int, str] = {}
    if not lines or firstline < 1 or firstline > len(lines):
        return out
    # skip decorators: the first line may be @cuda.jit
    start = firstline
    while start <= len(lines) and not lines[start - 1].lstrip().startswith(("def ", "async def ")):
        out[start] = lines[start - 1].rstrip("\n")
        start += 1
    if start > len(lines):
        return out
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    out[start] = lines[start - 1].rstrip("\n")
    n = start + 1
    while n <= len(lines) and (lastline is None or n <= lastline):
        text = lines[n - 1].rstrip("\n")
        if lastline is None and text.strip() and len(text) - len(text.lstrip()) <= indent:
            break
        out[n] = text
        n += 1
    while out and not out[max(out)].strip():
        del out[max(out)]
    return out


class LaunchRecorder(Observer):
    """An observer that turns each launch it sees into a :class:`Recording` (``self.recordings``).

    Parameters: ``statements`` also records the focus block's statement trace (the engine then runs its
    instrumented variant, which is slower); ``focus_block`` is the block (linear id or (x, y, z)) whose
    lanes are kept in full; ``max_samples`` executions of each memory site are kept for it;
    ``arrays`` limits per-element maps to these global arrays (default: all); ``max_elements`` bins
    larger arrays.
    """

    def __init__(self, *, statements: bool = False, focus_block: int | tuple = 0, max_samples: int = 8,
                 arrays: list[str] | None = None, max_elements: int = MAX_ELEMENTS, only_focus: bool = False) -> None:
        self.wants_statements = bool(statements)
        self.only_focus = bool(only_focus)      # run the focus block alone (a replay: results not written back)
        self.focus = focus_block
        self.max_samples = int(max_samples)
        self.only_arrays = set(arrays) if arrays is not None else None
        self.max_elements = int(max_elements)
        self.recordings: list[Recording] = []
        self._rec: Recording | None = None
        self._args: dict[str, Any] = {}
        self._focus_cache: tuple[int, int | None] = (-1, None)
        self._maxline = 0
        self._pending: list[tuple[int, tuple]] = []
        self._pending_barrier: str | None = None

    # -- observer hooks -------------------------------------------------------------------------------
    def launch_begin(self, launch: Any) -> None:
        grid, block = _dim3(launch.grid), _dim3(launch.block)
        chip = launch.chip
        ws = int(getattr(chip, "warp_size", 32))
        nthreads = block[0] * block[1] * block[2]
        nwarps = -(-nthreads // ws)
        nblocks = grid[0] * grid[1] * grid[2]
        focus = min(linear_block(self.focus, grid), nblocks - 1)
        rec = Recording(kernel=launch.kernel, filename=launch.filename, firstline=launch.firstline, grid=grid,
                        block=block, dynshared=int(launch.dynshared), static_shared=int(launch.static_shared),
                        chip=chip, report=launch.report, focus_block=focus, nthreads=nthreads, nwarps=nwarps,
                        nblocks=nblocks, warp_size=ws, warp_source="statements" if self.wants_statements else "memory")
        if nblocks * nwarps <= MAX_WARP_CELLS:
            rec.lanes_ever = np.zeros((nblocks, nwarps), dtype=np.uint64)
            rec.issued = np.zeros((nblocks, nwarps), dtype=np.int64)
            rec.active_sum = np.zeros((nblocks, nwarps), dtype=np.int64)
            rec.blocks_run = np.zeros(nblocks, dtype=bool)
        else:
            rec.notes.append(f"{nblocks:,} blocks x {nwarps} warps: per-warp statistics were not kept")
        self._args = dict(launch.args or {})
        self._rec = rec
        if self.only_focus:
            launch.only_blocks = [focus]
        self._maxline = launch.firstline
        self._focus_cache = (-1, None)
        self._pending.clear()
        self._pending_barrier = None

    def chunk_begin(self, sp: Any) -> None:
        self._focus_cache = (-1, None)

    def memory(self, ev: Any) -> None:
        rec = self._rec
        if rec is None:
            return
        self._maxline = max(self._maxline, ev.line)
        active = ev.active
        if not active.any():
            return
        per_warp = ev.active_per_warp()
        key = (ev.line, ev.array, ev.kind, ev.space)
        site = rec.sites.get(key)
        if site is None:
            site = rec.sites[key] = SiteRecord(line=ev.line, array=ev.array, kind=ev.kind, space=ev.space,
                                               itemsize=int(ev.itemsize))
        site.warp_requests += int(np.count_nonzero(per_warp))
        site.lane_accesses += int(per_warp.sum())
        if not self.wants_statements:
            self._warp_stats(ev, active, per_warp)
        pos = self._focus_pos(ev)
        offsets = None
        if pos is not None and active[pos].any():
            offsets = np.array(ev.byte_offsets[pos], dtype=np.int64)
            if len(site.samples) < self.max_samples:
                site.samples.append(Sample(active=active[pos].copy(), offsets=offsets,
                                           base_address=int(ev.base_address)))
        if ev.space == "global" and (self.only_arrays is None or ev.array in self.only_arrays):
            self._array_access(ev, active)
        if offsets is not None and self.wants_statements:
            if ev.space == "global":
                elem = self._elements(ev, offsets)
            else:
                elem = offsets // max(1, int(ev.itemsize))
            elem = np.where(active[pos], elem, -1)
            # the engine reports a line's memory instructions before the line's statement event
            self._pending.append((ev.line, (ev.array, ev.kind, ev.space, elem, offsets)))

    def statement(self, ev: Any) -> None:
        rec = self._rec
        if rec is None:
            return
        self._maxline = max(self._maxline, ev.line)
        active = ev.active
        per_warp = ev.active_per_warp()
        self._warp_stats(ev, active, per_warp)
        kind = "barrier" if self._pending_barrier else "statement"
        step = self._step(ev, kind, active, ops=tuple(ev.ops or ()))
        if step is not None:
            step.accesses.extend(acc for line, acc in self._pending if line == ev.line)
            pos = self._focus_pos(ev)
            step.variables = {name: v[pos].copy() for name, v in ev.variables().items()}
        self._pending.clear()
        self._pending_barrier = None

    def branch(self, ev: Any) -> None:
        rec = self._rec
        if rec is None:
            return
        pos = self._focus_pos(ev)
        if pos is None:
            return
        taken = np.broadcast_to(ev.taken, ev.sp.shape).reshape(ev.sp.nblocks, ev.sp.nthreads)[pos]
        active = ev.active[pos]
        # the engine reports the header statement first: attach the outcome to it when it is the same line
        if rec.steps and rec.steps[-1].line == ev.line and rec.steps[-1].taken is None:
            rec.steps[-1].taken = (taken & active).copy()
            rec.steps[-1].kind = "branch"
        else:
            self._step(ev, "branch", ev.active, taken=taken & active)

    def barrier(self, ev: Any) -> None:
        if self._rec is not None and self.wants_statements:
            self._pending_barrier = ev.kind    # the barrier's statement event follows

    def launch_end(self, launch: Any, error: BaseException | None) -> None:
        rec = self._rec
        if rec is None:
            return
        for a in rec.arrays.values():
            a.finish()
        last = max([self._maxline, *(s.line for s in rec.sites.values())])
        rec.source = kernel_source(rec.filename, rec.firstline) or kernel_source(rec.filename, rec.firstline, last)
        if error is not None:
            rec.error = f"{type(error).__name__}: {error}".splitlines()[0]
        rec.report = launch.report if launch.report is not None else rec.report
        self.recordings.append(rec)
        self._rec = None
        self._args = {}

    # -- helpers --------------------------------------------------------------------------------------
    def _focus_pos(self, ev: Any) -> int | None:
        """Row of the focus block in this event's (blocks, threads) arrays, or None."""
        key = id(ev.sp)
        if self._focus_cache[0] == key:
            return self._focus_cache[1]
        ids = ev.block_ids
        hit = np.flatnonzero(ids == self._rec.focus_block)
        pos = int(hit[0]) if hit.size else None
        self._focus_cache = (key, pos)
        return pos

    def _warp_stats(self, ev: Any, active: np.ndarray, per_warp: np.ndarray) -> None:
        rec = self._rec
        if rec.lanes_ever is None:
            return
        ids = ev.block_ids
        rec.blocks_run[ids] = True
        ws = rec.warp_size
        b, p = active.shape
        pad = np.zeros((b, rec.nwarps * ws), dtype=bool)
        pad[:, :p] = active
        bits = np.packbits(pad.reshape(b, rec.nwarps, ws), axis=-1, bitorder="little")
        bits = np.pad(bits, ((0, 0), (0, 0), (0, 8 - bits.shape[-1])))
        rec.lanes_ever[ids] |= bits.view("<u8")[..., 0]
        rec.issued[ids] += (per_warp > 0)
        rec.active_sum[ids] += per_warp

    def _step(self, ev: Any, kind: str, active: np.ndarray, *, taken: np.ndarray | None = None,
              ops: tuple = ()) -> Step | None:
        rec = self._rec
        if not self.wants_statements:
            return None
        pos = self._focus_pos(ev)
        if pos is None:
            return None
        if len(rec.steps) >= MAX_STEPS:
            rec.steps_truncated = True
            return None
        step = Step(index=len(rec.steps), line=ev.line, kind=kind, active=active[pos].copy(),
                    taken=None if taken is None else np.array(taken), ops=ops)
        rec.steps.append(step)
        return step

    def _array_record(self, ev: Any) -> ArrayRecord:
        rec = self._rec
        a = rec.arrays.get(ev.array)
        if a is None:
            arg = self._args.get(ev.array)
            shape = tuple(getattr(arg, "shape", ()) or ())
            if not shape:
                rec.notes.append(f"array '{ev.array}' is not a kernel argument: its access map is skipped")
                shape = (0,)
            a = rec.arrays[ev.array] = ArrayRecord.empty(ev.array, shape, ev.dtype, self.max_elements)
        return a

    def _elements(self, ev: Any, offsets: np.ndarray) -> np.ndarray:
        """Flat (C-order) element index of each byte offset in the kernel argument's view; -1 when outside."""
        a = self._array_record(ev)
        shape = a.shape
        rel = np.asarray(offsets, dtype=np.int64) - int(ev.offset0)
        strides = tuple(int(s) for s in ev.strides)[-len(shape):] if shape else ()
        if len(strides) != len(shape) or not shape or a.size == 0:
            return np.full(rel.shape, -1, dtype=np.int64)
        c_strides = []
        acc = a.itemsize
        for n in reversed(shape):
            c_strides.append(acc)
            acc *= n
        if tuple(reversed(c_strides)) == strides:
            flat = rel // a.itemsize
            if flat.size and (flat.min() < 0 or flat.max() >= a.size):
                flat = np.where((flat >= 0) & (flat < a.size), flat, -1)
            return flat
        # a strided view: peel dimensions off in order of decreasing stride
        flat = np.zeros(rel.shape, dtype=np.int64)
        ok = np.ones(rel.shape, dtype=bool)
        rest = rel.copy()
        idx = [None] * len(shape)
        for d in sorted(range(len(shape)), key=lambda d: -abs(strides[d])):
            s = strides[d] or 1
            q = rest // s
            rest = rest - q * s
            idx[d] = q
            ok &= (q >= 0) & (q < shape[d])
        ok &= rest == 0
        for d, n in enumerate(shape):
            flat = flat * n + np.where(ok, idx[d], 0)
        return np.where(ok, flat, -1)

    def _array_access(self, ev: Any, active: np.ndarray) -> None:
        rec = self._rec
        a = self._array_record(ev)
        if a.size == 0:
            return
        nthreads = rec.nthreads
        offs = ev.byte_offsets
        gid_all = (ev.block_ids[:, None] * nthreads + np.arange(nthreads)).reshape(-1)
        if active.all():
            flat_off, gid = offs.reshape(-1), gid_all
        else:
            act = active.reshape(-1)
            flat_off, gid = offs.reshape(-1)[act], gid_all[act]
        elem = self._elements(ev, flat_off)
        if elem.size and elem.min() < 0:
            good = elem >= 0
            a.dropped += int((~good).sum())
            elem, gid = elem[good], gid[good]
        cells = elem // a.bin_size if a.bin_size > 1 else elem
        a.add(ev.kind, ev.line, cells, gid)


def record(launch: Any, *args: Any, statements: bool = False, focus_block: int | tuple = 0,
           max_samples: int = 8, arrays: list[str] | None = None, only_focus: bool = False) -> Recording:
    """Run one launch (``record(kernel[grid, block], *args)``) with a recorder attached; return its Recording.

    The launch runs exactly as without the recorder (results are written back as usual); the recording
    holds its report (``rec.report``) as well. Raises what the launch raises; the exception then carries what was
    recorded up to the error as ``exc.recording`` (e.g. to show the access map of a kernel that failed a test).
    """
    rec = LaunchRecorder(statements=statements, focus_block=focus_block, max_samples=max_samples, arrays=arrays,
                         only_focus=only_focus)
    try:
        with observing(rec):
            launch(*args)
    except Exception as exc:
        if rec.recordings:
            try:
                exc.recording = rec.recordings[-1]
            except AttributeError:  # exceptions that refuse attributes
                pass
        raise
    if not rec.recordings:
        raise RuntimeError("record() needs a configured kernel launch: record(kernel[blocks, threads], *args)")
    return rec.recordings[-1]


@contextlib.contextmanager
def recording(*, statements: bool = False, focus_block: int | tuple = 0, max_samples: int = 8,
              arrays: list[str] | None = None) -> Iterator[list[Recording]]:
    """Record every launch inside a ``with`` block; yields the list the recordings are appended to."""
    rec = LaunchRecorder(statements=statements, focus_block=focus_block, max_samples=max_samples, arrays=arrays)
    with observing(rec):
        yield rec.recordings
