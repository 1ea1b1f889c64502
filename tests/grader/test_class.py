"""A simulated class graded for real: nbgrader, the simtlab kernel, bubblewrap, the CLI, a crash, a kill,
a resume, and the same class again on a Dask LocalCluster with two worker processes.

One module-scoped run (about a minute or two on two cores) feeds the assertions below:
1. ``simtlab grade`` with a test hook that ends it abruptly right after the 4th result is journaled
   (before the gradebook has it);
2. the same command again, SIGKILLed from outside once 14 submissions are committed;
3. the same command once more, which finishes.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import simclass
from simclass import make_course

pytestmark = pytest.mark.slow

LAB = simclass.LAB
#: SIMTLAB_GRADER_TEST_SANDBOX=unshare (or none) runs the class as a machine without bubblewrap would
SANDBOX = os.environ.get("SIMTLAB_GRADER_TEST_SANDBOX", "auto")
FLAGS = ["--workers", "2", "--cell-timeout", "6", "--memory", "3072", "--processes", "96", "--wall", "150",
         "--no-progress", "--sandbox", SANDBOX]


def _expectations(students: dict) -> None:
    """Adjust the few expectations that depend on what isolation this machine offers."""
    from simtlab.grader.sandbox import detect_mode

    mode = detect_mode(None if SANDBOX == "auto" else SANDBOX)
    if not mode.cgroup_pids:     # no kernel cap on processes: the monitor stops the fork bomb, and the submission
        st = students["s17_fork_bomb"]
        st.score, st.status, st.feedback_must_contain = 0.0, "killed", ["could not be graded automatically"]
    if mode.kind == "unshare":   # the grading process is PID 1 of its namespace: SIGKILL from inside is ignored
        st = students["s29_kills_grader"]
        st.score, st.status = 9.0, "ok"


def _isolated() -> bool:
    from simtlab.grader.sandbox import detect_mode

    return detect_mode(None if SANDBOX == "auto" else SANDBOX).kind == "bwrap"


def _env(extra: dict | None = None) -> dict:
    key, value = MARK.split("=", 1)
    return {**os.environ, key: value, **(extra or {})}


def _cli(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simtlab.cli", *args], capture_output=True, text=True,
                          env=_env(env), timeout=900, **kw)


def _events(journal: Path) -> list[dict]:
    out = []
    for line in journal.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


MARK = f"SIMTLAB_TEST_MARK=class-{os.getpid()}-{time.time_ns()}"


def _children_alive() -> list[str]:
    """Grading processes started by this test's runs (marked through the environment) still alive."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmd = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                if "simtlab.grader.child" not in cmd:
                    continue
                if MARK.encode() in Path(f"/proc/{entry.name}/environ").read_bytes():
                    found.append(cmd)
            except OSError:
                continue
    return found


def _grades(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    course = make_course(base)
    r = _cli("labs", "release", LAB, "--course", str(course))
    assert r.returncode == 0, r.stderr
    dask_course = base / "dask" / "course"
    shutil.copytree(course, dask_course)
    subs = base / "submissions"
    students = simclass.build_class(course, subs)
    _expectations(students)
    cmd = ["grade", LAB, "--submissions", str(subs), "--course", str(course), *FLAGS]
    journal = course / "grading" / LAB / "journal.jsonl"

    t0 = time.monotonic()
    crash = _cli(*cmd, env={"SIMTLAB_GRADER_CRASH": "result:4"})
    assert crash.returncode == 99, crash.stderr[-3000:]
    time.sleep(1)
    assert not _children_alive(), "sandboxes outlived the crashed pipeline"

    proc = subprocess.Popen([sys.executable, "-m", "simtlab.cli", *cmd], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env())
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if sum(e["event"] == "committed" for e in _events(journal)) >= 14:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the second run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.5)
    leftovers = _children_alive()
    killed_events = _events(journal)

    final = _cli(*cmd)
    assert final.returncode == 0, final.stderr[-3000:]
    local_seconds = time.monotonic() - t0

    t1 = time.monotonic()
    # the class's attack notebooks name the first course's files: hide them too (they are also outside
    # what a bwrap sandbox shows; without bwrap, --hide is how an instructor protects other folders)
    dask = _cli("grade", LAB, "--submissions", str(subs), "--course", str(dask_course), "--dask", "local:2",
                "--hide", str(course), *FLAGS[2:])
    assert dask.returncode == 0, dask.stderr[-3000:]
    dask_seconds = time.monotonic() - t1
    return {"course": course, "dask_course": dask_course, "subs": subs, "students": students,
            "journal": journal, "events": _events(journal), "killed_events": killed_events,
            "leftovers": leftovers, "final": final, "dask": dask,
            "seconds": (local_seconds, dask_seconds)}


