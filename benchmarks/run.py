"""Run the standard benchmark set and write ``benchmarks/RESULTS.md`` (the ``simtlab bench`` command).

For every benchmark, in one run and on the same seeded inputs:
- simtlab's emulator at full size: one warm-up run (it includes compilation; reported separately as
  "first run"), then the best of the timed runs; kernel launches only, data already on the device;
- the numpy expression computing the same result, at full size, timed the same way;
- numba's CUDA simulator in a subprocess, at a reduced size of the same kernel with the same work per
  thread (it runs only thousands of threads per second), launches only, best of up to 3 runs, its
  time scaled linearly by the ratio of threads launched;
- the peak memory a simtlab launch allocates (tracemalloc traces numpy's buffers), measured on a separate
  untimed run; for vector_add also at 4x and 16x the grid, to show that it is bounded by the emulator's
  chunk budget rather than by the grid.
Every result is checked against numpy; a wrong one is reported as FAIL. Targets are evaluated and stated
in the summary; nothing here asserts a wall-clock limit.

Usage: ``python -m benchmarks.run [--quick] [--only NAME[,NAME]] [--output PATH] [--repeat N] [--no-sim]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.kernels import BENCHMARKS, BY_NAME, Benchmark, Runner, Size, make_kernels  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "benchmarks" / "RESULTS.md"
MIN_TIMED_SECONDS = 0.2  # keep timing (at least --repeat runs) until this much time is measured
MAX_RUNS = 50
SIM_RUNS = 3  # numba's simulator: best of at most this many runs (fewer with --repeat 1 or 2)
PEAK_SCALES = (1, 4, 16)  # grid multiples at which vector_add's peak memory is measured

TARGET_MEDIAN_SPEEDUP = 1000.0
TARGET_MIN_SPEEDUP = 100.0
TARGET_ELEMENTWISE_RATIO = 10.0
TARGET_TILED_MATMUL_S = 2.0
TARGET_PEAK_GROWTH = 2.0  # peak at 16x the grid at most this times the peak at 1x


@dataclass
class SimResult:
    """numba's simulator on one benchmark at its reduced size (from the worker process)."""

    size: Size
    threads: int | None = None
    seconds: float | None = None
    runs: int = 0
    ok: bool = False
    detail: str = ""
    error: str | None = None


@dataclass
class Row:
    """Everything measured for one benchmark."""

    bench: Benchmark
    size: Size
    threads: int | None = None
    first_s: float | None = None
    seconds: float | None = None
    runs: int = 0
    numpy_s: float | None = None
    peak_mib: float | None = None
    ok: bool = False
    detail: str = ""
    error: str | None = None
    sim: SimResult | None = None

    @property
    def threads_per_s(self) -> float | None:
        return self.threads / self.seconds if self.threads and self.seconds else None

    @property
    def numpy_ratio(self) -> float | None:
        return self.seconds / self.numpy_s if self.seconds and self.numpy_s else None

    @property
    def sim_scaled_s(self) -> float | None:
        s = self.sim
        if s is None or s.seconds is None or not s.threads or not self.threads:
            return None
        return s.seconds * self.threads / s.threads

    @property
    def speedup(self) -> float | None:
        scaled = self.sim_scaled_s
        return scaled / self.seconds if scaled and self.seconds else None


@dataclass
class PeakPoint:
    """vector_add's launch peak memory at one grid size."""

    scale: int
    threads: int
    data_mib: float
    peak_mib: float | None = None
    error: str | None = None


@dataclass
class Report:
    """One run of the suite."""

    rows: list[Row]
    backend: str
    mode: str  # full, quick or test
    repeat: int
    sim_ran: bool
    sim_runs: int = 0
    kernels_load_s: float | None = None
    peaks: list[PeakPoint] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)


# --- measuring ---------------------------------------------------------------------------------------


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, int, Any]:
    """Best (least) seconds of ``fn()`` over at least ``repeat`` runs (more, up to MAX_RUNS, while less
    than MIN_TIMED_SECONDS have been measured); returns (best, runs, last result). The minimum, as timeit
    reports, because on a shared machine other work only ever adds time to a run."""
    times: list[float] = []
    result = None
    while len(times) < repeat or (sum(times) < MIN_TIMED_SECONDS and len(times) < MAX_RUNS):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), len(times), result


