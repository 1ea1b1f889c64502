"""Fixtures of the grader tests: a private copy of the course with the demo lab, and the simtlab kernel."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simclass import make_course  # noqa: E402


@pytest.fixture
def course_dir(tmp_path: Path) -> Path:
    return make_course(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def simtlab_kernel(tmp_path_factory):
    """Make sure the 'simtlab' kernelspec can be found; where it is not installed (a fresh venv), write it
    to a temporary Jupyter data folder and point JUPYTER_PATH there for this session and its children."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "simtlab" in KernelSpecManager().find_kernel_specs():
        yield None
        return
    from simtlab.jupyter.kernelspec import install_kernelspec

    prefix = tmp_path_factory.mktemp("jupyter-prefix")
    install_kernelspec(user=False, prefix=str(prefix))
    data = str(prefix / "share" / "jupyter")
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = data + (os.pathsep + old if old else "")
    yield data
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old
