"""What a failed lab check shows a student: the output as the kernel left it next to what was expected (wrong
elements in red, never-written ones in amber), beside the memory access map of the same launch (which thread wrote
what).

`simtlab.grader.check_kernel` calls `show_check_failure` when a check fails in an interactive notebook; nothing is
shown while nbgrader executes a notebook, and the check's own message (on stdout) says the same in words.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from .render import esc, wrap
from .widgets import MemoryMap, Visual, _ipw, _pane

#: how much of an array the comparison grid shows around the first wrong element
ROW_1D = 16
ROWS_1D = 4
WINDOW_2D = 12

_COLOURS = {"right": "#e8f5e9", "wrong": "#ffcdd2", "unwritten": "#ffe0b2"}


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "NaN"
        return f"{float(v):.4g}"
    return str(v)


def _cell(got: Any, want: Any, state: str, index: str) -> str:
    return (f"<td style='background:{_COLOURS[state]};border:1px solid #bbb;padding:2px 4px;text-align:center;"
            f"font:11px monospace;min-width:44px' title='[{esc(index)}] got {esc(_fmt(got))}, expected "
            f"{esc(_fmt(want))}'><div style='color:#888;font-size:9px'>{esc(index)}</div>"
            f"<div><b>{esc(_fmt(got))}</b></div><div style='color:#555'>{esc(_fmt(want))}</div></td>")


def _state(wrong: bool, unwritten: bool) -> str:
    return "unwritten" if unwritten else ("wrong" if wrong else "right")


class CheckFailureView(Visual):
    """The comparison grid of one output array (got over expected per element) and, when the launch was recorded,
    its memory access map."""

    kind = "check-failure"

    def __init__(self, name: str, got: np.ndarray, expected: np.ndarray, wrong: np.ndarray,
                 unwritten: np.ndarray | None = None, rec: Any = None, array: str | None = None,
                 title: str = "") -> None:
        self.name = name
        self.got = np.asarray(got)
        self.expected = np.asarray(expected)
        self.wrong = np.asarray(wrong, dtype=bool)
        self.unwritten = np.zeros_like(self.wrong) if unwritten is None else np.asarray(unwritten, dtype=bool)
        self.rec = rec
        self.array = array
        self.title = title

    def _first_wrong(self) -> tuple[int, ...]:
        idx = np.argwhere(self.wrong | self.unwritten)
        return tuple(int(v) for v in idx[0]) if len(idx) else (0,) * self.got.ndim

    def grid_html(self) -> str:
        """The window of the array around the first wrong element, got over expected in each cell."""
        first = self._first_wrong()
        rows = []
        if self.got.ndim == 1:
            n = self.got.size
            start = max(0, (first[0] - ROW_1D) // ROW_1D * ROW_1D) if n > ROW_1D * ROWS_1D else 0
            stop = min(n, start + ROW_1D * ROWS_1D)
            for r0 in range(start, stop, ROW_1D):
                cells = [_cell(self.got[i], self.expected[i], _state(self.wrong[i], self.unwritten[i]), str(i))
                         for i in range(r0, min(stop, r0 + ROW_1D))]
                rows.append("<tr>" + "".join(cells) + "</tr>")
            shown = f"elements {start}..{stop - 1} of {n}"
        elif self.got.ndim == 2:
            nr, nc = self.got.shape
            r0 = max(0, min(first[0] - WINDOW_2D // 2, nr - WINDOW_2D))
            c0 = max(0, min(first[1] - WINDOW_2D // 2, nc - WINDOW_2D))
            r1, c1 = min(nr, r0 + WINDOW_2D), min(nc, c0 + WINDOW_2D)
            for r in range(r0, r1):
                cells = [_cell(self.got[r, c], self.expected[r, c], _state(self.wrong[r, c], self.unwritten[r, c]),
                               f"{r},{c}") for c in range(c0, c1)]
                rows.append("<tr>" + "".join(cells) + "</tr>")
            shown = f"rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1} of {nr} x {nc}"
        else:
            return f"<p>{esc(self.name)}: {int(self.wrong.sum())} wrong elements (no picture for {self.got.ndim}-D)</p>"
        nwrong, nunw = int((self.wrong & ~self.unwritten).sum()), int(self.unwritten.sum())
        legend = " ".join(
            f"<span style='background:{_COLOURS[k]};border:1px solid #bbb;padding:0 6px;margin-right:4px'>{t}</span>"
            for k, t in (("right", "right"), ("wrong", f"wrong ({nwrong:,})"), ("unwritten", f"never written "
                                                                                             f"({nunw:,})")))
        return (f"<div style='font:12px sans-serif;margin:4px 0'><b>{esc(self.name)}</b>: {esc(shown)}; each cell: "
                "index, <b>what your kernel wrote</b>, what was expected</div>"
                f"<table data-simtlab-value='comparison' style='border-collapse:collapse'>{''.join(rows)}</table>"
                f"<div style='font:11px sans-serif;margin-top:4px'>{legend}</div>")

    def html(self) -> str:
        parts = [f"<div style='display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start'>"
                 f"<div>{self.grid_html()}</div>"]
        if self.rec is not None:
            try:
                parts.append(f"<div>{MemoryMap(self.rec, self.array).html()}</div>")
            except Exception:  # noqa: BLE001 - the comparison alone still helps
                pass
        parts.append("</div>")
        return wrap(self.kind, "".join(parts), self.title or "What your kernel did, next to what was expected")

    def widget(self) -> Any:
        ipw = _ipw()
        panes = [_pane(ipw, wrap(self.kind, self.grid_html(), self.title or "What your kernel wrote vs expected"))]
        if self.rec is not None:
            try:
                panes.append(MemoryMap(self.rec, self.array).widget())
            except Exception:  # noqa: BLE001
                pass
        return ipw.VBox(panes)

    def __repr__(self) -> str:
        return (f"<simtlab check failure of '{self.name}': {int(self.wrong.sum()):,} wrong, "
                f"{int(self.unwritten.sum()):,} never written>")


def output_name(kernel: Any, index: int) -> str | None:
    """The kernel's name for its `index`-th argument (what the recorder calls the array)."""
    fn = getattr(kernel, "py_func", kernel)
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return None
    return names[index] if 0 <= index < len(names) else None


def show_check_failure(kernel: Any, index: int, got: np.ndarray, expected: np.ndarray, wrong: np.ndarray,
                       unwritten: np.ndarray | None = None, rec: Any = None, title: str = "") -> CheckFailureView:
    """Display (and return) the comparison of output argument `index` of `kernel` with the recorded launch's map."""
    name = output_name(kernel, index) or f"output argument {index}"
    view = CheckFailureView(name, got, expected, wrong, unwritten, rec=rec, array=name, title=title)
    view.show()
    return view
