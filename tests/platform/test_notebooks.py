"""Every notebook (the tour in labs/tour/, the labs' source notebooks, any in docs/) executed for real on the simtlab
kernel with nbclient."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
PATTERNS = ("labs/tour/*.ipynb", "docs/**/*.ipynb", "labs/source/**/*.ipynb")
NOTEBOOKS = sorted({p for pattern in PATTERNS for p in REPO.glob(pattern) if ".ipynb_checkpoints" not in p.parts})
TOUR = REPO / "labs" / "tour" / "tour.ipynb"


def execute(path: Path, cwd: Path) -> nbformat.NotebookNode:
    """Run a notebook top to bottom on the 'simtlab' kernel (nbclient); raises on the first failing cell."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="simtlab", resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def html_outputs(nb: nbformat.NotebookNode) -> list[str]:
    return [o["data"]["text/html"] for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if "data" in o and "text/html" in o["data"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(REPO)) for p in NOTEBOOKS])
def test_notebook_runs_on_the_simtlab_kernel(path, kernel_env):
    nb = execute(path, path.parent)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors


@pytest.fixture(scope="module")
def tour(kernel_env, tmp_path_factory):
    return execute(TOUR, tmp_path_factory.mktemp("tour"))


def test_tour_uses_every_visualizer_and_shows_the_expected_numbers(tour):
    html = html_outputs(tour)
    kinds = {k for h in html for k in re.findall(r'data-simtlab="([a-z-]+)"', h)}
    assert kinds >= {"launch", "memory-map", "warp", "report", "occupancy", "timeline", "replay"}
    joined = "\n".join(html)
    assert 'data-simtlab-value="active_lanes">1,000 of 1,024<' in joined          # axpy launch view
    assert 'data-simtlab-value="writes">1,000<' in joined                        # memory map of out
    assert 'data-simtlab-value="sectors">32<' in joined                          # naive transpose store
    assert 'data-simtlab-value="wavefronts">32<' in joined and "32-way" in joined  # tile column read
    assert 'data-simtlab-value="bank_conflicts">0<' in joined                    # padded tile
    assert 'data-simtlab-value="sectors_per_store_request">32<' in joined        # %%profile of the naive one
    streams = "".join(o.get("text", "") for c in tour.cells if c.cell_type == "code" for o in c.get("outputs", [])
                      if o["output_type"] == "stream")
    assert "racecheck" in streams and "%chip" in streams
    # headless execution gets the static renderings only: no widget state to carry around
    assert "widgets" not in tour.metadata
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for c in tour.cells
                   for o in c.get("outputs", []))


def test_nothing_is_displayed_while_nbgrader_executes(kernel_env, tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb = execute(TOUR, tmp_path)
    assert html_outputs(nb) == []


FAILING_CHECK = '''
import numpy as np
from simtlab.emulator import cuda
from simtlab.grader import check_kernel


@cuda.jit
def add_one_short(x, out):
    i = cuda.grid(1)
    if i < out.size - 3:          # the last three elements are never written
        out[i] = x[i] + 1


check_kernel(add_one_short, lambda x, out: x + 1,
             lambda rng, n: (rng.random(n).astype(np.float32), np.zeros(n, np.float32)), sizes=[50])
'''


def _run_cells(sources: list[str], tmp_path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, timeout=300, kernel_name="simtlab", allow_errors=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb


def test_a_failed_check_shows_what_the_kernel_wrote_next_to_what_was_expected(kernel_env, tmp_path):
    nb = _run_cells([FAILING_CHECK], tmp_path)
    outputs = nb.cells[0].outputs
    assert [o["ename"] for o in outputs if o["output_type"] == "error"] == ["CheckFailure"]
    shown = [o for o in outputs if o["output_type"] == "display_data"]
    assert len(shown) == 1 and "3 never written" in shown[0]["data"]["text/plain"]
    page = shown[0]["data"]["text/html"]
    assert 'data-simtlab="check-failure"' in page and 'data-simtlab="memory-map"' in page
    assert page.count("background:#ffe0b2") == 3 + 1      # three never-written cells, plus the legend
    assert 'data-simtlab-value="writes">47<' in page        # the map: 47 of the 50 elements written


def test_a_failed_check_shows_nothing_while_nbgrader_grades(kernel_env, tmp_path, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    nb = _run_cells([FAILING_CHECK], tmp_path)
    outputs = nb.cells[0].outputs
    assert [o["ename"] for o in outputs if o["output_type"] == "error"] == ["CheckFailure"]
    assert not [o for o in outputs if o["output_type"] in ("display_data", "stream") and o.get("name") != "stdout"]
