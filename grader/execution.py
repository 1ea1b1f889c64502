"""Executing one sanitized notebook and turning it into scores and feedback (inside the sandbox).

`execute_and_grade` is what the sandboxed grading process does per notebook:

1. execute it with `GradingExecute`, nbgrader's Execute preprocessor (per-cell timeout with an
   interrupt, minimal tracebacks, history in memory) plus what a class of real submissions needs:
   a cap on each cell's output bytes while it runs (a print loop cannot exhaust memory), test cells
   with hidden tests run without being stored in the kernel's history (``In``/``_ih``), and a
   kernel that dies (``os._exit``, killed for memory or CPU) or stops answering after a timeout
   costs only the cells from that point on: they get an error output, the cells before keep theirs;
2. LimitOutput (nbgrader's line and traceback limits);
3. scores with nbgrader's own rule (`nbgrader.utils.determine_grade`): an error or stderr output in
   a test cell gives 0, a numeric last value gives partial credit, anything else full points;
4. scrubbing: any output line that quotes a hidden test line (a student's code can print ``In`` or
   inspect its caller) is replaced, and widget state is dropped;
5. feedback HTML with nbgrader's feedback template, after nbgrader's ClearHiddenTests.

Only what `NotebookResult` holds leaves the sandbox: scores, comments, feedback HTML and the
executed notebook with hidden tests removed.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import ClearHiddenTests, Execute, LimitOutput
from traitlets import Integer, Unicode
from traitlets.config import Config

from .course import ExecutionSettings

__all__ = ["GradingExecute", "NotebookResult", "execute_and_grade", "hidden_test_lines", "scrub_notebook",
           "grades_of", "render_feedback", "TIMEOUT_ENAME", "KERNEL_DIED_ENAME", "NOT_RUN_ENAME"]

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
TIMEOUT_ENAME = "CellTimeoutError"
KERNEL_DIED_ENAME = "KernelDied"
NOT_RUN_ENAME = "CellNotRun"
SCRUBBED = "[output line removed by the grader: it quoted a hidden test]"
#: hidden-test lines shorter than this (``pass``, ``)``) are too common to scrub on
MIN_SCRUB_LEN = 8


_RELEASE_ERROR_STATE = """
def _simtlab_release():
    import gc
    import sys
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    try:
        ip = get_ipython()
        ip.last_execution_result = None
        for formatter in (getattr(ip, "InteractiveTB", None), getattr(ip, "SyntaxTB", None)):
            if formatter is not None and hasattr(formatter, "tb"):
                formatter.tb = None     # IPython's traceback formatter keeps the last traceback
    except Exception:
        pass
    gc.collect()
