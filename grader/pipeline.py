"""``simtlab grade``: grade a whole class, safely, in parallel, resumably.

`GradingPipeline.run` does, for one lab:

1. makes sure the lab is released (nbgrader's gradebook knows its cells) and collects the
   submissions (folders or an LMS zip, `simtlab.grader.collect`);
2. replays the journal (`simtlab.grader.journal`): what is committed is skipped, what has a
   journaled result is written to the gradebook without grading it again;
3. for each remaining submission, in this (parent) process: sanitizes its notebooks with nbgrader's
   autograde preprocessors (which injects the hidden tests from the gradebook) and builds a job;
4. runs the jobs on local worker threads (``workers``) or a Dask cluster (``dask``: an address, or
   ``local:N`` for a LocalCluster of N processes), each job in its own sandboxed process
   (`simtlab.grader.worker`, `simtlab.grader.sandbox`), a bounded number in flight at a time;
5. as results arrive, in this process only: feedback HTML and the autograded notebook go to
   nbgrader's ``feedback/`` and ``autograded/`` folders (hidden tests removed), the result to the
   journal (fsync'd), the scores to the gradebook, then ``committed`` to the journal;
6. exports a CSV of the gradebook's scores and writes a grading log.

Workers never see the gradebook or the course folder; the parent is the only writer.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import csv
import html
import json
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._fastimport import speed_up_imports
from .collect import Submission, collect_submissions
from .course import Course
from .gradebook import GradebookWriter, grades_table
from .journal import Journal
from .progress import Progress
from .sandbox import Limits, detect_mode
from .worker import grade_job

__all__ = ["GradeOptions", "GradingPipeline", "RunSummary", "grade"]


@dataclass
class GradeOptions:
    """How to grade (the CLI's flags)."""

    workers: int = 1
    dask: str | None = None                 # scheduler address, or "local:N"
    limits: Limits = field(default_factory=Limits)
    cell_timeout: int | None = None         # overrides the course's Execute.timeout
    sandbox: str = "auto"                   # "auto", "bwrap", "unshare", "none"
    fresh: bool = False                     # ignore (and set aside) the journal of earlier runs
    progress: bool = True
    state_dir: Path | None = None           # journal, log, CSV (default: <course>/grading/<lab>)
    csv_path: Path | None = None
    hide: list[str] = field(default_factory=list)
    feedback: bool = True
    warm_cache: bool = True
    retry_errors: bool = False              # grade again submissions whose grading failed (status error/killed)


@dataclass
class RunSummary:
    """What a run did."""

    lab: str
    total: int = 0
    graded: int = 0          # graded by this run
    reused: int = 0          # already committed by an earlier run
    recovered: int = 0       # journaled result written to the gradebook by this run
    failed: int = 0          # graded by this run but the grading itself failed (killed, crashed)
    skipped: list[str] = field(default_factory=list)
    scores: dict[str, tuple[float, float]] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    csv_path: Path | None = None
    log_path: Path | None = None
    sandbox: str = ""
    seconds: float = 0.0


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _failure_feedback(lab: str, notebook: str, student: str, reason: str, max_score: float) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>"
            f"{html.escape(notebook)}</title></head><body style='font-family:sans-serif;max-width:50em;margin:2em'>"
            f"<h2>{html.escape(lab)} / {html.escape(notebook)} (Score: 0 / {max_score:g})</h2>"
            f"<p>Your submission ({html.escape(student)}) could not be graded automatically: "
            f"{html.escape(reason)}.</p><p>Run your notebook from the top with <em>Restart &amp; Run All</em> "
            "and check that every cell finishes; your instructor can see this result too.</p></body></html>")


