"""The visualizers as objects a notebook displays: interactive ipywidgets with a static fallback.

Each visualizer is a :class:`Visual`: it holds its inputs (a recording and/or a report), computes
its model (`models.py`), renders static HTML (`render.py`) and builds an ipywidgets panel whose
controls (dropdowns, sliders, play buttons) re-render the HTML pane from the model. Nothing
talks to the engine: controls only change which part of the recorded data is shown (the
occupancy calculator's sliders recompute the calculator's formula).

Displaying a Visual (last expression of a cell, or ``display(v)``) sends one output. Its content
depends on the display mode (`display_mode`):

- ``interactive``: the widget view *and* the static HTML in one bundle. JupyterLab and Notebook 7
  show the live widget; a converter without the widget's state shows the HTML.
- ``static``: the HTML only. This is what headless execution (nbclient, ``nbconvert --execute``)
  gets: nbclient would otherwise store every widget's state in the notebook and nbconvert would
  then emit widget placeholders that need JavaScript from a CDN instead of the HTML.
- ``auto`` (default): ``interactive`` when a Jupyter server started the kernel (it sets
  ``JPY_SESSION_NAME``) or VS Code did (``VSCODE_PID``), ``static`` otherwise.

``SIMTLAB_WIDGETS=interactive|static|auto`` or `set_display_mode` choose; while
``NBGRADER_EXECUTION`` is set (autograding) nothing is displayed at all.
"""

from __future__ import annotations

import os
from typing import Any

from . import models as M
from . import render as R
from .recorder import Recording


def grading() -> bool:
    """True while nbgrader executes the notebook (widgets are then not displayed)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


DISPLAY_MODES = ("auto", "interactive", "static")
_mode: str | None = None


def set_display_mode(mode: str | None) -> None:
    """Choose how visuals display: "interactive" (widget + HTML fallback), "static" (HTML only), "auto" or None
    (back to ``SIMTLAB_WIDGETS`` / auto-detection)."""
    global _mode
    if mode is not None and mode not in DISPLAY_MODES:
        raise ValueError(f"display mode must be one of {', '.join(DISPLAY_MODES)}, not {mode!r}")
    _mode = mode


def display_mode() -> str:
    """"interactive" or "static": how a visual is displayed now (see the module docstring)."""
    mode = _mode or os.environ.get("SIMTLAB_WIDGETS", "auto").strip().lower() or "auto"
    if mode in ("interactive", "static"):
        return mode
    return "interactive" if (os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID")) else "static"


def _ipw() -> Any:
    import ipywidgets

    return ipywidgets


#: the last profiled report of each kernel (by name), kept by `remember_profiled`
_profiled: dict[str, Any] = {}


def remember_profiled(reports: Any) -> None:
    """Remember profiled reports so that ``profile_view(kernel)`` finds them after later, unprofiled launches."""
    for r in reports or []:
        if getattr(r, "metrics", None):
            _profiled[r.kernel] = r


def _report_of(obj: Any) -> Any:
    """A LaunchReport from a report, a recording, a kernel (its last profiled report when its last launch was
    not profiled) or a profiling session."""
    if obj is None:
        return None
    if isinstance(obj, Recording):
        return obj.report
    if hasattr(obj, "metrics") and hasattr(obj, "per_line"):
        return obj
    if hasattr(obj, "last_report"):
        last = obj.last_report
        if (last is None or not getattr(last, "metrics", None)) and getattr(obj, "__name__", None) in _profiled:
            return _profiled[obj.__name__]
        return last
    reports = getattr(obj, "reports", None)
    if reports:
        return reports[-1]
    raise TypeError(f"expected a LaunchReport, a Recording, a kernel or a profiling session, got {type(obj).__name__}")


class Visual:
    """Base class: a visualizer with a model, a static HTML rendering and an interactive widget."""

    kind = "visual"

    def html(self) -> str:
        """The static rendering (HTML with inline SVG)."""
        raise NotImplementedError

    def widget(self) -> Any:
        """The interactive ipywidgets panel (default: the static HTML in an HTML widget)."""
        return _ipw().HTML(self.html())

    def mimebundle(self, mode: str | None = None) -> dict[str, Any]:
        """What displaying this visual sends: the widget view (interactive mode), the HTML and a text line."""
        bundle: dict[str, Any] = {}
        if (mode or display_mode()) == "interactive":
            try:
                bundle.update(self.widget()._repr_mimebundle_() or {})
            except ImportError:  # ipywidgets missing: static only
                pass
        bundle["text/html"] = self.html()
        bundle["text/plain"] = repr(self)
        return bundle

    def _ipython_display_(self) -> None:
        if grading():
            return
        from IPython.display import display

        display(self.mimebundle(), raw=True)

    def show(self) -> None:
        """Display this visual in the notebook (nothing while nbgrader executes it)."""
        self._ipython_display_()

    def save(self, path: str | os.PathLike) -> str:
        """Write the static rendering as a standalone HTML file; returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"<!doctype html><html><head><meta charset='utf-8'><title>simtlab {self.kind}</title></head>"
                    f"<body>{self.html()}</body></html>")
        return str(path)

    def __repr__(self) -> str:
        return f"<simtlab {self.kind}>"