_simtlab_release()
del _simtlab_release
"""


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class GradingExecute(Execute):
    """nbgrader's Execute, hardened for untrusted notebooks (see the module docstring)."""

    max_cell_output_bytes = Integer(1 << 20, help="bytes of output kept per cell while it runs").tag(config=True)
    hidden_marker = Unicode(BEGIN_HIDDEN, help="marks test cells that carry hidden tests").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: Any = None, km: Any = None) -> tuple[NotebookNode, Any]:
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.kernel_failure: str | None = None
        self.timed_out: list[int] = []
        self._out_bytes: dict[int, int] = {}
        self._truncated: set[int] = set()
        # the kernel's own stdout/stderr (not cell output) go nowhere: they are not the grader's to keep
        with self.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            assert self.kc is not None
            info = self.wait_for_reply(self.kc.kernel_info())
            if info is not None:
                self.nb.metadata["language_info"] = info["content"].get("language_info", {})
            for index, cell in enumerate(self.nb.cells):
                if self.kernel_failure is not None:
                    self._mark(cell, NOT_RUN_ENAME, f"not run: {self.kernel_failure}")
                    continue
                try:
                    self.preprocess_cell(cell, resources, index)
                except DeadKernelError:
                    self.kernel_failure = ("the kernel died in an earlier cell (os._exit, a crash, or it was "
                                           "stopped for using too much memory or CPU time)")
                    self._mark(cell, KERNEL_DIED_ENAME, "the kernel died while running this cell (os._exit, a "
                                                        "crash, or it was stopped for using too much memory or "
                                                        "CPU time)")
                except CellTimeoutError:
                    self.kernel_failure = ("the kernel did not stop when an earlier cell was interrupted after its "
                                           "time limit, so it was shut down")
                    self.timed_out.append(index)
                    self._mark(cell, TIMEOUT_ENAME, f"this cell ran longer than {self.timeout} s and did not stop "
                                                    "when interrupted; the kernel was shut down")
        self.set_widgets_metadata()
        return self.nb, self.resources

    @staticmethod
    def _mark(cell: NotebookNode, ename: str, evalue: str) -> None:
        if cell.cell_type != "code" or not cell.source.strip():
            return
        cell.outputs = list(cell.get("outputs", [])) + [_error_output(ename, evalue)]

    def preprocess_cell(self, cell: NotebookNode, resources: Any, index: int) -> tuple[NotebookNode, Any]:
        self._check_assign_resources(resources)
        hidden = cell.cell_type == "code" and self.hidden_marker in cell.source
        cell = self.execute_cell(cell, index, store_history=not hidden)
        if cell.cell_type == "code":
            _timing(f"cell {index}")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if any(o.get("ename") == TIMEOUT_ENAME for o in errors):
            self.timed_out.append(index)
        elif errors:
            self._release_error_state()
        return cell, self.resources

    def _release_error_state(self) -> None:
        """Drop the kernel's references to the last exception (``sys.last_traceback``, IPython's last result
        and traceback formatter).

        A traceback keeps the failing frames alive: after a memory bomb inside a function, its arrays would
        stay allocated and make every later cell fail for lack of memory. Runs silently (no output, no
        history); a kernel that does not answer is left to the next cell's timeout.
        """
        if self.kc is None:
            return
        try:
            msg_id = self.kc.execute(_RELEASE_ERROR_STATE, silent=True, store_history=False)
            self.wait_for_reply(msg_id)
        except Exception:
            pass

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        """Keep a cell's outputs until they reach `max_cell_output_bytes`, then one note and nothing more."""
        if cell_index in self._truncated:
            return None
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        size += sum(len(str(x)) for x in content.get("traceback", []) or [])
        used = self._out_bytes.get(cell_index, 0) + size
        self._out_bytes[cell_index] = used
        if used > self.max_cell_output_bytes and msg.get("msg_type") != "error":
            self._truncated.add(cell_index)
            note = NotebookNode(output_type="stream", name="stdout",
                                text=f"\n... output truncated by the grader: this cell printed more than "
                                     f"{self.max_cell_output_bytes:,} bytes ...\n")
            outs.append(note)
            return note
        return super().output(outs, msg, display_id, cell_index)


# -- scores -------------------------------------------------------------------------------------------------

@dataclass
class NotebookResult:
    """What grading one notebook produced (all of it safe to leave the sandbox)."""

    name: str
    grades: dict[str, dict[str, Any]] = field(default_factory=dict)     # cell id -> {score, max_score}
    comments: dict[str, str | None] = field(default_factory=dict)       # solution cell id -> auto comment
    score: float = 0.0
    max_score: float = 0.0
    feedback_html: str = ""
    notebook: dict[str, Any] | None = None
    kernel_failure: str | None = None
    timed_out_cells: list[str] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def grades_of(nb: NotebookNode) -> tuple[dict[str, dict[str, Any]], dict[str, str | None]]:
    """Scores of the grade cells and auto comments of the solution cells, as nbgrader's SaveAutoGrades
    computes them (``determine_grade``; "No response." for an untouched answer)."""
    grades: dict[str, dict[str, Any]] = {}
    comments: dict[str, str | None] = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta:
            continue
        gid = meta.get("grade_id")
        if nbutils.is_grade(cell):
            try:
                score, max_score = nbutils.determine_grade(cell, None)
            except (ValueError, KeyError):   # e.g. partial credit above the cell's points
                score, max_score = 0.0, float(meta.get("points", 0))
            grades[gid] = {"score": None if score is None else float(score), "max_score": float(max_score)}
        if nbutils.is_solution(cell):
            unchanged = meta.get("checksum") == nbutils.compute_checksum(cell) and not nbutils.is_task(cell)
            comments[gid] = "No response." if unchanged else None
    return grades, comments


