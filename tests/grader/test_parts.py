"""The pipeline's parts on their own: journal, collection, scrubbing, scores, the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from simtlab.grader import sandbox as sb
from simtlab.grader.child import safe_relpath
from simtlab.grader.collect import CollectError, collect_submissions, valid_student_id
from simtlab.grader.execution import SCRUBBED, grades_of, hidden_test_lines, scrub_notebook
from simtlab.grader.journal import Journal


def test_journal_replays_and_survives_a_torn_last_line(tmp_path):
    j = Journal(tmp_path / "journal.jsonl")
    j.append("run", lab="x")
    j.append("started", id="ann", digest="d1")
    j.append("result", id="ann", digest="d1", result={"status": "ok", "notebooks": {}})
    j.append("committed", id="ann", digest="d1")
    j.append("started", id="bob", digest="d2")
    j.append("result", id="bob", digest="d2", result={"status": "ok"})
    j.close()
    with open(tmp_path / "journal.jsonl", "ab") as f:
        f.write(b'{"event": "committed", "id": "bo')          # a kill mid-write
    state = Journal(tmp_path / "journal.jsonl").read()
    assert state.bad_lines == 1 and state.runs == 1
    ann, bob = state.get("ann", "d1"), state.get("bob", "d2")
    assert ann.committed and ann.result["status"] == "ok" and ann.attempts == 1
    assert not bob.committed and bob.result is not None
    assert state.get("ann", "other-digest").result is None      # changed content: a new submission
    j2 = Journal(tmp_path / "journal.jsonl")
    j2.append("committed", id="bob", digest="d2")                # starts on a fresh line
    j2.close()
    state = Journal(tmp_path / "journal.jsonl").read()
    assert state.get("bob", "d2").committed and state.bad_lines == 1
    j3 = Journal(tmp_path / "journal.jsonl")       # --retry-errors: a later result replaces the committed one
    j3.append("result", id="bob", digest="d2", result={"status": "error"})
    j3.close()
    bob = Journal(tmp_path / "journal.jsonl").read().get("bob", "d2")
    assert bob.result == {"status": "error"} and not bob.committed and bob.results_seen == 2
    moved = Journal(tmp_path / "journal.jsonl").rotate()
    assert moved and moved.exists() and not (tmp_path / "journal.jsonl").exists()


def _nb(text: str = "print(1)") -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)])
    return nbformat.writes(nb).encode()


def test_collect_folders_with_and_without_lab_level(tmp_path):
    (tmp_path / "ann" / "lab1").mkdir(parents=True)
    (tmp_path / "ann" / "lab1" / "demo.ipynb").write_bytes(_nb())
    (tmp_path / "ann" / "lab1" / "timestamp.txt").write_text("2026-11-01 10:00:00 UTC")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "my work.ipynb").write_bytes(_nb())       # the lab has one notebook: taken as it
    (tmp_path / "bob" / "helper.py").write_text("X = 1\n")
    (tmp_path / "bob" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "bad name!").mkdir()
    subs, skipped = collect_submissions(tmp_path, "lab1", ["demo"])
    assert [s.student for s in subs] == ["ann", "bob"]
    ann, bob = subs
    assert ann.notebooks == ["demo"] and ann.timestamp.startswith("2026-11-01")
    assert set(bob.files) == {"demo.ipynb", "helper.py"} and bob.notebooks == ["demo"]
    assert any("bad name!" in s for s in skipped)
    assert ann.digest != bob.digest and len(ann.digest) == 64


def test_collect_lms_zips(tmp_path):
    canvas = tmp_path / "canvas.zip"
    with zipfile.ZipFile(canvas, "w") as z:
        z.writestr("jdoe_12345_678_demo-1.ipynb", _nb())
        z.writestr("asmith_LATE_222_333_demo.ipynb", _nb("print(2)"))
        z.writestr("../../etc/passwd", b"x")
        z.writestr("nobody.txt", b"?")
    subs, skipped = collect_submissions(canvas, "lab1", ["demo"])
    assert [s.student for s in subs] == ["asmith", "jdoe"]
    assert all(s.notebooks == ["demo"] for s in subs)
    assert any("nobody.txt" in s for s in skipped)
    moodle = tmp_path / "moodle.zip"
    with zipfile.ZipFile(moodle, "w") as z:
        z.writestr("Ada Lovelace_101_assignsubmission_file_/demo.ipynb", _nb())
        z.writestr("Ada Lovelace_101_assignsubmission_file_/../evil.py", b"x")
    subs, _ = collect_submissions(moodle, "lab1", ["demo"])
    assert [s.student for s in subs] == ["ada_lovelace"] and set(subs[0].files) == {"demo.ipynb"}
    folders = tmp_path / "folders.zip"
    with zipfile.ZipFile(folders, "w") as z:
        z.writestr("export/ann/lab1/demo.ipynb", _nb())
        z.writestr("export/bob/demo.ipynb", _nb())
    subs, _ = collect_submissions(folders, "lab1", ["demo"])
    assert [s.student for s in subs] == ["ann", "bob"]
    with pytest.raises(CollectError):
        collect_submissions(tmp_path / "missing", "lab1", ["demo"])
    assert valid_student_id("a.b-c@d_e") and not valid_student_id("..") and not valid_student_id("a/b")


def test_safe_relpath():
    assert safe_relpath("data/x.npy") == "data/x.npy"
    for bad in ("/etc/passwd", "../x", "a/../../b", ""):
        assert safe_relpath(bad) is None


def _graded_nb() -> nbformat.NotebookNode:
    def cell(src, gid, outputs, **meta):
        c = nbformat.v4.new_code_cell(src)
        c.metadata["nbgrader"] = {"grade_id": gid, "locked": True, "schema_version": 3, "task": False,
                                  "solution": False, "grade": False, **meta}
        c.outputs = [nbformat.from_dict(o) for o in outputs]
        return c

    hidden = "check(x)\n### BEGIN HIDDEN TESTS\nassert secret_function(x) == 42\n### END HIDDEN TESTS"
    cells = [
        cell("x = 1", "answer", [], solution=True),
        cell(hidden, "t1", [{"output_type": "stream", "name": "stdout",
                             "text": "ok\nassert secret_function(x) == 42\n"}], grade=True, points=2),
        cell("t2", "t2", [{"output_type": "error", "ename": "AssertionError", "evalue": "no",
                           "traceback": ["AssertionError: no"]}], grade=True, points=1),
        cell("t3", "t3", [{"output_type": "execute_result", "execution_count": 1, "metadata": {},
                           "data": {"text/plain": "1.5"}}], grade=True, points=3),
        cell("t4", "t4", [{"output_type": "stream", "name": "stderr", "text": "warning"}], grade=True, points=1),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["widgets"] = {"state": "assert secret_function(x) == 42"}
    from nbgrader.utils import compute_checksum
    cells[0].metadata["nbgrader"]["checksum"] = compute_checksum(cells[0])
    return nb


def test_scores_follow_nbgrader_rules_and_scrubbing_removes_hidden_lines():
    nb = _graded_nb()
    grades, comments = grades_of(nb)
    assert grades == {"t1": {"score": 2.0, "max_score": 2.0}, "t2": {"score": 0.0, "max_score": 1.0},
                      "t3": {"score": 1.5, "max_score": 3.0}, "t4": {"score": 0.0, "max_score": 1.0}}
    assert comments == {"answer": "No response."}
    secrets = hidden_test_lines(nb)
    assert secrets == {"assert secret_function(x) == 42"}
    removed = scrub_notebook(nb, secrets)
    assert removed == 1 and "widgets" not in nb.metadata
    assert nb.cells[1].outputs[0]["text"] == f"ok\n{SCRUBBED}\n"


def test_sandbox_mode_degrades_and_says_so(monkeypatch):
    monkeypatch.setattr(sb.shutil, "which", lambda name: None)
    mode = sb.detect_mode(force="bwrap")
    assert mode.kind == "none" and "bwrap not found" in mode.describe()
    assert "install bubblewrap" in mode.describe() and "NO sandbox" in mode.describe()


def _run_probe(tmp_path: Path, code: str, limits: sb.Limits | None = None, mode: str | None = None,
               hide: list[str] = ()) -> sb.SandboxOutcome:
    """Run a tiny 'child' module in the sandbox and return its outcome."""
    pkg = tmp_path / "probepkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "probe.py").write_text(
        "import argparse, os, sys\n"
        "p = argparse.ArgumentParser(); p.add_argument('--result-fd', type=int); p.add_argument('--workdir')\n"
        "a = p.parse_args()\n"
        "job = sys.stdin.read()\n"
        "out = []\n" + code + "\n"
        "os.write(a.result_fd, '\\n'.join(map(str, out)).encode())\n")
    box = sb.Sandbox(limits or sb.Limits(wall_seconds=20), hide=hide, mode=sb.detect_mode(mode),
                     keep=[str(tmp_path)])
    env = {"PYTHONPATH": str(tmp_path)}
    return box.run("probepkg.probe", b"job", extra_env=env, hide_home=False)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_bwrap_sandbox_hides_paths_and_network(tmp_path):
    secret = tmp_path / "course" / "source"
    secret.mkdir(parents=True)
    (secret / "hidden.txt").write_text("the answer")
    gradebook = tmp_path / "course" / "gradebook.db"
    gradebook.write_text("grades")
    code = (f"out.append(os.path.exists({str(secret / 'hidden.txt')!r}))\n"
            f"out.append(open({str(gradebook)!r}).read() == '')\n"
            "import socket\n"
            "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=3); out.append('net')\n"
            "except OSError as e:\n    out.append(type(e).__name__)\n"
            "out.append(os.getcwd())\n"
            "try:\n    open('/etc/simtlab-probe', 'w'); out.append('wrote')\n"
            "except OSError as e:\n    out.append(type(e).__name__)\n"
            "out.append(job)")
    mode = sb.detect_mode("bwrap")
    if mode.kind != "bwrap":
        pytest.skip("bwrap cannot create namespaces here")
    # the probe package lives under tmp_path, which the sandbox's /tmp hides unless it is kept: keep only it
    out = _run_probe(tmp_path, code, hide=[str(secret), str(gradebook)], mode="bwrap")
    assert out.killed is None, out.log_tail
    lines = out.result.decode().split("\n")
    assert len(lines) == 6, out.log_tail
    assert lines[0] == "False" and lines[1] == "True"
    assert lines[2] == "OSError" or "Error" in lines[2]
    assert lines[3] == sb.WORKDIR and lines[4] in ("OSError", "PermissionError") and lines[5] == "job"


def test_wall_clock_limit_kills_the_sandbox(tmp_path):
    out = _run_probe(tmp_path, "import time\ntime.sleep(60)", limits=sb.Limits(wall_seconds=1.5))
    assert out.killed and "wall-clock" in out.killed and out.wall_seconds < 30


def test_no_sandbox_mode_still_limits_memory(tmp_path):
    code = ("try:\n    x = bytearray(3 << 30)\n    out.append('allocated')\n"
            "except MemoryError:\n    out.append('MemoryError')")
    out = _run_probe(tmp_path, code, limits=sb.Limits(memory_bytes=1 << 30, wall_seconds=20), mode="none")
    assert out.result.decode() == "MemoryError"


def test_child_result_pipe_is_not_inherited(tmp_path):
    """The grading process closes its result pipe for its children (the student's kernel)."""
    code = ("import subprocess\nos.set_inheritable(a.result_fd, False)\n"
            "r = subprocess.run([sys.executable, '-c', f'import os; os.write({a.result_fd}, b\"forged\")'])\n"
            "out.append(r.returncode != 0)")
    out = _run_probe(tmp_path, code, mode="none")
    assert out.result.decode() == "True"


def test_cli_reports_unknown_lab(course_dir):
    r = subprocess.run([sys.executable, "-m", "simtlab.cli", "grade", "nope", "--submissions", str(course_dir),
                        "--course", str(course_dir)], capture_output=True, text=True, env={**os.environ})
    assert r.returncode == 2 and "no lab 'nope'" in r.stderr and "_grader_demo" in r.stderr
    r = subprocess.run([sys.executable, "-m", "simtlab.cli", "labs", "list", "--course", str(course_dir)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "_grader_demo" in r.stdout and "not released" in r.stdout
    assert json.loads((course_dir / "source" / "_grader_demo" / "demo.ipynb").read_text())["cells"]


def test_one_writer_per_lab(course_dir, tmp_path):
    """A second `simtlab grade` of the same lab stops at once instead of writing the gradebook too."""
    import fcntl

    from simtlab.grader.course import Course, CourseError
    from simtlab.grader.pipeline import GradeOptions, GradingPipeline

    state = tmp_path / "state"
    state.mkdir()
    with open(state / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        pipeline = GradingPipeline(Course(course_dir), "_grader_demo", tmp_path, GradeOptions(state_dir=state))
        with pytest.raises(CourseError, match="another 'simtlab grade'"):
            pipeline.run()