def _pane(ipw: Any, html: str) -> Any:
    return ipw.HTML(html, layout=ipw.Layout(width="100%"))


class LaunchView(Visual):
    """Grid of blocks, warps per block, active lanes and the SM each block ran on."""

    kind = "launch"

    PAGE = 64        # blocks drawn at once

    def __init__(self, rec: Recording, report: Any = None) -> None:
        self.rec = rec
        self.report = report if report is not None else rec.report
        self.model = M.launch_model(rec, self.report, max_blocks=self.PAGE)

    def html(self, color_by: str = "sm") -> str:
        return R.launch_html(self.model, color_by=color_by, max_blocks=self.PAGE)

    def widget(self) -> Any:
        ipw = _ipw()
        color = ipw.ToggleButtons(options=[("SM", "sm"), ("wave", "wave")], value="sm", description="colour by")
        pane = _pane(ipw, self.html())
        controls = [color]
        first = None
        if self.rec.nblocks > self.PAGE:
            first = ipw.IntSlider(value=0, min=0, max=(self.rec.nblocks - 1) // self.PAGE * self.PAGE, step=self.PAGE,
                                  description="from block", continuous_update=False)
            controls.append(first)

        def redraw(_: Any = None) -> None:
            start = first.value if first is not None else 0
            self.model = M.launch_model(self.rec, self.report, max_blocks=self.PAGE, first_block=start)
            pane.value = self.html(color.value)

        for w in controls:
            w.observe(redraw, names="value")
        return ipw.VBox([ipw.HBox(controls), pane])

    def __repr__(self) -> str:
        m = self.model
        return (f"<simtlab launch view: {m.kernel} grid {m.grid} block {m.block}, {m.nblocks} blocks on "
                f"{m.sm_count} SMs>")