def test_every_score_is_what_it_should_be(graded):
    grades = _grades(graded["course"] / "grading" / LAB / "grades.csv")
    students = graded["students"]
    assert len(students) >= 30 and set(grades) == set(students)
    wrong = []
    for name, st in students.items():
        row = grades[name]
        if float(row["score"]) != st.score or row["status"] != st.status:
            wrong.append(f"{name}: {row['score']} {row['status']} (expected {st.score} {st.status})")
        for cell, want in st.cells.items():
            if float(row[f"demo:{cell}"]) != want:
                wrong.append(f"{name}: {cell} = {row[f'demo:{cell}']} (expected {want})")
        assert float(row["max_score"]) == 9.0
    assert not wrong, "\n".join(wrong)


def test_killed_and_resumed_run_grades_each_submission_exactly_once(graded):
    events = graded["events"]
    results = Counter((e["id"], e["digest"]) for e in events if e["event"] == "result")
    commits = Counter((e["id"], e["digest"]) for e in events if e["event"] == "committed")
    assert len(results) == len(graded["students"])
    assert set(results.values()) == {1}, "a submission was graded more than once"
    assert set(commits.values()) == {1}, "a submission was committed more than once"
    assert set(commits) == set(results)
    # the crash left one journaled result without its gradebook write; the next run wrote it without grading
    runs = [i for i, e in enumerate(events) if e["event"] == "run"]
    assert len(runs) == 3
    first = events[runs[0]:runs[1]]
    assert sum(e["event"] == "result" for e in first) == 4 and sum(e["event"] == "committed" for e in first) == 3
    orphan = next(e for e in first if e["event"] == "result" and not any(
        c["event"] == "committed" and c["id"] == e["id"] for c in first))
    second = events[runs[1]:runs[2]]
    assert any(e["event"] == "committed" and e["id"] == orphan["id"] for e in second)
    assert not any(e["event"] in ("started", "result") and e["id"] == orphan["id"] for e in events[runs[1]:])
    # the SIGKILL interrupted submissions in flight: they were started again and graded once
    started = Counter(e["id"] for e in events if e["event"] == "started")
    assert any(n >= 2 for n in started.values())
    assert not graded["leftovers"], f"sandboxes outlived the killed pipeline: {graded['leftovers']}"
    assert "graded before" in graded["final"].stdout


def test_gradebook_holds_one_submission_per_student(graded):
    from nbgrader.api import Gradebook

    course = graded["course"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        subs = gb.find_assignment(LAB).submissions
        assert sorted(s.student.id for s in subs) == sorted(graded["students"])
        s22 = gb.find_submission(LAB, "s22_writes_grades")
        assert s22.score == 0.0
        assert gb.find_submission(LAB, "s01_correct").score == 9.0
    assert not (course / "feedback" / "x.html").exists() and not (course / "result.json").exists()


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(errors="replace")))


