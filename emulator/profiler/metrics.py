"""Turning the collector's counts into a `LaunchReport`: Nsight Compute names, friendly labels,
per-line tables.

Counted metrics are exact for the blocks that ran (scaled to the grid when only a sample ran);
metrics of the timing model are marked ``estimated``. Names follow the Nsight Compute Profiling
Guide's metric structure (``unit__counter_qualifiers.rollup``); where Nsight Compute has no
counter for something the emulator can count, the name starts with ``simtlab__``.
"""

from __future__ import annotations

from .costs import PIPE_NAMES

#: our pipe -> Nsight Compute pipe name (ncu: fma = fp32, alu = integer/logic, xu = transcendental)
NCU_PIPES = {"fp32": "fma", "fp64": "fp64", "fp16": "fp16", "int": "alu", "imul": "simtlab_imul", "sfu": "xu",
             "conversion": "simtlab_conversion", "lsu": "lsu", "control": "cbu", "tensor": "tensor"}
PIPE_LABELS = {"fp32": "fp32", "fp64": "fp64", "fp16": "fp16", "int": "integer", "imul": "integer multiply",
               "sfu": "special function", "conversion": "conversion", "lsu": "load/store", "control": "branch/barrier",
               "tensor": "tensor"}

#: Per-line fields, in the order tables show them: (key, column title)
LINE_FIELDS = (
    ("inst", "warp inst"), ("thread_inst", "thread inst"), ("global_ld_requests", "gld req"),
    ("global_ld_sectors", "gld sectors"), ("global_ld_ideal", "gld ideal"), ("global_st_requests", "gst req"),
    ("global_st_sectors", "gst sectors"), ("global_st_ideal", "gst ideal"), ("global_atom_requests", "atom req"),
    ("local_ld_requests", "lld req"), ("local_st_requests", "lst req"), ("shared_ld_wavefronts", "sld wavefronts"),
    ("shared_st_wavefronts", "sst wavefronts"), ("shared_ld_conflicts", "sld conflicts"),
    ("shared_st_conflicts", "sst conflicts"), ("shared_ways", "N-way"), ("const_wavefronts", "const serial"),
    ("branches", "branches"), ("divergent_branches", "divergent"), ("l1_hits", "L1 hits"), ("l2_hits", "L2 hits"),
    ("dram_sectors", "DRAM sectors"), ("flops", "FLOPs"),
)


def _pct(a: float, b: float) -> float:
    return 100.0 * a / b if b else 0.0


def totals_from(col, scale: float) -> dict[str, float]:
    """All launch totals by simtlab key, scaled to the grid."""
    c = dict(col.c)
    t: dict[str, float] = {}
    for k, v in c.items():
        t[k] = v if k.endswith("_max_lanes_same_address") else v * scale
    pipes = col.bin_pipe.sum(axis=1) * scale
    for i, p in enumerate(PIPE_NAMES):
        t[f"inst_pipe_{p}"] = float(pipes[i])
    t["inst_executed"] = float(pipes.sum())
    t["thread_inst_executed"] = sum(pl.get("thread_inst", 0.0) for pl in col.per_line.values()) * scale
    cc = col.cache_counters
    t["l1_hits"] = float(cc[0]) * scale
    t["l1_misses"] = float(cc[1]) * scale
    t["l2_read_hits"] = float(cc[2]) * scale
    t["l2_read_misses"] = float(cc[3]) * scale
    t["l2_writes"] = float(cc[4]) * scale
    t["l2_atomics"] = float(cc[5]) * scale
    t["dram_sectors_read"] = float(cc[6]) * scale
    t["dram_sectors_write"] = float(cc[7]) * scale
    t["l2_sectors"] = t["l2_read_hits"] + t["l2_read_misses"] + t["l2_writes"] + t["l2_atomics"]
    t["atomic_same_address_max"] = float(col.atomic_same_address_max()) * scale
    return t


