"""The latency side of the timing model: the longest per-warp dependency chain of each block.

Every warp issues its instructions in order. Each variable carries, per warp, the cycle at which
its value is ready; a statement issues when the values it reads are ready:

- its loads issue (one per cycle) once their addresses are ready; a global/local load's value is
  ready after the latency of the level that served that warp's sectors (L1 hit, L2 hit or DRAM,
  from the cache model), a shared load after the shared latency plus one wavefront time per extra
  wavefront of a bank conflict, a constant load after the constant latency per distinct address;
- a statement that only loads into variables does not stall: the variables become ready later and
  the first statement that uses them waits (that wait is "long scoreboard" for global/local data,
  "short scoreboard" for shared/constant data and special functions, "wait" for fixed-latency
  arithmetic);
- a statement that computes on loaded values, or stores them, waits for them;
- its results are ready after the latency of its arithmetic chain (`analysis.LineInfo.exec_latency`);
- ``syncthreads`` aligns the warps of a block: all continue at the last arrival plus the barrier
  latency (the wait is "barrier").

The chain of a block is the largest clock of its warps at the end. Contention for issue slots and
pipes is *not* part of the chain: that is the throughput side (`timing`), and a wave takes the
larger of the two.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


class LatencyReplay:
    """Replays one chunk's buffered statements, memory instructions and barriers (see module doc)."""

    def __init__(self, collector, chunk) -> None:
        self.col = collector
        self.ch = chunk
        chip = collector.chip
        self.B, self.W = chunk.B, collector.W
        # per-warp state is kept as (1, W) while it is the same in every block of the chunk (masks and
        # latencies that do not depend on the block keep it so), and grows to (B, W) when it is not
        self.clock = np.zeros((1, self.W))
        self.ready: dict[str, np.ndarray] = {}
        self.ready_cls: dict[str, str] = {}
        self.records: list[tuple] = []
        self.pending: list[list] = []
        self.stalls: dict[str, float] = defaultdict(float)
        lat = chip.latency
        dram = float(lat["dram"])
        l2 = float(lat["l2_hit"]) or dram
        l1 = float(lat["l1_hit"]) or l2
        self.level_lat = np.array([0.0, l1, l2, dram])
        self.atomic_lat = float(lat["atomic"]) or dram
        self.barrier_lat = float(lat["barrier"])

    # -- recording ------------------------------------------------------------------------------
    def memory(self, space: str, kind: str, data, act) -> None:
        """A memory instruction of the statement being executed: `data` is the slot base of a
        global/local load or atomic (resolved after the cache replay), a latency array for
        shared/constant loads, or None for a store."""
        self.pending.append([space, kind, data, act])

    def statement(self, li, warp_any) -> None:
        self.records.append(("S", li, warp_any, self.pending))
        self.pending = []

    def barrier(self, warp_any) -> None:
        self.records.append(("B", None, warp_any, self.pending))
        self.pending = []

    # -- replay ---------------------------------------------------------------------------------
    def _resolve(self, entries, levels) -> None:
        B, W = self.B, self.W
        for e in entries:
            if isinstance(e[2], (int, np.integer)):
                s0 = int(e[2])
                if levels is None or s0 + B * W > levels.size:
                    lv = np.full((B, W), 3, np.uint8)
                else:
                    lv = levels[s0:s0 + B * W].reshape(B, W)
                if B > 1 and (lv == lv[:1]).all():
                    lv = lv[:1]
                lat = self.level_lat[lv]
                if e[1] == "atomic":
                    lat = self.atomic_lat + np.where(lv == 3, self.level_lat[3] - self.level_lat[2], 0.0)
                e[2] = lat
            elif isinstance(e[2], np.ndarray) and e[2].ndim == 2 and e[2].shape[0] > 1 and \
                    (e[2] == e[2][:1]).all():
                e[2] = e[2][:1]

    def run(self, levels) -> None:
        """Replay what is buffered; `levels` (per slot: 1 L1, 2 L2, 3 DRAM) comes from the cache model."""
        for rec in self.records:
            self._resolve(rec[3], levels)
        self._resolve(self.pending, levels)
        for kind, li, wa, mem in self.records:
            if kind == "S":
                self._statement(li, wa, mem)
            else:
                self._barrier(wa)
        self.records = []

    def _max_ready(self, names) -> tuple[np.ndarray | float, str]:
        best: np.ndarray | float = 0.0
        cls = "wait"
        top = -1.0
        for n in names:
            r = self.ready.get(n)
            if r is None:
                continue
            best = np.maximum(best, r)
            m = float(r.max())
            if m > top:
                top = m
                cls = self.ready_cls.get(n, "wait")
        return best, cls

    def _sum(self, x) -> float:
        """Sum over the chunk's warps of a (1, W) or (B, W) array."""
        x = np.asarray(x)
        return float(x.sum()) * (self.B if x.ndim == 2 and x.shape[0] == 1 else 1)

    def _statement(self, li, wa, mem) -> None:
        act = wa
        t0 = self.clock
        ar, acls = self._max_ready(li.addr_reads)
        issue = np.maximum(t0, ar)
        n_mem = len(mem)
        ld: np.ndarray | float = -1.0
        ld_cls = "long_scoreboard"
        stores = False
        # in an unrolled loop, the loads of `unroll` iterations are in flight together (unless their
        # addresses come from loaded data): each iteration pays a share of the latency
        share = 1.0 / li.unroll if li.unroll > 1 and acls == "wait" else 1.0
        for k, (space, mkind, lat, _) in enumerate(mem):
            if lat is None:
                stores = True
                continue
            ld = np.maximum(ld, issue + (k + lat * share))
            ld_cls = "long_scoreboard" if space in ("global", "local") else "short_scoreboard"
            if mkind == "atomic":
                stores = True
        has_loads = not isinstance(ld, float)
        vr, vcls = self._max_ready(li.reads)
        after_issue = issue + n_mem
        pure_load = has_loads and not stores and li.n_inst == 0
        start = np.maximum(after_issue, vr)
        if has_loads and not pure_load:
            start = np.maximum(start, ld)
        # stall attribution (summed over active warps)
        w_addr = self._sum(np.where(act, issue - t0, 0.0))
        if w_addr > 0:
            self.stalls[acls] += w_addr
        w_rest = np.where(act, start - after_issue, 0.0)
        tot = self._sum(w_rest)
        if tot > 0:
            if has_loads and not pure_load:
                by_load = self._sum(np.where(ld >= vr, w_rest, 0.0))
                self.stalls[ld_cls] += by_load
                self.stalls[vcls] += tot - by_load
            else:
                self.stalls[vcls] += tot
        if li.writes:
            if pure_load:
                done = np.maximum(ld, start) + li.exec_latency
                cls = ld_cls
            else:
                done = start + li.exec_latency
                cls = "short_scoreboard" if li.lat_class == "sfu" else "wait"
            for n in li.writes:
                old = self.ready.get(n)
                self.ready[n] = np.where(act, done, 0.0 if old is None else old)
                self.ready_cls[n] = cls
        self.clock = np.where(act, start + li.n_inst, t0)

    def _barrier(self, wa) -> None:
        act = wa
        clock = np.broadcast_to(self.clock, np.broadcast_shapes(self.clock.shape, act.shape))
        arrive = np.where(act, clock, -np.inf).max(axis=1)
        arrive = np.where(np.isfinite(arrive), arrive, 0.0)[:, None]
        wait = np.where(act, arrive - clock, 0.0)
        self.stalls["barrier"] += self._sum(wait) + self.barrier_lat * self._sum(np.broadcast_to(act, wait.shape))
        self.clock = np.where(act, arrive + self.barrier_lat, clock)

    def block_latency(self) -> np.ndarray:
        """Per block of the chunk: the largest clock of its warps (cycles from the block's start)."""
        end = self.clock
        for r in self.ready.values():
            end = np.maximum(end, r)
        return np.broadcast_to(end.max(axis=1), (self.B,))