class _LocalExecutor:
    """Worker threads, each driving one sandboxed grading process at a time."""

    def __init__(self, workers: int, on_start: Callable[[dict[str, Any]], None]) -> None:
        self.slots = max(1, int(workers))
        self.on_start = on_start
        self.pool = cf.ThreadPoolExecutor(self.slots, thread_name_prefix="simtlab-grade")
        self.description = f"{self.slots} local worker(s)"

    def _run(self, job: dict[str, Any]) -> dict[str, Any]:
        self.on_start(job)
        return grade_job(job)

    def submit(self, job: dict[str, Any]) -> Any:
        return self.pool.submit(self._run, job)

    def wait(self, futures: list[Any]) -> list[Any]:
        done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
        return list(done)

    def close(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _DaskExecutor:
    """A dask.distributed client: an existing scheduler, or a LocalCluster of worker processes."""

    def __init__(self, address: str) -> None:
        import logging

        from distributed import Client, LocalCluster

        self.cluster = None
        if address.startswith("local:"):
            try:
                n = int(address.split(":", 1)[1])
            except ValueError:
                raise ValueError(f"--dask local:N needs a number of workers, not '{address}'") from None
            self.cluster = LocalCluster(n_workers=max(1, n), threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            self.description = f"Dask LocalCluster with {n} worker process(es)"
        else:
            self.client = Client(address, timeout=30)
            self.description = f"Dask cluster at {address}"
        self.slots = max(1, sum(self.client.nthreads().values()))

    def submit(self, job: dict[str, Any]) -> Any:
        key = f"simtlab-grade-{job['id']}-{job['digest'][:12]}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(grade_job, job, key=key, pure=False)

    def wait(self, futures: list[Any]) -> list[Any]:
        from distributed import wait

        return list(wait(futures, return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


class GradingPipeline:
    """One ``simtlab grade`` run for one lab."""

    def __init__(self, course: Course, lab: str, submissions: str | os.PathLike[str],
                 options: GradeOptions | None = None, *, echo: Callable[[str], None] | None = None) -> None:
        self.course = course
        self.lab = lab
        self.submissions_path = Path(submissions).resolve()
        self.opt = options or GradeOptions()
        self.state_dir = Path(self.opt.state_dir or course.root / "grading" / lab).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.state_dir / "journal.jsonl")
        self.log_path = self.state_dir / "grading.log"
        self.csv_path = Path(self.opt.csv_path).resolve() if self.opt.csv_path else self.state_dir / "grades.csv"
        self.echo = echo
        self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in run()
        self._warmup: dict[str, Any] | None = None

    # -- logging --------------------------------------------------------------------------------------------
    def log(self, message: str, *, show: bool = False) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        for line in message.splitlines() or [""]:
            self._log_file.write(f"{stamp} {line}\n")
        self._log_file.flush()
        if show and self.echo is not None:
            self.echo(message)

    # -- jobs -----------------------------------------------------------------------------------------------
    def _hidden_paths(self) -> list[str]:
        paths = [str(p) for p in self.course.private_paths()]
        paths += [str(self.state_dir), str(self.submissions_path), str(self.csv_path)]
        paths += [str(Path(p).resolve()) for p in self.opt.hide]
        return paths

    def _make_job(self, sub: Submission, names: list[str], assets: dict[str, bytes],
                  settings: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(job, None), or (None, result) when there is nothing to run (no notebook, unreadable notebook)."""
        import nbformat

        notebooks: dict[str, str] = {}
        problems: list[str] = []
        for name in names:
            data = sub.files.get(f"{name}.ipynb")
            if data is None:
                continue
            try:
                nb = self.course.sanitize(self.lab, name, data, sub.student)
            except Exception as exc:
                problems.append(f"{name}.ipynb: {exc}")
                continue
            notebooks[name] = nbformat.writes(nb)
        if not notebooks:
            why = "; ".join(problems) if problems else "no notebook of this lab in the submission"
            return None, {"id": sub.id, "digest": sub.digest, "status": "missing" if not problems else "invalid",
                          "error": why, "notebooks": {}}
        files = {rel: data for rel, data in sub.files.items() if not rel.endswith(".ipynb")}
        files.update(assets)     # the instructor's files win, as in nbgrader's autograde
        job = {"id": sub.id, "digest": sub.digest, "student": sub.student, "lab": self.lab,
               "notebooks": notebooks, "files": {k: base64.b64encode(v).decode() for k, v in files.items()},
               "settings": settings, "limits": asdict(self.opt.limits), "hide": self._hidden_paths(),
               "sandbox": self.opt.sandbox, "render": self.opt.feedback, "warm_cache": self.opt.warm_cache,
               "warmup": self._warmup}
        if problems:
            job["problems"] = problems
        return job, None

    def _warmup_bundle(self, names: list[str], assets: dict[str, bytes]) -> dict[str, Any]:
        """The lab's source notebooks and files: run once per worker machine (outside the sandbox) to
        compile the emulator's numba loops for exactly what the tests use (see `worker.warm_numba_cache`)."""
        import hashlib

        notebooks = {}
        h = hashlib.sha256()
        for name in names:
            p = self.course.lab_source(self.lab) / f"{name}.ipynb"
            if p.is_file():
                notebooks[name] = p.read_text(encoding="utf-8")
                h.update(notebooks[name].encode())
        for rel in sorted(assets):
            h.update(rel.encode() + assets[rel])
        return {"key": h.hexdigest()[:16], "notebooks": notebooks,
                "files": {k: base64.b64encode(v).decode() for k, v in assets.items()}}

    # -- results --------------------------------------------------------------------------------------------
    def _store(self, sub: Submission, res: dict[str, Any], max_scores: dict[str, dict[str, float]]) -> dict:
        """Feedback and autograded files for one result; returns the journal's copy of the result."""
        fb_dir = self.course.step_dir("feedback") / sub.student / self.lab
        ag_dir = self.course.step_dir("autograded") / sub.student / self.lab
        slim: dict[str, Any] = {"status": res.get("status"), "error": res.get("error"),
                                "timestamp": sub.timestamp, "notebooks": {}}
        nbs = res.get("notebooks", {}) or {}
        for name in max_scores:
            nbres = nbs.get(name)
            if nbres is None:
                if self.opt.feedback:
                    reason = res.get("error") or "the notebook was not in the submission"
                    if res.get("status") == "ok":
                        reason = "the notebook was not in the submission"
                    page = _failure_feedback(self.lab, name, sub.student, reason, sum(max_scores[name].values()))
                    _atomic_write(fb_dir / f"{name}.html", page.encode("utf-8"))
                continue
            if self.opt.feedback and nbres.get("feedback_html"):
                _atomic_write(fb_dir / f"{name}.html", nbres["feedback_html"].encode("utf-8"))
            if nbres.get("notebook") is not None:
                _atomic_write(ag_dir / f"{name}.ipynb", json.dumps(nbres["notebook"], indent=1).encode("utf-8"))
            slim["notebooks"][name] = {k: nbres.get(k) for k in ("grades", "comments", "score", "max_score",
                                                                 "kernel_failure", "timed_out_cells", "error")}
        if sub.timestamp:
            _atomic_write(ag_dir / "timestamp.txt", sub.timestamp.encode("utf-8"))
        return slim

    @staticmethod
    def _total(result: dict[str, Any], max_scores: dict[str, dict[str, float]]) -> tuple[float, float]:
        score = 0.0
        for name in max_scores:
            nb = (result.get("notebooks") or {}).get(name) or {}
            score += sum((g or {}).get("score") or 0.0 for g in (nb.get("grades") or {}).values())
        return round(score, 6), round(sum(sum(c.values()) for c in max_scores.values()), 6)

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> RunSummary:
        """Grade the class; returns a summary. Safe to run again after a crash or a kill: it resumes."""
        import fcntl

        from .course import CourseError

        speed_up_imports()
        t0 = time.monotonic()
        summary = RunSummary(self.lab, log_path=self.log_path, csv_path=self.csv_path)
        lock = open(self.state_dir / ".lock", "w")  # noqa: SIM115 - held for the whole run
        try:
            try:      # one writer per lab: a second `simtlab grade` of the same lab waits for nobody, it stops
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise CourseError(f"another 'simtlab grade' is grading {self.lab} ({self.state_dir}); "
                                  "wait for it to finish") from None
            return self._run(summary, t0)
        finally:
            lock.close()
            self.journal.close()
            self._log_file.close()

    def _run(self, summary: RunSummary, t0: float) -> RunSummary:
        course, lab, opt = self.course, self.lab, self.opt
        if not course.is_released(lab):
            self.log(f"releasing {lab} first (nbgrader generate_assignment)", show=True)
            course.release(lab)
        names = course.notebook_names(lab)
        max_scores = course.max_scores(lab)
        assets = course.assets(lab)
        self._warmup = self._warmup_bundle(names, assets) if opt.warm_cache else None
        subs, skipped = collect_submissions(self.submissions_path, lab, names)
        summary.total = len(subs)
        summary.skipped = skipped
        mode = detect_mode(None if opt.sandbox in (None, "auto") else opt.sandbox)
        summary.sandbox = mode.describe()
        settings = course.execution_settings()
        if opt.cell_timeout:
            settings.timeout = int(opt.cell_timeout)
        if opt.fresh:
            moved = self.journal.rotate()
            if moved:
                self.log(f"fresh run: the previous journal was moved to {moved.name}", show=True)
        state = self.journal.read()
        self.log(f"=== grading {lab}: {len(subs)} submission(s) from {self.submissions_path}", show=True)
        self.log(f"sandbox: {summary.sandbox}", show=True)
        if mode.kind != "bwrap":
            self.log("WARNING: submissions are not isolated from the file system (see above)", show=True)
        self.log(f"limits: {opt.limits.describe()}; cell timeout {settings.timeout} s")
        for s in skipped:
            self.log(f"skipped: {s}", show=True)
        if state.bad_lines:
            self.log(f"journal: ignored {state.bad_lines} unreadable line(s) (a run killed while writing)")
        self.journal.append("run", lab=lab, submissions=len(subs), pid=os.getpid())

        progress = Progress(len(subs), enabled=opt.progress)
        todo: deque[Submission] = deque()
        with GradebookWriter(course.db_url, lab, course.course_id) as writer:
            for sub in subs:
                for note in sub.notes:
                    self.log(f"{sub.student}: {note}")
                e = state.get(sub.id, sub.digest)
                if opt.retry_errors and e.result is not None and e.result.get("status") in ("error", "killed"):
                    self.log(f"{sub.student}: grading failed before ({e.result.get('error')}); grading again")
                    todo.append(sub)
                elif e.committed and e.result is not None:
                    summary.reused += 1
                    summary.scores[sub.student] = self._total(e.result, max_scores)
                    summary.statuses[sub.student] = str(e.result.get("status"))
                    progress.update(f"{sub.student} (graded before)")
                elif e.result is not None:      # graded, killed before the gradebook had it: no re-grading
                    writer.write(sub.student, e.result, e.result.get("timestamp"))
                    self.journal.append("committed", id=sub.id, digest=sub.digest)
                    summary.recovered += 1
                    summary.scores[sub.student] = self._total(e.result, max_scores)
                    summary.statuses[sub.student] = str(e.result.get("status"))
                    self.log(f"{sub.student}: result from the journal written to the gradebook")
                    progress.update(f"{sub.student} (recovered)")
                else:
                    if e.attempts:
                        self.log(f"{sub.student}: started {e.attempts} time(s) before without a result; grading again")
                    todo.append(sub)

            def finish(sub: Submission, res: dict[str, Any]) -> None:
                slim = self._store(sub, res, max_scores)
                self.journal.append("result", id=sub.id, digest=sub.digest, result=slim)
                writer.write(sub.student, slim, sub.timestamp)
                self.journal.append("committed", id=sub.id, digest=sub.digest)
                score, total = self._total(slim, max_scores)
                summary.graded += 1
                summary.scores[sub.student] = (score, total)
                summary.statuses[sub.student] = str(res.get("status"))
                ok = res.get("status") in ("ok", "missing", "invalid")
                if res.get("status") not in ("ok",):
                    if res.get("status") in ("killed", "error"):
                        summary.failed += 1
                    self.log(f"{sub.student}: {res.get('status')}: {res.get('error')}", show=not opt.progress)
                    tail = (res.get("log_tail") or "").strip()
                    if tail and res.get("status") in ("killed", "error"):
                        self.log(f"{sub.student}: grading process log (tail):\n{tail[-2000:]}")
                extra = []
                for name, nbres in (slim.get("notebooks") or {}).items():
                    if nbres.get("kernel_failure"):
                        extra.append(f"{name}: {nbres['kernel_failure']}")
                    if nbres.get("timed_out_cells"):
                        extra.append(f"{name}: cell timeout in {', '.join(nbres['timed_out_cells'])}")
                self.log(f"{sub.student}: {score:g}/{total:g} ({res.get('status')}"
                         f"{', ' + str(res.get('wall_seconds')) + ' s' if res.get('wall_seconds') else ''})"
                         + ("; " + "; ".join(extra) if extra else ""))
                progress.update(f"{sub.student} {score:g}/{total:g}", ok=ok)

            if todo:
                self._grade(todo, names, assets, settings, finish)
        progress.close()
        self._export(summary)
        summary.seconds = time.monotonic() - t0
        self.log(f"done: {summary.graded} graded, {summary.reused} already graded, {summary.recovered} recovered, "
                 f"{summary.failed} failed, in {summary.seconds:.1f} s; CSV {summary.csv_path}", show=True)
        return summary

    def _grade(self, todo: deque[Submission], names: list[str], assets: dict[str, bytes], settings: Any,
               finish: Callable[[Submission, dict[str, Any]], None]) -> None:
        opt = self.opt
        by_id = {s.id: s for s in todo}

        def on_start(job: dict[str, Any]) -> None:
            self.journal.append("started", id=job["id"], digest=job["digest"])

        if opt.dask:
            executor: Any = _DaskExecutor(opt.dask)
        else:
            executor = _LocalExecutor(opt.workers, on_start)
        self.log(f"running on {executor.description}", show=True)
        settings_json = settings.to_json()
        inflight: dict[Any, str] = {}
        cancelled = True
        try:
            while todo or inflight:
                while todo and len(inflight) < 2 * executor.slots:
                    sub = todo.popleft()
                    job, immediate = self._make_job(sub, names, assets, settings_json)
                    if immediate is not None:
                        finish(sub, immediate)
                        continue
                    assert job is not None
                    for p in job.pop("problems", []):
                        self.log(f"{sub.student}: {p}")
                    fut = executor.submit(job)
                    if opt.dask:
                        on_start(job)
                    inflight[fut] = sub.id
                if not inflight:
                    continue
                for fut in executor.wait(list(inflight)):
                    sid = inflight.pop(fut)
                    sub = by_id[sid]
                    try:
                        res = fut.result()
                    except Exception as exc:   # a worker died or the task failed outside the sandbox
                        res = {"id": sid, "digest": sub.digest, "status": "error", "notebooks": {},
                               "error": f"the worker failed: {type(exc).__name__}: {exc}"}
                    finish(sub, res)
            cancelled = False
        finally:
            if cancelled:      # interrupted: stop the sandboxes now rather than wait for them
                from .sandbox import kill_active

                kill_active()
            executor.close(cancel=cancelled)

    def _export(self, summary: RunSummary) -> None:
        columns, rows = grades_table(self.course.db_url, self.lab, self.course.course_id)
        state = self.journal.read()
        status = {}
        for (sid, _digest), e in state.entries.items():
            if e.result is not None:
                status[sid] = e.result.get("status")
        columns = columns[:4] + ["status"] + columns[4:]
        for row in rows:
            row["status"] = status.get(row["student"], summary.statuses.get(row["student"], ""))
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.csv_path.with_name(f".{self.csv_path.name}.tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for row in rows:
                w.writerow(row)
        os.replace(tmp, self.csv_path)


def grade(course_root: str | os.PathLike[str] | None, lab: str, submissions: str | os.PathLike[str],
          options: GradeOptions | None = None, echo: Callable[[str], None] | None = None) -> RunSummary:
    """Grade `lab` for every submission under `submissions` (see `GradingPipeline`)."""
    course = Course(course_root)
    return GradingPipeline(course, lab, submissions, options,
                           echo=echo or (lambda m: print(m, file=sys.stderr))).run()