def test_feedback_teaches_and_never_shows_hidden_tests(graded):
    course = graded["course"]
    secrets = simclass.hidden_snippets(course)
    assert len(secrets) > 5
    for name, st in graded["students"].items():
        page = course / "feedback" / name / LAB / "demo.html"
        assert page.exists(), name
        raw = page.read_text(errors="replace")
        text = _text(page)
        for s in secrets:
            assert s not in text and s not in raw and html.escape(s) not in raw, f"{name}: feedback shows {s!r}"
        flat = " ".join(text.split()).lower()        # messages are wrapped: compare words, not lines
        for phrase in st.feedback_must_contain:
            assert " ".join(phrase.split()).lower() in flat, f"{name}: feedback lacks {phrase!r}"
        nb_path = course / "autograded" / name / LAB / "demo.ipynb"
        if nb_path.exists():
            nb_text = nb_path.read_text()
            assert not any(s in nb_text for s in secrets), f"{name}: autograded notebook shows hidden tests"
        assert len(raw) < 3_000_000, f"{name}: feedback of {len(raw)} bytes"
    if graded["students"]["s29_kills_grader"].status == "error":
        t = _text(course / "feedback" / "s29_kills_grader" / LAB / "demo.html")
        assert "could not be graded automatically" in t
    t = _text(course / "feedback" / "s22_writes_grades" / LAB / "demo.html")
    assert "cannot write" in t
    if not _isolated():
        pytest.skip("no bubblewrap here: submissions can read the course's files (the log says so)")
    assert "grader fds opened: 0" in t
    t = _text(course / "feedback" / "s18_reads_hidden_tests" / LAB / "demo.html")
    assert "BEGIN SOLUTION" not in t and "cannot read" in t
    t = _text(course / "feedback" / "s19_reads_gradebook" / LAB / "demo.html")   # hidden, or an empty file
    assert "gradebook bytes: 0" in t or "gradebook: FileNotFoundError" in t
    assert "other student: FileNotFoundError" in _text(course / "feedback" / "s20_reads_other_student" / LAB /
                                                       "demo.html")


def test_the_log_says_how_submissions_were_isolated(graded):
    log = (graded["course"] / "grading" / LAB / "grading.log").read_text()
    assert "sandbox: " in log
    if _isolated():
        assert "bubblewrap sandbox" in log
    else:
        assert "WARNING: submissions are not isolated from the file system" in log
    if graded["students"]["s29_kills_grader"].status == "error":
        assert "s29_kills_grader: error" in log
    assert "s27_no_notebook: missing" in log


def test_dask_local_cluster_gives_identical_grades(graded):
    local = _grades(graded["course"] / "grading" / LAB / "grades.csv")
    dask = _grades(graded["dask_course"] / "grading" / LAB / "grades.csv")
    assert dask == local
    assert "Dask LocalCluster with 2 worker process(es)" in graded["dask"].stderr
    log = (graded["dask_course"] / "grading" / LAB / "grading.log").read_text()
    assert "Dask LocalCluster" in log
    print(f"local run (with crash, kill, resume): {graded['seconds'][0]:.0f} s, dask run: {graded['seconds'][1]:.0f} s")


def test_without_a_sandbox_the_log_says_so(tmp_path):
    """--sandbox none (what a machine without bubblewrap or namespaces gets): graded the same, with a warning."""
    course = make_course(tmp_path)
    assert _cli("labs", "release", LAB, "--course", str(course)).returncode == 0
    subs = tmp_path / "subs"
    students = simclass.build_class(course, subs, only=("s01_correct", "s13_racy"))
    r = _cli("grade", LAB, "--submissions", str(subs), "--course", str(course), *FLAGS[:-2], "--sandbox", "none")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "NO sandbox" in r.stderr and "install bubblewrap" in r.stderr
    log = (course / "grading" / LAB / "grading.log").read_text()
    assert "WARNING: submissions are not isolated from the file system" in log
    grades = _grades(course / "grading" / LAB / "grades.csv")
    assert {k: float(v["score"]) for k, v in grades.items()} == {k: st.score for k, st in students.items()}
