"""With the toolchain installed, occupancy and the timing model use the real compiler's register count, and the
report says which figure it used; the estimate stays where the compiler cannot be asked."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda

from . import kernels as K

pytestmark = pytest.mark.usefixtures("toolchain")

N = 132 * 8 * 256 - 5          # eight full waves of 256-thread blocks on an H100 at 1 block per SM


@pytest.fixture(scope="module")
def window_reports(toolchain):
    x, out = np.ones(N), np.zeros(N)
    blocks = (N + 255) // 256
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("SIMTLAB_TOOLCHAIN", raising=False)
        real = cuda.profile(K.local_window[blocks, 256], x, out, chip="h100", sample_blocks=16)
        estimate = cuda.profile(K.local_window[blocks, 256], x, out, chip="h100", sample_blocks=16,
                                registers="estimate")
    return real, estimate


def test_occupancy_uses_the_real_register_count_where_it_differs(window_reports):
    real, estimate = window_reports
    compiled = cuda.compile_check(K.local_window, np.ones(N), np.zeros(N), chip="h100")
    assert real.registers_source == "compiler" and estimate.registers_source == "estimate"
    assert real["registers per thread"] == compiled.registers > 128
    assert estimate["registers per thread"] < 64
    # 161-ish registers: one 256-thread block per SM (12.5%); the estimate would allow eight (100%)
    assert real.occupancy["blocks_per_sm"] == 1 and real.occupancy["limiter"] == ["registers"]
    assert real["theoretical occupancy"] == 12.5 and estimate["theoretical occupancy"] == 100.0
    # ... and the timing model runs on that occupancy: eight waves instead of one, less latency hidden
    assert real.estimate["waves"] == 8 and estimate.estimate["waves"] == 1
    assert real.estimate["latency_cycles"] > 4 * estimate.estimate["latency_cycles"]
    assert real.time_us > estimate.time_us
    assert real["achieved occupancy"] < estimate["achieved occupancy"]


def test_the_report_says_which_figure_it_used(window_reports):
    real, estimate = window_reports
    assert real.registers_note.startswith("counted by the real compiler: nvJitLink")
    assert "for sm_90" in real.registers_note and "numba-cuda" in real.registers_note
    assert any(n.startswith(f"registers per thread: {real['registers per thread']}, counted by the real compiler")
               for n in real.notes)
    assert "counted by the real compiler" in str(real)
    assert real.to_dict()["registers_source"] == "compiler"
    assert estimate.registers_note.startswith("estimated:")
    assert any(n.startswith("registers per thread:") and "estimated" in n for n in estimate.notes)


def test_occupancy_is_the_same_where_both_figures_fit(monkeypatch):
    a, x = np.float32(2.0), np.ones(5000, np.float32)
    real = cuda.profile(K.axpy[20, 256], a, x, x.copy(), np.zeros_like(x), chip="h100")
    monkeypatch.setenv("SIMTLAB_TOOLCHAIN", "off")
    estimate = cuda.profile(K.axpy[20, 256], a, x, x.copy(), np.zeros_like(x), chip="h100")
    assert real.registers_source == "compiler" and estimate.registers_source == "estimate"
    assert "SIMTLAB_TOOLCHAIN=off" in estimate.registers_note
    assert real["theoretical occupancy"] == estimate["theoretical occupancy"] == 100.0
    assert real.time_us == pytest.approx(estimate.time_us)


def test_given_registers_win_and_chips_without_a_compiler_keep_the_estimate():
    a, x = np.float32(2.0), np.ones(1000, np.float32)
    given = cuda.profile(K.axpy[4, 256], a, x, x.copy(), np.zeros_like(x), chip="h100", registers=64)
    assert given.registers_source == "given" and given["registers per thread"] == 64
    g80 = cuda.profile(K.axpy[4, 256], a, x, x.copy(), np.zeros_like(x), chip="g80")
    assert g80.registers_source == "estimate"
    assert "no real compiler for this chip" in g80.registers_note and "1.0" in g80.registers_note
    teaching = cuda.profile(K.axpy[4, 256], a, x, x.copy(), np.zeros_like(x), chip="teaching")
    assert teaching.registers_source == "compiler" and "for sm_80" in teaching.registers_note


def test_registers_mode_is_checked():
    with pytest.raises(ValueError, match="registers must be a number or one of"):
        cuda.profile(registers="ptxas")
    with pytest.raises(ValueError, match="positive"):
        cuda.profile(registers=0)
    a, x = np.float32(2.0), np.ones(1000, np.float32)
    r = cuda.profile(K.axpy[4, 256], a, x, x.copy(), np.zeros_like(x), chip="a100", registers="compiler")
    assert r.registers_source == "compiler"