class MemoryMap(Visual):
    """Per-element access counts of one array: which block/thread read and wrote each element, how often."""

    kind = "memory-map"

    def __init__(self, rec: Recording, array: str | None = None, *, color_by: str = "block",
                 window: tuple[int, int, int, int] | None = None) -> None:
        self.rec = rec
        self.model = M.access_map(rec, array, window=window)
        self.array = self.model.array
        self.color_by = color_by

    def html(self) -> str:
        return R.access_map_html(self.model, color_by=self.color_by)

    def widget(self) -> Any:
        ipw = _ipw()
        arrays = ipw.Dropdown(options=sorted(self.rec.arrays), value=self.array, description="array")
        color = ipw.ToggleButtons(options=[("block", "block"), ("reads", "reads"), ("writes", "writes")],
                                  value=self.color_by, description="colour by")
        R_, C_ = self.model.layout
        rows = ipw.IntRangeSlider(value=(0, R_), min=0, max=R_, step=1, description="rows",
                                  continuous_update=False)
        cols = ipw.IntRangeSlider(value=(0, C_), min=0, max=C_, step=1, description="cols",
                                  continuous_update=False)
        pane = _pane(ipw, R.access_map_html(self.model, color_by=self.color_by, tips=True))

        def redraw(_: Any = None) -> None:
            window = (rows.value[0], rows.value[1], cols.value[0], cols.value[1])
            m = M.access_map(self.rec, arrays.value, window=window)
            pane.value = R.access_map_html(m, color_by=color.value, tips=True)

        def new_array(_: Any) -> None:
            m = M.access_map(self.rec, arrays.value)
            r, c = m.layout
            with rows.hold_trait_notifications(), cols.hold_trait_notifications():
                rows.max, cols.max = max(r, 1), max(c, 1)
                rows.value, cols.value = (0, r), (0, c)
            redraw()

        arrays.observe(new_array, names="value")
        for w in (color, rows, cols):
            w.observe(redraw, names="value")
        return ipw.VBox([ipw.HBox([arrays, color]), ipw.HBox([rows, cols]), pane])

    def __repr__(self) -> str:
        t = self.model.totals
        return f"<simtlab memory map of '{self.array}': {t['reads']} reads, {t['writes']} writes>"


class WarpView(Visual):
    """One access on one line by one warp: lanes -> sectors (global) or lanes -> banks (shared)."""

    kind = "warp"

    def __init__(self, rec: Recording, line: int | None = None, array: str | None = None, kind: str | None = None,
                 *, warp: int = 0, execution: int = 0) -> None:
        self.rec = rec
        self.model = M.warp_access(rec, line, array, kind, warp=warp, execution=execution)

    def html(self) -> str:
        return R.warp_html(self.model)

    def widget(self) -> Any:
        ipw = _ipw()
        sites = [s for s in M.memory_sites(self.rec) if self.rec.sites[s].samples]
        labels = [(f"line {ln}: {k} {a} ({sp})", (ln, a, k, sp)) for ln, a, k, sp in sites]
        cur = (self.model.line, self.model.array, self.model.kind, self.model.space)
        site = ipw.Dropdown(options=labels, value=cur, description="access", layout=ipw.Layout(width="340px"))
        warp = ipw.IntSlider(value=self.model.warp, min=0, max=max(0, self.rec.nwarps - 1), description="warp")
        exe = ipw.IntSlider(value=self.model.execution, min=0, max=max(0, self.model.executions - 1),
                            description="execution")
        pane = _pane(ipw, self.html())

        def redraw(_: Any = None) -> None:
            ln, a, k, _sp = site.value
            m = M.warp_access(self.rec, ln, a, k, warp=warp.value, execution=min(exe.value, exe.max))
            exe.max = max(0, m.executions - 1)
            pane.value = R.warp_html(m)

        for w in (site, warp, exe):
            w.observe(redraw, names="value")
        return ipw.VBox([ipw.HBox([site, warp, exe]), pane])

    def __repr__(self) -> str:
        m = self.model
        return f"<simtlab warp view: line {m.line} {m.kind} {m.array} warp {m.warp}>"


