"""simtlab's Jupyter side (`simtlab.jupyter`): the IPython extension, magics and visualizers.

The kernelspec starts ipykernel with ``--ext simtlab.jupyter``, which calls
`load_ipython_extension`: it puts ``cuda`` (the emulator's drop-in for ``numba.cuda``) and
``np`` into the notebook's namespace, registers the magics (``%chip``, ``%%profile``,
``%%record``, ``%sanitize``, ``%ptx``, ``%simt``) and prints a banner naming the active chip. It can also
be loaded into any IPython session with ``%load_ext simtlab.jupyter``.

Visualizers (see ``%simt``), all reading recorded data and reports only, never the engine::

    from simtlab.jupyter import record, launch_view, memory_map, warp_view, replay
    rec = record(kernel[blocks, threads], x, out)   # one launch with the access recorder attached
    launch_view(rec); memory_map(rec, "out"); warp_view(rec, line=12)
    profile_view(kernel)       # the profiler report of the kernel's last (profiled) launch
    code_view(kernel)          # its source next to the PTX/SASS of the real compiler (simtlab[toolchain])
    occupancy_calculator(kernel); timeline(kernel)
    replay(kernel[blocks, threads], x, out, block=(1, 0, 0), warp=0)   # statement by statement

Each returns an object that displays as an interactive widget with a static HTML fallback (what
executed notebooks and nbgrader feedback show); nothing is displayed while ``NBGRADER_EXECUTION``
is set. Layers: `recorder` (the observer), `models` (what each view shows, pure Python),
`render` (static HTML/SVG), `widgets` (ipywidgets), `magics`.

Nothing is imported at module level beyond the standard library (the public names below load on
first use), so tools that only need `simtlab.jupyter.kernelspec` (``simtlab kernel install``)
stay light.
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = [
    "banner", "load_ipython_extension", "record", "recording", "launch_view", "memory_map", "warp_view",
    "profile_view", "occupancy_calculator", "timeline", "replay", "show", "chip", "sanitize", "simt_help",
    "profiling", "recorded", "set_display_mode", "display_mode", "code_view",
]

_LAZY = {
    "record": "recorder", "recording": "recorder", "LaunchRecorder": "recorder", "Recording": "recorder",
    "chip": "magics", "sanitize": "magics", "simt_help": "magics", "profiling": "magics", "recorded": "magics",
    "Visual": "widgets", "LaunchView": "widgets", "MemoryMap": "widgets", "WarpView": "widgets",
    "ProfileView": "widgets", "OccupancyCalculator": "widgets", "TimelineView": "widgets", "ReplayView": "widgets",
    "Dashboard": "widgets", "grading": "widgets", "display_mode": "widgets", "set_display_mode": "widgets",
    "code_view": "codeview", "CodeView": "codeview",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'simtlab.jupyter' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{mod}"), name)


def banner() -> str:
    """One line naming the active chip, shown when the kernel starts."""
    from simtlab.emulator.chips import get_active_chip

    chip = get_active_chip()
    from simtlab.emulator.sanitizer import default_session

    check = "sanitizer on" if default_session() is not None else "sanitizer off"
    return (f"simtlab: kernels run on the emulated '{chip.name}' chip "
            f"({chip.sm_count} SMs, cc {chip.cc_string}), {check} — %simt for help")


def _recording_of(obj: Any, args: tuple, kwargs: dict) -> Any:
    """A Recording: `obj` itself, or the recording of launching `obj` (a configured kernel) with `args`."""
    from .recorder import Recording, record

    if isinstance(obj, Recording):
        return obj
    if callable(obj) and hasattr(obj, "griddim"):
        return record(obj, *args, **kwargs)
    raise TypeError("expected a Recording (rec = simtlab.jupyter.record(kernel[blocks, threads], *args)) or a "
                    f"configured kernel launch with its arguments, got {type(obj).__name__}")


def launch_view(rec: Any, *args: Any, **record_options: Any) -> Any:
    """The launch view of a recording (or of recording ``kernel[grid, block]`` with `args`): grid of blocks,
    warps per block, active lanes, the SM each block ran on."""
    from .widgets import LaunchView

    return LaunchView(_recording_of(rec, args, record_options))


def memory_map(rec: Any, array: str | None = None, *, color_by: str = "block",
               window: tuple[int, int, int, int] | None = None) -> Any:
    """The memory access map of one global array of a recording (default: the first array written):
    for each element, which block/thread read and wrote it and how often. `window` = (row0, row1, col0, col1)
    zooms into the array's 2-D layout; big arrays are aggregated into cells."""
    from .widgets import MemoryMap

    return MemoryMap(rec, array, color_by=color_by, window=window)


