"""What each visualizer shows, computed from recorded data only (no Jupyter, no engine internals).

Every visualizer is built in three layers: a *model* here (plain dataclasses of numbers and
strings, unit-tested directly), a static HTML/SVG renderer (`render.py`, also the fallback
that executed notebooks and nbgrader feedback show) and an interactive ipywidgets wrapper
(`widgets.py`). The inputs are a :class:`~simtlab.jupyter.recorder.Recording` (what a
`LaunchRecorder` observer saw) and/or a `LaunchReport` (what the profiler and sanitizer wrote).

Reports are read by Nsight Compute metric names (`METRICS` lists the names looked for, with
friendly fallbacks by label), so a metric the profiler does not produce simply shows as
missing ("n/a") rather than failing.

Block-to-SM assignment (launch view, timeline): the profiler's timeline data when a report has
it, otherwise the rule the profiler's timing model documents: block ``b`` (linear id) runs on
SM ``b % sm_count``; the blocks of one SM run in waves of ``blocks_per_sm`` co-resident blocks
(the occupancy calculator's answer), so the ``k``-th block of an SM is in wave
``k // blocks_per_sm``, slot ``k % blocks_per_sm``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .recorder import NONE, Recording

# -- reading reports ---------------------------------------------------------------------------------

#: role -> Nsight Compute metric names (first found wins), then label fragments to try.
METRICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "time": (("gpu__time_duration.sum", "gpu__time_duration"), ("estimated time", "duration")),
    "cycles": (("gpc__cycles_elapsed.max", "sm__cycles_elapsed.max"), ("elapsed cycles",)),
    "sol_compute": (("sm__throughput.avg.pct_of_peak_sustained_elapsed",), ("compute (sm) throughput",
                                                                           "sm throughput")),
    "sol_memory": (("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed",),
                   ("memory throughput",)),
    "sol_dram": (("dram__throughput.avg.pct_of_peak_sustained_elapsed",
                  "gpu__dram_throughput.avg.pct_of_peak_sustained_elapsed"), ("dram throughput",)),
    "sol_l2": (("lts__throughput.avg.pct_of_peak_sustained_elapsed",), ("l2 throughput",)),
    "sol_l1": (("l1tex__throughput.avg.pct_of_peak_sustained_active",
                "l1tex__throughput.avg.pct_of_peak_sustained_elapsed"), ("l1/tex throughput", "l1 throughput")),
    "sol_shared": (("l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed",),
                   ("shared memory throughput",)),
    "sol_issue": (("sm__inst_executed.avg.pct_of_peak_sustained_elapsed",
                   "sm__inst_issued.avg.pct_of_peak_sustained_active",
                   "smsp__issue_active.avg.pct_of_peak_sustained_active"), ("issue slots busy", "issue active")),
    "dram_read": (("dram__bytes_read.sum",), ("dram bytes read",)),
    "dram_write": (("dram__bytes_write.sum",), ("dram bytes written",)),
    "l2_read_sectors": (("lts__t_sectors_op_read.sum", "lts__t_sectors_srcunit_tex_op_read.sum"),
                        ("l2 read sectors",)),
    "l2_write_sectors": (("lts__t_sectors_op_write.sum", "lts__t_sectors_srcunit_tex_op_write.sum"),
                         ("l2 write sectors",)),
    "l2_atom_sectors": (("lts__t_sectors_op_atom.sum", "lts__t_sectors_op_red.sum"), ("l2 atomic sectors",)),
    "l2_sectors": (("lts__t_sectors.sum", "lts__t_sectors_srcunit_tex.sum"), ("l2 sectors",)),
    "l2_hit": (("lts__t_sector_hit_rate.pct",), ("l2 hit rate",)),
    "l1_ld_sectors": (("l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum",), ("global load sectors",)),
    "l1_st_sectors": (("l1tex__t_sectors_pipe_lsu_mem_global_op_st.sum",), ("global store sectors",)),
    "l1_atom_sectors": (("l1tex__t_sectors_pipe_lsu_mem_global_op_atom.sum",), ("global atomic sectors",)),
    "l1_ld_requests": (("l1tex__t_requests_pipe_lsu_mem_global_op_ld.sum",), ("global load requests",)),
    "l1_st_requests": (("l1tex__t_requests_pipe_lsu_mem_global_op_st.sum",), ("global store requests",)),
    "l1_hit": (("l1tex__t_sector_hit_rate.pct",), ("l1 hit rate",)),
    "shared_wavefronts": (("l1tex__data_pipe_lsu_wavefronts_mem_shared.sum",), ("shared wavefronts",)),
    "shared_ld_requests": (("smsp__sass_inst_executed_op_shared_ld.sum", "smsp__inst_executed_op_shared_ld.sum"),
                           ("shared load instructions", "shared load requests")),
    "shared_st_requests": (("smsp__sass_inst_executed_op_shared_st.sum", "smsp__inst_executed_op_shared_st.sum"),
                           ("shared store instructions", "shared store requests")),
    "shared_atom_requests": (("smsp__sass_inst_executed_op_shared_atom.sum",), ("shared atomic instructions",)),
    "bank_conflicts": (("l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum",), ("bank conflicts",)),
    "local_sectors": (("l1tex__t_sectors_pipe_lsu_mem_local_op_ld.sum",), ("local load sectors",)),
    "inst": (("smsp__inst_executed.sum", "sm__inst_executed.sum"), ("warp instructions",
                                                                    "instructions executed")),
    "thread_inst": (("smsp__thread_inst_executed.sum",), ("thread instructions",)),
    "registers": (("launch__registers_per_thread",), ("registers per thread",)),
    "occupancy": (("sm__maximum_warps_per_active_cycle_pct",), ("theoretical occupancy",)),
    "achieved_occupancy": (("sm__warps_active.avg.pct_of_peak_sustained_active",), ("achieved occupancy",)),
    "blocks_per_sm": (("launch__blocks_per_sm",), ("resident blocks per sm",)),
    "waves": (("launch__waves_per_multiprocessor",), ("waves per sm",)),
    "shared_static": (("launch__shared_mem_per_block_static",), ("static shared memory",)),
    "shared_dynamic": (("launch__shared_mem_per_block_dynamic",), ("dynamic shared memory",)),
    "flops": (("simtlab__flops.sum", "sm__flops.sum"), ("floating-point operations", "flops")),
    "threads_per_inst": (("smsp__thread_inst_executed_per_inst_executed.ratio",),
                         ("active threads per warp instruction",)),
}

_TIME_UNITS = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "µs": 1.0, "ms": 1e3, "msecond": 1e3,
               "s": 1e6, "second": 1e6}


def find_metric(report: Any, role_or_name: str) -> Any | None:
    """The `Metric` of a report for a role of `METRICS` (or an exact metric name / label); None if absent."""
    metrics = getattr(report, "metrics", None) or {}
    names, labels = METRICS.get(role_or_name, ((role_or_name,), (role_or_name,)))
    for n in names:
        if n in metrics:
            return metrics[n]
    for frag in labels:
        f = frag.lower()
        for m in metrics.values():
            if getattr(m, "label", "").lower() == f:
                return m
    for frag in labels:
        f = frag.lower()
        for m in metrics.values():
            if f in getattr(m, "label", "").lower():
                return m
    return None


def metric_value(report: Any, role_or_name: str, default: float | None = None) -> float | None:
    """A metric's value by role (see `METRICS`), name or label; `default` when the report lacks it."""
    m = find_metric(report, role_or_name)
    return default if m is None else float(m.value)