# -- scrubbing ----------------------------------------------------------------------------------------------

def hidden_test_lines(nb: NotebookNode) -> set[str]:
    """The stripped lines inside hidden-test regions of the notebook's cells (long enough to matter)."""
    lines: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in cell.get("source", "").split("\n"):
            if BEGIN_HIDDEN in line:
                inside = True
                continue
            if END_HIDDEN in line:
                inside = False
                continue
            s = line.strip()
            if inside and len(s) >= MIN_SCRUB_LEN:
                lines.add(s)
    return lines


def _scrub_text(text: str, secrets: set[str]) -> tuple[str, int]:
    if not text or not secrets:
        return text, 0
    out, n = [], 0
    for line in text.split("\n"):
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
        if BEGIN_HIDDEN in plain or END_HIDDEN in plain or any(s in plain for s in secrets):
            out.append(SCRUBBED)
            n += 1
        else:
            out.append(line)
    return "\n".join(out), n


def scrub_notebook(nb: NotebookNode, secrets: set[str]) -> int:
    """Remove output lines that quote hidden tests, and widget state; return how many lines went."""
    removed = 0
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for out in cell.get("outputs", []) or []:
            kind = out.get("output_type")
            if kind == "stream":
                out["text"], n = _scrub_text(out.get("text", ""), secrets)
                removed += n
            elif kind in ("execute_result", "display_data"):
                data = out.get("data", {})
                for mime in list(data):
                    v = data[mime]
                    if isinstance(v, list):
                        v = "".join(v)
                    if isinstance(v, str):
                        if mime.startswith("text/") or mime.endswith("json") or mime.endswith("javascript"):
                            data[mime], n = _scrub_text(v, secrets)
                            removed += n
                    else:   # JSON payloads (widget views, application/json): drop them if they quote a test
                        flat = str(v)
                        if any(s in flat for s in secrets):
                            del data[mime]
                            removed += 1
                if not data:
                    data["text/plain"] = SCRUBBED
            elif kind == "error":
                out["evalue"], n = _scrub_text(str(out.get("evalue", "")), secrets)
                removed += n
                tb = []
                for line in out.get("traceback", []) or []:
                    t, n = _scrub_text(line, secrets)
                    removed += n
                    tb.append(t)
                out["traceback"] = tb
    return removed


# -- feedback -----------------------------------------------------------------------------------------------

def _apply_scores(nb: NotebookNode, grades: dict[str, dict[str, Any]], comments: dict[str, str | None]) -> None:
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if not meta:
            continue
        gid = meta.get("grade_id")
        if gid in grades:
            g = grades[gid]
            meta["score"] = g["score"] if g["score"] is not None else 0.0
            meta["points"] = g["max_score"]
        if gid in comments:
            meta["comment"] = comments[gid]


def render_feedback(nb: NotebookNode, name: str, score: float, max_score: float) -> str:
    """Feedback HTML with nbgrader's feedback template; hidden tests removed first (ClearHiddenTests)."""
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

    nb = copy.deepcopy(nb)
    resources: dict[str, Any] = {"nbgrader": {"notebook": name, "score": score, "max_score": max_score,
                                              "late_penalty": 0}}
    nb, resources = ClearHiddenTests(enforce_metadata=False).preprocess(nb, resources)
    base = os.path.join(os.path.dirname(nbgrader.__file__), "server_extensions", "formgrader")
    c = Config()
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [os.path.join(base, "templates")]
    c.HTMLExporter.extra_template_paths = [os.path.join(base, "static", "node_modules", "bootstrap", "dist", "css")]
    exporter = HTMLExporter(config=c)
    exporter.register_preprocessor(CSSHTMLHeaderPreprocessor(), enabled=True)
    html, _ = exporter.from_notebook_node(nb, resources=resources)
    return html