def _peak_mib(fn: Callable[[], Any]) -> float:
    """Peak bytes (MiB) allocated while ``fn()`` runs, above what was allocated when it started."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return (peak - base) / 2**20


def measure(bench: Benchmark, size: Size, cuda: Any, repeat: int, seed: int = 0) -> Row:
    """Time, check and measure the peak memory of one benchmark on the backend under test, and time
    the numpy expression on the same inputs."""
    row = Row(bench, size)
    try:
        inputs = bench.inputs(size, seed)
        numpy_s, _, expected = _timed(lambda: bench.numpy_expr(inputs), repeat)
        row.numpy_s = numpy_s
        runner = Runner(cuda)
        state = bench.prepare(cuda, inputs)
        cuda.synchronize()

        def once() -> Any:
            out = bench.run(runner, state)
            cuda.synchronize()
            return out

        t0 = time.perf_counter()
        first = once()
        row.first_s = time.perf_counter() - t0
        row.threads = runner.threads
        ok_first, detail_first = bench.check(bench.fetch(first), expected)
        row.seconds, row.runs, last = _timed(once, repeat)
        ok_last, detail_last = bench.check(bench.fetch(last), expected)
        row.ok = ok_first and ok_last
        row.detail = detail_first or detail_last
        row.peak_mib = _peak_mib(once)
    except Exception as exc:  # reported in the table, never hidden
        row.error = f"{type(exc).__name__}: {exc}"
    return row


def _bind_run(bench: Benchmark, runner: Runner, state: dict[str, Any]) -> Callable[[], None]:
    def once() -> None:
        bench.run(runner, state)
        runner.cuda.synchronize()

    return once


def measure_peaks(bench: Benchmark, size: Size, cuda: Any) -> list[PeakPoint]:
    """Peak launch memory of ``bench`` (a 1D elementwise kernel) at PEAK_SCALES times its size."""
    points = []
    for scale in PEAK_SCALES:
        big = (size[0] * scale, *size[1:])
        inputs = bench.inputs(big)
        data_mib = sum(a.nbytes for a in inputs.values()) * 1.5 / 2**20  # inputs + an output like a
        point = PeakPoint(scale, 0, data_mib)
        try:
            runner = Runner(cuda)
            state = bench.prepare(cuda, inputs)
            bench.run(runner, state)  # warm-up: compiled already, but caches may fill on first use
            cuda.synchronize()
            point.threads = runner.threads
            point.peak_mib = _peak_mib(_bind_run(bench, runner, state))
            del state
        except Exception as exc:
            point.error = f"{type(exc).__name__}: {exc}"
        points.append(point)
        gc.collect()
    return points


def run_simulator(jobs: list[tuple[str, Size]], runs: int, timeout_s: float) -> dict[str, SimResult]:
    """Run the jobs on numba's simulator in one subprocess (see sim_worker.py), each timed ``runs`` times
    (best of them); one SimResult per job."""
    results = {name: SimResult(size, error="no result from the simulator worker") for name, size in jobs}
    if not jobs:
        return results
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    request = {"jobs": [[n, list(s)] for n, s in jobs], "runs": runs}
    cmd = [sys.executable, "-m", "benchmarks.sim_worker", json.dumps(request)]
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
        stdout, stderr = proc.stdout, proc.stderr
        failure = f"worker exited with {proc.returncode}" if proc.returncode else ""
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr, failure = "", f"timed out after {timeout_s:.0f} s"
    for line in stdout.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("name") in results:
            results[rec["name"]] = SimResult(tuple(rec["size"]), rec["threads"], rec["seconds"],
                                             len(rec.get("times") or []), bool(rec["ok"]),
                                             rec.get("detail") or "", rec.get("error"))
    if failure:
        tail = stderr.strip().splitlines()[-1:] if stderr.strip() else []
        for res in results.values():
            if res.error == "no result from the simulator worker":
                res.error = "; ".join([failure, *tail])
    return results


def load_backend(name: str) -> Any:
    """The ``cuda`` module of the backend under test: simtlab's emulator, or (for developing the suite
    while the emulator is not ready) numba's simulator in this process."""
    if name == "simtlab":
        from simtlab.emulator import cuda

        return cuda
    if "numba.cuda" in sys.modules and os.environ.get("NUMBA_ENABLE_CUDASIM") != "1":
        raise RuntimeError("numba.cuda was imported without NUMBA_ENABLE_CUDASIM=1 in this process")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    from numba import cuda

    from benchmarks.sim_worker import install_shuffle_shim

    install_shuffle_shim()
    return cuda


