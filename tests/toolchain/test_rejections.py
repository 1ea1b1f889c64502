"""Kernels the real compiler rejects are reported on their source line, with a fix, never as a traceback."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from simtlab.emulator import cuda
from simtlab.emulator.toolchain import RealCompileError

from . import kernels as K

pytestmark = pytest.mark.usefixtures("toolchain")


def _line_of(kernel, text: str) -> int:
    lines, first = inspect.getsourcelines(kernel.py_func)
    return first + next(i for i, s in enumerate(lines) if text in s)


def test_a_kernel_the_emulator_runs_but_numba_rejects_is_reported_with_its_line():
    x = np.arange(40, dtype=np.float32)
    K.array_or_number[1, 64](x, 1)                          # the emulator runs it
    assert x[5] == 0.0 and x[0] == 0.0
    r = cuda.compile_check(K.array_or_number, x, 1, chip="h100")
    assert not r.compiles and r.diagnosis.stage == "typing"
    assert "Cannot unify array(float32, 1d, C) and float64" in r.message
    assert r.line == _line_of(K.array_or_number, "x[i] = v[0] if flag > 0 else 2.0")
    assert r.diagnosis.filename == K.__file__
    assert "one type" in r.diagnosis.fix
    assert r.registers is None and r.ptx == ""
    text = str(r)
    assert "does NOT compile" in text and "x[i] = v[0] if flag > 0 else 2.0" in text and "fix:" in text
    with pytest.raises(RealCompileError) as info:
        r.raise_for_error()
    err = info.value
    assert err.kernel == "array_or_number" and err.line == r.line
    assert "at " in str(err) and "sm_90" in str(err)


def test_an_intrinsic_imported_by_name_runs_here_but_not_under_numba():
    x = np.zeros(10, np.float32)
    K.bare_thread_index[1, 32](x)
    assert x.sum() == 10
    r = cuda.compile_check(K.bare_thread_index, x, chip="a100")
    assert not r.compiles and "Untyped global name 'threadIdx'" in r.message
    assert r.line == _line_of(K.bare_thread_index, "if threadIdx.x < x.size:")
    assert "write cuda.threadIdx" in r.diagnosis.fix


def test_a_shared_array_shape_known_only_at_launch_is_located_from_the_compiler_stack():
    r = cuda.compile_check(K.runtime_shared_shape, np.ones(32, np.float32), 32, chip="a100")
    assert not r.compiles
    assert r.line == _line_of(K.runtime_shared_shape, "cuda.shared.array(n, np.float32)")
    assert "compile-time constant" in r.diagnosis.fix and "dynamic shared memory" in r.diagnosis.fix


def test_64_kb_of_static_shared_memory_is_refused_by_the_assembler_on_its_declaration():
    r = cuda.compile_check(K.too_much_shared, np.ones(64, np.float32), chip="h100")
    assert not r.compiles and r.diagnosis.stage == "ptxas"
    assert "too much shared data" in r.message and "_ZN" not in r.message
    assert r.line == _line_of(K.too_much_shared, "cuda.shared.array(16384, np.float32)")
    assert "48 KB" in r.diagnosis.fix
    assert r.static_shared == 65536 and r.ptx                 # NVVM wrote the PTX; the assembler refused it


def test_the_profiler_reports_a_kernel_that_would_not_compile():
    x = np.arange(40, dtype=np.float32)
    report = cuda.profile(K.array_or_number[1, 64], x, 1, chip="h100")
    assert report.registers_source == "estimate"
    assert "the real compiler rejects this kernel" in report.registers_note
    finding = next(f for f in report.findings if f.kind == "does-not-compile")
    assert finding.tool == "compiler" and finding.severity == "warning"
    assert finding.line == _line_of(K.array_or_number, "x[i] = v[0] if flag > 0 else 2.0")


def test_the_profiler_reports_spills_of_a_register_capped_kernel():
    x, out = np.ones((100, 8)), np.zeros(1000)
    report = cuda.profile(K.many_live_capped[4, 256], x, out, chip="h100")
    assert report.registers_source == "compiler" and report["registers per thread"] <= 32
    spill = next(f for f in report.findings if f.kind == "register-spill")
    assert "spills" in spill.message and "bytes per thread" in spill.message