# -- the whole step -----------------------------------------------------------------------------------------

def _execute_config(settings: ExecutionSettings) -> Config:
    c = Config()
    c.Execute.timeout = int(settings.timeout)
    c.Execute.extra_arguments = list(settings.extra_arguments)
    c.Execute.interrupt_on_timeout = bool(settings.interrupt_on_timeout)
    c.Execute.iopub_timeout = int(settings.iopub_timeout)
    c.Execute.shutdown_kernel = "immediate"      # the sandbox goes away anyway; no graceful wait
    # talk to the kernel over unix sockets: works in a network namespace whose loopback is down (unshare)
    c.KernelManager.transport = "ipc"
    if settings.error_on_timeout:
        c.Execute.error_on_timeout = dict(settings.error_on_timeout)
    else:
        c.Execute.error_on_timeout = {
            "ename": TIMEOUT_ENAME, "evalue": "",
            "traceback": [f"{TIMEOUT_ENAME}: this cell ran longer than {settings.timeout} s and was interrupted "
                          "(an endless loop? a kernel launch that never finishes is stopped by the emulator's "
                          "watchdog instead)"]}
    c.GradingExecute.max_cell_output_bytes = int(settings.max_cell_output_bytes)
    c.LimitOutput.max_lines = int(settings.max_lines)
    c.LimitOutput.max_traceback = int(settings.max_traceback)
    return c


def execute_and_grade(nb: NotebookNode, name: str, settings: ExecutionSettings, workdir: str,
                      *, render: bool = True) -> NotebookResult:
    """Execute `nb` (already sanitized: hidden tests injected) in `workdir` and grade it."""
    _timing("start")
    result = NotebookResult(name)
    secrets = hidden_test_lines(nb)
    c = _execute_config(settings)
    ex = GradingExecute(config=c)
    resources: dict[str, Any] = {"metadata": {"path": workdir}}
    try:
        nb, resources = ex.preprocess(nb, resources)
    except Exception as exc:   # the kernel could not start, or nbclient failed outside a cell
        result.error = f"execution failed: {type(exc).__name__}: {exc}"
        for cell in nb.cells:
            GradingExecute._mark(cell, NOT_RUN_ENAME, "not run: the notebook could not be executed")
    else:
        result.kernel_failure = ex.kernel_failure
        for i in sorted(set(ex.timed_out)):
            gid = nb.cells[i].metadata.get("nbgrader", {}).get("grade_id")
            result.timed_out_cells.append(gid or f"cell {i}")
    _timing("executed")
    nb, _ = LimitOutput(config=c).preprocess(nb, {})
    grades, comments = grades_of(nb)
    result.grades, result.comments = grades, comments
    result.score = float(sum(g["score"] or 0.0 for g in grades.values()))
    result.max_score = float(sum(g["max_score"] for g in grades.values()))
    scrub_notebook(nb, secrets)
    _apply_scores(nb, grades, comments)
    clean, _ = ClearHiddenTests(enforce_metadata=False).preprocess(copy.deepcopy(nb), {})
    result.notebook = clean
    if render:
        result.feedback_html = render_feedback(nb, name, result.score, result.max_score)
    _timing("graded and rendered")
    return result


_t_last = [0.0]


def _timing(what: str) -> None:
    if os.environ.get("SIMTLAB_GRADER_TIMING") == "1":
        import sys
        import time

        now = time.perf_counter()
        print(f"[execute] {what}: {now - (_t_last[0] or now):.3f} s", file=sys.stderr, flush=True)
        _t_last[0] = now
