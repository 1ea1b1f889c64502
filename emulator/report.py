"""``LaunchReport``: what one launch did, as counted, estimated and checked by the attached tools.

The engine creates one report per launch and hands it to observers through
``LaunchInfo.report``; the profiler fills in metrics (each under its Nsight Compute name with a
friendly label, estimates marked as such) and per-line tables, the sanitizer adds findings. The
report is kept on the kernel (``kernel.last_report``) and returned by profiling sessions;
widgets and graders read reports, never the engine.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Metric:
    """One metric. ``estimated`` marks figures of the timing model (not counted)."""

    name: str            # Nsight Compute name, e.g. "l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"
    label: str           # friendly label, e.g. "global load sectors"
    value: float
    unit: str = ""
    estimated: bool = False
    section: str = ""    # heading the metric is shown under ("global memory", "estimated time ...")


@dataclass
class Finding:
    """Something a student should know: a sanitizer hazard or a profiler hint."""

    tool: str            # "memcheck", "racecheck", "synccheck", "initcheck", "profiler"
    kind: str            # e.g. "out-of-bounds", "read-after-write", "bank-conflict"
    message: str
    severity: str = "error"      # "error", "warning", "info"
    line: int | None = None
    other_line: int | None = None
    array: str | None = None
    index: tuple | None = None
    address: int | None = None
    block: tuple | None = None
    thread: tuple | None = None
    other_block: tuple | None = None
    other_thread: tuple | None = None
    more: int = 0                # how many more occurrences of the same finding
    fix: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else ""
        if self.other_line:
            where += f" / line {self.other_line}"
        if where and self.message.startswith(where + ":"):
            where = ""  # the message already starts with "line N:"
        s = f"[{self.tool}] {self.kind}" + (f" at {where}" if where else "") + f": {self.message}"
        if self.block is not None:
            s += f" (blockIdx={self.block}, threadIdx={self.thread}"
            if self.other_block is not None:
                s += f" vs blockIdx={self.other_block}, threadIdx={self.other_thread}"
            s += ")"
        if self.more:
            s += f" (+{self.more} more)"
        if self.fix:
            s += f"\n    fix: {self.fix}"
        return s


@dataclass
class LaunchReport:
    """Metrics, per-line tables and findings of one launch."""

    kernel: str
    grid: tuple
    block: tuple
    chip: str
    filename: str = ""
    dynshared: int = 0
    metrics: dict[str, Metric] = field(default_factory=dict)
    per_line: dict[int, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    findings: list[Finding] = field(default_factory=list)
    sampled_blocks: int | None = None     # set when only a sample of blocks ran
    total_blocks: int = 0
    notes: list[str] = field(default_factory=list)
    estimate: dict | None = None          # the timing model's details (profiler); see docs/timing-model.md
    occupancy: dict | None = None         # the occupancy calculator's answer (profiler)
    bound: str = ""                       # what limits the estimated time ("DRAM", "latency", ...)
    registers_note: str = ""              # how registers per thread were obtained
    registers_source: str = ""            # "compiler" (real toolchain), "estimate" (simtlab) or "given"

    def add_metric(self, name: str, label: str, value: float, unit: str = "", estimated: bool = False,
                   section: str = "") -> None:
        self.metrics[name] = Metric(name, label, value, unit, estimated, section)

    def add_line_metric(self, line: int, name: str, value: float) -> None:
        self.per_line[line][name] = self.per_line[line].get(name, 0) + value

    def add_finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def __getitem__(self, name: str) -> float:
        """A metric's value by its Nsight Compute name or its label."""
        if name in self.metrics:
            return self.metrics[name].value
        for m in self.metrics.values():
            if m.label == name:
                return m.value
        raise KeyError(f"no metric '{name}' in this report (have: {', '.join(sorted(self.metrics))})")

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def get(self, name: str, default: float | None = None) -> float | None:
        """A metric's value by name or label, or `default` when the report has no such metric."""
        try:
            return self[name]
        except KeyError:
            return default

    @property
    def time_us(self) -> float | None:
        """The estimated time in microseconds (None when the launch was not profiled)."""
        m = self.metrics.get("gpu__time_duration.sum")
        return None if m is None else m.value

    def line(self, line: int) -> dict[str, float]:
        """The per-line counters of one source line (empty when the line did nothing)."""
        return dict(self.per_line.get(line, {}))

    def line_table(self, limit: int | None = 12, source: bool = True) -> str:
        """The per-line counters as a text table (busiest lines first when `limit` cuts it short)."""
        rows = [(ln, d) for ln, d in self.per_line.items()
                if d.get("inst") or any(k.endswith(("_requests", "branches")) and v for k, v in d.items())]
        if not rows:
            return ""
        if limit is not None and len(rows) > limit:
            rows = sorted(rows, key=lambda r: -r[1].get("inst", 0.0))[:limit]
        rows.sort()
        cols = [("inst", "warp inst"), ("sectors/req", "sect/req"), ("ideal/req", "ideal"),
                ("shared_wavefronts", "shm wavefr"), ("shared_ways", "N-way"), ("divergent_branches", "diverg"),
                ("l1_hits", "L1 hit"), ("dram_sectors", "DRAM sect")]
        table = []
        for ln, d in rows:
            req = sum(d.get(f"{s}_{o}_requests", 0.0) for s in ("global", "local") for o in ("ld", "st", "atom"))
            sec = sum(d.get(f"{s}_{o}_sectors", 0.0) for s in ("global", "local") for o in ("ld", "st", "atom"))
            idl = sum(d.get(f"{s}_{o}_ideal", 0.0) for s in ("global", "local") for o in ("ld", "st", "atom"))
            shw = sum(d.get(f"shared_{o}_wavefronts", 0.0) for o in ("ld", "st", "atom"))
            loads = d.get("l1_hits", 0.0) + d.get("l2_hits", 0.0) + d.get("dram_sectors", 0.0)
            vals = {"inst": d.get("inst", 0.0), "sectors/req": sec / req if req else None,
                    "ideal/req": idl / req if req else None, "shared_wavefronts": shw or None,
                    "shared_ways": d.get("shared_ways") if shw else None,
                    "divergent_branches": d.get("divergent_branches") if d.get("branches") else None,
                    "l1_hits": (f"{100 * d.get('l1_hits', 0.0) / loads:.0f}%" if loads else None),
                    "dram_sectors": d.get("dram_sectors") or None}
            text = ""
            if source and self.filename:
                import linecache
                text = linecache.getline(self.filename, ln).strip()
            table.append((ln, [_cell(vals[k]) for k, _ in cols], text))
        widths = [max(len(t), *(len(r[1][i]) for r in table)) for i, (_, t) in enumerate(cols)]
        head = "  line " + " ".join(f"{t:>{w}}" for (_, t), w in zip(cols, widths)) + "  source"
        out = [head]
        for ln, cells, text in table:
            out.append(f"  {ln:>4} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + f"  {text[:60]}")
        return "\n".join(out)

    def to_dict(self) -> dict:
        """A JSON-able copy (for graders, widgets and files): metrics, per-line tables, findings."""
        from dataclasses import asdict
        return {
            "kernel": self.kernel, "grid": list(self.grid), "block": list(self.block), "chip": self.chip,
            "filename": self.filename, "dynshared": self.dynshared, "sampled_blocks": self.sampled_blocks,
            "total_blocks": self.total_blocks, "notes": list(self.notes), "bound": self.bound,
            "metrics": {n: {"label": m.label, "value": _plain(m.value), "unit": m.unit, "estimated": m.estimated,
                            "section": m.section} for n, m in self.metrics.items()},
            "per_line": {str(ln): {k: _plain(v) for k, v in d.items()} for ln, d in sorted(self.per_line.items())},
            "findings": [{k: _plain(v) for k, v in asdict(f).items()} for f in self.findings],
            "estimate": _plain(self.estimate), "occupancy": _plain(self.occupancy),
            "registers_note": self.registers_note, "registers_source": self.registers_source,
        }

    def __str__(self) -> str:
        g = "x".join(map(str, self.grid))
        b = "x".join(map(str, self.block))
        lines = [f"kernel {self.kernel}  grid {g}  block {b}  on chip '{self.chip}'"]
        if self.sampled_blocks is not None:
            lines.append(f"  (profiled a sample of {self.sampled_blocks} of {self.total_blocks} blocks; "
                         "counts are scaled to the whole grid and results were not written back)")
        if self.metrics:
            w = max(len(m.label) for m in self.metrics.values())
            section = None
            for m in sorted(self.metrics.values(), key=lambda m: _section_rank(m.section)):
                if m.section and m.section != section:
                    section = m.section
                    lines.append(f" {section}:")
                tag = "  (estimated)" if m.estimated else ""
                val = f"{m.value:,.4g}" if isinstance(m.value, float) else f"{m.value:,}"
                lines.append(f"  {m.label:<{w}}  {val} {m.unit}{tag}")
            if self.bound:
                lines.append(f"  {'bound by':<{w}}  {self.bound}  (estimated)")
        table = self.line_table()
        if table:
            lines.append(" per line:")
            lines.append(table)
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.findings:
            lines.append(f"  {len(self.findings)} finding(s):")
            lines.extend("  " + str(f).replace("\n", "\n  ") for f in self.findings)
        return "\n".join(lines)


_SECTIONS = ("", "launch", "occupancy", "instructions", "branches", "global memory", "caches", "shared memory",
             "constant memory", "estimated time (a model, not a measurement)", "stalls (estimated)")


def _section_rank(section: str) -> int:
    return _SECTIONS.index(section) if section in _SECTIONS else len(_SECTIONS)


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if float(v).is_integer():
        return f"{int(v):,}"
    return f"{v:.3g}"


def _plain(v):
    """numpy scalars and containers to plain Python (JSON-able)."""
    import numpy as np
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v
