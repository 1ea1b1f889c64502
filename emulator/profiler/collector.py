"""The profiler's observer: counts what the hardware counts, per launch, per line and per block.

One `LaunchCollector` lives for one launch. Events arrive per chunk (a box of whole blocks) and
are reduced at once over (blocks, warps, lanes):

- statements and branches: warps with at least one active lane issue the line's instructions
  (`analysis.LineInfo.mix`); branch outcomes give uniform and divergent warps;
- memory instructions: sectors/lines per warp request (global, local, constant), wavefronts and
  bank conflicts (shared), same-address multiplicity (atomics), via the numba loops of `_hot`;
- the global/local/atomic sector stream is buffered per chunk and replayed through the cache model
  in the order the hardware would see it: block ``b`` runs on SM ``b % sm_count`` in wave
  ``(b // sm_count) // blocks_per_sm``; within a wave, the resident blocks' warps execute each
  instruction in lockstep;
- the same buffered events drive the latency model (`latency.LatencyReplay`), once the cache has
  said which level served each warp's load.

Per-block totals are folded into per (SM, wave) bins that the timing model reads.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict

import numpy as np

from ..lanes import Affine, val
from .analysis import LineInfo
from .costs import PIPE_INDEX, PIPE_NAMES, fallback_mix
from .latency import LatencyReplay

NP = len(PIPE_NAMES)
_LOCAL_BASE = 1 << 44        # emulated addresses of local memory (far from global allocations)
FLUSH_SECTORS = 3_000_000    # replay the cache model once this many sectors are buffered
FLUSH_SLOTS = 6_000_000      # ... or this many (event, warp) slots
L1_WAYS = 4                  # associativity of the modelled caches (not published; LRU, hashed set index)
L2_WAYS = 16


_hot = None  # the numba loops (`_hot`), imported on first use: importing numba takes a while


def _load_hot():
    global _hot
    if _hot is None:
        from . import _hot as hot
        _hot = hot
    return _hot


_TRUE6 = np.ones((1,) * 6, bool)
_OPS = {"load": "ld", "store": "st", "atomic": "atom"}
_KIND = {"load": 0, "store": 1, "atomic": 2}
_LSU = PIPE_INDEX["lsu"]
_INT = PIPE_INDEX["int"]


class _Pattern:
    """Per-warp statistics and sector stream of one global/local/constant memory instruction."""

    __slots__ = ("sec", "lines", "ideal", "lanes", "mult", "secs", "slots_rel", "shift", "ex_off", "ex_act",
                 "act", "wpb", "nreq", "nsec", "nid", "nlanes", "blk_sec", "blk_lines")

    def __init__(self, sec, lines, ideal, lanes, mult, secs, slots_rel, ex_off, ex_act) -> None:
        self.sec, self.lines, self.ideal, self.lanes, self.mult = sec, lines, ideal, lanes, mult
        self.secs, self.slots_rel, self.shift = secs, slots_rel, 0
        self.ex_off, self.ex_act = ex_off, ex_act
        self.act = lanes > 0
        self.wpb = self.act.sum(axis=1)
        self.nreq = float(np.count_nonzero(self.act))
        self.nsec = float(sec.sum())
        self.nid = float(ideal.sum())
        self.nlanes = float(lanes.sum())
        self.blk_sec = sec.sum(axis=1)
        self.blk_lines = lines.sum(axis=1)

    def shifted(self, shift: int) -> _Pattern:
        """The same pattern with every address moved by `shift` sectors."""
        p = object.__new__(_Pattern)
        for k in _Pattern.__slots__:
            setattr(p, k, getattr(self, k))
        p.shift = self.shift + shift
        p.ex_off = self.ex_off + shift * 32
        return p

    def stream(self) -> np.ndarray:
        """The sector stream (block-major, warp by warp)."""
        return self.secs + self.shift if self.shift else self.secs


def _six(x, shape) -> np.ndarray:
    """A value broadcastable to the 6-D lane shape, as a 6-D array (views only)."""
    a = np.asarray(x)
    if a.ndim < 6:
        a = a.reshape((1,) * (6 - a.ndim) + a.shape)
    return a


class _Chunk:
    """Per-chunk state."""

    def __init__(self, sp, W: int, sm_count: int, bps: int) -> None:
        self.sp = sp
        B = sp.nblocks
        self.B = B
        gx, gy, _ = sp.grid
        z0, y0, x0 = sp.block0
        bz, by, bx = np.meshgrid(np.arange(sp.shape[0]), np.arange(sp.shape[1]), np.arange(sp.shape[2]),
                                 indexing="ij")
        self.gids = ((x0 + bx) + (y0 + by) * gx + (z0 + bz) * gx * gy).reshape(-1).astype(np.int64)
        self.sm = (self.gids % sm_count).astype(np.int64)
        self.wave = (self.gids // sm_count) // max(1, bps)
        self.pipe = np.zeros((NP, B))
        self.shared_wave = np.zeros(B)
        self.shared_ideal = np.zeros(B)
        self.l1_wave = np.zeros(B)
        self.line_wpb: dict[int, np.ndarray] = {}
        self.mask_cache: dict[int, tuple] = {}
        self.patterns: dict[tuple, tuple] = {}


class LaunchCollector:
    """Collects the counters of one launch (see the module docstring)."""

    def __init__(self, info, analysis, occ, chip) -> None:
        _load_hot()
        self.info = info
        self.chip = chip
        self.analysis = analysis
        self.lines: dict[int, LineInfo] = analysis.lines if analysis is not None else {}
        self.occ = occ
        self.ws = chip.warp_size
        block = info.block
        self.T = block[0] * block[1] * block[2]
        self.W = -(-self.T // self.ws)
        self.nblocks = info.grid[0] * info.grid[1] * info.grid[2]
        self.S = chip.sm_count
        self.bps = max(1, occ.blocks_per_sm)
        self.n_waves = max(1, math.ceil(self.nblocks / (self.S * self.bps)))
        self.grid_warps = self.nblocks * self.W
        # totals and per-line counters
        self.c: dict[str, float] = defaultdict(float)
        self.per_line: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.examples: dict[tuple, dict] = {}
        self.atomic_addresses: list[np.ndarray] = []
        # per (SM, wave) bins for the timing model; a sampled or huge launch keeps one bin (the mean block)
        from .timing import MAX_BINS
        self.aggregate = info.sample_blocks is not None or self.S * self.n_waves > MAX_BINS
        nb = 1 if self.aggregate else self.S * self.n_waves
        self.sample_chain: list[np.ndarray] = []
        self.bin_pipe = np.zeros((NP, nb))
        self.bin_shared = np.zeros(nb)
        self.bin_shared_ideal = np.zeros(nb)
        self.bin_l1 = np.zeros(nb)
        self.bin_lat = np.zeros(nb)
        self.bin_blocks = np.zeros(nb)
        self.blocks_run = 0
        self._init_caches()
        self.line_ids: dict[int, int] = {}
        self.line_stats = np.zeros((256, 3), np.int64)
        # latency replay and stalls
        self.stalls: dict[str, float] = defaultdict(float)
        self.chunk: _Chunk | None = None
        self.replay: LatencyReplay | None = None
        self._reset_buffers()

    # -- caches -----------------------------------------------------------------------------------
    def _init_caches(self) -> None:
        chip = self.chip
        line = chip.cache_line_bytes
        self.sector_bytes = chip.sector_bytes
        self.line_sectors = line // chip.sector_bytes
        self.line_shift = int(round(math.log2(self.line_sectors)))
        shared_per_sm = min(chip.shared_mem_per_sm, self.occ.shared_alloc_per_block * self.bps)
        try:
            l1_bytes = chip.l1_bytes_for_shared(shared_per_sm) if chip.has_l1 else 0
        except Exception:
            l1_bytes = chip.l1_bytes_per_sm
        self.l1_bytes = l1_bytes
        self.has_l1 = l1_bytes > 0
        ways1, ways2 = L1_WAYS, L2_WAYS
        n1 = max(1, l1_bytes // line // ways1) if self.has_l1 else 1
        n2 = max(1, chip.l2_bytes // line // ways2) if chip.has_l2 else 1
        self.l1_tag = np.full((self.S if self.has_l1 else 1, n1, ways1), -1, np.int64)
        self.l1_valid = np.zeros(self.l1_tag.shape, np.uint8)
        self.l1_stamp = np.zeros(self.l1_tag.shape, np.int64)
        self.l2_tag = np.full((n2, ways2), -1, np.int64)
        self.l2_valid = np.zeros(self.l2_tag.shape, np.uint8)
        self.l2_dirty = np.zeros(self.l2_tag.shape, np.uint8)
        self.l2_stamp = np.zeros(self.l2_tag.shape, np.int64)
        self.cache_clock = 0
        self.cache_counters = np.zeros(16, np.int64)

    def _reset_buffers(self) -> None:
        self.buf_secs: list[np.ndarray] = []
        self.buf_slots: list[np.ndarray] = []
        self.buf_counts: list[np.ndarray] = []  # per buffered event: sectors per block
        self.ev_kind: list[int] = []       # per buffered event: load 0, store 1, atomic 2
        self.ev_line: list[int] = []       # ... and its source line's id
        self.n_buf = 0
        self.n_slots = 0

    def _line_id(self, line: int) -> int:
        i = self.line_ids.get(line)
        if i is None:
            i = len(self.line_ids)
            self.line_ids[line] = i
            if i >= self.line_stats.shape[0]:
                self.line_stats = np.vstack([self.line_stats, np.zeros_like(self.line_stats)])
        return i

    # -- chunks -----------------------------------------------------------------------------------
    def begin_chunk(self, sp) -> None:
        self.end_chunk()
        self.chunk = _Chunk(sp, self.W, self.S, self.bps)
        self.replay = LatencyReplay(self, self.chunk)

    def end_chunk(self) -> None:
        ch = self.chunk
        if ch is None:
            return
        self.flush()
        for line, wpb in ch.line_wpb.items():
            li = self.lines.get(line)
            if li is None:
                continue
            for p, n in li.mix.items():
                ch.pipe[PIPE_INDEX[p]] += n * wpb
        chain = self.replay.block_latency()
        for k, v in self.replay.stalls.items():
            self.stalls[k] += v
        # fold the chunk's blocks into (SM, wave) bins
        nb = self.bin_lat.shape[0]
        b = np.zeros(ch.B, np.int64) if self.aggregate else ch.sm * self.n_waves + np.minimum(ch.wave, self.n_waves - 1)
        for p in range(NP):
            self.bin_pipe[p] += np.bincount(b, ch.pipe[p], nb)
        self.bin_shared += np.bincount(b, ch.shared_wave, nb)
        self.bin_shared_ideal += np.bincount(b, ch.shared_ideal, nb)
        self.bin_l1 += np.bincount(b, ch.l1_wave, nb)
        self.bin_blocks += np.bincount(b, None, nb)
        np.maximum.at(self.bin_lat, b, chain)
        if self.aggregate:
            self.sample_chain.append(np.asarray(chain, float))
        self.blocks_run += ch.B
        self.chunk = None
        self.replay = None

    # -- lane activity ----------------------------------------------------------------------------
    def warp_activity(self, mask):
        """(warp_any (Bm, W) bool, warps per block (Bm,), active lanes in total) for a mask; Bm is 1
        when the mask does not depend on the block (the result then holds for every block)."""
        ch = self.chunk
        sp = ch.sp
        if mask is None:
            r = ch.mask_cache.get(0)
            if r is None:
                wa = np.ones((1, self.W), bool)
                r = (wa, np.full(1, self.W, np.int64), sp.size, None)
                ch.mask_cache[0] = r
            return r
        key = id(mask)
        r = ch.mask_cache.get(key)
        if r is not None and r[3] is mask:
            return r
        m = _six(mask, sp.shape)
        if m.shape[:3] == (1, 1, 1):
            a = np.broadcast_to(m, (1, 1, 1) + sp.shape[3:]).reshape(1, self.T)
            scale = ch.B
        else:
            a = np.broadcast_to(m, sp.shape).reshape(ch.B, self.T)
            scale = 1
        pad = self.W * self.ws - self.T
        if pad:
            a = np.concatenate([a, np.zeros((a.shape[0], pad), bool)], axis=1)
        wa = a.reshape(a.shape[0], self.W, self.ws).any(axis=2)
        r = (wa, wa.sum(axis=1), int(np.count_nonzero(a)) * scale, mask)
        if len(ch.mask_cache) > 64:
            ch.mask_cache.clear()
        ch.mask_cache[key] = r
        return r

    # -- statements and branches ------------------------------------------------------------------
    def statement(self, ev) -> None:
        ch = self.chunk
        li = self.lines.get(ev.line)
        if li is None:
            mix, lat = fallback_mix(tuple(ev.ops))
            li = LineInfo(ev.line, mix, lat_class=lat)
            self.lines[ev.line] = li
        wa, wpb, lanes, _ = self.warp_activity(ev.mask)
        nwarps = float(wpb.sum()) * (ch.B if wa.shape[0] == 1 else 1)
        if nwarps == 0:
            return
        n = li.n_inst
        pl = self.per_line[ev.line]
        pl["inst"] += n * nwarps
        pl["thread_inst"] += n * lanes
        pl["executions"] += nwarps
        if li.flops:
            pl["flops"] += li.flops * lanes
            self.c["flops"] += li.flops * lanes
        acc = ch.line_wpb.get(ev.line)
        if acc is None:
            ch.line_wpb[ev.line] = np.broadcast_to(wpb, (ch.B,)).astype(np.float64)
        else:
            acc += wpb
        self.replay.statement(li, wa)

    def branch(self, ev) -> None:
        ch = self.chunk
        sp = ch.sp
        taken = ev.taken
        if isinstance(taken, (bool, np.bool_)) or np.ndim(taken) == 0:
            wa, wpb, _, _ = self.warp_activity(ev.mask)
            nwarps = float(wpb.sum()) * (ch.B if wa.shape[0] == 1 else 1)
            self.c["branches"] += nwarps
            self.per_line[ev.line]["branches"] += nwarps
            return
        m = _six(ev.mask, sp.shape) if ev.mask is not None else np.ones((1,) * 6, bool)
        t = _six(val(taken), sp.shape)
        if m.shape[:3] == (1, 1, 1) and t.shape[:3] == (1, 1, 1):
            shape = (1, 1, 1) + sp.shape[3:]
            nb, scale = 1, ch.B
        else:
            shape = sp.shape
            nb, scale = ch.B, 1
        a = np.broadcast_to(m, shape).reshape(nb, self.T)
        tk = np.broadcast_to(t, shape).reshape(nb, self.T).astype(bool) & a
        pad = self.W * self.ws - self.T
        if pad:
            z = np.zeros((nb, pad), bool)
            a = np.concatenate([a, z], axis=1)
            tk = np.concatenate([tk, z], axis=1)
        na = a.reshape(nb, self.W, self.ws).sum(axis=2)
        nt = tk.reshape(nb, self.W, self.ws).sum(axis=2)
        active = na > 0
        div = active & (nt > 0) & (nt < na)
        nbr = float(np.count_nonzero(active)) * scale
        ndiv = float(np.count_nonzero(div)) * scale
        self.c["branches"] += nbr
        self.c["divergent_branches"] += ndiv
        pl = self.per_line[ev.line]
        pl["branches"] += nbr
        pl["divergent_branches"] += ndiv

    def barrier(self, ev) -> None:
        if ev.kind == "block":
            wa, _, _, _ = self.warp_activity(ev.mask)
            self.replay.barrier(wa)
            self.c["barriers"] += 1

    # -- memory -----------------------------------------------------------------------------------
    def memory(self, ev) -> None:
        ch = self.chunk
        sp = ch.sp
        if ev.mask is False:
            return
        space = ev.space
        m = _six(ev.mask, sp.shape) if ev.mask is not None else _TRUE6
        if m.dtype != np.bool_:
            m = m.astype(bool)
        nidx = len(ev.indices)
        if space == "shared":
            off = ev.offset0
            for e, s in list(zip(ev.indices, ev.strides))[1:]:  # skip the implicit block index
                off = off + val(e) * s
            off = _six(np.asarray(off, dtype=np.int64), sp.shape)
            self._shared(ev, off, m, max(1, nidx - 1))
        else:
            self._global(ev, m, space, ev.kind, max(1, nidx - (1 if space == "local" else 0)))

    def _offsets(self, ev) -> np.ndarray:
        """The 6-D (broadcastable) byte offsets of a global/local/constant access."""
        off = ev.offset0
        for e, s in zip(ev.indices, ev.strides):
            off = off + val(e) * s
        return _six(np.asarray(off, dtype=np.int64), self.chunk.sp.shape)

    def _example(self, ev, key, ex_off, ex_act, extra) -> None:
        """Keep the first warp's lane-to-lane address pattern of a line (for findings)."""
        if key in self.examples:
            return
        o, a = np.asarray(ex_off), np.asarray(ex_act)
        lanes = np.flatnonzero(a)
        stride = None
        if lanes.size >= 2:
            d = np.diff(o[lanes]) // np.maximum(np.diff(lanes), 1)
            vals, counts = np.unique(d, return_counts=True)
            stride = int(vals[np.argmax(counts)])
        self.examples[key] = {"stride": stride, "itemsize": int(ev.itemsize), "array": ev.array,
                              "first": int(o[lanes[0]]) if lanes.size else 0,
                              "strides": tuple(int(s) for s in ev.strides), **extra}

    def _shared(self, ev, off, m, ndim: int) -> None:
        ch = self.chunk
        sp = ch.sp
        chip = self.chip
        uniform = off.shape[:3] == (1, 1, 1) and m.shape[:3] == (1, 1, 1)
        shape = ((1, 1, 1) + sp.shape[3:]) if uniform else sp.shape
        nb = 1 if uniform else ch.B
        offv = np.broadcast_to(off, shape)
        mv = np.broadcast_to(m, shape)
        wave = np.zeros((nb, self.W), np.int64)
        ideal = np.zeros((nb, self.W), np.int64)
        ways = np.zeros((nb, self.W), np.int64)
        lanes = np.zeros((nb, self.W), np.int64)
        isz = int(ev.itemsize)
        bank_bytes = chip.bank_width_bytes
        banks = chip.shared_banks
        phase = chip.shared_phase_threads
        if isz > bank_bytes:
            phase = max(1, min(phase, banks * bank_bytes // isz))
        atomic = ev.kind == "atomic"
        _hot.shared_warps(offv, mv, isz, banks, bank_bytes, phase, self.ws, atomic, wave, ideal, ways, lanes)
        scale = ch.B if uniform else 1
        act = lanes > 0
        nreq = float(np.count_nonzero(act)) * scale
        if nreq == 0:
            return
        nwave = float(wave.sum()) * scale
        nideal = float(ideal.sum()) * scale
        op = {"load": "ld", "store": "st", "atomic": "atom"}[ev.kind]
        c = self.c
        c[f"shared_{op}_requests"] += nreq
        c[f"shared_{op}_wavefronts"] += nwave
        c[f"shared_{op}_ideal"] += nideal
        pl = self.per_line[ev.line]
        pl[f"shared_{op}_requests"] += nreq
        pl[f"shared_{op}_wavefronts"] += nwave
        pl[f"shared_{op}_ideal"] += nideal
        w = int(ways.max())
        if w > pl.get("shared_ways", 0):
            pl["shared_ways"] = w
        addr_ops = max(0, ndim - 1)
        pl["inst"] += nreq * (1 + addr_ops)
        pl["thread_inst"] += float(lanes.sum()) * scale * (1 + addr_ops)
        wpb = act.sum(axis=1)
        per_block_wave = wave.sum(axis=1)
        per_block_ideal = ideal.sum(axis=1)
        ch.shared_wave += per_block_wave
        ch.shared_ideal += per_block_ideal
        ch.pipe[PIPE_INDEX["lsu"]] += wpb
        if addr_ops:
            ch.pipe[PIPE_INDEX["int"]] += wpb * addr_ops
        key = ("shared", ev.line, ev.kind)
        old = self.examples.get(key)
        if old is None or w > old.get("ways", 1):
            # keep the pattern of the worst conflict of the line: its stride explains its N-way
            b = int(np.argmax(ways.max(axis=1)))
            wi = int(np.argmax(ways[b]))
            blk = np.unravel_index(b, offv.shape[:3]) if not uniform else (0, 0, 0)
            lo, hi = wi * self.ws, (wi + 1) * self.ws
            first = offv[blk].reshape(-1)[lo:hi]
            fa = mv[blk].reshape(-1)[lo:hi]
            self.examples.pop(key, None)
            self._example(ev, key, first, fa, {"ways": w})
        # latency: base shared latency plus the extra wavefronts of a conflict
        if ev.kind != "store":
            cyc = self.shared_cycles_per_wavefront()
            lat = self.chip.latency["shared"] + (wave - 1).clip(0) * cyc + (50 if atomic else 0)
            self.replay.memory("shared", ev.kind, lat, act)
        else:
            self.replay.memory("shared", "store", None, act)

    def shared_cycles_per_wavefront(self) -> float:
        """Cycles the shared-memory pipe takes per wavefront: banks x bank width bytes at the lsu rate."""
        chip = self.chip
        return max(1.0, chip.shared_banks * chip.bank_width_bytes / (4.0 * chip.pipes["lsu"]))

    def _global(self, ev, m, space: str, kind: str, ndim: int) -> None:
        ch = self.chunk
        chip = self.chip
        B, W = ch.B, self.W
        isz = int(ev.itemsize)
        mode = 1 if space == "local" else 2 if space == "const" else 0
        base = int(ev.base_address) if mode != 1 else _LOCAL_BASE + (zlib.crc32(ev.array.encode()) % 1024) * (1 << 36)
        slot0 = self.n_slots
        pat = None
        off = None
        g80 = chip.global_coalescing == "half_warp_segment"
        if mode == 0 and not g80 and m.shape[:3] == (1, 1, 1):
            pat = self._affine_pattern(ev, m, base, isz)
        if pat is None:
            off = self._offsets(ev)
            pat = self._pattern(ev, off, m, base, isz, mode, g80)
        if pat.nreq == 0:
            return
        act, wpb, nreq = pat.act, pat.wpb, pat.nreq
        pl = self.per_line[ev.line]
        c = self.c
        if space == "const":
            c["const_requests"] += nreq
            c["const_wavefronts"] += pat.nsec
            pl["const_requests"] += nreq
            pl["const_wavefronts"] += pat.nsec
            pl["inst"] += nreq
            pl["thread_inst"] += pat.nlanes
            ch.pipe[_LSU] += wpb
            self._example(ev, ("const", ev.line, kind), pat.ex_off, pat.ex_act,
                          {"max_distinct": int(pat.sec.max())})
            lat = chip.latency["constant"] * pat.sec.astype(np.float64)
            self.replay.memory("const", "load", lat, act)
            return
        op = _OPS[kind]
        pre = f"{space}_{op}"
        c[f"{pre}_requests"] += nreq
        c[f"{pre}_sectors"] += pat.nsec
        c[f"{pre}_ideal"] += pat.nid
        c[f"{pre}_bytes_requested"] += pat.nlanes * isz
        pl[f"{pre}_requests"] += nreq
        pl[f"{pre}_sectors"] += pat.nsec
        pl[f"{pre}_ideal"] += pat.nid
        addr_ops = ndim
        pl["inst"] += nreq * (1 + addr_ops)
        pl["thread_inst"] += pat.nlanes * (1 + addr_ops)
        ch.pipe[_LSU] += wpb
        ch.pipe[_INT] += wpb * addr_ops
        ch.l1_wave += pat.blk_lines
        if kind == "atomic":
            mm = int(pat.mult.max())
            c["atomic_max_lanes_same_address"] = max(c["atomic_max_lanes_same_address"], mm)
            pl["atomic_max_lanes_same_address"] = max(pl.get("atomic_max_lanes_same_address", 0), mm)
            self._atomic_addresses(off if off is not None else self._offsets(ev), m, ev)
        key = (space, ev.line, kind)
        if key not in self.examples:
            self._example(ev, key, pat.ex_off, pat.ex_act,
                          {"sectors_per_request": pat.nsec / nreq, "ideal_per_request": pat.nid / nreq})
        self.buf_secs.append(pat.stream())
        self.buf_slots.append(pat.slots_rel + slot0 if slot0 else pat.slots_rel)
        self.buf_counts.append(pat.blk_sec)
        self.ev_kind.append(_KIND[kind])
        self.ev_line.append(self._line_id(ev.line))
        self.n_buf += pat.slots_rel.size
        self.n_slots += B * W
        self.replay.memory(space, kind, slot0 if kind != "store" else None, act)
        if self.n_buf > FLUSH_SECTORS or self.n_slots > FLUSH_SLOTS:
            self.flush()

    def _pattern(self, ev, off, m, base, isz, mode, g80) -> _Pattern:
        """Per-warp statistics and sector stream of one access, lane by lane (numba)."""
        ch = self.chunk
        sp = ch.sp
        B, W = ch.B, self.W
        offv = np.broadcast_to(off, sp.shape)
        mv = np.broadcast_to(m, sp.shape)
        sec, lines, ideal, lanes, mult = (np.zeros((B, W), np.int32) for _ in range(5))
        want = mode != 2
        cap = int(sp.size) * 2 + 8 if want else 0
        stream = np.empty(cap, np.int64)
        sslot = np.empty(cap, np.int64)
        if mode == 0 and g80:
            ns = self._g80_global(ev, offv, mv, base, isz, sec, lines, ideal, lanes, mult, stream, sslot, 0)
        else:
            sb = self.sector_bytes if mode != 2 else 1
            ns = _hot.global_warps(offv, mv, base, isz if mode != 2 else 1, sb, self.line_sectors, self.ws, mode,
                                   sp.size, self.grid_warps, ch.gids, 0, want, sec, lines, ideal, lanes, mult,
                                   stream, sslot)
        first = offv[0, 0, 0].reshape(-1)[:self.ws]
        ex_off = first + base if mode == 0 else first
        ex_act = mv[0, 0, 0].reshape(-1)[:self.ws]
        return _Pattern(sec, lines, ideal, lanes, mult, stream[:ns].copy(), sslot[:ns].copy(), ex_off, ex_act)

    def _affine_pattern(self, ev, m, base, isz) -> _Pattern | None:
        """Fast path for an index affine in the lane axes under a mask that is the same in every block.

        Blocks whose addresses differ by a multiple of the cache line see the same per-warp pattern,
        shifted: the per-lane loop runs once per class of blocks (address modulo the line), and the
        result is cached for the chunk under (coefficients, address modulo the line, mask), so a loop
        that walks an array reuses it with a shift. Returns None when the index is not affine.
        """
        ch = self.chunk
        sp = ch.sp
        c = int(ev.offset0)
        K = [0] * 6
        for e, st in zip(ev.indices, ev.strides):
            if isinstance(e, Affine):
                if e.sp is not sp:
                    return None
                c += e.c * st
                for a in range(6):
                    K[a] += e.k[a] * st
            else:
                v = val(e)
                if np.ndim(v) != 0:
                    return None
                c += int(v) * st
        line = self.sector_bytes * self.line_sectors
        key = (tuple(K), (base + c) % line, id(ev.mask), isz)
        hit = ch.patterns.get(key)
        if hit is not None and hit[1] is ev.mask:
            pat, bc = hit[0], hit[2]
            return pat.shifted((base + c - bc) // self.sector_bytes)
        th = np.int64(c)
        for a in range(3, 6):
            if K[a]:
                th = th + K[a] * sp.arange(a)
        th = _six(np.asarray(th, dtype=np.int64), sp.shape)
        bz, by, bx = sp.shape[:3]
        delta = (K[0] * np.arange(bz)[:, None, None] + K[1] * np.arange(by)[None, :, None]
                 + K[2] * np.arange(bx)[None, None, :]).reshape(-1).astype(np.int64)
        resid = (base + c + delta) % line
        classes, inv = np.unique(resid, return_inverse=True)
        if classes.size > 8:
            return None
        B, W = ch.B, self.W
        tshape = (1, 1, 1) + sp.shape[3:]
        mv = np.broadcast_to(m, tshape)
        arrays = [np.zeros((B, W), np.int32) for _ in range(5)]
        parts = []
        cap = self.T * 2 + 8
        for q in range(classes.size):
            blocks = np.flatnonzero(inv == q)
            rep = int(blocks[0])
            offv = np.broadcast_to(th + delta[rep], tshape)
            one = [np.zeros((1, W), np.int32) for _ in range(5)]
            st = np.empty(cap, np.int64)
            sl = np.empty(cap, np.int64)
            ns = _hot.global_warps(offv, mv, base, isz, self.sector_bytes, self.line_sectors, self.ws, 0, sp.size,
                                   self.grid_warps, ch.gids[rep:rep + 1], 0, True, *one, st, sl)
            for arr, o in zip(arrays, one):
                arr[blocks] = o
            shift = (delta[blocks] - delta[rep]) // self.sector_bytes
            parts.append((blocks, ns, (st[:ns][None, :] + shift[:, None]).reshape(-1),
                          (blocks[:, None] * W + sl[:ns][None, :]).reshape(-1)))
        if len(parts) == 1:
            secs, slots = parts[0][2], parts[0][3]
        else:
            keys = np.concatenate([np.repeat(b, ns) for b, ns, _, _ in parts])
            order = np.argsort(keys, kind="stable")
            secs = np.concatenate([p[2] for p in parts])[order]
            slots = np.concatenate([p[3] for p in parts])[order]
        ex_off = np.broadcast_to(th, tshape).reshape(-1)[:self.ws] + delta[0] + base
        ex_act = mv.reshape(-1)[:self.ws]
        pat = _Pattern(*arrays, secs, slots, ex_off, ex_act)
        if len(ch.patterns) > 256:
            ch.patterns.clear()
        ch.patterns[key] = (pat, ev.mask, base + c)
        return pat

    def _g80_global(self, ev, offv, mv, base, isz, sec, lines, ideal, lanes, mult, stream, sslot, slot0) -> int:
        """Compute capability 1.0/1.1 coalescing (Programming Guide 2.x, 5.1.2.1): a half-warp's accesses
        coalesce into one 64-byte (4-byte words), 128-byte (8-byte) or two 128-byte (16-byte) transaction
        when thread k of the half-warp accesses word k of an aligned segment (inactive threads allowed);
        otherwise each active thread is served by its own 32-byte transaction."""
        ns = _hot.halfwarp_segments(offv, mv, base, isz, self.chip.global_phase_threads, self.ws, slot0, sec, ideal,
                                    lanes, stream, sslot)
        lines[:] = sec
        mult[:] = 1
        return ns

    def _atomic_addresses(self, off, m, ev) -> None:
        sp = self.chunk.sp
        a = np.broadcast_to(off, sp.shape)[np.broadcast_to(m, sp.shape)] + int(ev.base_address)
        if a.size:
            u, cnt = np.unique(a, return_counts=True)
            self.atomic_addresses.append(np.stack([u, cnt]))
            if sum(x.shape[1] for x in self.atomic_addresses) > 1_000_000:
                self._merge_atomics()

    def _merge_atomics(self) -> None:
        allv = np.concatenate(self.atomic_addresses, axis=1)
        u, inv = np.unique(allv[0], return_inverse=True)
        cnt = np.bincount(inv, allv[1])
        self.atomic_addresses = [np.stack([u, cnt.astype(np.int64)])]

    def atomic_same_address_max(self) -> int:
        """The most atomic operations of the launch (so far) on one address."""
        if not self.atomic_addresses:
            return 0
        self._merge_atomics()
        return int(self.atomic_addresses[0][1].max())

    # -- cache replay -----------------------------------------------------------------------------
    def flush(self) -> None:
        """Run the buffered sector stream through the caches, then the buffered latency records."""
        ch = self.chunk
        levels = None
        if self.n_buf:
            secs = np.concatenate(self.buf_secs)
            slots = np.concatenate(self.buf_slots)
            counts = np.stack(self.buf_counts).astype(np.int64)
            seg = np.zeros((counts.shape[0], ch.B + 1), np.int64)
            np.cumsum(counts, axis=1, out=seg[:, 1:])
            seg += np.concatenate([[0], np.cumsum(seg[:-1, -1])])[:, None]
            wv = ch.wave
            cuts = np.flatnonzero(np.diff(wv)) + 1
            lo = np.concatenate([[0], cuts]).astype(np.int64)
            hi = np.concatenate([cuts, [ch.B]]).astype(np.int64)
            if self.line_stats.shape[0] < len(self.line_ids):
                self.line_stats = np.vstack([self.line_stats, np.zeros((len(self.line_ids), 3), np.int64)])
            levels = np.zeros(self.n_slots, np.uint8)
            self.cache_clock = _hot.cache_run(secs, slots, seg, np.array(self.ev_kind, np.uint8),
                                              np.array(self.ev_line, np.int64), ch.sm, lo, hi, self.line_shift,
                                              self.has_l1, self.l1_tag, self.l1_valid, self.l1_stamp,
                                              self.chip.has_l2, self.l2_tag, self.l2_valid, self.l2_dirty,
                                              self.l2_stamp, self.cache_clock, levels, self.cache_counters,
                                              self.line_stats)
        self.replay.run(levels)
        self._reset_buffers()

    def finish(self) -> None:
        """End of the launch: flush the last chunk and write back what is dirty in L2."""
        self.end_chunk()
        if self.chip.has_l2:
            self.cache_counters[7] += _hot.dirty_sectors(self.l2_dirty)