def warp_view(rec: Any, line: int | None = None, array: str | None = None, kind: str | None = None, *,
              warp: int = 0, execution: int = 0) -> Any:
    """One memory access on one line by one warp of the recording's focus block: lanes -> 32-byte sectors for
    global memory, lanes -> banks for shared memory (conflicting lanes in red)."""
    from .widgets import WarpView

    return WarpView(rec, line, array, kind, warp=warp, execution=execution)


def profile_view(report: Any, rec: Any = None) -> Any:
    """The profiler report of a launch (a LaunchReport, a profiling session, a Recording, or a kernel: its last
    launch): speed of light, memory chart, per-line table, roofline, occupancy calculator."""
    from .widgets import ProfileView

    return ProfileView(report, rec)


def occupancy_calculator(launch: Any = None, *, chip: Any = None, threads: int | None = None,
                         registers: int | None = None, shared: int | None = None) -> Any:
    """The occupancy calculator with sliders, set to a launch's configuration (a report, recording or kernel) or
    to the given threads per block / registers per thread / shared bytes per block on `chip`."""
    from .recorder import Recording
    from .widgets import OccupancyCalculator, _report_of

    if launch is not None:
        rec = launch if isinstance(launch, Recording) else None
        calc = OccupancyCalculator.for_launch(_report_of(launch), rec)
        if threads is None and registers is None and shared is None:
            return calc
        m = calc.model
        return OccupancyCalculator(calc.chip, threads or m.threads, registers or m.registers,
                                   m.shared if shared is None else shared, nblocks=calc.nblocks)
    return OccupancyCalculator(chip, threads or 256, registers or 32, shared or 0)


def timeline(report: Any = None, rec: Any = None) -> Any:
    """Blocks on SMs over the estimated time of a launch (a report, kernel or recording)."""
    from .recorder import Recording
    from .widgets import TimelineView

    if isinstance(report, Recording):
        return TimelineView(report.report, report)
    return TimelineView(report, rec)


def replay(launch: Any, *args: Any, block: int | tuple = 0, warp: int = 0) -> Any:
    """Re-run a launch (``replay(kernel[grid, block], *args, block=(x, y, z), warp=w)``) recording block `block`
    statement by statement, and step through it for warp `warp` (active lanes, branch outcomes, each lane's
    variables and the elements it accessed). Only that block runs, on copies of the arrays, so the replay does
    not change your data."""
    from .recorder import Recording, record
    from .widgets import ReplayView

    if isinstance(launch, Recording):
        return ReplayView(launch, warp)
    rec = record(launch, *[_copy_arg(a) for a in args], statements=True, focus_block=block, only_focus=True)
    return ReplayView(rec, warp)


def _copy_arg(a: Any) -> Any:
    import numpy as np

    if isinstance(a, np.ndarray):
        return a.copy()
    if hasattr(a, "copy_to_host") and hasattr(a, "__cuda_array_interface__"):
        from simtlab.emulator import cuda

        return cuda.to_device(a.copy_to_host())
    return a


def show(rec: Any, *args: Any, **record_options: Any) -> Any:
    """All views of a recording (or of recording ``kernel[grid, block]`` with `args`) in tabs."""
    from .widgets import Dashboard

    return Dashboard(_recording_of(rec, args, record_options))


def load_ipython_extension(ipython: Any) -> None:
    """Make ``cuda`` and ``np`` available, register the magics and print the banner (IPython extension hook).

    If the emulator fails to import, the notebook still starts (with ``np``) and says why on
    stderr, rather than leaving students in a kernel that died during start-up.
    """
    import numpy as np

    names: dict[str, Any] = {"np": np}
    try:
        from simtlab.emulator import cuda
    except Exception as exc:  # report, do not kill the kernel
        print(f"simtlab: the emulator could not be loaded, `cuda` is unavailable "
              f"({type(exc).__name__}: {exc})", file=sys.stderr)
    else:
        names["cuda"] = cuda
        if "SIMTLAB_SANITIZE" not in os.environ:
            # labs run with the sanitizer on (a racy kernel's lockstep-right answer is reported);
            # `%sanitize off` or SIMTLAB_SANITIZE=0 turns it off
            cuda.set_default_sanitize(True, echo=True)
    ipython.push(names)
    if hasattr(ipython, "register_magics"):
        try:
            from .magics import register_magics

            register_magics(ipython)
        except Exception as exc:  # magics are a convenience: never stop the kernel for them
            print(f"simtlab: magics unavailable ({type(exc).__name__}: {exc})", file=sys.stderr)

    text = banner()
    # The frontend shows the kernel_info banner (e.g. a JupyterLab console); notebooks show
    # nothing at start-up, so the line is printed as well for terminals and logs.
    if text not in (ipython.banner2 or ""):
        ipython.banner2 = f"{ipython.banner2}\n{text}" if ipython.banner2 else text
    print(text)
