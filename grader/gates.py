"""Performance gates for lab test cells, on counted metrics rather than wall-clock time.

`check_metrics` profiles one launch of the student's kernel with the emulator's profiler
(``cuda.profile``, whose reports carry metrics under their Nsight Compute names and per-source-line
tables) and fails with a teaching message when a gate is not met:

* ``max_sectors_per_request``: no line's global loads/stores touch more 32-byte sectors per warp
  request than this (4 is perfect for 4-byte elements read by a full warp);
* ``max_load_bytes`` / ``max_store_bytes``: global memory traffic (32-byte sectors moved between
  the SMs and L2, in bytes) at most this much: "every element read once and written once" is the
  arrays' sizes rounded up to whole sectors;
* ``max_bank_conflicts``: at most this many shared-memory bank conflicts (0: none), per launch;
* ``time_within``: the model's estimated time is at most this factor times the reference
  solution's, on the same input and chip;
* ``limits``: any metric by its Nsight Compute name (or label) at most a value.

Counted metrics are exact and deterministic, so a gate never fails by luck or because the grading
machine was busy. The estimate is a model (labelled so in messages).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .checks import CheckFailure, Size, _as_tuple, _kernel_name, default_launch, source_line

__all__ = ["check_metrics", "profile_launch", "sector_bytes", "GraderSetupError", "MetricResult",
           "line_sectors_per_request", "METRIC_TIME", "METRIC_BANK_CONFLICTS", "METRIC_SECTORS_PER_REQUEST"]

#: Nsight Compute names the gates read (the profiler's `LaunchReport.metrics` keys)
METRIC_TIME = "gpu__time_duration.sum"
METRIC_BANK_CONFLICTS = "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum"
METRIC_SECTORS_PER_REQUEST = "l1tex__average_t_sectors_per_request_pipe_lsu_mem_global_op_{op}.ratio"
METRIC_SECTORS = "l1tex__t_sectors_pipe_lsu_mem_global_op_{op}.sum"
METRIC_REQUESTS = "l1tex__t_requests_pipe_lsu_mem_global_op_{op}.sum"
#: per-line keys of `LaunchReport.per_line`
_LINE_REQ = "global_{op}_requests"
_LINE_SEC = "global_{op}_sectors"
_LINE_IDEAL = "global_{op}_ideal"
_OPS = {"load": ("ld",), "store": ("st",), "both": ("ld", "st")}
_OP_WORD = {"ld": "loads", "st": "stores"}
_VERB = {"ld": "read", "st": "written"}
_WHY_BYTES = {"ld": "what reading every input element once needs", "st": "what writing every output element once needs"}
SECTOR_BYTES = 32


def sector_bytes(*arrays: Any) -> int:
    """Bytes of global-memory traffic that touching each element of `arrays` once costs: every
    array's size rounded up to whole 32-byte sectors (allocations are sector-aligned)."""
    return sum(-(-int(np.asarray(a).nbytes) // SECTOR_BYTES) * SECTOR_BYTES for a in arrays)


def _worst_line(report: Any, op: str, first: int | None) -> str:
    rows = [(float(d.get(_LINE_SEC.format(op=op), 0.0) or 0.0), line)
            for line, d in (getattr(report, "per_line", {}) or {}).items()]
    rows = [r for r in rows if r[0] > 0]
    if not rows:
        return ""
    sectors, line = max(rows)
    return f"\n    the most traffic: {_line_ref(report, line, first)} ({int(sectors):,} sectors)"


class GraderSetupError(RuntimeError):
    """The lab's test is set up wrongly or the emulator lacks what it needs (not the student's fault)."""


@dataclass
class MetricResult:
    """What `check_metrics` measured (returned by `run_metrics`)."""

    kernel: str
    values: dict[str, float] = field(default_factory=dict)
    report: Any = None
    reference_report: Any = None


@contextlib.contextmanager
def _maybe_chip(chip: Any) -> Iterator[None]:
    if chip is None:
        yield
        return
    from simtlab.emulator.chips import use_chip

    with use_chip(chip):
        yield


def profile_launch(kernel: Any, run: Callable[[], Any], registers: int | str | None = None) -> Any:
    """Run `run()` (which launches `kernel`) under the profiler and return that launch's `LaunchReport`.

    Uses ``with cuda.profile() as session:`` and the session's ``reports``; falls back to
    ``kernel.last_report`` when the session keeps none. Raises `GraderSetupError` if this simtlab
    has no profiler. `registers` is passed on to ``cuda.profile`` (None: its default).
    """
    from simtlab.emulator import cuda

    profile = getattr(cuda, "profile", None)
    if profile is None:
        raise GraderSetupError("metric gates need the emulator's profiler (cuda.profile), which this simtlab "
                               "installation does not provide")
    with (profile() if registers is None else profile(registers=registers)) as session:
        run()
    name = _kernel_name(kernel)
    reports = [r for r in (getattr(session, "reports", None) or []) if getattr(r, "kernel", name) == name]
    if reports:
        return reports[-1]
    last = getattr(kernel, "last_report", None)
    if last is not None and getattr(last, "metrics", None):
        return last
    raise GraderSetupError(f"the profiler returned no report for a launch of {name}; is `launch` launching it?")


def _metric(report: Any, name: str, default: float | None = None) -> float | None:
    metrics = getattr(report, "metrics", {}) or {}
    if name in metrics:
        return float(metrics[name].value)
    for m in metrics.values():
        if getattr(m, "label", None) == name:
            return float(m.value)
    return default


def line_sectors_per_request(report: Any, ops: Sequence[str] = ("ld", "st")) -> list[tuple[int, str, float, float]]:
    """(line, op, sectors per request, ideal sectors per request) for every line with global accesses."""
    out = []
    for line, d in sorted((getattr(report, "per_line", {}) or {}).items()):
        for op in ops:
            req = float(d.get(_LINE_REQ.format(op=op), 0.0) or 0.0)
            if req <= 0:
                continue
            sec = float(d.get(_LINE_SEC.format(op=op), 0.0) or 0.0)
            ideal = d.get(_LINE_IDEAL.format(op=op))
            out.append((int(line), op, sec / req, float(ideal) / req if ideal else float("nan")))
    return out


def _line_ref(report: Any, line: int, firstline: int | None) -> str:
    text = source_line(getattr(report, "filename", None), line)
    rel = f" (line {line - firstline + 1} of the kernel)" if firstline else ""
    return f"line {line}{rel}" + (f": `{text}`" if text else "")


def _firstline(kernel: Any) -> int | None:
    f = getattr(kernel, "py_func", None)
    code = getattr(f, "__code__", None)
    return getattr(code, "co_firstlineno", None)


def _line_matches(report: Any, line: int, lines: Any) -> bool:
    if lines is None:
        return True
    if isinstance(lines, str):
        return lines in source_line(getattr(report, "filename", None), line)
    if isinstance(lines, int):
        return line == lines
    return line in set(lines)


def check_metrics(kernel: Any, inputs: Callable[[np.random.Generator, Size], tuple], size: Size, *,
                  threads: int | Sequence[int] = 128, launch: Callable[[Any, tuple, Size], Any] | None = None,
                  seed: int = 0, chip: Any = None, max_sectors_per_request: float | None = None,
                  access: str = "both", lines: Any = None, max_bank_conflicts: int | None = None,
                  max_load_bytes: int | None = None, max_store_bytes: int | None = None,
                  time_within: float | None = None, reference: Any = None,
                  reference_launch: Callable[[Any, tuple, Size], Any] | None = None,
                  limits: Mapping[str, float] | None = None, quiet: bool = False) -> None:
    """Profile one launch of `kernel` on ``inputs(rng, size)`` and enforce the performance gates.

    max_sectors_per_request: the most 32-byte sectors one warp's global access may touch, per line
        (``access``: "load", "store" or "both"; ``lines``: a substring of the lines to judge, a line
        number or a list of them; default every line).
    max_bank_conflicts: the most shared-memory bank conflicts in the launch (0 for none).
    max_load_bytes, max_store_bytes: the most global-memory bytes loaded / stored, counted in whole
        32-byte sectors (`sector_bytes(array)` gives an array's size rounded up to sectors).
    time_within, reference: the estimated time may be at most ``time_within`` times that of the
        `reference` kernel launched the same way (``reference_launch`` if it is launched differently).
    limits: other metrics, ``{"Nsight Compute name or label": maximum}``.
    chip: the chip to profile on (default: the active chip).

    Raises `CheckFailure` naming the metric, the line and what to look at. Returns None (a value
    would be read by nbgrader as partial credit); `run_metrics` returns the measurements.
    """
    __tracebackhide__ = True
    run_metrics(kernel, inputs, size, threads=threads, launch=launch, seed=seed, chip=chip,
                max_sectors_per_request=max_sectors_per_request, access=access, lines=lines,
                max_bank_conflicts=max_bank_conflicts, max_load_bytes=max_load_bytes,
                max_store_bytes=max_store_bytes, time_within=time_within, reference=reference,
                reference_launch=reference_launch, limits=limits, quiet=quiet)


def run_metrics(kernel: Any, inputs: Callable[[np.random.Generator, Size], tuple], size: Size, *,
                threads: int | Sequence[int] = 128, launch: Callable[[Any, tuple, Size], Any] | None = None,
                seed: int = 0, chip: Any = None, max_sectors_per_request: float | None = None,
                access: str = "both", lines: Any = None, max_bank_conflicts: int | None = None,
                max_load_bytes: int | None = None, max_store_bytes: int | None = None,
                time_within: float | None = None, reference: Any = None,
                reference_launch: Callable[[Any, tuple, Size], Any] | None = None,
                limits: Mapping[str, float] | None = None, quiet: bool = False) -> MetricResult:
    """`check_metrics` returning a `MetricResult` with the measured values when every gate passes."""
    __tracebackhide__ = True
    if access not in _OPS:
        raise ValueError(f"access must be one of {', '.join(_OPS)}")
    if time_within is not None and reference is None:
        raise ValueError("time_within needs the reference kernel (reference=...)")
    kname = _kernel_name(kernel)
    launcher = launch or default_launch(threads)
    rng = np.random.default_rng([seed, 0x9A7E])
    args = _as_tuple(inputs(rng, size))
    size_text = f"n={size}" if isinstance(size, int) else "shape=" + "x".join(map(str, size))
    head = f"check_metrics({kname}) on {size_text}"
    with _maybe_chip(chip):
        # Sector, traffic and bank-conflict counts do not depend on registers per thread; only the estimated time and
        # occupancy do. Without those gates the emulator's estimate is enough, and grading skips the real compiler.
        registers = None if (time_within is not None or limits) else "estimate"
        try:
            report = profile_launch(kernel, lambda: launcher(kernel, args, size), registers)
        except (GraderSetupError, CheckFailure, NotImplementedError):
            raise
        except Exception as exc:
            raise CheckFailure(f"{head}: the launch raised {type(exc).__name__}: "
                               + str(exc).replace("\n", "\n  ")) from None
        ref_report = None
        if time_within is not None:
            ref_args = _as_tuple(inputs(np.random.default_rng([seed, 0x9A7E]), size))
            rl = reference_launch or launcher
            ref_report = profile_launch(reference, lambda: rl(reference, ref_args, size), registers)
    result = MetricResult(kname, report=report, reference_report=ref_report)
    chip_name = getattr(report, "chip", "") or ""
    on_chip = f" on the '{chip_name}' chip" if chip_name else ""
    failures: list[str] = []
    first = _firstline(kernel)

    if max_sectors_per_request is not None:
        per_line = [x for x in line_sectors_per_request(report, _OPS[access]) if _line_matches(report, x[0], lines)]
        if per_line:
            worst = max(per_line, key=lambda x: x[2])
            result.values["sectors_per_request"] = worst[2]
            bad = [x for x in per_line if x[2] > max_sectors_per_request + 1e-9]
            for line, op, spr, ideal in bad[:3]:
                ideal_text = f"; the ideal for this access is {ideal:.3g}" if ideal == ideal else ""
                failures.append(
                    f"  global {_OP_WORD[op]} at {_line_ref(report, line, first)}\n"
                    f"    touch {spr:.3g} sectors per request (at most {max_sectors_per_request:g} allowed"
                    f"{ideal_text})\n"
                    "    look at: consecutive threads (threadIdx.x) should access consecutive addresses; for a "
                    "row-major 2-D array, threadIdx.x must index the last (column) axis")
        else:
            for op in _OPS[access]:
                v = _metric(report, METRIC_SECTORS_PER_REQUEST.format(op=op))
                if v is None:
                    continue
                result.values[f"sectors_per_request_{op}"] = v
                if v > max_sectors_per_request + 1e-9:
                    failures.append(f"  global {_OP_WORD[op]}: {v:.3g} sectors per request on average (at most "
                                    f"{max_sectors_per_request:g} allowed); look at: consecutive threads should "
                                    "access consecutive addresses")

    if max_bank_conflicts is not None:
        total = _metric(report, METRIC_BANK_CONFLICTS, 0.0) or 0.0
        result.values["bank_conflicts"] = total
        if total > max_bank_conflicts:
            where = ""
            rows = []
            for line, d in sorted((getattr(report, "per_line", {}) or {}).items()):
                c = float(d.get("shared_ld_conflicts", 0.0) or 0.0) + float(d.get("shared_st_conflicts", 0.0) or 0.0)
                if c > 0:
                    rows.append((c, line, d.get("shared_ways")))
            if rows:
                c, line, ways = max(rows)
                way = f", up to {int(ways)}-way" if ways else ""
                where = f"\n    most of them at {_line_ref(report, line, first)} ({c:,.0f} conflicts{way})"
            failures.append(
                f"  shared memory: {total:,.0f} bank conflicts (at most {max_bank_conflicts} allowed){where}\n"
                "    look at: threads of a warp that access different 4-byte words in the same bank (address / 4 "
                "% 32) are serialised; a column of a [32][32] tile hits one bank, pad it to [32][33]")

    for op, most in (("ld", max_load_bytes), ("st", max_store_bytes)):
        if most is None:
            continue
        sectors = _metric(report, METRIC_SECTORS.format(op=op), 0.0) or 0.0
        moved = int(sectors) * SECTOR_BYTES
        result.values[f"global_{op}_bytes"] = moved
        if moved > most:
            failures.append(
                f"  global {_OP_WORD[op]} moved {moved:,} bytes ({int(sectors):,} sectors of {SECTOR_BYTES} bytes); at "
                f"most {int(most):,} allowed ({_WHY_BYTES[op]})\n"
                f"    look at: each element should be {_VERB[op]} once, by one thread, and the threads of a warp "
                "should touch neighbouring elements so that every 32-byte sector they move is used in full"
                + _worst_line(report, op, first))

    if time_within is not None:
        t = _metric(report, METRIC_TIME)
        tr = _metric(ref_report, METRIC_TIME)
        if t is None or tr is None:
            raise GraderSetupError(f"the profiler's report has no '{METRIC_TIME}' (estimated time)")
        result.values["estimated_time"] = t
        result.values["reference_time"] = tr
        if t > time_within * tr + 1e-12:
            failures.append(
                f"  estimated time (a model of the chip, not a measurement): {t:,.4g} us, {t / tr:.2f}x the "
                f"reference solution's {tr:,.4g} us (at most {time_within:g}x allowed)\n"
                "    look at: profile the kernel (%%profile) and compare its memory traffic and instruction counts "
                "with what the exercise needs; the per-line table shows where the time goes")

    for metric_name, limit in (limits or {}).items():
        v = _metric(report, metric_name)
        if v is None:
            raise GraderSetupError(f"the profiler's report has no metric '{metric_name}'")
        result.values[metric_name] = v
        if v > limit:
            failures.append(f"  {metric_name}: {v:,.6g} (at most {limit:,.6g} allowed)")

    if failures:
        raise CheckFailure(f"{head}{on_chip}: {len(failures)} performance gate(s) not met\n" + "\n".join(failures))
    if not quiet:
        parts = []
        if "sectors_per_request" in result.values:
            parts.append(f"worst line {result.values['sectors_per_request']:.3g} sectors/request")
        if "bank_conflicts" in result.values:
            parts.append(f"{result.values['bank_conflicts']:,.0f} bank conflicts")
        if "estimated_time" in result.values:
            parts.append(f"estimated time {result.values['estimated_time'] / result.values['reference_time']:.2f}x "
                         "the reference")
        print(f"check_metrics({kname}): all gates met{on_chip}" + (f" ({'; '.join(parts)})" if parts else ""))
    return result
