"""Labs 0 and 1 (issue 7): every source notebook earns every point with its solutions (visible and hidden tests,
metric targets), the released notebooks run up to the first student stub and say "not implemented yet", and each
lab has the parts the lab plan asks for (pictures, visible and hidden tests, metric targets, hints)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from labcourse import LABS, REPO, make_course

pytestmark = pytest.mark.slow

#: (exercises, points) of each lab
EXPECTED = {"lab00-platform": (3, 6), "lab01-simt-basics": (8, 24)}


def source_path(lab: str, root: Path = REPO / "labs" / "source") -> Path:
    return root / lab / f"{lab}.ipynb"


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def execute(nb: nbformat.NotebookNode, cwd: Path, allow_errors: bool) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=600, kernel_name="simtlab", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def text_of(cell) -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            parts.append(o["text"])
        elif o["output_type"] == "error":
            parts.append(f"{o['ename']}: {o['evalue']}")
        elif "text/plain" in o.get("data", {}):
            parts.append(o["data"]["text/plain"])
    return "\n".join(parts)


#: appended to each executed source notebook: every kernel the lab launched, compiled by numba-cuda's real compiler
#: for an H100 (sm_90) with the argument types of its last launch (needs simtlab[toolchain]; prints a JSON line)
COMPILE_ALL = """
import json as _json
from simtlab.emulator.kernel import Kernel as _Kernel
from simtlab.emulator.toolchain import status as _status
_verdicts = {}
if _status()["available"]:
    for _name, _k in list(globals().items()):
        if isinstance(_k, _Kernel) and _k.last_launch is not None:
            _r = cuda.compile_check(_k, chip="h100")
            _verdicts[_name] = [_r.compiles, _r.registers, _r.message]
print("COMPILED " + _json.dumps({"available": _status()["available"], "kernels": _verdicts}))
"""


@pytest.fixture(scope="module")
def sources(kernel_env):
    out = {}
    for lab in LABS:
        path = source_path(lab)
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(COMPILE_ALL))
        out[lab] = execute(nb, path.parent, allow_errors=True)
    return out


@pytest.mark.parametrize("lab", LABS)
def test_every_lab_kernel_also_compiles_for_a_real_gpu(sources, lab):
    """The promise of the labs: the kernels students write (here the solutions) run unchanged under numba.cuda on
    an NVIDIA GPU. numba-cuda's real compiler (no GPU needed) compiles each for sm_90."""
    import json
    import os

    line = next(x for x in text_of(sources[lab].cells[-1]).splitlines() if x.startswith("COMPILED "))
    found = json.loads(line.removeprefix("COMPILED "))
    if not found["available"]:
        if os.environ.get("SIMTLAB_REQUIRE_TOOLCHAIN"):
            pytest.fail("the real toolchain (simtlab[toolchain]) is not installed")
        pytest.skip("the real toolchain (simtlab[toolchain]) is not installed")
    kernels = found["kernels"]
    solved = {"lab00-platform": {"fill", "add_one"},
              "lab01-simt-basics": {"add_ten", "add_vectors", "add_ten_guarded", "add_ten_2d", "outer_add",
                                    "add_ten_blocks", "add_matrices", "blur3"}}[lab]
    assert solved <= set(kernels), sorted(kernels)
    rejected = {name: v[2] for name, v in kernels.items() if not v[0]}
    assert not rejected
    assert all(0 < v[1] <= 255 for v in kernels.values())


