"""``simtlab.grader.check_compiles``: the optional "also compiles for a real GPU" check of a lab."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.grader import CheckFailure, Rubric, check_compiles, run_compiles

from . import kernels as K

pytestmark = pytest.mark.usefixtures("toolchain")


def test_a_kernel_that_compiles_passes_and_says_for_what(capsys):
    x = np.ones(1000, np.float32)
    assert check_compiles(K.clamp_all, x, np.float32(0), np.float32(1), chip="h100") is None
    out = capsys.readouterr().out
    assert out.startswith("check_compiles(clamp_all): compiles for sm_90") and "registers per thread" in out
    result = run_compiles(K.clamp_all, "void(float32[:], float32, float32)", chip="a100", quiet=True)
    assert result.compiles and result.arch == "sm_80"
    assert capsys.readouterr().out == ""


def test_a_kernel_the_emulator_accepts_but_numba_rejects_fails_with_its_line():
    x = np.ones(40, np.float32)
    with pytest.raises(CheckFailure) as info:
        check_compiles(K.array_or_number, x, 1, chip="h100")
    text = " ".join(str(info.value).split())          # CheckFailure wraps long lines
    assert "runs on the emulator, but the real CUDA compiler (numba-cuda for sm_90) rejects it" in text
    assert "Cannot unify" in text and "x[i] = v[0] if flag > 0 else 2.0" in text and "fix:" in text
    rubric = Rubric(1)
    with rubric.part(1, "compiles for a real GPU"):
        check_compiles(K.array_or_number, x, 1, chip="h100", quiet=True)
    assert rubric.score() == 0.0