def estimated_time_us(report: Any) -> float | None:
    """The report's estimated kernel time in microseconds (None when no profiler ran)."""
    m = find_metric(report, "time")
    if m is None:
        return None
    unit = (getattr(m, "unit", "") or "").strip().lower()
    if unit in ("cycle", "cycles"):
        chip = chip_of(report)
        return float(m.value) / chip.clock_mhz if chip is not None else None
    return float(m.value) * _TIME_UNITS.get(unit, 1e-3 if m.value > 1e5 else 1.0)


def chip_of(report_or_rec: Any) -> Any:
    """The Chip object of a recording or report (reports name it; the name is looked up)."""
    chip = getattr(report_or_rec, "chip", None)
    if chip is not None and not isinstance(chip, str):
        return chip
    from simtlab.emulator.chips import get_active_chip, load_chip

    if isinstance(chip, str) and chip:
        try:
            return load_chip(chip)
        except Exception:
            pass
    return get_active_chip()


def _attr(obj: Any, name: str, default: Any = None) -> Any:
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def report_extra(report: Any, key: str) -> Any:
    """A non-metric section of a report (``occupancy``, ``timeline``, ``timing`` ...): attribute or to_dict()."""
    if report is None:
        return None
    v = getattr(report, key, None)
    if v is not None:
        return v
    to_dict = getattr(report, "to_dict", None)
    if callable(to_dict):
        try:
            return to_dict().get(key)
        except Exception:
            return None
    return None


# -- occupancy ---------------------------------------------------------------------------------------

DEFAULT_REGISTERS = 32


