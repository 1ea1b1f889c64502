"""The real-toolchain tests need ``simtlab[toolchain]`` (numba-cuda with the NVVM and nvJitLink wheels).

Where it is not installed they are skipped with the reason, unless ``SIMTLAB_REQUIRE_TOOLCHAIN=1`` (set by
``.ci/run``, whose ``make test`` installs the ``dev`` extra, which includes the toolchain): then a missing
toolchain fails them instead of hiding the gap.
"""

from __future__ import annotations

import os

import pytest

from simtlab.emulator.chips import get_active_chip, select_chip


def toolchain_reason() -> str | None:
    """None when the toolchain can be used here, else why not."""
    from simtlab.emulator.toolchain import status

    st = status()
    return None if st["available"] else st["reason"]


@pytest.fixture(scope="session")
def toolchain() -> None:
    """Skip (or, with SIMTLAB_REQUIRE_TOOLCHAIN=1, fail) the test where the real compiler is not installed."""
    why = toolchain_reason()
    if why is not None:
        message = f"the real toolchain is not installed: {why}"
        if os.environ.get("SIMTLAB_REQUIRE_TOOLCHAIN"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _restore_active_chip(monkeypatch):
    """Tests may switch chips; and they test the bridge itself, so a SIMTLAB_TOOLCHAIN=off outside is ignored."""
    monkeypatch.delenv("SIMTLAB_TOOLCHAIN", raising=False)
    previous = get_active_chip()
    yield
    select_chip(previous)
