"""``cuda.profile``: profile launches and get their `LaunchReport`s.

Two forms::

    with cuda.profile() as prof:          # every launch inside is profiled
        kernel[grid, block](a, b, out)
    print(prof.report)                    # the last launch's report (prof.reports: all of them)

    report = cuda.profile(kernel[grid, block], a, b, out)   # launch once, return its report

Options (both forms): ``sample_blocks=N`` runs only N evenly spaced blocks and scales the counts to
the grid (results are then not written back; the report says so), ``sample_blocks="auto"`` does
that for launches of more than `AUTO_SAMPLE_THREADS` threads; ``chip="h100"`` profiles on another chip
for the duration.

Registers per thread (occupancy, and through it the timing model) come from, in this order:
``registers=N`` (given); the real compiler's count for the launch's chip when ``simtlab[toolchain]``
is installed (numba-cuda + NVVM + nvJitLink, `simtlab.emulator.toolchain`; compiled once per kernel,
argument types and architecture); else the emulator's estimate. ``registers="estimate"`` (or
``SIMTLAB_TOOLCHAIN=off``) keeps the estimate; ``registers="compiler"`` requires the real count.
Each report says which figure it used (``LaunchReport.registers_source`` and a note).
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Iterator

from ..chips import use_chip
from ..observer import Observer, attach, detach
from ..report import Finding, LaunchReport
from .analysis import analyze
from .collector import LaunchCollector
from .findings import profiler_findings
from .metrics import fill_report, totals_from
from .occupancy import occupancy
from .timing import estimate

AUTO_SAMPLE_THREADS = 1 << 22   # sample_blocks="auto": sample launches of more threads than this
AUTO_SAMPLE_BLOCKS = 256
REGISTER_MODES = ("auto", "estimate", "compiler")

_analysis_cache: dict = {}


def _find_kernel(info):
    """The `Kernel` being launched."""
    return info.kernel_object


def _arg_signature(args: dict) -> tuple:
    sig = []
    for k, v in args.items():
        dt = getattr(v, "dtype", None)
        sig.append((k, str(dt) if dt is not None else type(v).__name__, getattr(getattr(v, "data", None), "ndim", 0)))
    return tuple(sig)


def kernel_analysis(kernel, info):
    """The static analysis of `kernel` for this launch's argument types and chip (cached)."""
    if kernel is None:
        return None
    key = (id(kernel.py_func), _arg_signature(info.args), info.chip)
    an = _analysis_cache.get(key)
    if an is None:
        try:
            devs = []
            try:
                devs = list(kernel.compiled((), True).device_functions)
            except Exception:
                devs = []
            an = analyze(kernel.py_func, info.args, info.chip, devs)
        except Exception:  # analysis is best effort: without it, lines are costed by the engine's op names
            an = None
        if len(_analysis_cache) > 256:
            _analysis_cache.clear()
        _analysis_cache[key] = an
    return an


