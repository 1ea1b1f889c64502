"""Fixtures of the Jupyter platform tests: the known kernels the views show (kernel_env is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simtlab.emulator import cuda
from simtlab.emulator.chips import get_active_chip, select_chip

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(autouse=True)
def _restore_chip_and_display() -> Iterator[None]:
    """Tests may switch chips, sanitizer or display mode: put them back."""
    from simtlab.jupyter.widgets import set_display_mode

    chip = get_active_chip()
    yield
    select_chip(chip)
    set_display_mode(None)
    cuda.set_default_sanitize(False)