class OccupancyCalculator(Visual):
    """The occupancy calculator with sliders for block size, registers per thread and shared memory."""

    kind = "occupancy"

    def __init__(self, chip: Any = None, threads: int = 256, registers: int = 32, shared: int = 0, *,
                 nblocks: int | None = None, registers_source: str = "given") -> None:
        from simtlab.emulator.chips import get_active_chip, load_chip

        self.chip = load_chip(chip) if isinstance(chip, str) else (chip or get_active_chip())
        self.nblocks = nblocks
        self.model = M.occupancy_model(self.chip, threads, registers, shared, nblocks=nblocks,
                                       registers_source=registers_source)

    @classmethod
    def for_launch(cls, report: Any = None, rec: Recording | None = None) -> OccupancyCalculator:
        """The calculator set to a profiled (or recorded) launch's configuration."""
        res = M.launch_resources(report, rec)
        grid = getattr(rec, "grid", None) or getattr(report, "grid", (1, 1, 1))
        chip = M.chip_of(rec if rec is not None else report)
        n = 1
        for g in grid:
            n *= int(g)
        return cls(chip, res["threads"], res["registers"], res["shared"], nblocks=n,
                   registers_source=res["registers_source"])

    def html(self) -> str:
        return R.wrap("occupancy", R.occupancy_html(self.model), f"Occupancy on '{self.chip.name}'")

    def widget(self) -> Any:
        ipw = _ipw()
        m, chip = self.model, self.chip
        ws = chip.warp_size
        threads = ipw.IntSlider(value=m.threads, min=ws, max=m.max_threads, step=ws, description="threads/block",
                                continuous_update=False, style={"description_width": "110px"})
        regs = ipw.IntSlider(value=m.registers, min=1, max=m.max_registers, step=1, description="registers/thread",
                             continuous_update=False, style={"description_width": "110px"})
        shared = ipw.IntSlider(value=m.shared, min=0, max=m.max_shared, step=256, description="shared bytes",
                               continuous_update=False, style={"description_width": "110px"})
        pane = _pane(ipw, self.html())

        def redraw(_: Any = None) -> None:
            self.model = M.occupancy_model(chip, threads.value, regs.value, shared.value, nblocks=self.nblocks,
                                           registers_source="chosen with the sliders")
            pane.value = self.html()

        for w in (threads, regs, shared):
            w.observe(redraw, names="value")
        return ipw.VBox([ipw.HBox([threads, regs, shared]), pane])

    def __repr__(self) -> str:
        return f"<simtlab occupancy calculator: {self.model.explain()}>"


class ProfileView(Visual):
    """The profiler report: speed of light, memory chart, per-line table, roofline, occupancy calculator."""

    kind = "report"

    def __init__(self, report: Any, rec: Recording | None = None, *, source: dict[int, str] | None = None) -> None:
        self.report = _report_of(report)
        self.rec = rec
        self.source = source
        self.model = M.report_model(self.report, source=source, rec=rec)

    def html(self) -> str:
        return R.report_html(self.model)

    def widget(self) -> Any:
        ipw = _ipw()
        m = self.model
        header = _pane(ipw, R.wrap("report", R.report_header_html(m), f"Profile of {m.kernel}"))
        summary = _pane(ipw, R.wrap("report-sol", R.sol_html(m) + R.findings_html(m)))
        chart = _pane(ipw, R.wrap("report-memory", R.memory_chart_html(m.memory)))
        heat = ipw.Dropdown(options=[(m.line_titles.get(c, c), c) for c in m.line_columns] or [("none", None)],
                            value=m.heat_column, description="hot by")
        lines = _pane(ipw, R.wrap("report-lines", R.lines_html(m)))

        def reheat(_: Any) -> None:
            mm = M.report_model(self.report, source=self.source, rec=self.rec, heat_column=heat.value)
            lines.value = R.wrap("report-lines", R.lines_html(mm))

        heat.observe(reheat, names="value")
        roof = _pane(ipw, R.wrap("report-roofline", R.roofline_html(m.roofline)))
        occ = OccupancyCalculator.for_launch(self.report, self.rec).widget()
        metrics = _pane(ipw, R.wrap("report-metrics", R.metrics_table_html(m) or R.notes(["no metrics"])))
        tabs = ipw.Tab(children=[summary, chart, ipw.VBox([heat, lines]), roof, occ, metrics])
        for i, t in enumerate(("Speed of light", "Memory chart", "Source", "Roofline", "Occupancy", "Metrics")):
            tabs.set_title(i, t)
        return ipw.VBox([header, tabs])

    def __repr__(self) -> str:
        t = self.model.time_us
        return f"<simtlab profile of {self.model.kernel}: {'n/a' if t is None else f'{t:.3f} us'} (estimated)>"


