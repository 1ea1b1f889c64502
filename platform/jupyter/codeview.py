"""The compiled-code view: a kernel's Python source next to the PTX (or SASS) the real compiler made of it.

Lines are linked both ways: hovering a Python line highlights the PTX/SASS lines generated for it,
and hovering a PTX/SASS line highlights its Python line (pure CSS with ``:has()``, so the static
HTML of executed notebooks and nbgrader feedback links lines too; no JavaScript). Each assembly
line carries its Python line number in the gutter and a tooltip. The interactive widget adds a
PTX/SASS toggle and a line picker that lists only the chosen line's instructions.

This module keeps the view's three layers together because they are small: `code_model` (what to
show, from a `CompileResult`), `code_html` (static HTML), `CodeView` (the `Visual`). The result
comes from ``cuda.compile_check`` (``simtlab[toolchain]``); this view never runs a compiler itself.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any

from . import render as R
from .widgets import Visual, _ipw, _pane

MAX_ASM_LINES = 6000
_ids = itertools.count(1)


@dataclass
class AsmLine:
    """One PTX/SASS line and the kernel-file Python line it came from (None: not an instruction, or from
    another file, named in `other`)."""

    text: str
    line: int | None
    other: str | None = None


@dataclass
class CodeModel:
    """What the compiled-code view shows."""

    kernel: str
    arch: str
    which: str                                  # "ptx" or "sass"
    compiles: bool
    source: list[tuple[int, str]]               # (line number, text) of the kernel's Python source
    asm: list[AsmLine]
    counts: dict[int, int]                      # Python line -> number of assembly instructions
    facts: list[tuple[str, str, str]]           # (label, value, key)
    message: str = ""
    error_line: int | None = None
    notes: list[str] = field(default_factory=list)
    available: tuple[str, ...] = ()             # "ptx", "sass": what the result holds


def _same(a: str, b: str) -> bool:
    return a == b or os.path.basename(a) == os.path.basename(b)


def code_model(result: Any, which: str = "ptx") -> CodeModel:
    """The view model of a `CompileResult`: `which` is "ptx" or "sass" (falls back to PTX without SASS)."""
    available = tuple(k for k in ("ptx", "sass") if getattr(result, k, None))
    if which not in ("ptx", "sass"):
        raise ValueError(f"which must be 'ptx' or 'sass', not {which!r}")
    notes = []
    if which == "sass" and "sass" not in available:
        notes.append(result.sass_note or "no SASS for this kernel")
        which = "ptx"
    text = (result.sass if which == "sass" else result.ptx) or ""
    where = result.sass_lines if which == "sass" else result.ptx_lines
    asm: list[AsmLine] = []
    counts: dict[int, int] = {}
    for i, t in enumerate(text.splitlines()):
        t = t.expandtabs(4)
        if which == "sass":
            t = re.sub(r"(?<=\S) {3,}", "  ", t)      # nvdisasm pads its columns widely
        if i >= MAX_ASM_LINES:
            notes.append(f"showing the first {MAX_ASM_LINES} of {len(text.splitlines())} lines")
            break
        w = where[i] if i < len(where) else None
        if w is not None and _same(w[0], result.filename):
            asm.append(AsmLine(t, w[1]))
            counts[w[1]] = counts.get(w[1], 0) + 1
        elif w is not None:
            asm.append(AsmLine(t, None, f"{os.path.basename(w[0])}:{w[1]}"))
        else:
            asm.append(AsmLine(t, None))
    source = [(result.firstline + k, s) for k, s in enumerate(result.source)]
    facts = [("target", result.arch, "arch")]
    if result.compiles:
        facts += [("registers per thread", str(result.registers), "registers"),
                  ("static shared memory", f"{result.static_shared or 0} B", "shared"),
                  ("barriers", str(result.barriers) if result.barriers is not None else "?", "barriers"),
                  ("spilled", f"{result.spill_stores or 0} B stored / {result.spill_loads or 0} B loaded", "spills")]
    tools = ", ".join(result.tools.values())
    notes.append(f"compiled by {tools} in {result.seconds:.2f} s (numba-cuda's real compiler, no GPU needed)")
    notes.extend(result.notes)
    return CodeModel(kernel=result.kernel, arch=result.arch, which=which, compiles=result.compiles, source=source,
                     asm=asm, counts=counts, facts=facts, message=result.message, error_line=result.line,
                     notes=notes, available=available)


CODE_CSS = """<style>
.simtlab-code .panes{display:flex;gap:10px;align-items:flex-start}
.simtlab-code .pane{flex:1 1 50%;min-width:0;max-height:520px;overflow:auto;border:1px solid #e2e8f0;border-radius:4px}
.simtlab-code .row{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px;white-space:pre;
 line-height:1.45;padding:0 6px;border-left:4px solid transparent}
.simtlab-code .row .ln{display:inline-block;min-width:3.2em;color:#94a3b8;text-align:right;margin-right:8px}
.simtlab-code .row .n{display:inline-block;min-width:2.6em;color:#7c3aed;text-align:right;margin-right:6px}
.simtlab-code .row.dim{color:#94a3b8}
.simtlab-code .row.err{background:#fee2e2}
.simtlab-code .row.cur{background:#fef08a}
</style>"""


def _band(line: int) -> str:
    return R.block_color(line, 62)


def _highlight_rules(view_id: str, lines: list[int]) -> str:
    """CSS that links each Python line with its assembly lines (hover either side)."""
    rules = []
    for ln in lines:
        sel = f'[data-l="{ln}"]'
        rules.append(f".{view_id}:has(.py{sel}:hover) .row{sel},.{view_id}:has(.asm{sel}:hover) .row{sel}"
                     "{background:#fef08a}")
    return "<style>" + "".join(rules) + "</style>" if rules else ""


def code_html(m: CodeModel, *, focus: int | None = None, view_id: str | None = None) -> str:
    """The view as static HTML: facts, the compiler's verdict, then source and assembly side by side."""
    view_id = view_id or f"simtlab-code-{next(_ids)}"
    facts = "".join(R.kv(label, R.esc(value), key) for label, value, key in m.facts)
    verdict = (f'<div class="ok" data-simtlab-value="verdict">compiles for {R.esc(m.arch)}</div>' if m.compiles else
               f'<div class="warn" data-simtlab-value="verdict">does not compile for {R.esc(m.arch)}'
               f'{f" (line {m.error_line})" if m.error_line else ""}: {R.esc(m.message)}</div>')
    py_rows = []
    for ln, text in m.source:
        n = m.counts.get(ln, 0)
        cls = ("row py" + (" err" if ln == m.error_line else "") + (" cur" if ln == focus else "")
               + ("" if n else " dim"))
        tip = f"line {ln}: {n} {m.which.upper()} instruction(s)" if n else f"line {ln}: no instructions"
        style = f' style="border-left-color:{_band(ln)}"' if n else ""
        py_rows.append(f'<div class="{cls}" data-l="{ln}" title="{R.esc(tip)}"{style}><span class="ln">{ln}</span>'
                       f'<span class="n">{n or ""}</span>{R.esc(text)}</div>')
    asm_rows = []
    for a in m.asm:
        if a.line is not None:
            cls = "row asm" + (" cur" if a.line == focus else "")
            asm_rows.append(f'<div class="{cls}" data-l="{a.line}" title="Python line {a.line}" '
                            f'style="border-left-color:{_band(a.line)}"><span class="ln">{a.line}</span>'
                            f"{R.esc(a.text)}</div>")
        else:
            tip = f' title="from {R.esc(a.other)}"' if a.other else ""
            gutter = R.esc(a.other.split(":")[-1]) if a.other else ""
            asm_rows.append(f'<div class="row asm dim"{tip}><span class="ln">{gutter}</span>{R.esc(a.text)}</div>')
    if not m.asm:
        asm_rows.append('<div class="row dim">no code: the kernel did not compile</div>')
    panes = (f'<div class="panes"><div class="pane" data-simtlab-pane="python">{"".join(py_rows)}</div>'
             f'<div class="pane" data-simtlab-pane="{m.which}">{"".join(asm_rows)}</div></div>')
    hint = (f"hover a line on either side to see what it became / where it came from; the purple number is how "
            f"many {m.which.upper()} instructions a Python line produced")
    body = (CODE_CSS + _highlight_rules(view_id, sorted(m.counts)) + facts + verdict + panes
            + R.notes([hint] + m.notes))
    title = f"{m.which.upper()} of {m.kernel} ({m.arch})"
    return (f'{R.CSS}<div class="simtlab-v simtlab-code {view_id}" data-simtlab="code-view" '
            f'data-simtlab-which="{m.which}"><h4>{R.esc(title)}</h4>{body}</div>')


class CodeView(Visual):
    """A kernel's Python source next to its PTX or SASS from numba-cuda's real compiler, lines linked."""

    kind = "code-view"

    def __init__(self, result: Any, which: str = "ptx") -> None:
        self.result = result
        self.model = code_model(result, which)

    def html(self) -> str:
        return code_html(self.model)

    def widget(self) -> Any:
        ipw = _ipw()
        lines = sorted(self.model.counts)
        choices = [("all lines", None)] + [(f"line {ln}: {dict(self.model.source).get(ln, '').strip()[:50]}", ln)
                                            for ln in lines]
        pick = ipw.Dropdown(options=choices, value=None, description="Python line")
        which = ipw.ToggleButtons(options=[w.upper() for w in self.model.available] or ["PTX"],
                                  value=self.model.which.upper(), description="show")
        pane = _pane(ipw, self.html())
        only = _pane(ipw, "")

        def redraw(_: Any = None) -> None:
            m = code_model(self.result, which.value.lower())
            pane.value = code_html(m, focus=pick.value)
            if pick.value is None:
                only.value = ""
                return
            rows = "".join(f"<div class='row'>{R.esc(a.text)}</div>" for a in m.asm if a.line == pick.value)
            only.value = R.wrap("code-focus", CODE_CSS + f"<div class='simtlab-code'>{rows}</div>",
                                f"{m.which.upper()} of line {pick.value}")

        pick.observe(redraw, names="value")
        which.observe(redraw, names="value")
        return ipw.VBox([ipw.HBox([which, pick]), only, pane])

    def __repr__(self) -> str:
        return f"<simtlab code view: {self.result.summary()}>"


def code_view(kernel: Any, *args: Any, chip: Any = None, which: str = "ptx", **options: Any) -> CodeView:
    """The compiled-code view of `kernel` (or of a `CompileResult`): its source next to the PTX (``which="sass"``:
    the SASS) that numba-cuda's real compiler produces for `chip` (default: the active chip) with the argument
    types of `args` (launch arguments or a signature string; none: its last launch). Needs simtlab[toolchain]."""
    from simtlab.emulator.toolchain import CompileResult, compile_check

    result = kernel if isinstance(kernel, CompileResult) else compile_check(kernel, *args, chip=chip, **options)
    return CodeView(result, which)
