"""The throughput side of the timing model and the kernel-level estimate (see docs/timing-model.md).

Blocks are assigned to SMs round-robin (block ``b`` on SM ``b % sm_count``) and run in waves of
``blocks_per_sm`` co-resident blocks (the occupancy calculator's answer). For each (SM, wave):

    issue      = warp instructions / schedulers_per_sm
    pipe p     = warp instructions on p x warp_size / (p's results per cycle per SM)
    shared     = shared wavefronts x cycles per wavefront (banks x bank width / (4 x lsu rate))
    L1         = global/local wavefronts (one per 128-byte line a request touches)
    throughput = max(issue, pipes, shared, L1)   [+ conflict replays when they take issue slots]
    latency    = the longest dependency chain of the wave's blocks (`latency.LatencyReplay`)
    wave time  = max(throughput, latency)

SM time = sum of its waves; kernel cycles = max(slowest SM, L2 bytes / L2 bandwidth, DRAM bytes /
DRAM bandwidth, same-address atomics x ATOMIC_SERIAL_CYCLES); time = launch overhead + cycles /
clock. Everything here is an *estimate* and labelled so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from .costs import PIPE_NAMES, pipe_rate

#: Cycles one L2 slice needs per atomic on a single address (estimate: same-address atomics are
#: processed one after another by the atomic unit of the slice that owns the address).
ATOMIC_SERIAL_CYCLES = 2.0
#: How a wave combines its throughput and latency times: a p-norm, max(a, b) <= (a^p + b^p)^(1/p) <= 2^(1/p)
#: max(a, b). Latency is hidden by other warps only as long as they have work; when the two are
#: close, neither hides the other completely (estimate; p = 4 costs at most 19% over the max).
OVERLAP_P = 4.0
#: Rate divisor for an operation the chip has no unit for (e.g. fp64 on a G80-class chip): software
#: emulation on the fp32 pipe, about this many times slower (estimate).
EMULATION_SLOWDOWN = 16.0

STALL_LABELS = {
    "long_scoreboard": "waiting for global/local memory (long scoreboard)",
    "short_scoreboard": "waiting for shared memory or special functions (short scoreboard)",
    "wait": "fixed-latency dependency (wait)",
    "barrier": "waiting at syncthreads (barrier)",
    "math_pipe_throttle": "math pipe busy (math pipe throttle)",
    "mio_throttle": "shared-memory pipe busy (MIO throttle)",
    "lg_throttle": "load/store queue busy (LG throttle)",
    "not_selected": "ready but another warp was issued (not selected)",
    "dram": "memory bandwidth bound (long scoreboard, DRAM/L2 throughput)",
}


@dataclass
class TimingEstimate:
    """The timing model's answer for one launch (all figures are estimates)."""

    cycles: float
    time_us: float
    sm_cycles: float
    l2_cycles: float
    dram_cycles: float
    atomic_cycles: float
    launch_overhead_us: float
    bound: str
    sol: dict[str, float] = field(default_factory=dict)        # percent of peak per unit
    achieved_occupancy: float = 0.0                            # percent
    stalls: dict[str, float] = field(default_factory=dict)     # warp-cycles per issued instruction
    waves: int = 0
    throughput_cycles: float = 0.0                             # summed over the slowest SM's waves
    latency_cycles: float = 0.0
    terms: dict[str, float] = field(default_factory=dict)      # the slowest SM's terms, summed over waves
    timeline: list[dict] = field(default_factory=list)         # per block (at most TIMELINE_BLOCKS): sm, slot,
    #                                                            wave, start and end in microseconds

    def to_dict(self) -> dict:
        """JSON-able form (a shallow copy: the timeline's entries are shared)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _rate(chip, pipe: str) -> float:
    r = pipe_rate(chip, pipe)
    if r <= 0:
        r = float(chip.pipes["fp32"]) / EMULATION_SLOWDOWN
    return r


MAX_BINS = 1 << 20   # more (SM, wave) bins than this: the launch is folded into per-block means
TIMELINE_BLOCKS = 4096


def _timeline(col, wave_time: np.ndarray, scale: float, overhead: float, clock_mhz: float) -> list[dict]:
    """Where and when the first blocks run: block b on SM b % sm_count, in wave (b // sm_count) // blocks_per_sm;
    an SM's waves follow each other; times are stretched so that the slowest SM ends with the kernel."""
    S, nw, bps = col.S, col.n_waves, col.bps
    wt = wave_time.reshape(S, nw) * scale / clock_mhz
    start = np.concatenate([np.zeros((S, 1)), np.cumsum(wt, axis=1)[:, :-1]], axis=1) + overhead
    b = np.arange(min(col.nblocks, TIMELINE_BLOCKS))
    sm, k = b % S, b // S
    w = np.minimum(k // bps, nw - 1)
    t0 = np.round(start[sm, w], 6).tolist()
    t1 = np.round(start[sm, w] + wt[sm, w], 6).tolist()
    return [{"block": i, "sm": s_, "slot": sl, "wave": wv, "start": a, "end": e}
            for i, s_, sl, wv, a, e in zip(b.tolist(), sm.tolist(), (k % bps).tolist(), w.tolist(), t0, t1)]


def _bins(col):
    """(SM, wave) bins: quantities, each bin's repeat count within its SM group, its group, SMs per group.

    A fully run launch keeps one bin per (SM, wave). A sampled (or huge) one is described by the mean
    block: SMs get ``ceil`` or ``floor`` of blocks / SMs blocks, run as full waves of ``blocks_per_sm``
    blocks plus one partial wave, so two SM groups of at most two distinct bins each suffice."""
    if not col.aggregate:
        nb = col.bin_lat.shape[0]
        return (col.bin_pipe, col.bin_shared, col.bin_shared_ideal, col.bin_l1, col.bin_lat, col.bin_blocks,
                np.ones(nb), np.repeat(np.arange(col.S), col.n_waves), np.ones(col.S))
    run = max(1, col.blocks_run)
    mean = [col.bin_pipe.sum(axis=1) / run, col.bin_shared.sum() / run, col.bin_shared_ideal.sum() / run,
            col.bin_l1.sum() / run]
    chains = np.concatenate(col.sample_chain) if col.sample_chain else np.zeros(1)
    chain = float(np.mean(chains))
    q, r = divmod(col.nblocks, col.S)
    groups = [(q + 1, r), (q, col.S - r)]
    rows = []
    gcount = []
    for g, (n, count) in enumerate(g for g in groups if g[0] > 0 and g[1] > 0):
        gcount.append(count)
        f, rem = divmod(n, col.bps)
        if f:
            rows.append((col.bps, f, g))
        if rem:
            rows.append((rem, 1, g))
    blocks = np.array([b for b, _, _ in rows], float)
    pipes = mean[0][:, None] * blocks[None, :]
    return (pipes, mean[1] * blocks, mean[2] * blocks, mean[3] * blocks, np.where(blocks > 0, chain, 0.0), blocks,
            np.array([w for _, w, _ in rows], float), np.array([g for _, _, g in rows]), np.array(gcount, float))


def estimate(col, chip, occ, totals: dict[str, float], sampled: bool) -> TimingEstimate:
    """The estimate from a finished `collector.LaunchCollector` (`totals` already scaled to the grid)."""
    S, nw = col.S, col.n_waves
    ws = chip.warp_size
    sched = float(chip.schedulers_per_sm)
    pipes, shared, shared_ideal, l1, lat, blocks, weight, group, gcount = _bins(col)
    ng = gcount.size
    cyc_wave = col.shared_cycles_per_wavefront()
    cpi = float(getattr(chip, "cycles_per_warp_instruction", 1) or 1)
    if cpi > 1:
        # one datapath (cc 1.x): the scheduler is busy for as long as the SPs take over a warp instruction,
        # so a slow operation (a 32-bit integer multiply: 16 cycles) holds up the next issue
        per = np.array([cpi if p in ("sfu", "tensor") else max(cpi, ws / _rate(chip, p)) for p in PIPE_NAMES])
        issue = (pipes * per[:, None]).sum(axis=0) / sched
    else:
        issue = pipes.sum(axis=0) / sched
    pipe_cycles = np.stack([pipes[i] * ws / _rate(chip, p) for i, p in enumerate(PIPE_NAMES)])
    if cpi <= 1:
        # integer work is balanced by the compiler over the ALU and the multiply-add pipe (IMAD.IADD,
        # IMAD.MOV, IMAD.SHL on cc >= 7.0): the two integer pipes act as one of their combined rate
        ii, im = PIPE_NAMES.index("int"), PIPE_NAMES.index("imul")
        both = (pipes[ii] + pipes[im]) * ws / (_rate(chip, "int") + _rate(chip, "imul"))
        pipe_cycles[ii] = both
        pipe_cycles[im] = pipes[im] * ws / _rate(chip, "imul")
    shared_cycles = shared * cyc_wave
    l1_cycles = l1 if chip.has_l1 else np.zeros_like(l1)
    terms = np.stack([issue, pipe_cycles.max(axis=0), shared_cycles, l1_cycles])
    throughput = terms.max(axis=0)
    if chip.shared_conflict_replay == "issue":
        # a replayed shared access is re-issued for the whole warp, taking an issue slot each time
        replay_cost = cpi / sched
        throughput = throughput + np.maximum(shared - shared_ideal, 0) * max(cyc_wave, replay_cost)
    wave_time = (throughput ** OVERLAP_P + lat ** OVERLAP_P) ** (1.0 / OVERLAP_P)
    wave_time = np.where(blocks > 0, wave_time, 0.0)
    sm_time = np.bincount(group, weight * wave_time, ng)
    slowest = int(np.argmax(sm_time))
    sm_cycles = float(sm_time.max())
    mine = np.where(group == slowest, weight, 0.0)     # the slowest SM's bins, with their repeats
    every = weight * gcount[group]                     # every SM's bins, with their repeats
    # chip-wide limits
    sector = chip.sector_bytes
    l2_bytes = totals.get("l2_sectors", 0.0) * sector
    dram_bytes = (totals.get("dram_sectors_read", 0.0) + totals.get("dram_sectors_write", 0.0)) * sector
    l2_cycles = l2_bytes / chip.l2_bandwidth_bytes_per_cycle if chip.l2_bandwidth_bytes_per_cycle else 0.0
    dram_cycles = dram_bytes / chip.dram_bytes_per_cycle
    atomic_cycles = totals.get("atomic_same_address_max", 0.0) * ATOMIC_SERIAL_CYCLES
    parts = {"SM": sm_cycles, "L2": l2_cycles, "DRAM": dram_cycles, "atomics": atomic_cycles}
    # the memory system reaches its peak only when the SMs keep it busy: combine as for a wave
    cycles = float(sum(v ** OVERLAP_P for v in parts.values()) ** (1.0 / OVERLAP_P))
    bound = max(parts, key=parts.get)
    thr, lt = float((mine * throughput).sum()), float((mine * lat).sum())
    term_sums = {"issue": float((mine * issue).sum()), "shared": float((mine * shared_cycles).sum()),
                 "L1": float((mine * l1_cycles).sum()), "latency": lt}
    pipe_mine = (pipe_cycles * mine[None, :]).sum(axis=1)
    for i, p in enumerate(PIPE_NAMES):
        if pipe_mine[i]:
            term_sums[f"pipe_{p}"] = float(pipe_mine[i])
    if bound == "SM":
        unit_terms = {"issue": term_sums["issue"], "pipes": float(pipe_mine.max()), "shared": term_sums["shared"],
                      "L1": term_sums["L1"]}
        if lt >= thr:
            bound = "latency"
        else:
            bound = {"issue": "issue", "pipes": "pipe", "shared": "shared memory", "L1": "L1"}[
                max(unit_terms, key=unit_terms.get)]
            if bound == "pipe":
                bound = f"{PIPE_NAMES[int(np.argmax(pipe_mine))]} pipe"
    overhead = float(chip.latency["launch_overhead_us"])
    time_us = overhead + cycles / chip.clock_mhz
    # speed of light: busy cycles of each unit over the elapsed cycles
    denom = max(cycles, 1e-9) * S
    sol: dict[str, float] = {}
    sol["issue"] = 100.0 * float((every * issue).sum()) / denom
    pipe_all = (pipe_cycles * every[None, :]).sum(axis=1)
    for i, p in enumerate(PIPE_NAMES):
        if pipes[i].sum() > 0:
            sol[f"pipe_{p}"] = 100.0 * float(pipe_all[i]) / denom
    sol["shared"] = 100.0 * float((every * shared_cycles).sum()) / denom
    sol["l1"] = 100.0 * float((every * l1_cycles).sum()) / denom
    sol["l2"] = 100.0 * l2_cycles / max(cycles, 1e-9)
    sol["dram"] = 100.0 * dram_cycles / max(cycles, 1e-9)
    sol["compute"] = max([sol["issue"]] + [v for k, v in sol.items() if k.startswith("pipe_")])
    sol["memory"] = max(sol["shared"], sol["l1"], sol["l2"], sol["dram"])
    # achieved occupancy: resident warps over the time each SM is busy
    warps = blocks * col.W
    busy = float((gcount * sm_time).sum())
    resident = float((every * warps * wave_time).sum())
    achieved = 100.0 * resident / (busy * chip.max_warps_per_sm) if busy else 0.0
    # stalls: the latency replay's waits, plus throttles where throughput exceeded latency
    stalls = dict(col.stalls)
    if sampled and col.blocks_run:
        k = col.nblocks / col.blocks_run
        stalls = {r: v * k for r, v in stalls.items()}
    extra = np.maximum(throughput - lat, 0.0) * warps * every
    which = terms.argmax(axis=0)
    for j, n in enumerate(("not_selected", "math_pipe_throttle", "mio_throttle", "lg_throttle")):
        v = float(extra[which == j].sum())
        if v > 0:
            stalls[n] = stalls.get(n, 0.0) + v
    if cycles > sm_cycles and busy:
        stalls["dram"] = stalls.get("dram", 0.0) + (cycles - sm_cycles) * resident / busy * S
    inst = max(1.0, totals.get("inst_executed", 1.0))
    stalls = {r: v / inst for r, v in sorted(stalls.items(), key=lambda kv: -kv[1]) if v > 0}
    timeline = [] if col.aggregate else _timeline(col, wave_time, cycles / max(sm_cycles, 1e-9), overhead,
                                                  chip.clock_mhz)
    return TimingEstimate(cycles=cycles, time_us=time_us, sm_cycles=sm_cycles, l2_cycles=l2_cycles,
                          dram_cycles=dram_cycles, atomic_cycles=atomic_cycles, launch_overhead_us=overhead,
                          bound=bound, sol=sol, achieved_occupancy=achieved, stalls=stalls, waves=nw,
                          throughput_cycles=thr, latency_cycles=lt, terms=term_sums, timeline=timeline)