class Profiler(Observer):
    """The profiling observer: attach it (or use `profile`) and every launch gets a full report."""

    wants_statements = True

    def __init__(self, sample_blocks: int | str | None = None, registers: int | str | None = None) -> None:
        self.sample_blocks = sample_blocks
        self.registers = _register_mode(registers)
        self.reports: list[LaunchReport] = []
        self._col: LaunchCollector | None = None
        self._ctx: dict = {}
        self._failed: str | None = None

    def launch_begin(self, launch) -> None:
        self._col = None
        self._failed = None
        try:
            self._begin(launch)
        except Exception as exc:
            if os.environ.get("SIMTLAB_DEBUG"):
                raise
            self._failed = f"{type(exc).__name__}: {exc}"

    def _begin(self, launch) -> None:
        chip = launch.chip
        kernel = _find_kernel(launch)
        an = kernel_analysis(kernel, launch)
        nthreads = launch.block[0] * launch.block[1] * launch.block[2]
        nblocks = launch.grid[0] * launch.grid[1] * launch.grid[2]
        regs, note, source, compiled = _registers(self.registers, kernel, launch, an)
        occ = occupancy(chip, nthreads, regs, launch.static_shared + launch.dynshared, nblocks)
        if occ.blocks_per_sm == 0:
            occ.blocks_per_sm = 1  # over the limits: the launch would fail on hardware; still estimate one
        sample = self.sample_blocks
        if sample == "auto":
            sample = AUTO_SAMPLE_BLOCKS if nblocks * nthreads > AUTO_SAMPLE_THREADS else None
        if sample is not None and int(sample) < nblocks:
            launch.sample_blocks = int(sample)
        self._col = LaunchCollector(launch, an, occ, chip)
        self._ctx = {"occ": occ, "regs": regs, "note": note, "an": an, "source": source, "compiled": compiled}

    # Event handlers never let a profiler failure break the student's launch: the launch goes on,
    # and its report says that profiling stopped (set SIMTLAB_DEBUG=1 to see the exception instead).
    def _guard(self, fn, *args) -> None:
        if self._col is None:
            return
        try:
            fn(*args)
        except Exception as exc:
            if os.environ.get("SIMTLAB_DEBUG"):
                raise
            self._failed = f"{type(exc).__name__}: {exc}"
            self._col = None

    def chunk_begin(self, sp) -> None:
        if self._col is not None:
            self._guard(self._col.begin_chunk, sp)

    def memory(self, ev) -> None:
        if self._col is not None:
            self._guard(self._col.memory, ev)

    def statement(self, ev) -> None:
        if self._col is not None:
            self._guard(self._col.statement, ev)

    def branch(self, ev) -> None:
        if self._col is not None:
            self._guard(self._col.branch, ev)

    def barrier(self, ev) -> None:
        if self._col is not None:
            self._guard(self._col.barrier, ev)

    def launch_end(self, launch, error) -> None:
        col = self._col
        self._col = None
        failed, self._failed = self._failed, None
        if error is not None:
            return
        if col is None:
            if failed:
                launch.report.notes.append(f"the profiler stopped on an internal error ({failed}); this launch has "
                                           "no profile (please report it as a simtlab bug)")
                self.reports.append(launch.report)
            return
        try:
            self._finish(launch, col)
        except Exception as exc:
            if os.environ.get("SIMTLAB_DEBUG"):
                raise
            launch.report.notes.append(f"the profiler failed to build this report ({type(exc).__name__}: {exc}); "
                                       "please report it as a simtlab bug")
            self.reports.append(launch.report)

    def _finish(self, launch, col) -> None:
        col.finish()
        report = launch.report
        sampled = report.sampled_blocks is not None
        scale = col.nblocks / col.blocks_run if sampled and col.blocks_run else 1.0
        ctx = self._ctx
        totals = totals_from(col, scale)
        est = estimate(col, launch.chip, ctx["occ"], totals, sampled)
        fill_report(report, col, ctx["occ"], est, ctx["an"], launch, scale, ctx["regs"], ctx["note"])
        report.registers_source = ctx["source"]
        report.notes.append(f"registers per thread: {ctx['regs']}, {ctx['note']}")
        for f in profiler_findings(report, col, ctx["occ"], est, totals):
            report.add_finding(f)
        for f in _compiler_findings(ctx["compiled"], ctx["regs"]):
            report.add_finding(f)
        self.reports.append(report)


def _register_mode(registers: int | str | None) -> int | str:
    """``registers=`` of `profile`: a count, or one of `REGISTER_MODES` (None means "auto")."""
    if registers is None:
        return "auto"
    if isinstance(registers, str):
        if registers not in REGISTER_MODES:
            raise ValueError(f"registers must be a number or one of {', '.join(REGISTER_MODES)}, not {registers!r}")
        if registers == "compiler":
            from ..toolchain import ToolchainUnavailable, status

            st = status()
            if not st["available"]:
                raise ToolchainUnavailable(f"registers='compiler' needs the real compiler: {st['reason']}",
                                           fix="pip install 'simtlab[toolchain]', or use registers='auto'")
        return registers
    if int(registers) <= 0:
        raise ValueError(f"registers per thread must be positive, got {registers}")
    return int(registers)


def _registers(mode: int | str, kernel, launch, an) -> tuple[int, str, str, object]:
    """(registers per thread, how they were obtained, "given" | "compiler" | "estimate", the CompileResult or None)."""
    if isinstance(mode, int):
        return mode, f"given (registers={mode})", "given", None
    figure = None
    if mode != "estimate" and kernel is not None:
        from ..toolchain import launch_registers

        figure = launch_registers(kernel, launch)
        if figure.registers is not None:
            return figure.registers, figure.note, "compiler", figure.result
    regs = an.registers if an is not None else 32
    note = an.register_note if an is not None else "default (the kernel could not be analysed)"
    maxreg = kernel.options.get("max_registers") if kernel is not None else None
    if maxreg:
        regs = min(regs, int(maxreg))
        note += f"; capped by max_registers={int(maxreg)}"
    if figure is not None:
        note += f"; {figure.note}"
    return regs, note, "estimate", figure.result if figure is not None else None


