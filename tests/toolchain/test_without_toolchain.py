"""Without ``simtlab[toolchain]`` everything keeps working on the estimate and says what is missing; checks that
need the real compiler never pass silently. The missing toolchain is simulated, so these run everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import simtlab.emulator.toolchain as toolchain
from simtlab.emulator import cuda
from simtlab.emulator.toolchain import ToolchainUnavailable, UnsupportedTarget, _numba, target_of
from simtlab.grader import GraderSetupError, Rubric, check_compiles

from . import kernels as K

WHY = "numba-cuda is not installed (No module named 'numba.cuda'); pip install 'simtlab[toolchain]' (...)"


@pytest.fixture
def no_toolchain(monkeypatch):
    def load():
        raise _numba.Unavailable(WHY)

    monkeypatch.setattr(_numba, "load", load)
    monkeypatch.setattr(toolchain, "_status", {"available": False, "reason": WHY})


def test_compile_check_says_what_to_install(no_toolchain):
    with pytest.raises(ToolchainUnavailable) as info:
        cuda.compile_check(K.axpy, np.float32(1), np.ones(4, np.float32), np.ones(4, np.float32),
                           np.ones(4, np.float32))
    assert "simtlab[toolchain]" in str(info.value)


def test_the_profiler_keeps_the_estimate_and_says_why(no_toolchain):
    a, x = np.float32(2.0), np.ones(1000, np.float32)
    r = cuda.profile(K.axpy[4, 256], a, x, x.copy(), np.zeros_like(x), chip="h100")
    assert r.registers_source == "estimate" and r.registers_note.startswith("estimated:")
    assert "the real compiler was not used" in r.registers_note and "simtlab[toolchain]" in r.registers_note
    assert any(n.startswith("registers per thread:") for n in r.notes)
    assert not [f for f in r.findings if f.tool == "compiler"]
    with pytest.raises(ToolchainUnavailable, match="registers='compiler' needs the real compiler"):
        cuda.profile(registers="compiler")


def test_check_compiles_never_gives_points_it_did_not_check(no_toolchain, capsys):
    x = np.ones(40, np.float32)
    with pytest.raises(GraderSetupError, match=r"simtlab\[toolchain\]"):
        check_compiles(K.array_or_number, x, 1)
    rubric = Rubric(2)
    with rubric.part(1, "right values"):
        pass
    with rubric.part(1, "compiles for a real GPU"):
        check_compiles(K.array_or_number, x, 1)
    assert rubric.score() == 1.0
    assert "needs numba-cuda's real compiler" in capsys.readouterr().out
    assert check_compiles(K.array_or_number, x, 1, optional=True) is None
    assert "[note] check_compiles(array_or_number) was not checked" in capsys.readouterr().out


def test_each_chip_maps_to_an_architecture_or_says_why_not():
    assert target_of("h100")[:2] == ((9, 0), "sm_90")
    assert target_of("a100")[:2] == ((8, 0), "sm_80")
    assert target_of("teaching")[:2] == ((8, 0), "sm_80")       # an Ampere-class SM: compiled as sm_80
    assert target_of(cc=(8, 6)) == ((8, 6), "sm_86", None)
    with pytest.raises(UnsupportedTarget) as info:
        target_of("g80")
    assert "'g80' chip is compute capability 1.0" in str(info.value) and "cc=(8, 0)" in info.value.fix
