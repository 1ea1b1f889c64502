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

    def add_metric(self, name: str, label: str, value: float, unit: str = "", estimated: bool = False) -> None:
        self.metrics[name] = Metric(name, label, value, unit, estimated)

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

    def __str__(self) -> str:
        g = "x".join(map(str, self.grid))
        b = "x".join(map(str, self.block))
        lines = [f"kernel {self.kernel}  grid {g}  block {b}  on chip '{self.chip}'"]
        if self.sampled_blocks is not None:
            lines.append(f"  (profiled a sample of {self.sampled_blocks} of {self.total_blocks} blocks; "
                         "counts are scaled to the whole grid and results were not written back)")
        if self.metrics:
            w = max(len(m.label) for m in self.metrics.values())
            for m in self.metrics.values():
                tag = "  (estimated)" if m.estimated else ""
                val = f"{m.value:,.4g}" if isinstance(m.value, float) else f"{m.value:,}"
                lines.append(f"  {m.label:<{w}}  {val} {m.unit}{tag}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        if self.findings:
            lines.append(f"  {len(self.findings)} finding(s):")
            lines.extend("  " + str(f).replace("\n", "\n  ") for f in self.findings)
        return "\n".join(lines)
