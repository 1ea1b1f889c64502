"""The notebook magics and the plain functions behind them.

=================  =====================================  ==========================================
magic              plain function                         what it does
=================  =====================================  ==========================================
``%chip [name]``   ``chip(name=None)``                    show the active chip, or switch to another
``%%profile``      ``with profiling(): ...``              profile every launch in the cell, show each
                                                          launch's report (`ProfileView`)
``%%record``       ``with recorded(): ...``               record every launch in the cell, show each
                                                          launch's views (`Dashboard`)
``%sanitize X``    ``sanitize("on" | "off" | "raise")``   sanitize every later launch (report or raise)
``%ptx K``         ``code_view(K)``                       the kernel's source next to its PTX/SASS from the
                                                          real compiler (needs simtlab[toolchain])
``%simt``          ``simt_help()``                        this help
=================  =====================================  ==========================================

Scripts and graders use the plain functions; nothing here needs IPython except the magics class,
which `load_ipython_extension` registers.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import sys
from collections.abc import Iterator
from typing import Any

from .widgets import Dashboard, ProfileView, grading, remember_profiled

HELP = """simtlab in Jupyter: kernels run on an emulated GPU (`from simtlab.emulator import cuda`).

Magics (each is also a function in simtlab.jupyter):
  %chip [name]             show the active chip, or switch (teaching, h100, a100, g80, or a .toml path)
  %%profile [--sample N] [--registers N|estimate|compiler] [--chip NAME] [--text]
                           profile every launch in the cell and show its report (registers: the real
                           compiler's count when simtlab[toolchain] is installed, else an estimate)
  %%record [--profile] [--statements] [--block X,Y,Z]
                           record every launch in the cell and show launch view, memory maps, warp view,
                           timeline (--profile: and the profiler report)
  %sanitize on|off|raise   check every launch for races, out-of-bounds, barrier and init errors
  %ptx KERNEL [--sass] [--chip NAME] [--signature SIG]
                           the kernel's Python source next to the PTX (or SASS) numba-cuda's real compiler
                           makes of it, lines linked; registers, spills, shared memory (simtlab[toolchain];
                           argument types from its last launch unless --signature "void(float32[:], ...)")
  %simt                    this help

Visualizers (functions of simtlab.jupyter; each shows an interactive widget with a static fallback):
  rec = record(kernel[blocks, threads], *args)     run one launch with the access recorder
  launch_view(rec)          blocks, warps, active lanes, SM of each block
  memory_map(rec, "out")    who read/wrote each element of an array, how often
  warp_view(rec, line=12)   lanes -> 32-byte sectors (global) or lanes -> banks (shared)
  profile_view(kernel)      profiler report of the kernel's last launch (speed of light, memory chart,
                            source lines, roofline, occupancy calculator)
  occupancy_calculator(kernel)   occupancy with sliders for block size, registers, shared memory
  timeline(kernel)          blocks on SMs over the estimated time
  replay(kernel[blocks, threads], *args, block=(0, 0, 0), warp=0)   step through one block
  show(rec)                 all views of a recording in tabs
  code_view(kernel, *args, chip="h100", which="ptx"|"sass")   source next to the real compiler's PTX/SASS
  cuda.compile_check(kernel, *args, chip="h100")   does it compile for a real GPU? registers, spills, shared
