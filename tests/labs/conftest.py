"""Fixtures of the lab tests: a private 'simtlab' kernelspec (helpers for the course copy: labcourse.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


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
