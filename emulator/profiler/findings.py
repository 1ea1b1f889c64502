"""Findings that teach: turn the counts of a launch into sentences a student can act on.

Each finding names the line, says what the hardware had to do (sectors per request against the
ideal, N-way bank conflicts, divergent warps, serialised constant reads, contended atomics,
occupancy limits) and why, from the first warp's access pattern, and suggests the classic fix.
Findings are ``Finding(tool="profiler", severity="warning" | "info")``: they never make a launch
fail.
"""

from __future__ import annotations

import math

from ..report import Finding


def _bytes(n: int) -> str:
    n = abs(int(n))
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10} KB"
    return f"{n} bytes"


def _global(col, report, out: list[Finding]) -> None:
    total = sum(col.c.get(f"global_{o}_sectors", 0.0) for o in ("ld", "st"))
    for (space, line, kind), ex in sorted(col.examples.items(), key=lambda kv: kv[0][1]):
        if space not in ("global", "local") or kind == "atomic":
            continue
        pl = col.per_line.get(line, {})
        op = "ld" if kind == "load" else "st"
        req = pl.get(f"{space}_{op}_requests", 0.0)
        if not req:
            continue
        spr = pl.get(f"{space}_{op}_sectors", 0.0) / req
        ideal = pl.get(f"{space}_{op}_ideal", 0.0) / req
        excess = pl.get(f"{space}_{op}_sectors", 0.0) - pl.get(f"{space}_{op}_ideal", 0.0)
        if spr < ideal * 1.25 or spr - ideal < 1 or (total and excess < 0.02 * total):
            continue
        verb = "read" if kind == "load" else "write"
        stride = ex.get("stride")
        isz = ex["itemsize"]
        arr = ex["array"]
        if stride is not None and stride == isz:
            why = (f"neighbouring threads {verb} consecutive elements of '{arr}', but a warp's accesses start "
                   f"{ex['first'] % 32} bytes past a 32-byte sector boundary, so they straddle one more sector")
            fix = "start each warp's range at a multiple of 32 bytes (the L1/L2 caches absorb most of this cost)"
        elif stride is not None and stride != 0:
            why = f"neighbouring threads {verb} addresses {_bytes(stride)} apart"
            fix = ("make threadIdx.x index the last (contiguous) dimension of the array, e.g. a[row, col] with "
                   "col from threadIdx.x; if the pattern is inherent (a transpose), stage the tile through shared "
                   "memory so that both the read and the write are coalesced")
        else:
            why = f"the threads of a warp {verb} scattered elements of '{arr}'"
            fix = "give neighbouring threads neighbouring elements"
        msg = f"line {line}: {spr:.3g} sectors per request, ideal {ideal:.3g}: {why}"
        out.append(Finding(tool="profiler", kind="uncoalesced", message=msg, severity="warning", line=line,
                           array=arr, fix=fix))