def fill_report(report, col, occ, est, analysis, info, scale: float, registers: int, reg_note: str) -> None:
    """Write every metric, the per-line tables and the estimate into `report`."""
    t = totals_from(col, scale)
    chip = col.chip

    def add(name, label, value, unit="", section="", estimated=False):
        report.add_metric(name, label, value, unit, estimated, section=section)

    # launch and occupancy
    s = "launch"
    add("launch__grid_size", "blocks", col.nblocks, "blocks", s)
    add("launch__block_size", "threads per block", col.T, "threads", s)
    add("launch__thread_count", "threads", col.nblocks * col.T, "threads", s)
    add("launch__registers_per_thread", "registers per thread", registers, "registers", s)
    add("launch__shared_mem_per_block_static", "static shared memory per block", info.static_shared, "bytes", s)
    add("launch__shared_mem_per_block_dynamic", "dynamic shared memory per block", info.dynshared, "bytes", s)
    add("launch__waves_per_multiprocessor", "waves per SM", round(occ.waves_per_sm, 3), "waves", s)
    add("simtlab__blocks_per_sm", "resident blocks per SM", occ.blocks_per_sm, "blocks", "occupancy")
    s = "occupancy"
    add("sm__maximum_warps_per_active_cycle_pct", "theoretical occupancy", round(occ.percent, 2), "%", s)
    add("launch__occupancy_limit_warps", "block limit: warps", occ.limits["warps"], "blocks", s)
    add("launch__occupancy_limit_blocks", "block limit: blocks per SM", occ.limits["blocks"], "blocks", s)
    add("launch__occupancy_limit_registers", "block limit: registers", occ.limits["registers"], "blocks", s)
    add("launch__occupancy_limit_shared_mem", "block limit: shared memory", occ.limits["shared"], "blocks", s)
    add("sm__warps_active.avg.pct_of_peak_sustained_active", "achieved occupancy", round(est.achieved_occupancy, 2),
        "%", s, True)
    # instructions
    s = "instructions"
    inst = t["inst_executed"]
    add("smsp__inst_executed.sum", "warp instructions", round(inst), "inst", s)
    add("smsp__thread_inst_executed.sum", "thread instructions", round(t["thread_inst_executed"]), "inst", s)
    add("smsp__thread_inst_executed_per_inst_executed.ratio", "active threads per warp instruction",
        round(t["thread_inst_executed"] / inst, 2) if inst else 0.0, "threads", s)
    for p in PIPE_NAMES:
        v = t[f"inst_pipe_{p}"]
        if v:
            pre = "smsp" if not NCU_PIPES[p].startswith("simtlab") else "simtlab"
            add(f"{pre}__inst_executed_pipe_{NCU_PIPES[p].removeprefix('simtlab_')}.sum",
                f"warp instructions on the {PIPE_LABELS[p]} pipe", round(v), "inst", s)
    add("simtlab__flops.sum", "floating-point operations", round(t.get("flops", 0.0)), "FLOP", s)
    for space, ops in (("global", ("ld", "st", "atom")), ("shared", ("ld", "st", "atom")), ("local", ("ld", "st"))):
        for op in ops:
            v = t.get(f"{space}_{op}_requests", 0.0)
            if v:
                add(f"smsp__sass_inst_executed_op_{space}_{op}.sum",
                    f"{space} {dict(ld='load', st='store', atom='atomic')[op]} instructions", round(v), "inst", s)
    # branches
    s = "branches"
    br = t.get("branches", 0.0)
    dv = t.get("divergent_branches", 0.0)
    add("smsp__sass_branch_targets.sum", "branch instructions", round(br), "inst", s)
    add("smsp__sass_branch_targets_threads_divergent.sum", "divergent branches", round(dv), "inst", s)
    add("smsp__sass_average_branch_targets_threads_uniform.pct", "branch efficiency",
        round(_pct(br - dv, br), 2) if br else 100.0, "%", s)
    # global and local memory
    s = "global memory"
    for space in ("global", "local"):
        for op, word in (("ld", "load"), ("st", "store"), ("atom", "atomic")):
            req = t.get(f"{space}_{op}_requests", 0.0)
            if not req:
                continue
            sec = t.get(f"{space}_{op}_sectors", 0.0)
            add(f"l1tex__t_requests_pipe_lsu_mem_{space}_op_{op}.sum", f"{space} {word} requests", round(req),
                "requests", s)
            add(f"l1tex__t_sectors_pipe_lsu_mem_{space}_op_{op}.sum", f"{space} {word} sectors", round(sec),
                "sectors", s)
            add(f"l1tex__average_t_sectors_per_request_pipe_lsu_mem_{space}_op_{op}.ratio",
                f"{space} {word} sectors per request", round(sec / req, 3), "sectors", s)
    gsec = sum(t.get(f"global_{o}_sectors", 0.0) for o in ("ld", "st", "atom"))
    gid = sum(t.get(f"global_{o}_ideal", 0.0) for o in ("ld", "st", "atom"))
    if gsec:
        add("memory_l2_theoretical_sectors_global", "global sectors", round(gsec), "sectors", s)
        add("memory_l2_theoretical_sectors_global_ideal", "global sectors if coalesced", round(gid), "sectors", s)
        add("derived__memory_l2_theoretical_sectors_global_excessive", "excessive global sectors",
            round(max(0.0, gsec - gid)), "sectors", s)
    if t.get("global_atom_requests"):
        add("simtlab__atomic_same_address_max.max", "most atomics on one address",
            round(t["atomic_same_address_max"]), "atomics", s)
        add("simtlab__atomic_lanes_same_address_max.max", "most lanes of a warp on one atomic address",
            t.get("atomic_max_lanes_same_address", 0.0), "lanes", s)
    # caches and DRAM
    s = "caches"
    l1a = t["l1_hits"] + t["l1_misses"]
    if chip.has_l1 and l1a:
        add("l1tex__t_sector_hit_rate.pct", "L1 hit rate", round(_pct(t["l1_hits"], l1a), 2), "%", s)
        add("l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_hit.sum", "L1 sector hits", round(t["l1_hits"]),
            "sectors", s)
        add("l1tex__t_sectors_pipe_lsu_mem_global_op_ld_lookup_miss.sum", "L1 sector misses",
            round(t["l1_misses"]), "sectors", s)
    if chip.has_l2:
        rd = t["l2_read_hits"] + t["l2_read_misses"]
        add("lts__t_sector_hit_rate.pct", "L2 hit rate (reads)", round(_pct(t["l2_read_hits"], rd), 2), "%", s)
        add("lts__t_sectors.sum", "L2 sectors", round(t["l2_sectors"]), "sectors", s)
        add("lts__t_sectors_op_read.sum", "L2 read sectors", round(rd), "sectors", s)
        add("lts__t_sectors_op_write.sum", "L2 write sectors", round(t["l2_writes"]), "sectors", s)
        if t["l2_atomics"]:
            add("lts__t_sectors_op_atom.sum", "L2 atomic sectors", round(t["l2_atomics"]), "sectors", s)
    sb = chip.sector_bytes
    add("dram__bytes_read.sum", "DRAM bytes read", round(t["dram_sectors_read"] * sb), "bytes", s)
    add("dram__bytes_write.sum", "DRAM bytes written", round(t["dram_sectors_write"] * sb), "bytes", s)
    add("dram__bytes.sum", "DRAM bytes", round((t["dram_sectors_read"] + t["dram_sectors_write"]) * sb), "bytes", s)
    # shared memory
    s = "shared memory"
    tot_w = tot_c = tot_i = 0.0
    for op, word in (("ld", "load"), ("st", "store"), ("atom", "atomic")):
        req = t.get(f"shared_{op}_requests", 0.0)
        if not req:
            continue
        w = t.get(f"shared_{op}_wavefronts", 0.0)
        i = t.get(f"shared_{op}_ideal", 0.0)
        tot_w += w
        tot_i += i
        tot_c += max(0.0, w - i)
        add(f"l1tex__data_pipe_lsu_wavefronts_mem_shared_op_{op}.sum", f"shared {word} wavefronts", round(w),
            "wavefronts", s)
        add(f"l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_{op}.sum", f"shared {word} bank conflicts",
            round(max(0.0, w - i)), "conflicts", s)
    if tot_w:
        add("l1tex__data_pipe_lsu_wavefronts_mem_shared.sum", "shared wavefronts", round(tot_w), "wavefronts", s)
        add("l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum", "shared bank conflicts", round(tot_c),
            "conflicts", s)
        add("derived__memory_shared_wavefronts_ideal.sum", "shared wavefronts if conflict-free", round(tot_i),
            "wavefronts", s)
    # constant memory
    if t.get("const_requests"):
        s = "constant memory"
        add("idc__requests.sum", "constant requests", round(t["const_requests"]), "requests", s)
        add("simtlab__const_serialized_reads.sum", "constant reads after serialisation",
            round(t["const_wavefronts"]), "reads", s)
    # the estimate
    s = "estimated time (a model, not a measurement)"
    add("gpu__time_duration.sum", "estimated time", float(est.time_us), "us", s, True)
    add("gpc__cycles_elapsed.max", "estimated cycles", round(est.cycles), "cycles", s, True)
    sol = est.sol
    add("sm__throughput.avg.pct_of_peak_sustained_elapsed", "compute throughput (SOL)", round(sol["compute"], 2),
        "%", s, True)
    add("gpu__compute_memory_throughput.avg.pct_of_peak_sustained_elapsed", "memory throughput (SOL)",
        round(sol["memory"], 2), "%", s, True)
    add("sm__inst_executed.avg.pct_of_peak_sustained_elapsed", "issue slots busy", round(sol["issue"], 2), "%", s,
        True)
    add("dram__throughput.avg.pct_of_peak_sustained_elapsed", "DRAM throughput", round(sol["dram"], 2), "%", s, True)
    if chip.has_l2:
        add("lts__throughput.avg.pct_of_peak_sustained_elapsed", "L2 throughput", round(sol["l2"], 2), "%", s, True)
    if chip.has_l1:
        add("l1tex__throughput.avg.pct_of_peak_sustained_active", "L1 throughput", round(sol["l1"], 2), "%", s, True)
    if tot_w:
        add("l1tex__data_pipe_lsu_wavefronts_mem_shared.avg.pct_of_peak_sustained_elapsed",
            "shared-memory pipe throughput", round(sol["shared"], 2), "%", s, True)
    for p in PIPE_NAMES:
        if f"pipe_{p}" in sol:
            add(f"sm__pipe_{NCU_PIPES[p].removeprefix('simtlab_')}_cycles_active.avg.pct_of_peak_sustained_active",
                f"{PIPE_LABELS[p]} pipe busy", round(sol[f"pipe_{p}"], 2), "%", s, True)
    for r, v in est.stalls.items():
        name = "dram_throughput" if r == "dram" else r
        add(f"smsp__average_warps_issue_stalled_{name}_per_issue_active.ratio",
            f"stall: {r.replace('_', ' ')}", round(v, 3), "cycles/inst", "stalls (estimated)", True)
    report.estimate = est.to_dict()
    report.occupancy = occ.to_dict()
    report.registers_note = reg_note
    report.bound = est.bound
    # per-line tables
    for line, d in col.per_line.items():
        out = report.per_line[line]
        for k, v in d.items():
            out[k] = v if k in ("shared_ways", "atomic_max_lanes_same_address") else v * scale
        for op in ("ld", "st", "atom"):
            w = d.get(f"shared_{op}_wavefronts")
            if w:
                out[f"shared_{op}_conflicts"] = max(0.0, w - d.get(f"shared_{op}_ideal", 0.0)) * scale
    for line, i in col.line_ids.items():
        if i < col.line_stats.shape[0]:
            h1, h2, dr = (float(x) * scale for x in col.line_stats[i])
            out = report.per_line[line]
            out["l1_hits"] = h1
            out["l2_hits"] = h2
            out["dram_sectors"] = dr
