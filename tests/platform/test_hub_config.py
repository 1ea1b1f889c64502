"""The JupyterHub example configuration loads, and agrees with the course's nbgrader configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / "platform" / "hub"


def load(folder: Path, name: str):
    return PyFileConfigLoader(name, path=str(folder)).load_config()


def test_global_nbgrader_config():
    g = load(HUB, "global_nbgrader_config.py")
    assert g.Exchange.root == "/srv/nbgrader/exchange" and g.Exchange.path_includes_course


def test_hub_config(monkeypatch):
    monkeypatch.setenv("SIMTLAB_COURSE_TOKEN", "t0ken")
    monkeypatch.delenv("SIMTLAB_COURSE_ID", raising=False)
    h = load(HUB, "jupyterhub_config.py")
    assert h.Spawner.default_url == "/lab" and h.Spawner.environment["SIMTLAB_WIDGETS"] == "auto"
    (svc,) = h.JupyterHub.services
    assert svc["name"] == "simtlab" and svc["user"] == "grader-simtlab" and svc["api_token"] == "t0ken"
    assert svc["cwd"].endswith("/labs")
    assert set(h.JupyterHub.load_groups) == {"formgrade-simtlab", "nbgrader-simtlab"}
    assert h.JupyterHub.load_roles[0]["scopes"] == ["access:services!service=simtlab"]


def test_hub_serves_the_course_of_the_labs_folder(monkeypatch):
    pytest.importorskip("nbgrader", reason="nbgrader is not installed")
    course = REPO / "labs" / "nbgrader_config.py"
    if not course.is_file():
        pytest.skip("labs/nbgrader_config.py is not there yet")
    monkeypatch.delenv("SIMTLAB_COURSE_ID", raising=False)
    c = load(course.parent, course.name)
    h = load(HUB, "jupyterhub_config.py")
    assert h.JupyterHub.services[0]["name"] == c.CourseDirectory.course_id
    # what the platform contract asks of grading runs
    assert c.Execute.extra_arguments == ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]
    assert [p.__name__ for p in c.GenerateFeedback.preprocessors] == ["GetGrades", "ClearHiddenTests",
                                                                      "CSSHTMLHeaderPreprocessor"]