def _compiler_findings(compiled, registers: int) -> list[Finding]:
    """What the real compiler says that the emulator cannot see: spills to local memory, or a rejection."""
    if compiled is None:
        return []
    if not compiled.compiles:
        d = compiled.diagnosis
        return [Finding(tool="compiler", kind="does-not-compile", severity="warning", line=d.line if d else None,
                        message=f"the real CUDA compiler ({compiled.arch}) rejects this kernel, so it would not run "
                                f"on a GPU: {compiled.message}", fix=d.fix if d else None)]
    if compiled.spills:
        return [Finding(tool="compiler", kind="register-spill", severity="warning",
                        message=f"at {registers} registers per thread the real compiler ({compiled.register_source}) "
                                f"spills {compiled.spill_stores or 0} bytes per thread to local memory and loads "
                                f"{compiled.spill_loads or 0} bytes back (slow, and not counted by the emulator)",
                        fix="keep fewer values live at once (smaller per-thread arrays, fewer accumulators), or allow "
                            "more registers (max_registers)")]
    return []


class ProfileSession:
    """The reports of the launches profiled in a ``with cuda.profile():`` block."""

    def __init__(self, profiler: Profiler) -> None:
        self.profiler = profiler

    @property
    def reports(self) -> list[LaunchReport]:
        """Every profiled launch's report, in launch order."""
        return self.profiler.reports

    @property
    def report(self) -> LaunchReport:
        """The last launch's report."""
        if not self.reports:
            raise LookupError("no kernel was launched inside this cuda.profile() block")
        return self.reports[-1]

    @property
    def total_time_us(self) -> float:
        """Sum of the launches' estimated times (microseconds; an estimate)."""
        return float(sum(r.time_us or 0.0 for r in self.reports))

    def __iter__(self) -> Iterator[LaunchReport]:
        return iter(self.reports)

    def __len__(self) -> int:
        return len(self.reports)

    def __getitem__(self, i: int) -> LaunchReport:
        return self.reports[i]

    def to_dict(self) -> dict:
        """JSON-able form: every report's `to_dict`."""
        return {"reports": [r.to_dict() for r in self.reports], "total_time_us": self.total_time_us}

    def __str__(self) -> str:
        if not self.reports:
            return "no kernel was launched while profiling"
        parts = [str(r) for r in self.reports]
        if len(self.reports) > 1:
            parts.append(f"{len(self.reports)} launches, estimated {self.total_time_us:.4g} us in total")
        return "\n\n".join(parts)

    def __repr__(self) -> str:
        return f"<simtlab profile: {len(self.reports)} launch(es)>"


@contextlib.contextmanager
def _session(sample_blocks, registers, chip) -> Iterator[ProfileSession]:
    prof = Profiler(sample_blocks=sample_blocks, registers=registers)   # checks `registers` before anything runs
    cm = use_chip(chip) if chip is not None else contextlib.nullcontext()
    with cm:
        attach(prof)
        try:
            yield ProfileSession(prof)
        finally:
            detach(prof)


def profile(launch=None, *args, sample_blocks: int | str | None = None, registers: int | str | None = None,
            chip=None):
    """Profile kernel launches (see the module docstring for the two forms).

    With no `launch`, returns a context manager yielding a `ProfileSession`. With a configured kernel
    (``kernel[grid, block]``), launches it with `args` and returns its `LaunchReport`. With another
    callable, calls it with `args` and returns the `ProfileSession` of the launches it made.
    """
    _register_mode(registers)       # a bad `registers` fails here, not at the first launch
    if launch is None:
        return _session(sample_blocks, registers, chip)
    if not callable(launch):
        raise TypeError("cuda.profile() takes a configured kernel (kernel[grid, block]) or a function, "
                        f"got {type(launch).__name__}")
    if inspect.isclass(launch):
        raise TypeError("cuda.profile() takes a configured kernel (kernel[grid, block]) or a function")
    with _session(sample_blocks, registers, chip) as s:
        launch(*args)
    if hasattr(launch, "kernel") and hasattr(launch, "griddim"):
        if not s.reports:
            raise RuntimeError("the launch produced no report")
        return s.report
    return s