def occupancy_calc(chip: Any, threads: int, registers: int, shared: int, nblocks: int | None = None) -> dict:
    """The occupancy calculator's answer as a dict (blocks_per_sm, occupancy 0..1, limits, limiter ...).

    Uses the profiler's calculator (`simtlab.emulator.profiler.occupancy`); without it, the same
    documented rules (warps, blocks, per-warp register allocation over the schedulers' partitions,
    shared memory with its allocation unit and per-block reserve) are applied here.
    """
    try:
        from simtlab.emulator.profiler.occupancy import occupancy as _occ
    except Exception:  # the profiler is optional for the visualizers
        _occ = None
    if _occ is not None:
        o = _occ(chip, int(threads), int(registers), int(shared), nblocks)
        d = o.to_dict() if hasattr(o, "to_dict") else dict(vars(o))
        d["limiter"] = list(d.get("limiter", ()))
        return d
    ws = chip.warp_size
    wpb = max(1, -(-int(threads) // ws))
    limits = {"warps": min(chip.max_warps_per_sm // wpb, chip.max_threads_per_sm // max(1, int(threads))),
              "blocks": int(chip.max_blocks_per_sm)}
    if registers <= 0:
        limits["registers"] = chip.max_blocks_per_sm
    elif registers > chip.max_registers_per_thread:
        limits["registers"] = 0
    else:
        per_warp = -(-registers * ws // chip.register_alloc_unit) * chip.register_alloc_unit
        parts = max(1, int(chip.schedulers_per_sm))
        limits["registers"] = ((chip.registers_per_sm // parts) // per_warp * parts) // wpb
    unit = chip.shared_alloc_unit
    alloc = -(-(int(shared) + chip.reserved_shared_per_block) // unit) * unit
    limits["shared"] = chip.shared_mem_per_sm // alloc if alloc else chip.max_blocks_per_sm
    blocks = max(0, min(limits.values()))
    return {"threads_per_block": int(threads), "warps_per_block": wpb, "registers_per_thread": int(registers),
            "shared_bytes_per_block": int(shared), "limits": limits, "blocks_per_sm": blocks,
            "active_warps_per_sm": blocks * wpb, "max_warps_per_sm": chip.max_warps_per_sm,
            "occupancy": blocks * wpb / chip.max_warps_per_sm,
            "limiter": [k for k in ("warps", "blocks", "registers", "shared") if limits[k] == blocks],
            "waves_per_sm": (nblocks / (blocks * chip.sm_count)) if nblocks and blocks else 0.0}


def launch_resources(report: Any = None, rec: Recording | None = None) -> dict:
    """threads per block, registers per thread (and where the figure comes from), shared bytes per block."""
    block = tuple(_attr(rec, "block", None) or _attr(report, "block", None) or (1, 1, 1))
    threads = int(np.prod(block))
    regs = metric_value(report, "registers")
    occ = report_extra(report, "occupancy")
    if regs is None and occ is not None:
        regs = _attr(occ, "registers_per_thread")
    note = getattr(report, "registers_note", "") if report is not None else ""
    source = (f"from the report{f' ({note})' if note else ''}" if regs is not None
              else f"assumed ({DEFAULT_REGISTERS}; profile the kernel for its estimate)")
    regs = int(regs) if regs is not None else DEFAULT_REGISTERS
    shared = None
    if occ is not None:
        shared = _attr(occ, "shared_bytes_per_block")
    if shared is None:
        st = metric_value(report, "shared_static")
        dy = metric_value(report, "shared_dynamic")
        if st is not None or dy is not None:
            shared = (st or 0) + (dy or 0)
    if shared is None and rec is not None:
        shared = rec.static_shared + rec.dynshared
    if shared is None:
        shared = int(_attr(report, "dynshared", 0) or 0)
    return {"threads": threads, "registers": regs, "registers_source": source, "shared": int(shared)}


def blocks_per_sm(report: Any = None, rec: Recording | None = None, chip: Any = None) -> tuple[int, str]:
    """Resident blocks per SM for a launch, and where the figure comes from."""
    occ = report_extra(report, "occupancy")
    v = _attr(occ, "blocks_per_sm")
    if v:
        return int(v), "the profiler's occupancy"
    v = metric_value(report, "blocks_per_sm")
    if v:
        return int(v), "the report"
    chip = chip or chip_of(rec if rec is not None else report)
    res = launch_resources(report, rec)
    o = occupancy_calc(chip, res["threads"], res["registers"], res["shared"])
    return max(1, int(o["blocks_per_sm"])), f"the occupancy calculator ({res['registers']} registers/thread)"


def block_schedule(nblocks: int, sm_count: int, per_sm: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sm, slot, wave) of every linear block id under round-robin assignment in waves (module docstring)."""
    b = np.arange(int(nblocks))
    sm = b % sm_count
    k = b // sm_count
    per_sm = max(1, int(per_sm))
    return sm, k % per_sm, k // per_sm


@dataclass
class OccupancyModel:
    """The occupancy calculator: the launch's answer plus the three classic curves."""

    chip: str
    threads: int
    registers: int
    registers_source: str
    shared: int
    result: dict
    by_threads: list[tuple[int, float]]      # (threads per block, occupancy %)
    by_registers: list[tuple[int, float]]
    by_shared: list[tuple[int, float]]
    max_threads: int
    max_registers: int
    max_shared: int

    @property
    def percent(self) -> float:
        return 100.0 * float(self.result.get("occupancy", 0.0))

    def explain(self) -> str:
        labels = {"warps": "warps per SM", "blocks": "blocks per SM", "registers": "registers",
                  "shared": "shared memory"}
        lim = " and ".join(labels.get(k, k) for k in self.result.get("limiter", [])) or "nothing"
        r = self.result
        return (f"{self.percent:.1f}% theoretical occupancy: {r['blocks_per_sm']} block(s) of "
                f"{r['warps_per_block']} warp(s) = {r['active_warps_per_sm']} of {r['max_warps_per_sm']} "
                f"warps per SM, limited by {lim}")


def occupancy_model(chip: Any, threads: int, registers: int, shared: int, *, nblocks: int | None = None,
                    registers_source: str = "given") -> OccupancyModel:
    """The occupancy of one configuration and the curves over block size, registers and shared memory."""
    res = occupancy_calc(chip, threads, registers, shared, nblocks)
    ws = chip.warp_size
    by_t = [(t, 100.0 * occupancy_calc(chip, t, registers, shared)["occupancy"])
            for t in range(ws, chip.max_threads_per_block + 1, ws)]
    by_r = [(r, 100.0 * occupancy_calc(chip, threads, r, shared)["occupancy"])
            for r in range(8, chip.max_registers_per_thread + 1, 8)]
    max_sh = int(chip.shared_mem_per_block_optin or chip.shared_mem_per_block)
    step = max(256, max_sh // 96 // 256 * 256)
    by_s = [(s, 100.0 * occupancy_calc(chip, threads, registers, s)["occupancy"])
            for s in range(0, max_sh + 1, step)]
    return OccupancyModel(chip=chip.name, threads=int(threads), registers=int(registers),
                          registers_source=registers_source, shared=int(shared), result=res, by_threads=by_t,
                          by_registers=by_r, by_shared=by_s, max_threads=chip.max_threads_per_block,
                          max_registers=chip.max_registers_per_thread, max_shared=max_sh)


def occupancy_for(report: Any = None, rec: Recording | None = None) -> OccupancyModel:
    """The occupancy model of a profiled (or recorded) launch."""
    chip = chip_of(rec if rec is not None else report)
    res = launch_resources(report, rec)
    grid = tuple(_attr(rec, "grid", None) or _attr(report, "grid", None) or (1, 1, 1))
    return occupancy_model(chip, res["threads"], res["registers"], res["shared"], nblocks=int(np.prod(grid)),
                           registers_source=res["registers_source"])


# -- launch view -------------------------------------------------------------------------------------

@dataclass
class WarpInfo:
    """One warp of one block: its lanes, the lanes that were ever active, issue statistics."""

    warp: int
    lanes: int                  # threads of the block in this warp (the last warp may be partial)
    ever_active: int            # lanes active in at least one recorded instruction
    active_mask: int            # bit i = lane i ever active
    issued: int                 # recorded warp instructions
    mean_active: float          # mean active lanes per issued instruction


@dataclass
class BlockInfo:
    """One block of the grid and where it ran."""

    linear: int
    index: tuple[int, int, int]
    sm: int
    slot: int
    wave: int
    ran: bool
    warps: list[WarpInfo]


@dataclass
class LaunchModel:
    """The launch view: grid of blocks, warps per block, active lanes, SM of each block."""

    kernel: str
    chip: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    nblocks: int
    nthreads: int
    warp_size: int
    warps_per_block: int
    sm_count: int
    blocks_per_sm: int
    blocks_per_sm_source: str
    waves: int
    blocks: list[BlockInfo]
    shown_blocks: int
    lanes_total: int
    lanes_ever_active: int
    issued: int
    simt_efficiency: float | None      # mean active lanes / warp size over recorded instructions, percent
    warp_source: str
    notes: list[str] = field(default_factory=list)

    def block_info(self, linear: int) -> BlockInfo | None:
        for b in self.blocks:
            if b.linear == linear:
                return b
        return None


def launch_model(rec: Recording, report: Any = None, *, max_blocks: int = 256, first_block: int = 0) -> LaunchModel:
    """What the launch view shows for a recording: totals for the whole grid, and `max_blocks` blocks from linear id
    `first_block` on in detail."""
    report = report if report is not None else rec.report
    chip = rec.chip
    per_sm, source = blocks_per_sm(report, rec, chip)
    sm, slot, wave = block_schedule(rec.nblocks, chip.sm_count, per_sm)
    ws, nt = rec.warp_size, rec.nthreads
    blocks: list[BlockInfo] = []
    have = rec.lanes_ever is not None
    first_block = int(min(max(0, first_block), max(0, rec.nblocks - 1)))
    for b in range(first_block, min(rec.nblocks, first_block + max_blocks)):
        warps = []
        for w in range(rec.nwarps):
            lanes = min(ws, nt - w * ws)
            if have:
                mask = int(rec.lanes_ever[b, w])
                issued = int(rec.issued[b, w])
                mean = float(rec.active_sum[b, w]) / issued if issued else 0.0
            else:
                mask, issued, mean = 0, 0, 0.0
            warps.append(WarpInfo(warp=w, lanes=lanes, ever_active=bin(mask).count("1"), active_mask=mask,
                                  issued=issued, mean_active=mean))
        ran = bool(rec.blocks_run[b]) if rec.blocks_run is not None else True
        blocks.append(BlockInfo(linear=b, index=rec.block_index(b), sm=int(sm[b]), slot=int(slot[b]),
                                wave=int(wave[b]), ran=ran, warps=warps))
    if have:
        ever = sum(bin(int(v)).count("1") for v in rec.lanes_ever.reshape(-1)) if rec.lanes_ever.size < 200_000 \
            else int(np.unpackbits(rec.lanes_ever.view(np.uint8)).sum())
        issued = int(rec.issued.sum())
        eff = 100.0 * float(rec.active_sum.sum()) / (issued * ws) if issued else None
    else:
        ever, issued, eff = 0, 0, None
    notes = list(rec.notes)
    if len(blocks) < rec.nblocks:
        notes.append(f"showing blocks {first_block}..{first_block + len(blocks) - 1} of {rec.nblocks:,}")
    return LaunchModel(kernel=rec.kernel, chip=rec.chip_name, grid=rec.grid, block=rec.block, nblocks=rec.nblocks,
                       nthreads=nt, warp_size=ws, warps_per_block=rec.nwarps, sm_count=chip.sm_count,
                       blocks_per_sm=per_sm, blocks_per_sm_source=source,
                       waves=int(wave.max()) + 1 if rec.nblocks else 0,
                       blocks=blocks, shown_blocks=len(blocks), lanes_total=rec.nblocks * nt, lanes_ever_active=ever,
                       issued=issued, simt_efficiency=eff, warp_source=rec.warp_source, notes=notes)


# -- memory access map -------------------------------------------------------------------------------

@dataclass
class AccessMapModel:
    """The memory access map of one array: a grid of cells (one element, or a bin of elements when zoomed out)."""

    array: str
    shape: tuple[int, ...]
    dtype: str
    layout: tuple[int, int]            # the array seen as (rows, cols) of elements (1-D: wrapped rows)
    window: tuple[int, int, int, int]  # shown element rows [r0, r1) and cols [c0, c1)
    cell: tuple[int, int]              # elements per cell (rows, cols)
    reads: np.ndarray                  # (cells_r, cells_c) summed over the cell's elements
    writes: np.ndarray
    atomics: np.ndarray
    elements: np.ndarray               # elements per cell (edges may hold fewer)
    reader_block: np.ndarray           # block of the first reader (NONE: none)
    writer_block: np.ndarray
    reader: np.ndarray                 # gid of the first reader / writer
    writer: np.ndarray
    multi_block: np.ndarray            # bool: touched by more than one block
    rewritten: np.ndarray              # bool: some element written more than once
    totals: dict[str, int]
    lines: dict[str, list[int]]
    nthreads: int
    exact: bool                        # one recorded cell per element (False: the recorder binned a huge array)
    notes: list[str] = field(default_factory=list)

    @property
    def cells(self) -> tuple[int, int]:
        return tuple(self.reads.shape)

    def element_label(self, row: int, col: int) -> str:
        """Source-style index of the element at (row, col) of the layout."""
        if len(self.shape) == 2:
            return f"{self.array}[{row}, {col}]"
        flat = row * self.layout[1] + col
        if len(self.shape) <= 1:
            return f"{self.array}[{flat}]"
        return f"{self.array}[{', '.join(map(str, np.unravel_index(flat, self.shape)))}]"


def _layout(shape: tuple[int, ...], size: int) -> tuple[int, int]:
    if len(shape) >= 2:
        return (int(np.prod(shape[:-1])), int(shape[-1]))
    cols = min(size, 32) if size <= 1024 else 64
    return (-(-size // max(cols, 1)), max(cols, 1))


def access_map(rec: Recording, array: str | None = None, *, window: tuple[int, int, int, int] | None = None,
               max_cells: tuple[int, int] = (32, 48)) -> AccessMapModel:
    """The access map of `array` (default: the first one written) over `window` (rows r0..r1, cols c0..c1 of
    the array's 2-D layout; default all), aggregated so that at most `max_cells` (rows, cols) cells show."""
    if not rec.arrays:
        raise ValueError(f"kernel '{rec.kernel}' accessed no global array that could be recorded")
    if array is None:
        written = [n for n, a in rec.arrays.items() if a.writes.any() or a.atomics.any()]
        array = (written or list(rec.arrays))[0]
    if array not in rec.arrays:
        raise KeyError(f"no recorded global array '{array}' (have: {', '.join(sorted(rec.arrays))})")
    a = rec.arrays[array]
    exact = a.bin_size == 1
    size = a.reads.size
    shape = a.shape if exact else (size,)
    R, C = _layout(shape, size)
    r0, r1, c0, c1 = window if window is not None else (0, R, 0, C)
    r0, c0 = max(0, int(r0)), max(0, int(c0))
    r1, c1 = min(R, max(r0 + 1, int(r1))), min(C, max(c0 + 1, int(c1)))
    br = max(1, -(-(r1 - r0) // max_cells[0]))
    bc = max(1, -(-(c1 - c0) // max_cells[1]))
    nr, nc = -(-(r1 - r0) // br), -(-(c1 - c0) // bc)

    def grid2(v: np.ndarray, fill: int) -> np.ndarray:
        full = np.full(R * C, fill, dtype=np.int64)
        full[:size] = v
        sub = full.reshape(R, C)[r0:r1, c0:c1]
        pad = np.full((nr * br, nc * bc), fill, dtype=np.int64)
        pad[:sub.shape[0], :sub.shape[1]] = sub
        return pad.reshape(nr, br, nc, bc).transpose(0, 2, 1, 3).reshape(nr, nc, br * bc)

    big = np.iinfo(np.int64).max
    reads = grid2(a.reads, 0).sum(-1)
    writes = grid2(a.writes, 0).sum(-1)
    atomics = grid2(a.atomics, 0).sum(-1)
    valid = grid2(np.ones(size, dtype=np.int64), 0)
    elements = valid.sum(-1)

    def first(v: np.ndarray) -> np.ndarray:
        g = grid2(np.where(v == NONE, big, v), big).min(-1)
        return np.where(g == big, NONE, g)

    rmin, wmin = first(a.read_min), first(a.write_min)
    rmax, wmax = grid2(a.read_max, NONE).max(-1), grid2(a.write_max, NONE).max(-1)
    nt = rec.nthreads

    def blk(g: np.ndarray) -> np.ndarray:
        return np.where(g >= 0, g // nt, NONE)

    multi = ((rmin >= 0) & (blk(rmin) != blk(rmax))) | ((wmin >= 0) & (blk(wmin) != blk(wmax)))
    if exact:
        rewritten = (grid2(a.writes + a.atomics, 0) > 1).any(-1)
    else:
        rewritten = (writes + atomics) > elements * a.bin_size
    touched = (a.reads + a.writes + a.atomics) > 0
    totals = {"elements": a.size, "reads": int(a.reads.sum()), "writes": int(a.writes.sum()),
              "atomics": int(a.atomics.sum()), "untouched": int(a.size - touched.sum()) if exact else -1,
              "rewritten": int(((a.writes + a.atomics) > 1).sum()) if exact else -1,
              "max_reads": int(a.reads.max(initial=0)), "dropped": a.dropped}
    notes = []
    if not exact:
        notes.append(f"'{array}' has {a.size:,} elements: the recorder counted bins of {a.bin_size:,} elements")
    if br * bc > 1:
        notes.append(f"zoomed out: each cell sums {br} x {bc} elements")
    return AccessMapModel(array=array, shape=a.shape, dtype=a.dtype, layout=(R, C), window=(r0, r1, c0, c1),
                          cell=(br, bc), reads=reads, writes=writes, atomics=atomics, elements=elements,
                          reader_block=blk(rmin), writer_block=blk(wmin), reader=rmin, writer=wmin,
                          multi_block=multi, rewritten=rewritten, totals=totals,
                          lines={k: sorted(v) for k, v in a.lines.items() if v}, nthreads=nt, exact=exact,
                          notes=notes)


# -- warp view ---------------------------------------------------------------------------------------

@dataclass
class LaneAccess:
    """One lane of a warp in one memory access."""

    lane: int
    thread: tuple[int, int, int]
    active: bool
    offset: int          # byte offset in the allocation (shared: in the block's window)
    element: int         # offset // itemsize
    unit: int            # sector number (global) or bank (shared)
    word: int            # 4-byte word (shared) or sector address (global)
    conflict: bool       # shared: the lane's bank is asked for more than one word


@dataclass
class WarpAccessModel:
    """Lanes -> 32-byte sectors (global/local) or lanes -> banks (shared) for one warp executing one access."""

    kernel: str
    line: int
    text: str
    array: str
    kind: str
    space: str
    itemsize: int
    block: tuple[int, int, int]
    warp: int
    execution: int
    executions: int
    lanes: list[LaneAccess]
    active_lanes: int
    # global
    sectors: list[tuple[int, list[int]]] = field(default_factory=list)    # (sector address, lanes)
    ideal_sectors: int = 0
    bytes_requested: int = 0
    bytes_moved: int = 0
    sector_bytes: int = 32
    # shared
    banks: int = 32
    bank_width: int = 4
    bank_words: dict[int, list[int]] = field(default_factory=dict)         # bank -> distinct words
    wavefronts: int = 0
    ideal_wavefronts: int = 0
    ways: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> int:
        return max(0, self.wavefronts - self.ideal_wavefronts)

    @property
    def efficiency(self) -> float:
        """Useful bytes over bytes moved (global), in percent."""
        return 100.0 * self.bytes_requested / self.bytes_moved if self.bytes_moved else 100.0


def memory_sites(rec: Recording) -> list[tuple[int, str, str, str]]:
    """(line, array, kind, space) of every recorded memory instruction site, in source order."""
    order = {"load": 0, "store": 1, "atomic": 2}
    return sorted(rec.sites, key=lambda k: (k[0], order.get(k[2], 3), k[1], k[3]))


def warp_access(rec: Recording, line: int | None = None, array: str | None = None, kind: str | None = None,
                *, warp: int = 0, execution: int = 0) -> WarpAccessModel:
    """The warp view of the `execution`-th execution (by the recording's focus block) of the memory
    instruction on `line` (of `array`, `kind`; the first matching site when ambiguous) by `warp`."""
    sites = [s for s in memory_sites(rec)
             if (line is None or s[0] == line) and (array is None or s[1] == array) and (kind is None or s[2] == kind)]
    if not sites:
        have = ", ".join(f"line {k[0]} {k[2]} {k[1]}" for k in memory_sites(rec)) or "none"
        raise KeyError(f"no recorded memory access matches line={line} array={array} kind={kind} (have: {have})")
    site = rec.sites[sites[0]]
    if not site.samples:
        raise KeyError(f"the focus block {rec.block_index(rec.focus_block)} never executed line {site.line}")
    ws = rec.warp_size
    nw = rec.nwarps
    warp = int(min(max(0, warp), nw - 1))
    execution = int(min(max(0, execution), len(site.samples) - 1))
    s = site.samples[execution]
    lo, hi = warp * ws, min(rec.nthreads, (warp + 1) * ws)
    act = s.active[lo:hi]
    off = s.offsets[lo:hi]
    chip = rec.chip
    m = WarpAccessModel(kernel=rec.kernel, line=site.line, text=rec.line_text(site.line).strip(), array=site.array,
                        kind=site.kind, space=site.space, itemsize=site.itemsize,
                        block=rec.block_index(rec.focus_block), warp=warp, execution=execution,
                        executions=len(site.samples), lanes=[], active_lanes=int(act.sum()))
    isz = site.itemsize
    if site.space == "shared":
        nb, bw = int(chip.shared_banks), int(chip.bank_width_bytes)
        phase = int(getattr(chip, "shared_phase_threads", ws) or ws)
        m.banks, m.bank_width = nb, bw
        # lanes served together: a phase of the chip's width, narrowed for wide accesses (128 bytes per wavefront)
        if isz > bw:
            phase = min(phase, max(1, nb * bw // isz))
            m.notes.append(f"{isz}-byte accesses are served in phases of {phase} lanes (this rule is less certain)")
        bank_words: dict[int, set[int]] = {}
        waves = 0
        ideal = 0
        conflict_lanes: set[int] = set()
        for p0 in range(0, hi - lo, phase):
            per_bank: dict[int, set[int]] = {}
            lanes_of: dict[int, list[int]] = {}
            nact = 0
            for i in range(p0, min(p0 + phase, hi - lo)):
                if not act[i]:
                    continue
                nact += 1
                for wd in range(max(1, isz // bw)):
                    word = int(off[i]) // bw + wd
                    b = word % nb
                    per_bank.setdefault(b, set()).add(word)
                    lanes_of.setdefault(b, []).append(i)
                    bank_words.setdefault(b, set()).add(word)
            if nact:
                w = max(len(v) for v in per_bank.values())
                waves += w
                ideal += max(1, -(-nact * isz // (nb * bw)))
                for b, words in per_bank.items():
                    if len(words) > 1:
                        conflict_lanes.update(lanes_of[b])
        m.wavefronts, m.ideal_wavefronts = waves, ideal
        m.bank_words = {b: sorted(v) for b, v in sorted(bank_words.items())}
        m.ways = max((len(v) for v in bank_words.values()), default=0)
        for i in range(hi - lo):
            word = int(off[i]) // bw
            m.lanes.append(LaneAccess(lane=i, thread=rec.thread_index(lo + i), active=bool(act[i]),
                                      offset=int(off[i]), element=int(off[i]) // isz, unit=word % nb, word=word,
                                      conflict=bool(act[i]) and i in conflict_lanes))
    else:
        sb = int(chip.sector_bytes)
        m.sector_bytes = sb
        addr = s.base_address + off
        sectors: dict[int, list[int]] = {}
        for i in range(hi - lo):
            sec = int(addr[i]) // sb
            if act[i]:
                for extra in range(-(-((int(addr[i]) % sb) + isz) // sb)):
                    sectors.setdefault((sec + extra) * sb, []).append(i)
            m.lanes.append(LaneAccess(lane=i, thread=rec.thread_index(lo + i), active=bool(act[i]),
                                      offset=int(off[i]), element=int(off[i]) // isz, unit=sec, word=sec * sb,
                                      conflict=False))
        m.sectors = sorted(sectors.items())
        nact = int(act.sum())
        touched = len({int(a) // isz for a, on in zip(addr, act) if on})
        m.bytes_requested = touched * isz
        m.bytes_moved = len(sectors) * sb
        m.ideal_sectors = -(-nact * isz // sb) if nact else 0
    return m


# -- profiler report ---------------------------------------------------------------------------------

@dataclass
class LineRow:
    """One source line of the per-line table."""

    line: int
    text: str
    values: dict[str, float]
    heat: float          # 0..1 share of the hottest line
    hot: bool


@dataclass
class RooflineModel:
    """Roofline: ceilings of the chip and the kernel's point (arithmetic intensity vs achieved FLOP/s)."""

    chip: str
    peak_flops: float                      # FLOP/s of the main ceiling
    peak_label: str
    ceilings: list[tuple[str, float]]      # extra compute ceilings (label, FLOP/s)
    bandwidths: list[tuple[str, float]]    # (label, bytes/s): DRAM, L2
    flops: float | None
    dram_bytes: float | None
    time_s: float | None
    intensity: float | None                # FLOP per DRAM byte
    achieved: float | None                 # FLOP/s
    bound: str | None                      # "memory" or "compute" by the point's position
    notes: list[str] = field(default_factory=list)

    @property
    def ridge(self) -> float:
        bw = self.bandwidths[0][1] if self.bandwidths else 1.0
        return self.peak_flops / bw


@dataclass
class MemoryChartModel:
    """DRAM <-> L2 <-> L1/shared <-> registers with bytes per link and hit rates."""

    dram_read: float | None
    dram_write: float | None
    l2_read: float | None
    l2_write: float | None
    l2_hit: float | None
    l1_load: float | None
    l1_store: float | None
    l1_hit: float | None
    load_requests: float | None
    store_requests: float | None
    shared_wavefronts: float | None
    shared_requests: float | None
    bank_conflicts: float | None
    sector_bytes: int

    @property
    def sectors_per_load_request(self) -> float | None:
        if self.l1_load is None or not self.load_requests:
            return None
        return self.l1_load / self.sector_bytes / self.load_requests

    @property
    def sectors_per_store_request(self) -> float | None:
        if self.l1_store is None or not self.store_requests:
            return None
        return self.l1_store / self.sector_bytes / self.store_requests


@dataclass
class ReportModel:
    """The profiler report view."""

    kernel: str
    chip: str
    grid: tuple
    block: tuple
    time_us: float | None
    bound: str | None
    sampled: str | None
    sol: list[tuple[str, float]]
    memory: MemoryChartModel
    lines: list[LineRow]
    line_columns: list[str]
    line_titles: dict[str, str]
    heat_column: str | None
    metrics: list[dict]
    findings: list[str]
    notes: list[str]
    roofline: RooflineModel
    occupancy: OccupancyModel
    profiled: bool

    def to_dict(self) -> dict:
        return asdict(self)


#: warp-instruction metrics of the floating-point pipes (used when the report has no FLOP count)
_FP_PIPES = ("smsp__inst_executed_pipe_fma.sum", "smsp__inst_executed_pipe_fp64.sum",
             "smsp__inst_executed_pipe_fp16.sum")


def _flops(report: Any) -> tuple[float | None, str]:
    """Floating-point operations of a report and how they were obtained.

    An explicit FLOP metric wins; then Nsight Compute's per-opcode thread counts (fadd + fmul + 2 x ffma, any
    precision); otherwise an approximation: thread instructions on the fp32/fp64/fp16 pipes (warp instructions
    x active threads per instruction), one FLOP each (so an FMA counts 1, not 2).
    """
    m = find_metric(report, "flops")
    if m is not None:
        return float(m.value), "FLOP count from the report"
    metrics = getattr(report, "metrics", None) or {}
    total, found = 0.0, False
    for name, mt in metrics.items():
        low = name.lower()
        if "thread_inst_executed_op_" not in low:
            continue
        for prec in ("f", "d", "h"):
            if f"_op_{prec}fma" in low:
                total += 2 * float(mt.value)
                found = True
            elif f"_op_{prec}add" in low or f"_op_{prec}mul" in low:
                total += float(mt.value)
                found = True
    if found:
        return total, "FLOPs = fadd + fmul + 2 x ffma thread instructions"
    warp_fp = [float(metrics[n].value) for n in _FP_PIPES if n in metrics]
    tpi = metric_value(report, "threads_per_inst")
    if warp_fp and tpi:
        return sum(warp_fp) * tpi, ("FLOPs approximated by the thread instructions on the floating-point pipes "
                                    "(an FMA counts as one)")
    return None, "no FLOP count in the report (profile the kernel to place it on the roofline)"


def roofline_model(report: Any) -> RooflineModel:
    """The roofline of the report's chip with the kernel's point (when FLOPs, DRAM bytes and a time are known)."""
    chip = chip_of(report)
    clock = chip.clock_mhz * 1e6
    peak = float(getattr(chip, "peak_fp32_flops", 0.0) or chip.pipes["fp32"] * 2 * chip.sm_count * clock)
    ceilings = []
    if chip.pipes.get("fp64", 0):
        ceilings.append(("FP64 FMA", float(chip.pipes["fp64"]) * 2 * chip.sm_count * clock))
    if chip.pipes.get("fp16", 0):
        ceilings.append(("FP16 FMA", float(chip.pipes["fp16"]) * 2 * chip.sm_count * clock))
    if getattr(chip, "has_tensor_engine", False):
        rates = dict(chip.tensor_flops_per_cycle_per_sm or {})
        if rates.get("float16"):
            ceilings.append(("tensor FP16", float(rates["float16"]) * chip.sm_count * clock))
    bws = [("DRAM", float(chip.dram_bandwidth_gbps) * 1e9)]
    l2bw = float(getattr(chip, "l2_bandwidth_bytes_per_cycle", 0) or 0)
    if l2bw:
        bws.append(("L2", l2bw * clock))
    flops, how = _flops(report)
    rd, wr = metric_value(report, "dram_read"), metric_value(report, "dram_write")
    dram = None if rd is None and wr is None else (rd or 0.0) + (wr or 0.0)
    t = estimated_time_us(report)
    time_s = t * 1e-6 if t else None
    notes = [how]
    intensity = achieved = None
    bound = None
    if flops is None:
        pass
    elif dram is None or time_s is None:
        notes.append("no DRAM bytes or estimated time in the report")
    else:
        intensity = flops / dram if dram > 0 else math.inf
        achieved = flops / time_s
        bound = "memory" if intensity < peak / bws[0][1] else "compute"
    return RooflineModel(chip=chip.name, peak_flops=peak, peak_label="FP32 FMA", ceilings=ceilings, bandwidths=bws,
                         flops=flops, dram_bytes=dram, time_s=time_s, intensity=intensity, achieved=achieved,
                         bound=bound, notes=notes)


def memory_chart(report: Any) -> MemoryChartModel:
    """Bytes between the levels of the hierarchy, from the report's counters."""
    chip = chip_of(report)
    sb = int(getattr(chip, "sector_bytes", 32))

    def sectors(role: str) -> float | None:
        v = metric_value(report, role)
        return None if v is None else v * sb

    l2r = sectors("l2_read_sectors")
    l2w = sectors("l2_write_sectors")
    atom = sectors("l2_atom_sectors")
    if atom:
        l2w = (l2w or 0.0) + atom
    if l2r is None and l2w is None:
        tot = sectors("l2_sectors")
        l2r = tot
    sh_req = None
    ld, st = metric_value(report, "shared_ld_requests"), metric_value(report, "shared_st_requests")
    if ld is not None or st is not None:
        sh_req = (ld or 0.0) + (st or 0.0)
    l1_ld = sectors("l1_ld_sectors")
    l1_st = sectors("l1_st_sectors")
    a1 = sectors("l1_atom_sectors")
    if a1:
        l1_st = (l1_st or 0.0) + a1
    return MemoryChartModel(dram_read=metric_value(report, "dram_read"), dram_write=metric_value(report, "dram_write"),
                            l2_read=l2r, l2_write=l2w, l2_hit=metric_value(report, "l2_hit"), l1_load=l1_ld,
                            l1_store=l1_st, l1_hit=metric_value(report, "l1_hit"),
                            load_requests=metric_value(report, "l1_ld_requests"),
                            store_requests=metric_value(report, "l1_st_requests"),
                            shared_wavefronts=metric_value(report, "shared_wavefronts"), shared_requests=sh_req,
                            bank_conflicts=metric_value(report, "bank_conflicts"), sector_bytes=sb)


def line_field_titles() -> dict[str, str]:
    """Column titles of the per-line counters (the profiler's `LINE_FIELDS`), in the order tables show them."""
    try:
        from simtlab.emulator.profiler.metrics import LINE_FIELDS
    except Exception:  # the profiler is optional for the visualizers
        LINE_FIELDS = ()
    titles = dict(LINE_FIELDS)
    titles.update({"gld_sectors_per_request": "gld sect/req", "gst_sectors_per_request": "gst sect/req"})
    return titles


def per_line_rows(report: Any, source: dict[int, str] | None = None, *, hot_share: float = 0.5,
                  heat_column: str | None = None) -> tuple[list[LineRow], list[str], str | None]:
    """Rows of the per-source-line table, its columns (keys with a non-zero value somewhere, in the profiler's
    order) and the heat column (default: warp instructions, ``inst``). A line is hot when its heat is at least
    `hot_share` of the hottest line's. Sectors per request of global loads and stores are derived per line."""
    per_line: dict[int, dict[str, float]] = {}
    for ln, vals in dict(getattr(report, "per_line", None) or {}).items():
        v = {k: float(x) for k, x in vals.items()}
        for op, key in (("ld", "gld_sectors_per_request"), ("st", "gst_sectors_per_request")):
            req = v.get(f"global_{op}_requests", 0.0)
            if req:
                v[key] = v.get(f"global_{op}_sectors", 0.0) / req
        per_line[int(ln)] = v
    titles = line_field_titles()
    order = list(titles)
    present = {k for vals in per_line.values() for k, x in vals.items() if x}
    columns = [k for k in order if k in present] + sorted(present - set(order))
    heat_col = heat_column if heat_column in columns else ("inst" if "inst" in columns else
                                                           (columns[0] if columns else None))
    if source is None:
        source = {}
        fn = getattr(report, "filename", "")
        if fn and per_line:
            import linecache

            from .recorder import kernel_source

            first = min(per_line)
            while first > 1 and not linecache.getline(fn, first).lstrip().startswith("def "):
                first -= 1                                  # up to the kernel's def line
            while first > 1 and linecache.getline(fn, first - 1).lstrip().startswith("@"):
                first -= 1                                  # and its decorators
            source = kernel_source(fn, first) or {ln: linecache.getline(fn, ln).rstrip("\n")
                                                  for ln in range(min(per_line), max(per_line) + 1)}
    lines = sorted(set(per_line) | set(source))
    top = max((per_line.get(ln, {}).get(heat_col, 0.0) for ln in lines), default=0.0) if heat_col else 0.0
    rows = []
    for ln in lines:
        vals = per_line.get(ln, {})
        heat = float(vals.get(heat_col, 0.0)) / top if top > 0 else 0.0
        rows.append(LineRow(line=ln, text=source.get(ln, ""), values=vals, heat=heat,
                            hot=top > 0 and heat >= hot_share))
    return rows, columns, heat_col


def report_model(report: Any, *, source: dict[int, str] | None = None, rec: Recording | None = None,
                 heat_column: str | None = None) -> ReportModel:
    """Everything the profiler report view shows, from a LaunchReport (`rec`, when given, supplies the source
    lines and the launch's resources; `heat_column` picks the per-line counter that marks hot lines)."""
    if report is None:
        raise ValueError("no report: run the kernel (inside %%profile or cuda.profile(...)) first")
    sol = []
    for role, label in (("sol_compute", "Compute (SM)"), ("sol_memory", "Memory"), ("sol_dram", "DRAM"),
                        ("sol_l2", "L2"), ("sol_l1", "L1/TEX"), ("sol_shared", "Shared"), ("sol_issue", "Issue")):
        v = metric_value(report, role)
        if v is not None:
            sol.append((label, float(v)))
    estimate = report_extra(report, "estimate")
    if not sol and estimate is not None:
        s = _attr(estimate, "sol", {}) or {}
        for key, label in (("compute", "Compute (SM)"), ("memory", "Memory"), ("dram", "DRAM"), ("l2", "L2"),
                           ("l1", "L1/TEX"), ("shared", "Shared"), ("issue", "Issue")):
            if key in s:
                sol.append((label, float(s[key])))
    bound = getattr(report, "bound", None) or _attr(estimate, "bound") or None
    if source is None and rec is not None:
        source = rec.source
    rows, cols, heat = per_line_rows(report, source, heat_column=heat_column)
    metrics = [{"name": m.name, "label": m.label, "value": m.value, "unit": m.unit, "estimated": m.estimated}
               for m in (getattr(report, "metrics", None) or {}).values()]
    sampled = None
    if getattr(report, "sampled_blocks", None) is not None:
        sampled = (f"profiled a sample of {report.sampled_blocks} of {report.total_blocks} blocks; counts are scaled "
                   "to the whole grid")
    return ReportModel(kernel=report.kernel, chip=str(report.chip), grid=tuple(report.grid), block=tuple(report.block),
                       time_us=estimated_time_us(report), bound=bound, sampled=sampled, sol=sol,
                       memory=memory_chart(report), lines=rows, line_columns=cols, line_titles=line_field_titles(),
                       heat_column=heat, metrics=metrics,
                       findings=[str(f) for f in getattr(report, "findings", []) or []],
                       notes=list(getattr(report, "notes", []) or []), roofline=roofline_model(report),
                       occupancy=occupancy_for(report, rec), profiled=bool(metrics))


# -- timeline ----------------------------------------------------------------------------------------

@dataclass
class TimelineModel:
    """Blocks on SMs over the estimated time."""

    kernel: str
    chip: str
    sm_count: int
    blocks_per_sm: int
    waves: int
    total_us: float | None
    overhead_us: float
    bars: list[tuple[int, int, int, int, float, float]]   # (block, sm, slot, wave, start_us, end_us)
    source: str
    time_axis: str                                        # "µs (estimated)" or "waves"
    notes: list[str] = field(default_factory=list)


def timeline_model(report: Any = None, rec: Recording | None = None, *, max_bars: int = 4096) -> TimelineModel:
    """Where and when each block ran: the profiler's timeline data when present, else the round-robin schedule
    with every wave of an SM lasting (estimated time - launch overhead) / waves."""
    if report is None and rec is not None:
        report = rec.report
    grid = tuple(_attr(rec, "grid", None) or _attr(report, "grid", None) or (1, 1, 1))
    nblocks = int(np.prod(grid))
    chip = chip_of(rec if rec is not None else report)
    kernel = _attr(rec, "kernel", None) or _attr(report, "kernel", "?")
    total = estimated_time_us(report)
    overhead = float(chip.latency.get("launch_overhead_us", 0.0)) if total is not None else 0.0
    notes: list[str] = []
    data = report_extra(report, "timeline") or _attr(report_extra(report, "estimate"), "timeline")
    if isinstance(data, dict):
        data = data.get("blocks") or data.get("bars")
    if isinstance(data, list) and data and all(isinstance(d, dict) and {"sm", "start", "end"} <= set(d) for d in data):
        unit = 1.0
        bars = []
        for i, d in enumerate(data[:max_bars]):
            bars.append((int(d.get("block", i)), int(d["sm"]), int(d.get("slot", 0)), int(d.get("wave", 0)),
                         float(d["start"]) * unit, float(d["end"]) * unit))
        per_sm = max(b[2] for b in bars) + 1
        waves = max(b[3] for b in bars) + 1
        return TimelineModel(kernel=kernel, chip=chip.name, sm_count=chip.sm_count, blocks_per_sm=per_sm, waves=waves,
                             total_us=total, overhead_us=overhead, bars=bars, source="the profiler's timeline",
                             time_axis="µs (estimated)", notes=notes)
    per_sm, src = blocks_per_sm(report, rec, chip)
    sm, slot, wave = block_schedule(nblocks, chip.sm_count, per_sm)
    waves = int(wave.max()) + 1 if nblocks else 0
    if total is not None:
        span = max(total - overhead, 1e-9)
        wt = span / max(waves, 1)
        t0, axis = overhead, "µs (estimated)"
    else:
        wt, t0, axis = 1.0, 0.0, "waves"
        notes.append("no estimated time in the report: the axis counts waves (profile the kernel for times)")
    bars = [(int(b), int(sm[b]), int(slot[b]), int(wave[b]), float(t0 + wave[b] * wt), float(t0 + (wave[b] + 1) * wt))
            for b in range(min(nblocks, max_bars))]
    if nblocks > max_bars:
        notes.append(f"showing the first {max_bars} of {nblocks:,} blocks")
    return TimelineModel(kernel=kernel, chip=chip.name, sm_count=chip.sm_count, blocks_per_sm=per_sm, waves=waves,
                         total_us=total, overhead_us=overhead, bars=bars,
                         source=f"round-robin over SMs in waves of {per_sm} block(s) per SM (from {src})",
                         time_axis=axis, notes=notes)


# -- step-through replay -----------------------------------------------------------------------------

@dataclass
class ReplayStep:
    """One statement executed by the chosen warp."""

    index: int
    line: int
    text: str
    kind: str
    active: list[bool]                 # per lane of the warp
    taken: list[bool] | None
    accesses: list[tuple[str, str, str, list[int]]]   # (array, kind, space, element index per lane; -1 inactive)
    values: dict[str, list] = field(default_factory=dict)   # each variable's value per lane after the statement


@dataclass
class ReplayModel:
    """The focus block's trace seen by one warp: statement by statement, lanes active, branches, accesses."""

    kernel: str
    block: tuple[int, int, int]
    warp: int
    warps: int
    lanes: int
    threads: list[tuple[int, int, int]]
    steps: list[ReplayStep]
    source: dict[int, str]
    truncated: bool
    variables: bool                    # lane variable values were recorded
    notes: list[str] = field(default_factory=list)


def replay_model(rec: Recording, warp: int = 0, *, skip_idle: bool = True) -> ReplayModel:
    """The replay of a recording made with ``statements=True`` for one warp of its focus block; with
    `skip_idle`, statements in which no lane of the warp was active are left out (the warp did not issue them)."""
    if not rec.steps:
        raise ValueError("this recording has no statement trace: record with statements=True (or use replay())")
    ws = rec.warp_size
    warp = int(min(max(0, warp), rec.nwarps - 1))
    lo, hi = warp * ws, min(rec.nthreads, (warp + 1) * ws)
    steps = []
    for st in rec.steps:
        act = st.active[lo:hi]
        if skip_idle and not act.any():
            continue
        taken = None if st.taken is None else [bool(v) for v in st.taken[lo:hi]]
        acc = [(a, k, sp, [int(v) for v in elem[lo:hi]]) for a, k, sp, elem, _ in st.accesses]
        values = {name: v[lo:hi].tolist() for name, v in (st.variables or {}).items()}
        steps.append(ReplayStep(index=len(steps), line=st.line, text=rec.line_text(st.line).strip(), kind=st.kind,
                                active=[bool(v) for v in act], taken=taken, accesses=acc, values=values))
    have = any(s.values for s in steps)
    notes = [] if have else ["no variable values were recorded for this warp"]
    return ReplayModel(kernel=rec.kernel, block=rec.block_index(rec.focus_block), warp=warp, warps=rec.nwarps,
                       lanes=hi - lo, threads=[rec.thread_index(t) for t in range(lo, hi)], steps=steps,
                       source=dict(rec.source), truncated=rec.steps_truncated, variables=have, notes=notes)