@pytest.mark.parametrize("lab", LABS)
def test_source_notebook_earns_every_point(sources, lab):
    from nbgrader.utils import determine_grade

    nb = sources[lab]
    nb = nbformat.from_dict({**nb, "cells": nb.cells[:-1]})       # without the compile cell appended above
    errors = [(nbg(c).get("grade_id"), text_of(c)) for c in nb.cells if c.cell_type == "code"
              for o in c.outputs if o["output_type"] == "error"]
    assert not errors, errors
    graded = [c for c in nb.cells if nbg(c).get("grade") and c.cell_type == "code"]
    total = 0.0
    for cell in graded:
        stderr = [o for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stderr"]
        assert not stderr, f"{nbg(cell)['grade_id']} wrote to stderr (nbgrader would give it 0): {stderr}"
        score, points = determine_grade(cell, logging.getLogger("test"))
        assert score == points, f"{nbg(cell)['grade_id']}: {score} of {points}\n{text_of(cell)}"
        total += points
    assert total == EXPECTED[lab][1]
    # the checks really ran: every test cell printed what it checked
    for cell in graded:
        if "HIDDEN" in cell.source and "check_kernel" not in cell.source.split("### BEGIN HIDDEN TESTS")[0]:
            assert "passed on" in text_of(cell) or "all gates met" in text_of(cell), nbg(cell)["grade_id"]


@pytest.mark.parametrize("lab", LABS)
def test_every_exercise_has_the_parts_of_the_lab_plan(lab):
    nb = nbformat.read(source_path(lab), as_version=4)
    answers = [c for c in nb.cells if nbg(c).get("solution")]
    assert len(answers) == EXPECTED[lab][0]
    for c in answers:
        assert "### BEGIN SOLUTION" in c.source and "### END SOLUTION" in c.source
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown):
        assert (source_path(lab).parent / image).is_file(), f"{lab}: the picture {image} is missing"
    assert markdown.count("<details>") >= EXPECTED[lab][0], "progressive hints (collapsed) for every exercise"
    assert "On a real GPU" in markdown or "on a real GPU" in markdown
    if lab != "lab01-simt-basics":
        return
    # lab 1: each exercise = a picture of the data, the answer, a visible test with a metric target, hidden tests,
    # and a picture of what the student's kernel did
    cells = nb.cells
    for k, c in enumerate(cells):
        if not nbg(c).get("solution"):
            continue
        intro = cells[k - 1]
        assert intro.cell_type == "markdown" and "![" in intro.source and "Metric target" in intro.source
        visible, hidden = cells[k + 1], cells[k + 2]
        picture = next(x for x in cells[k + 3:] if x.cell_type == "code")
        assert nbg(visible).get("grade") and "check_kernel" in visible.source and "check_metrics" in visible.source
        assert nbg(hidden).get("grade") and "### BEGIN HIDDEN TESTS" in hidden.source
        assert "memory_map(" in picture.source and "record(" in picture.source


@pytest.fixture(scope="module")
def released(kernel_env, tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("release"))
    r = subprocess.run([sys.executable, "-m", "simtlab.cli", "labs", "release", *LABS, "--course", str(course)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    out = {}
    for lab in LABS:
        path = source_path(lab, course / "release")
        assert path.is_file()
        for image in (course / "source" / lab / "pictures").iterdir():
            assert (path.parent / "pictures" / image.name).is_file(), "pictures are released with the notebook"
        out[lab] = (nbformat.read(path, as_version=4), path)
    return out


@pytest.mark.parametrize("lab", LABS)
def test_released_notebook_has_no_solutions_or_hidden_tests(released, lab):
    nb, _ = released[lab]
    source = nbformat.read(source_path(lab), as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    solutions = sum(c.source.count("### BEGIN SOLUTION") for c in source.cells)
    assert solutions >= EXPECTED[lab][0] and code.count("raise NotImplementedError()") == solutions
    hidden, visible = [], []
    for cell in source.cells:
        before, _, rest = cell.source.partition("### BEGIN HIDDEN TESTS")
        inside, _, after = rest.partition("### END HIDDEN TESTS")
        hidden += [line.strip() for line in inside.splitlines()]
        visible += [line.strip() for line in (before + after).splitlines()]
    shown = "\n".join(visible)
    secret = [line for line in hidden if len(line) > 20 and line not in shown]
    assert secret, "hidden tests exist"
    for line in secret:
        assert line not in text


def release_is_runnable(nb: nbformat.NotebookNode) -> None:
    """What a student sees on opening a released lab and running every cell: the cells before the first exercise run
    cleanly, the first error is the first stub's NotImplementedError, and every visible test says 'not implemented
    yet' instead of failing in some other way."""
    cells = [c for c in nb.cells if c.cell_type == "code"]
    first_stub = next(k for k, c in enumerate(cells) if nbg(c).get("solution"))
    for c in cells[:first_stub]:
        assert not [o for o in c.outputs if o["output_type"] == "error"], text_of(c)
    first_error = next(k for k, c in enumerate(cells) if any(o["output_type"] == "error" for o in c.outputs))
    assert first_error >= first_stub
    ename = next(o["ename"] for o in cells[first_error].outputs if o["output_type"] == "error")
    assert "NotImplementedError" in ename
    for c in cells:
        if not nbg(c).get("grade"):
            continue
        code = [line for line in c.source.splitlines() if line.strip() and not line.strip().startswith("#")]
        if not code:
            continue                                  # a hidden-tests cell: only its comment is released
        shown = text_of(c)
        assert "not implemented yet" in shown or "NotImplementedError" in shown, (nbg(c)["grade_id"], shown)
        for bad in ("NameError", "TypeError", "AttributeError", "Traceback"):
            assert bad not in shown, (nbg(c)["grade_id"], shown)


@pytest.mark.parametrize("lab", LABS)
def test_released_notebook_runs_to_the_first_stub_and_says_implement_this(released, lab):
    nb, path = released[lab]
    release_is_runnable(execute(nb, path.parent, allow_errors=True))
