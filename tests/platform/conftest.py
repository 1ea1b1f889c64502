"""Fixtures of the Jupyter platform tests: a private 'simtlab' kernelspec and the known kernels the views show."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from simtlab.emulator import cuda
from simtlab.emulator.chips import get_active_chip, select_chip

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Install the simtlab kernelspec into a private prefix and put it on JUPYTER_PATH for the session.

    Yields the environment variables a Jupyter process (server, nbclient) needs to find it.
    """
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


@pytest.fixture(autouse=True)
def _restore_chip_and_display() -> Iterator[None]:
    """Tests may switch chips, sanitizer or display mode: put them back."""
    from simtlab.jupyter.widgets import set_display_mode

    chip = get_active_chip()
    yield
    select_chip(chip)
    set_display_mode(None)
    cuda.set_default_sanitize(False)