# --- machine -----------------------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    """Where the numbers come from: CPU, cores, load, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = str(os.cpu_count())
    if hasattr(os, "sched_getaffinity"):
        cores += f" ({len(os.sched_getaffinity(0))} usable by this process)"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    import numpy as np

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": cpu,
        "logical cores": cores,
        "load average at start (1, 5, 15 min)": load,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "numba-cuda": _version("numba-cuda"),
        "simtlab": _version("simtlab"),
    }


# --- report ------------------------------------------------------------------------------------------


def _kernel_count() -> int:
    source = (REPO / "benchmarks" / "kernel_source.py").read_text()
    return sum(1 for line in source.splitlines() if line.strip() == "@cuda.jit")


def _s(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _g(x: float | None, suffix: str = "") -> str:
    if x is None:
        return "-"
    return f"{x:,.0f}{suffix}" if x >= 1000 else f"{x:.3g}{suffix}"


def _e(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _int(x: int | None) -> str:
    return "-" if x is None else f"{x:,}"


def _correct(row: Row) -> str:
    if row.error:
        return f"ERROR: {_cell(row.error)}"
    parts = ["ok" if row.ok else f"FAIL: {_cell(row.detail)}"]
    sim = row.sim
    if sim is not None:
        if sim.error:
            parts.append(f"sim ERROR: {_cell(sim.error)}")
        elif not sim.ok:
            parts.append(f"sim FAIL: {_cell(sim.detail)}")
    return "; ".join(parts)


def _cell(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _verdict(ok: bool | None) -> str:
    return "not measured" if ok is None else ("met" if ok else "NOT met")


def _judged(ok: bool | None, rows: list[Row]) -> str:
    """A target's verdict; a speed target over a benchmark whose result is wrong is not met."""
    wrong = [r.bench.name for r in rows if r.error or not r.ok]
    if wrong and ok is not None:
        return f"**NOT met** (wrong result: {', '.join(wrong)})"
    return f"**{_verdict(ok)}**"


def summary_lines(rep: Report) -> list[str]:
    """The targets of the issue, each with its measured value and a plain met / NOT met."""
    lines = []
    speedups = [(r.speedup, r.bench.name) for r in rep.rows if r.speedup is not None]
    if speedups:
        med = statistics.median(s for s, _ in speedups)
        low, low_name = min(speedups)
        missing = [r.bench.name for r in rep.rows if r.speedup is None]
        note = f" (no speed-up for: {', '.join(missing)})" if missing else ""
        lines.append(f"- Median speed-up over numba's simulator: **{_g(med, 'x')}** over {len(speedups)} "
                     f"benchmarks{note} (target >= {TARGET_MEDIAN_SPEEDUP:,.0f}x): "
                     + _judged(med >= TARGET_MEDIAN_SPEEDUP and not missing, rep.rows))
        lines.append(f"- Minimum speed-up over numba's simulator: **{_g(low, 'x')}** ({low_name}) "
                     f"(target: none below {TARGET_MIN_SPEEDUP:,.0f}x): "
                     + _judged(low >= TARGET_MIN_SPEEDUP and not missing, rep.rows))
    else:
        lines.append(f"- Speed-up over numba's simulator (targets: median >= {TARGET_MEDIAN_SPEEDUP:,.0f}x, "
                     f"none below {TARGET_MIN_SPEEDUP:,.0f}x): **not measured**")

    elementwise = [r for r in rep.rows if r.bench.elementwise]
    if elementwise:
        ratios = [r.numpy_ratio for r in elementwise]
        parts = ", ".join(f"{r.bench.name} {_g(r.numpy_ratio, 'x')}" for r in elementwise)
        ok = None if None in ratios else all(x <= TARGET_ELEMENTWISE_RATIO for x in ratios if x is not None)
        lines.append(f"- Elementwise kernels, simtlab time / numpy time: {parts} "
                     f"(target: each within {TARGET_ELEMENTWISE_RATIO:.0f}x): " + _judged(ok, elementwise))

    tiled = next((r for r in rep.rows if r.bench.name == "matmul_tiled"), None)
    if tiled is not None:
        at_full = tiled.size == (256, 256, 256)
        ok = None if tiled.seconds is None or not at_full else tiled.seconds < TARGET_TILED_MATMUL_S
        where = "" if at_full else f" at {tiled.bench.size_label(tiled.size)}, not 256^3"
        lines.append(f"- Tiled matmul 256^3 (tile 16): **{_s(tiled.seconds)} s**{where} "
                     f"(target < {TARGET_TILED_MATMUL_S:g} s): " + _judged(ok, [tiled]))

    if rep.peaks:
        pts = ", ".join(f"{_s(p.peak_mib)} MiB at {p.scale}x ({_int(p.threads)} threads)" for p in rep.peaks)
        first, last = rep.peaks[0].peak_mib, rep.peaks[-1].peak_mib
        ok = None if first is None or last is None else last <= TARGET_PEAK_GROWTH * max(first, 1e-9)
        lines.append(f"- Launch peak memory bounded by the chunk budget, not the grid (vector_add: {pts}; "
                     f"rule: the peak at {PEAK_SCALES[-1]}x the grid is at most {TARGET_PEAK_GROWTH:g}x "
                     f"the peak at 1x): **{_verdict(ok)}**")

    wrong = [r.bench.name for r in rep.rows if r.error or not r.ok]
    sim_wrong = [r.bench.name for r in rep.rows if r.sim is not None and (r.sim.error or not r.sim.ok)]
    lines.append(f"- Every simtlab result equal to numpy's (within the stated tolerance): "
                 f"**{_verdict(not wrong)}**" + (f" (FAIL or ERROR: {', '.join(wrong)})" if wrong else ""))
    if rep.sim_ran:
        lines.append(f"- Every simulator result equal to numpy's: **{_verdict(not sim_wrong)}**"
                     + (f" (FAIL or ERROR: {', '.join(sim_wrong)})" if sim_wrong else ""))
    return lines


def render(rep: Report) -> str:
    """RESULTS.md's text."""
    out = ["<!-- Generated by benchmarks/run.py (`simtlab bench`); do not edit by hand. -->", "",
           "# simtlab benchmark results", ""]
    if rep.backend != "simtlab":
        out += [f"**Development run: the backend under test is `{rep.backend}`, not simtlab's emulator; the "
                "\"simtlab\" columns below measure it.**", ""]
    if rep.mode != "full":
        out += [f"**{rep.mode.capitalize()} run: sizes are smaller than the issue's, so the targets below "
                "are indicative only.**", ""]
    out += ["## Machine", ""]
    out += [f"- {k}: {v}" for k, v in rep.machine.items()]
    out += ["", "## Results", "",
            f"simtlab and numpy: the same seeded inputs at the size shown; one warm-up run (it includes "
            f"compilation: *first run s*), then the best of at least {rep.repeat} timed runs (more while "
            f"under {MIN_TIMED_SECONDS:g} s in total). simtlab times are the kernel launches only, with the "
            "data already on the device. *threads* counts every thread launched (grid x block, over all "
            "launches); *threads/s* is threads / simtlab s. Loading the kernel module (decorating its "
            f"{_kernel_count()} kernels) took {_s(rep.kernels_load_s)} s before any of this.", "",
            "numba's CUDA simulator (`NUMBA_ENABLE_CUDASIM=1`, a separate process) runs one OS thread per "
            "CUDA thread, so it is timed at the smaller *sim size* of the same kernel, chosen so that each "
            "thread does the same work as at full size (a matmul keeps K and drops rows), launches only, "
            f"best of {rep.sim_runs} run(s); **sim s scaled = sim s measured x threads / sim threads** "
            "(linear in threads). "
            "*speed-up* = sim s scaled / simtlab s. numba's simulator has no warp shuffles, so the worker "
            "gives it `shfl_down_sync` (a barrier over the warp's threads) for reduce_warp.", "",
            "*peak MiB*: the most memory (numpy buffers included, traced by tracemalloc) allocated during "
            "one simtlab run beyond what was allocated before it (inputs and outputs are already on the "
            "device).",
            ""]
    header = ["benchmark", "size", "threads", "simtlab s", "first run s", "threads/s", "numpy s",
              "simtlab / numpy", "sim size", "sim threads", "sim s (measured)", "sim s (scaled)",
              "speed-up vs sim", "peak MiB", "correct"]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rep.rows:
        sim = r.sim
        cells = [r.bench.name, r.bench.size_label(r.size), _int(r.threads), _s(r.seconds), _s(r.first_s),
                 _e(r.threads_per_s), _s(r.numpy_s), _g(r.numpy_ratio, "x"),
                 r.bench.size_label(sim.size) if sim else "not run", _int(sim.threads) if sim else "-",
                 _s(sim.seconds) if sim else "-", _s(r.sim_scaled_s), _g(r.speedup, "x"),
                 _s(r.peak_mib), _correct(r)]
        out.append("| " + " | ".join(cells) + " |")
    out += ["", "Benchmarks:", ""]
    out += [f"- `{r.bench.name}`: {r.bench.description}" for r in rep.rows]
    if rep.peaks:
        out += ["", "## Launch peak memory versus grid size (vector_add)", "",
                "| grid | threads | arrays MiB (inputs + output, on the device before the launch) | "
                "launch peak MiB |", "|---|---|---|---|"]
        for p in rep.peaks:
            peak = f"ERROR: {_cell(p.error)}" if p.error else _s(p.peak_mib)
            out.append(f"| {p.scale}x | {_int(p.threads)} | {_s(p.data_mib)} | {peak} |")
    out += ["", "## Summary", "", *summary_lines(rep), ""]
    return "\n".join(out)


# --- command line ------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simtlab bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller sizes and fewer repeats; writes RESULTS.md only when --output is given")
    p.add_argument("--only", metavar="NAME[,NAME]", help="run only these benchmarks: "
                   + ", ".join(b.name for b in BENCHMARKS))
    default = DEFAULT_OUTPUT.relative_to(REPO)
    p.add_argument("--output", metavar="PATH", type=Path,
                   help=f"where to write the results (default {default} for a full run)")
    p.add_argument("--repeat", type=int, metavar="N", help="timed runs per measurement (default 5, quick 2)")
    p.add_argument("--no-sim", action="store_true", help="skip numba's simulator")
    # development only: validate the suite on numba's simulator while the emulator is not ready
    p.add_argument("--backend", choices=["simtlab", "numba-sim"], default="simtlab", help=argparse.SUPPRESS)
    p.add_argument("--size", choices=["full", "quick", "test"], help=argparse.SUPPRESS)
    p.add_argument("--sim-timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite; returns 0 when every result is correct, 1 when any is wrong, 2 on a usage error."""
    args = _parser().parse_args(argv)
    mode = args.size or ("quick" if args.quick else "full")
    repeat = args.repeat if args.repeat is not None else (5 if mode == "full" else 2)
    if repeat < 1:
        _log("--repeat must be at least 1")
        return 2
    names = [n.strip() for n in args.only.split(",") if n.strip()] if args.only else list(BY_NAME)
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        _log(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(BY_NAME)}")
        return 2
    benches = [BY_NAME[n] for n in names]
    try:
        cuda = load_backend(args.backend)
    except Exception as exc:
        _log(f"cannot load the {args.backend} backend: {type(exc).__name__}: {exc}")
        return 2

    rep = Report(rows=[], backend=args.backend, mode=mode, repeat=repeat, sim_ran=not args.no_sim,
                 sim_runs=min(repeat, SIM_RUNS), machine=machine_info())
    t0 = time.perf_counter()
    try:
        make_kernels(cuda)  # decorating every kernel: compilation too, where a backend compiles eagerly
    except Exception as exc:
        _log(f"the benchmark kernels do not load on {args.backend}: {type(exc).__name__}: {exc}")
        return 1
    rep.kernels_load_s = time.perf_counter() - t0
    for bench in benches:
        size: Size = getattr(bench, mode)
        _log(f"{bench.name} {bench.size_label(size)}: {args.backend} and numpy ...")
        row = measure(bench, size, cuda, repeat)
        rep.rows.append(row)
        _log(f"  {args.backend} {_s(row.seconds)} s (first {_s(row.first_s)} s), numpy {_s(row.numpy_s)} s, "
             f"{_correct(row)}")
        if bench.name == "vector_add":
            _log("  vector_add peak memory at " + ", ".join(f"{k}x" for k in PEAK_SCALES) + " the grid ...")
            # always from the full size: below one chunk's worth of threads the peak grows with the grid
            rep.peaks = measure_peaks(bench, bench.full, cuda)

    if not args.no_sim:
        jobs = [(r.bench.name, r.bench.sim_size(r.size)) for r in rep.rows]
        _log(f"numba's simulator (subprocess) on {len(jobs)} benchmark(s) at reduced sizes ...")
        sims = run_simulator(jobs, min(repeat, SIM_RUNS), args.sim_timeout)
        for r in rep.rows:
            r.sim = sims[r.bench.name]

    text = render(rep)
    output = args.output
    if output is None and mode == "full" and args.backend == "simtlab":
        output = DEFAULT_OUTPUT
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text)
        _log(f"wrote {output}")
    print(text)
    bad = any(r.error or not r.ok for r in rep.rows)
    bad = bad or any(r.sim is not None and (r.sim.error is not None or not r.sim.ok) for r in rep.rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