class TimelineView(Visual):
    """Blocks on SMs over the estimated time."""

    kind = "timeline"

    def __init__(self, report: Any = None, rec: Recording | None = None) -> None:
        self.rec = rec
        self.report = _report_of(report) if report is not None else (rec.report if rec is not None else None)
        self.model = M.timeline_model(self.report, rec)

    def html(self, max_sms: int = 32) -> str:
        return R.timeline_html(self.model, max_sms=max_sms)

    def widget(self) -> Any:
        ipw = _ipw()
        sms = ipw.IntSlider(value=min(32, self.model.sm_count), min=1, max=self.model.sm_count, description="SMs shown",
                            continuous_update=False)
        pane = _pane(ipw, self.html(sms.value))
        sms.observe(lambda ch: setattr(pane, "value", self.html(sms.value)), names="value")
        return ipw.VBox([sms, pane]) if self.model.sm_count > 1 else ipw.VBox([pane])

    def __repr__(self) -> str:
        m = self.model
        return f"<simtlab timeline: {m.kernel}, {m.waves} wave(s) on {m.sm_count} SMs>"


class ReplayView(Visual):
    """Step through one block's execution statement by statement, for a chosen warp."""

    kind = "replay"

    def __init__(self, rec: Recording, warp: int = 0, step: int = 0) -> None:
        self.rec = rec
        self.model = M.replay_model(rec, warp)
        self.step = step

    def html(self) -> str:
        return R.replay_html(self.model)

    def widget(self) -> Any:
        ipw = _ipw()
        n = max(1, len(self.model.steps))
        step = ipw.IntSlider(value=min(self.step, n - 1), min=0, max=n - 1, description="step",
                             layout=ipw.Layout(width="420px"))
        play = ipw.Play(value=step.value, min=0, max=n - 1, interval=700, description="play")
        ipw.jslink((play, "value"), (step, "value"))
        prev = ipw.Button(description="◀", layout=ipw.Layout(width="40px"), tooltip="previous statement")
        nxt = ipw.Button(description="▶", layout=ipw.Layout(width="40px"), tooltip="next statement")
        warp = ipw.Dropdown(options=list(range(self.rec.nwarps)), value=self.model.warp, description="warp")
        pane = _pane(ipw, R.replay_step_html(self.model, step.value))

        def redraw(_: Any = None) -> None:
            pane.value = R.replay_step_html(self.model, step.value)

        def new_warp(_: Any) -> None:
            self.model = M.replay_model(self.rec, warp.value)
            m = max(0, len(self.model.steps) - 1)
            step.max = play.max = m
            step.value = min(step.value, m)
            redraw()

        prev.on_click(lambda _: setattr(step, "value", max(step.min, step.value - 1)))
        nxt.on_click(lambda _: setattr(step, "value", min(step.max, step.value + 1)))
        step.observe(redraw, names="value")
        warp.observe(new_warp, names="value")
        return ipw.VBox([ipw.HBox([play, prev, nxt, step, warp]), pane])

    def __repr__(self) -> str:
        m = self.model
        return f"<simtlab replay of {m.kernel}: block {m.block}, warp {m.warp}, {len(m.steps)} steps>"


class Dashboard(Visual):
    """Every view of one recorded launch in tabs: launch, memory maps, warp view, timeline (and profile)."""

    kind = "dashboard"

    def __init__(self, rec: Recording) -> None:
        self.rec = rec
        self.views: list[tuple[str, Visual]] = [("Launch", LaunchView(rec))]
        if rec.arrays:
            self.views.append(("Memory map", MemoryMap(rec)))
        if any(s.samples for s in rec.sites.values()):
            self.views.append(("Warp view", WarpView(rec)))
        self.views.append(("Timeline", TimelineView(rec.report, rec)))
        if rec.report is not None and getattr(rec.report, "metrics", None):
            self.views.append(("Profile", ProfileView(rec.report, rec)))

    def html(self) -> str:
        return "".join(v.html() for _, v in self.views)

    def widget(self) -> Any:
        ipw = _ipw()
        tabs = ipw.Tab(children=[v.widget() for _, v in self.views])
        for i, (title, _) in enumerate(self.views):
            tabs.set_title(i, title)
        return tabs

    def __repr__(self) -> str:
        return f"<simtlab dashboard of {self.rec.kernel}: {', '.join(t for t, _ in self.views)}>"