def _shared(col, report, out: list[Finding]) -> None:
    chip = col.chip
    banks = chip.shared_banks
    bw = chip.bank_width_bytes
    seen: set[int] = set()
    for (space, line, kind), ex in sorted(col.examples.items(), key=lambda kv: kv[0][1]):
        if space != "shared" or line in seen:
            continue
        pl = col.per_line.get(line, {})
        ways = int(pl.get("shared_ways", 1))
        conflicts = sum(max(0.0, pl.get(f"shared_{o}_wavefronts", 0.0) - pl.get(f"shared_{o}_ideal", 0.0))
                        for o in ("ld", "st", "atom"))
        if ways < 2 or conflicts <= 0 or kind == "atomic":
            continue
        ex = col.examples.get(("shared", line, "load"), ex) if ex.get("ways", 1) < ways else ex
        seen.add(line)
        stride = ex.get("stride")
        arr = ex["array"]
        strides = ex.get("strides", ())
        isz = ex["itemsize"]
        row = strides[-2] // isz if len(strides) >= 3 and isz else None
        words = stride // bw if stride and stride % bw == 0 else None
        if words and row and stride == strides[-2] and math.gcd(row * isz // bw, banks) > 1:
            pad = row + 1
            msg = (f"line {line}: {ways}-way bank conflict: the threads of a warp access a column of '{arr}', "
                   f"whose rows are {row} elements long, so they hit the same bank; pad the tile's row to {pad}")
            fix = (f"declare the tile with {pad} columns, e.g. cuda.shared.array(({row}, {pad}), ...), and keep "
                   "indexing it as before")
        elif words:
            g = math.gcd(abs(words), banks)
            msg = (f"line {line}: {ways}-way bank conflict: neighbouring threads access '{arr}' {abs(words)} words "
                   f"apart; {banks} banks of {bw} bytes serve word w from bank w % {banks}, so gcd({abs(words)}, "
                   f"{banks}) = {g} threads share each bank")
            fix = ("let thread t access word t (sequential addressing, e.g. `if tid < s: sdata[tid] += "
                   "sdata[tid + s]`), or pad the array so the stride is odd")
        else:
            msg = f"line {line}: {ways}-way bank conflict on '{arr}'"
            fix = "make the threads of a warp access distinct banks (consecutive words) or the same word"
        out.append(Finding(tool="profiler", kind="bank-conflict", message=msg, severity="warning", line=line,
                           array=arr, fix=fix))


def _divergence(col, out: list[Finding]) -> None:
    for line, pl in sorted(col.per_line.items()):
        br = pl.get("branches", 0.0)
        dv = pl.get("divergent_branches", 0.0)
        if br and dv / br >= 0.2 and dv >= 2:
            msg = (f"line {line}: {100 * dv / br:.0f}% of the warps that reach this branch diverge: their threads "
                   "take different sides, so the warp executes both one after the other")
            fix = ("make the condition the same for the 32 threads of a warp, e.g. select threads by a contiguous "
                   "range (tid < s) instead of by a stride (tid % (2 * s) == 0)")
            out.append(Finding(tool="profiler", kind="divergence", message=msg, severity="warning", line=line,
                               fix=fix))


def _const(col, out: list[Finding]) -> None:
    for line, pl in sorted(col.per_line.items()):
        req = pl.get("const_requests", 0.0)
        if req and pl.get("const_wavefronts", 0.0) / req >= 1.5:
            k = pl["const_wavefronts"] / req
            msg = (f"line {line}: constant memory read at {k:.3g} different addresses per warp on average: "
                   "the constant cache serves one address per cycle, so the reads are serialised")
            fix = ("constant memory is for values every thread of a warp reads at once; index per-thread data in "
                   "global memory instead")
            out.append(Finding(tool="profiler", kind="constant-serialization", message=msg, severity="warning",
                               line=line, fix=fix))


def _atomics(col, t, out: list[Finding]) -> None:
    for line, pl in sorted(col.per_line.items()):
        m = pl.get("atomic_max_lanes_same_address", 0)
        if m >= 8:
            msg = (f"line {line}: up to {int(m)} threads of a warp update the same address atomically; "
                   "such updates are performed one after another")
            fix = "accumulate per block in shared memory (or per warp with shuffles) and merge once per block"
            out.append(Finding(tool="profiler", kind="atomic-contention", message=msg, severity="info", line=line,
                               fix=fix))


def _local(col, out: list[Finding]) -> None:
    for (space, line, kind), ex in sorted(col.examples.items(), key=lambda kv: kv[0][1]):
        if space == "local" and kind == "load":
            msg = (f"line {line}: the local array '{ex['array']}' lives in device memory (cached in L1/L2), "
                   "not in registers, because it is indexed with a value known only at run time")
            out.append(Finding(tool="profiler", kind="local-memory", message=msg, severity="info", line=line,
                               fix="index local arrays with compile-time constants (unrolled loops) or keep "
                                   "values in scalars"))


def _occupancy(col, occ, est, out: list[Finding]) -> None:
    if occ.blocks_per_sm == 0:
        return
    if occ.occupancy < 0.5 and set(occ.limiter) & {"registers", "shared", "warps", "blocks"}:
        lim = " and ".join({"warps": "threads per block", "blocks": "the blocks-per-SM limit",
                            "registers": "registers per thread", "shared": "shared memory per block"}[k]
                           for k in occ.limiter)
        fix = {"registers": "use fewer live variables or cap them with @cuda.jit(max_registers=...)",
               "shared": "use smaller shared tiles, or fewer bytes per element",
               "blocks": "use larger blocks (e.g. 128-256 threads)",
               "warps": "use a block size that divides the SM's thread limit"}[occ.limiter[0]]
        out.append(Finding(tool="profiler", kind="occupancy", severity="info", fix=fix,
                           message=f"{occ.explain()} ({lim})."))
    if col.nblocks < col.S:
        out.append(Finding(tool="profiler", kind="small-grid", severity="info",
                           message=f"only {col.nblocks} block(s) for {col.S} SMs: most of the chip is idle",
                           fix="launch at least one block per SM (more blocks, fewer threads each)"))


def profiler_findings(report, col, occ, est, totals) -> list[Finding]:
    """All findings of one profiled launch, most important first."""
    out: list[Finding] = []
    _global(col, report, out)
    _shared(col, report, out)
    _divergence(col, out)
    _const(col, out)
    _atomics(col, totals, out)
    _local(col, out)
    _occupancy(col, occ, est, out)
    out.append(Finding(tool="profiler", kind="estimate", severity="info",
                       message=f"estimated time {est.time_us:.4g} us ({est.cycles:,.0f} cycles + "
                               f"{est.launch_overhead_us:g} us launch overhead), bound by {est.bound}"))
    return out