"""


def chip(name: str | None = None) -> Any:
    """Show the active emulated chip, or switch to `name` (a preset or a chip file); returns the chip."""
    from simtlab.emulator.chips import get_active_chip, select_chip

    if name:
        select_chip(name)
    return get_active_chip()


def chip_summary(c: Any) -> str:
    """A few lines describing a chip."""
    try:
        return c.summary()
    except Exception:
        return repr(c)


_SANITIZE = {"on": True, "true": True, "1": True, "yes": True, "report": True, "off": False, "false": False,
             "0": False, "no": False}


def sanitize(mode: str | bool = "on") -> Any:
    """Sanitize every later launch of this kernel session: "on" (report findings, printed after each launch),
    "raise" (stop at the first finding with SanitizerError) or "off". Returns the sanitizer session (None when off).
    """
    from simtlab.emulator import cuda

    if isinstance(mode, bool):
        mode = "on" if mode else "off"
    m = str(mode).strip().lower()
    if m == "raise":
        return cuda.set_default_sanitize(True, mode="raise", echo=True)
    if m not in _SANITIZE:
        raise ValueError(f"sanitize mode must be on, off or raise, not {mode!r}")
    return cuda.set_default_sanitize(_SANITIZE[m], echo=True) if _SANITIZE[m] else cuda.set_default_sanitize(False)


def sanitize_status() -> str:
    """One line: whether every launch is sanitized, and what was found so far."""
    from simtlab.emulator import cuda

    s = cuda.default_session()
    if s is None:
        return "sanitizer: off (%sanitize on to check every launch)"
    mode = getattr(getattr(s, "sanitizer", None), "mode", "report")
    return f"sanitizer: on ({mode} mode); {s}"


def simt_help() -> str:
    """The help text of the simtlab magics and visualizers."""
    return HELP


class _Collector:
    """Observer that only collects launch reports (used when the profiler is unavailable)."""

    wants_statements = False

    def __init__(self) -> None:
        self.reports: list[Any] = []

    def launch_begin(self, launch: Any) -> None:
        pass

    def chunk_begin(self, sp: Any) -> None:
        pass

    def memory(self, ev: Any) -> None:
        pass

    def statement(self, ev: Any) -> None:
        pass

    def branch(self, ev: Any) -> None:
        pass

    def barrier(self, ev: Any) -> None:
        pass

    def launch_end(self, launch: Any, error: BaseException | None) -> None:
        if launch.report is not None:
            self.reports.append(launch.report)


@contextlib.contextmanager
def profiling(*, show: bool = True, text: bool = False, **options: Any) -> Iterator[Any]:
    """Profile every launch inside the ``with`` block (``cuda.profile(**options)``) and, on leaving it, show each
    launch's report (`ProfileView`; ``text=True`` prints the text report instead). Yields the profiling session
    (``.reports``). Nothing is displayed while nbgrader executes the notebook."""
    from simtlab.emulator import cuda

    prof = getattr(cuda, "profile", None)
    if prof is None:  # profiler not installed: collect the plain reports
        from simtlab.emulator import observing

        col = _Collector()
        with observing(col):
            yield col
        session = col
    else:
        with prof(**options) as session:
            yield session
        remember_profiled(session.reports)
    if not show:
        return
    reports = list(getattr(session, "reports", []))
    if not reports:
        print("%%profile: no kernel was launched in this cell", file=sys.stderr)
    for r in reports:
        if text:
            print(r)
        else:
            ProfileView(r).show()


@contextlib.contextmanager
def recorded(*, show: bool = True, profile: bool = False, **options: Any) -> Iterator[list]:
    """Record every launch inside the ``with`` block (see `simtlab.jupyter.recording`) and, on leaving it, show a
    `Dashboard` of each (with ``profile=True`` the launches are also profiled and the dashboard gets the profiler
    report). Yields the list of recordings."""
    from .recorder import recording

    if profile:
        with profiling(show=False), recording(**options) as recs:
            yield recs
    else:
        with recording(**options) as recs:
            yield recs
    if show:
        if not recs:
            print("%%record: no kernel was launched in this cell", file=sys.stderr)
        for rec in recs:
            Dashboard(rec).show()


def _registers_option(value: str) -> int | str:
    """``--registers``: a count, or "estimate" / "compiler" / "auto" (where the profiler gets the figure)."""
    if value in ("estimate", "compiler", "auto"):
        return value
    return int(value)


def _profile_args(line: str) -> tuple[dict, bool]:
    p = argparse.ArgumentParser(prog="%%profile", add_help=False)
    p.add_argument("--sample", default=None)
    p.add_argument("--registers", type=_registers_option, default=None)
    p.add_argument("--chip", default=None)
    p.add_argument("--text", action="store_true")
    a = p.parse_args(shlex.split(line))
    opts: dict[str, Any] = {}
    if a.sample is not None:
        opts["sample_blocks"] = a.sample if a.sample == "auto" else int(a.sample)
    if a.registers is not None:
        opts["registers"] = a.registers
    if a.chip:
        opts["chip"] = a.chip
    return opts, a.text


def _ptx_args(line: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="%ptx", add_help=False)
    p.add_argument("kernel")
    p.add_argument("--sass", action="store_true")
    p.add_argument("--chip", default=None)
    p.add_argument("--signature", default=None)
    return p.parse_args(shlex.split(line))


def ptx(kernel: Any, *, sass: bool = False, chip: str | None = None, signature: str | None = None) -> Any:
    """What ``%ptx`` shows: the `CodeView` of `kernel` compiled by the real compiler (a `ToolchainError` when the
    toolchain is not installed or cannot target the chip)."""
    from .codeview import code_view

    args = (signature,) if signature else ()
    return code_view(kernel, *args, chip=chip, which="sass" if sass else "ptx")


def _record_args(line: str) -> dict:
    p = argparse.ArgumentParser(prog="%%record", add_help=False)
    p.add_argument("--statements", action="store_true")
    p.add_argument("--block", default="0")
    p.add_argument("--profile", action="store_true")
    a = p.parse_args(shlex.split(line))
    block = tuple(int(v) for v in a.block.replace("(", "").replace(")", "").split(",") if v.strip())
    return {"statements": a.statements, "focus_block": block[0] if len(block) == 1 else block, "profile": a.profile}


def register_magics(ipython: Any) -> None:
    """Register %chip, %%profile, %%record, %sanitize, %ptx and %simt with an IPython shell."""
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

    @magics_class
    class SimtMagics(Magics):
        """simtlab's magics (see `simtlab.jupyter.magics`)."""

        @line_magic("chip")
        def chip_magic(self, line: str) -> None:
            """%chip [name]: show the active emulated chip, or switch to another one."""
            from simtlab.emulator.chips import list_chips

            name = line.strip()
            try:
                c = chip(name or None)
            except Exception as exc:
                names = ", ".join(getattr(c, "name", str(c)) for c in list_chips())
                print(f"%chip: {exc}\navailable chips: {names}", file=sys.stderr)
                return
            print(("switched to " if name else "active chip: ") + chip_summary(c))

        @cell_magic("profile")
        def profile_magic(self, line: str, cell: str) -> None:
            """%%profile [--sample N|auto] [--registers N|estimate|compiler] [--chip NAME] [--text]: profile every
            launch in the cell and show each launch's report."""
            try:
                opts, text = _profile_args(line)
            except SystemExit:
                print("usage: %%profile [--sample N|auto] [--registers N|estimate|compiler] [--chip NAME] [--text]",
                      file=sys.stderr)
                return
            with profiling(text=text, **opts):
                self.shell.run_cell(cell)

        @cell_magic("record")
        def record_magic(self, line: str, cell: str) -> None:
            """%%record [--profile] [--statements] [--block X,Y,Z]: record every launch in the cell, show its views."""
            try:
                opts = _record_args(line)
            except (SystemExit, ValueError):
                print("usage: %%record [--profile] [--statements] [--block X,Y,Z]", file=sys.stderr)
                return
            with recorded(**opts):
                self.shell.run_cell(cell)

        @line_magic("sanitize")
        def sanitize_magic(self, line: str) -> None:
            """%sanitize on|off|raise: sanitize every later launch (no argument: show the status)."""
            arg = line.strip()
            if arg:
                try:
                    sanitize(arg)
                except ValueError as exc:
                    print(f"%sanitize: {exc}", file=sys.stderr)
                    return
            if not grading() or not arg:
                print(sanitize_status())

        @line_magic("ptx")
        def ptx_magic(self, line: str) -> None:
            """%ptx KERNEL [--sass] [--chip NAME] [--signature SIG]: the kernel next to its PTX/SASS."""
            try:
                a = _ptx_args(line)
            except SystemExit:
                print('usage: %ptx KERNEL [--sass] [--chip NAME] [--signature "void(float32[:], int64)"]',
                      file=sys.stderr)
                return
            kernel = self.shell.user_ns.get(a.kernel)
            if kernel is None:
                print(f"%ptx: no kernel named {a.kernel!r} in this notebook", file=sys.stderr)
                return
            try:
                view = ptx(kernel, sass=a.sass, chip=a.chip, signature=a.signature)
            except Exception as exc:  # a SimtError says what to do; never a traceback for a magic
                print(f"%ptx: {exc}", file=sys.stderr)
                return
            view.show()

        @line_magic("simt")
        def simt_magic(self, line: str) -> None:
            """%simt: help on simtlab's magics and visualizers."""
            print(simt_help())

    ipython.register_magics(SimtMagics)
