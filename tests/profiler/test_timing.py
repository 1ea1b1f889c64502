"""The timing model ranks optimisation steps the way real GPUs do (and labels itself an estimate)."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda

from .ladders import run_reduction_ladder, run_transpose_ladder

N = 1 << 22


@pytest.fixture(scope="module")
def h100_ladder():
    return [r.time_us for r in run_reduction_ladder(N, "h100")]


@pytest.fixture(scope="module")
def g80_ladder():
    return [r.time_us for r in run_reduction_ladder(N, "g80")]


def test_reduction_ladder_on_h100_falls_in_order_with_a_small_bank_conflict_step(h100_ladder):
    t = h100_ladder
    assert all(a > b for a, b in zip(t, t[1:])), t
    assert 1.0 < t[1] / t[2] < 1.10, t            # removing bank conflicts: a few percent on modern GPUs
    assert t[0] / t[1] > 1.3, t                  # divergence and the modulo cost much more
    assert t[2] / t[3] > 1.3, t                  # half the blocks, the first add during the load


def test_reduction_ladder_on_g80_bank_conflicts_cost_about_2x(g80_ladder):
    t = g80_ladder
    assert all(a > b for a, b in zip(t, t[1:])), t
    assert 1.6 < t[1] / t[2] < 2.6, t            # Harris measured 2.0x on a GeForce 8800 GTX
    assert 1.6 < t[0] / t[1] < 3.0, t            # Harris: 2.3x
    # Harris (4M ints, 128 threads): 1.72 ms for sequential addressing; the model is within 2x
    assert 0.86e3 < t[2] < 3.4e3, t


@pytest.mark.parametrize("chip", ["h100", "teaching"])
def test_transpose_ladder(chip):
    copy, naive, conflicts, padded = (r.time_us for r in run_transpose_ladder(1024, chip))
    assert naive > conflicts > padded, (naive, conflicts, padded)
    assert padded <= 1.1 * copy
    assert naive > 1.2 * copy


@cuda.jit
def axpy(a, x, y):
    i = cuda.grid(1)
    if i < y.size:
        y[i] = a * x[i] + y[i]


def test_estimate_is_labelled_and_consistent():
    x = cuda.to_device(np.ones(1 << 20, np.float32))
    y = cuda.to_device(np.ones(1 << 20, np.float32))
    r = cuda.profile(axpy[4096, 256], np.float32(2.0), x, y, chip="h100")
    est = [m for m in r.metrics.values() if m.estimated]
    names = {m.name for m in est}
    assert {"gpu__time_duration.sum", "gpc__cycles_elapsed.max", "sm__warps_active.avg.pct_of_peak_sustained_active",
            "dram__throughput.avg.pct_of_peak_sustained_elapsed"} <= names
    assert not r.metrics["smsp__inst_executed.sum"].estimated
    assert "(estimated)" in str(r) and "a model, not a measurement" in str(r)
    # a streaming kernel: DRAM-bound, 12 bytes per element moved at close to the peak bandwidth
    assert r.bound == "DRAM"
    assert r["DRAM bytes"] == 12 * (1 << 20)
    assert 60 < r["DRAM throughput"] <= 100
    chip_time = 12 * (1 << 20) / 3350e3 + 3.0     # bytes / (GB/s -> bytes per us) + launch overhead
    assert chip_time < r.time_us < 1.5 * chip_time
    for m in est:
        if m.unit == "%":
            assert 0 <= m.value <= 100.0001, m
    assert sum(r.estimate["stalls"].values()) > 0


def test_sampling_scales_counts_and_keeps_the_estimate_close():
    x = cuda.to_device(np.ones(1 << 20, np.float32))
    y = cuda.to_device(np.zeros(1 << 20, np.float32))
    full = cuda.profile(axpy[4096, 256], np.float32(2.0), x, y)
    before = y.copy_to_host()
    sampled = cuda.profile(axpy[4096, 256], np.float32(2.0), x, y, sample_blocks=32)
    assert np.array_equal(y.copy_to_host(), before)            # a sampled run writes nothing back
    assert sampled.sampled_blocks == 32 and sampled.total_blocks == 4096
    assert "profiled a sample of 32 of 4096 blocks" in str(sampled)
    for name in ("warp instructions", "global load sectors", "global store requests"):
        assert sampled[name] == full[name]
    assert sampled.time_us == pytest.approx(full.time_us, rel=0.15)
