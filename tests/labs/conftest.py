"""Fixtures of the lab tests: a private 'simtlab' kernelspec, and a private copy of the course with labs 0 and 1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LABS = ("lab00-platform", "lab01-simt-basics")


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The simtlab kernelspec in a private prefix on JUPYTER_PATH (for nbclient and the grading pipeline)."""
    from simtlab.jupyter.kernelspec import install_kernelspec

    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install_kernelspec(prefix=str(prefix))
    path = str(prefix / "share" / "jupyter")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = path + (os.pathsep + old if old else "")
    try:
        yield {"JUPYTER_PATH": os.environ["JUPYTER_PATH"]}
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def make_course(dest: Path, labs: tuple[str, ...] = LABS) -> Path:
    """A course folder with the real course configuration and the given labs' sources."""
    course = dest / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "labs" / "nbgrader_config.py", course / "nbgrader_config.py")
    for lab in labs:
        shutil.copytree(REPO / "labs" / "source" / lab, course / "source" / lab)
    return course
