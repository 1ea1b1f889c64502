"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


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
