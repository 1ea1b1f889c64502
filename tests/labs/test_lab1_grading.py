"""Sample submissions of lab 1 graded through the instructor's pipeline (``simtlab labs release`` then
``simtlab grade``: nbgrader, the simtlab kernel, the sandbox, the gradebook, CSV and feedback), each with the score it
must get: the tests catch a wrong formula, a missing guard, uncoalesced accesses, a race, a wrong launch, and a block
size hard-coded where the hidden tests use others."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from labcourse import make_course

pytestmark = pytest.mark.slow

LAB = "lab01-simt-basics"
NOTEBOOK = f"{LAB}.ipynb"

GUARDED = """@cuda.jit
def add_ten_guarded(x, out):
    i = cuda.threadIdx.x
    out[i] = x[i] + 10
"""
MAP_WRONG = """@cuda.jit
def add_ten(x, out):
    i = cuda.threadIdx.x
    out[i] = x[i] + 1
"""
MAP2D_UNCOALESCED = """@cuda.jit
def add_ten_2d(a, out):
    r = cuda.threadIdx.x          # a warp runs down a column: 32 rows, 32 sectors per request
    c = cuda.threadIdx.y
    if r < out.shape[0] and c < out.shape[1]:
        out[r, c] = a[r, c] + 10
"""
STENCIL_RACY = """@cuda.jit
def blur3(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] / 3
    if i < x.size:
        s = out[i]
        if i > 0:
            s += out[i - 1]       # another thread's result: nothing orders its write before this read
        if i + 1 < x.size:
            s += out[i + 1]
        out[i] = s
"""
BLOCKS_TEMPLATE = """@cuda.jit
def add_ten_blocks(x, out):
    i = cuda.blockIdx.x * {stride} + cuda.threadIdx.x
    if i < out.size:
        out[i] = x[i] + 10


def launch_add_ten_blocks(x, out):
    threads = 128
    blocks = {blocks}
    add_ten_blocks[blocks, threads](x, out)
"""
BLOCKS_ROUNDED_DOWN = BLOCKS_TEMPLATE.format(stride="cuda.blockDim.x", blocks="x.size // threads")
BLOCKS_HARDCODED = BLOCKS_TEMPLATE.format(stride="128", blocks="(x.size + threads - 1) // threads")

#: student -> (answers replaced in the solution notebook, or None for the untouched release; expected score)
STUDENTS = {
    "s1_correct": ({}, 24.0),
    "s2_blank": (None, 0.0),
    "s3_wrong_formula": ({"map_answer": MAP_WRONG}, 21.0),
    "s4_missing_guard": ({"guard_answer": GUARDED}, 21.0),
    "s5_uncoalesced": ({"map2d_answer": MAP2D_UNCOALESCED}, 22.0),
    "s6_racy_stencil": ({"stencil_answer": STENCIL_RACY}, 21.0),
    "s7_rounded_down_grid": ({"blocks_answer": BLOCKS_ROUNDED_DOWN}, 21.0),
    "s8_hardcoded_block": ({"blocks_answer": BLOCKS_HARDCODED}, 23.0),
}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simtlab.cli", *args], capture_output=True, text=True, timeout=1500)


def _submission(source: dict, release: dict, answers: dict | None) -> dict:
    """The release notebook with the student's answer cells: the solutions, except where `answers` says otherwise."""
    nb = json.loads(json.dumps(release))
    if answers is None:
        return nb
    solved = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in source["cells"]
              if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in solved:
            text = answers.get(gid, "".join(solved[gid]) if isinstance(solved[gid], list) else solved[gid])
            cell["source"] = "\n".join(line for line in text.splitlines() if "### " not in line)
    return nb


@pytest.fixture(scope="module")
def graded(kernel_env, tmp_path_factory):
    base = tmp_path_factory.mktemp("lab1-class")
    course = make_course(base, (LAB,))
    r = _cli("labs", "release", LAB, "--course", str(course))
    assert r.returncode == 0, r.stdout + r.stderr
    source = json.loads((course / "source" / LAB / NOTEBOOK).read_text())
    release = json.loads((course / "release" / LAB / NOTEBOOK).read_text())
    subs = base / "submissions"
    for student, (answers, _) in STUDENTS.items():
        (subs / student).mkdir(parents=True)
        (subs / student / NOTEBOOK).write_text(json.dumps(_submission(source, release, answers), indent=1))
    r = _cli("grade", LAB, "--submissions", str(subs), "--course", str(course), "--workers", "2", "--no-progress")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(course / "grading" / LAB / "grades.csv", newline="") as f:
        rows = {row["student"]: row for row in csv.DictReader(f)}
    return {"course": course, "rows": rows, "log": r.stdout + r.stderr}


@pytest.mark.parametrize("student", STUDENTS)
def test_each_sample_submission_gets_its_score(graded, student):
    row = graded["rows"][student]
    assert row["status"] == "ok", row
    assert float(row["score"]) == STUDENTS[student][1], (row, graded["log"][-2000:])


def test_feedback_explains_the_lost_points_without_leaking_hidden_tests(graded):
    feedback = graded["course"] / "feedback"
    pages = {p.parts[-3]: p.read_text() for p in feedback.glob(f"*/{LAB}/*.html")}
    assert set(pages) == set(STUDENTS)
    assert "not implemented yet" in pages["s2_blank"]
    assert "out of bounds" in pages["s4_missing_guard"]
    assert "sectors per request" in pages["s5_uncoalesced"]
    assert "racecheck" in pages["s6_racy_stencil"]
    assert "just enough" in pages["s7_rounded_down_grid"]
    for page in pages.values():
        assert "random_sizes(np.random.default_rng(16)" not in page and "BEGIN HIDDEN" not in page
