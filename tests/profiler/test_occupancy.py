"""Occupancy as the CUDA occupancy calculator computes it, and the register estimate."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda, load_chip
from simtlab.emulator.chips import chip_from_toml
from simtlab.emulator.profiler import occupancy

V100_LIKE = """
extends = "a100"
name = "cc70"
display_name = "a compute capability 7.0 chip (V100-like SM)"
compute_capability = [7, 0]
sm_count = 80
[shared]
per_block_optin = 98304
per_sm = 98304
reserved_per_block = 0
[cache]
l1_bytes_per_sm = 131072
l1_shared_unified_bytes_per_sm = 131072
shared_carveouts_kib = [0, 8, 16, 32, 64, 96]
"""


@pytest.fixture(scope="module")
def cc70():
    return chip_from_toml(V100_LIKE)


@pytest.mark.parametrize(("threads", "percent", "blocks"), [(128, 75.0, 12), (320, 62.5, 4)])
def test_best_practices_guide_example_cc70_37_registers(cc70, threads, percent, blocks):
    occ = occupancy(cc70, threads, 37, 0)
    assert occ.percent == pytest.approx(percent)
    assert occ.blocks_per_sm == blocks
    assert occ.limiter == ("registers",)
    assert occ.registers_per_warp == 1280           # 37 x 32 = 1184, rounded up to 256


def test_h100_256_threads_64_registers_48k_dynamic_shared_is_50_percent():
    occ = occupancy(load_chip("h100"), 256, 64, 48 * 1024)
    assert occ.percent == pytest.approx(50.0)
    assert occ.blocks_per_sm == 4
    assert set(occ.limiter) == {"registers", "shared"}
    assert occ.shared_alloc_per_block == 48 * 1024 + 1024   # 1 KB reserved per block on cc >= 8.0


def test_limits_warps_blocks_and_shared_granularity():
    a100 = load_chip("a100")
    occ = occupancy(a100, 32, 16, 0)                 # tiny blocks: the 32-blocks-per-SM limit binds
    assert occ.limiter == ("blocks",) and occ.blocks_per_sm == 32 and occ.percent == pytest.approx(50.0)
    occ = occupancy(a100, 1024, 16, 0)                # big blocks: 2 x 32 warps
    assert occ.limiter == ("warps",) and occ.blocks_per_sm == 2 and occ.percent == 100.0
    occ = occupancy(a100, 256, 16, 100 * 1024 + 1)   # (100 KB + 1 + 1 KB) rounded to 128 bytes
    assert occ.shared_alloc_per_block == 101 * 1024 + 128 and occ.blocks_per_sm == 1
    assert occupancy(a100, 256, 16, 0, nblocks=108 * 8 * 3).waves_per_sm == pytest.approx(3.0)
    assert occupancy(a100, 256, 256, 0).blocks_per_sm == 0          # over max_registers_per_thread


def test_g80_allocates_registers_per_block():
    g80 = load_chip("g80")
    # 256 threads x 10 registers = 2560 (already a multiple of 256): 8192 // 2560 = 3 blocks = 24 warps
    occ = occupancy(g80, 256, 10, 0)
    assert occ.blocks_per_sm == 3 and occ.percent == pytest.approx(100.0)
    occ = occupancy(g80, 256, 11, 0)                  # 2816 -> 2 blocks
    assert occ.blocks_per_sm == 2 and occ.limiter == ("registers",)


@cuda.jit
def simple(a, out):
    i = cuda.grid(1)
    if i < a.size:
        out[i] = a[i] * 2


@cuda.jit(max_registers=40)
def capped(a, out):
    i = cuda.grid(1)
    x = a[i]
    y = x * x
    z = y + x
    w = z * y
    v = w - z + y * x
    out[i] = v + w + z + y + x


@cuda.jit
def heavy(a, out):
    i = cuda.grid(1)
    x0 = a[i]
    x1 = x0 * 1.5
    x2 = x1 * 1.5
    x3 = x2 * 1.5
    x4 = x3 * 1.5
    x5 = x4 * 1.5
    x6 = x5 * 1.5
    x7 = x6 * 1.5
    out[i] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7


def test_registers_are_estimated_from_the_kernel_and_can_be_overridden():
    a = cuda.to_device(np.ones(256, np.float32))
    out = cuda.device_array(256, np.float32)
    r_simple = cuda.profile(simple[1, 256], a, out)
    r_heavy = cuda.profile(heavy[1, 256], a, out)
    regs_simple = r_simple["registers per thread"]
    assert 8 <= regs_simple <= 32
    assert r_heavy["registers per thread"] > regs_simple          # eight float64 values live at once
    r = cuda.profile(simple[1, 256], a, out, registers=128)
    assert r["registers per thread"] == 128
    assert r["theoretical occupancy"] == pytest.approx(25.0)       # 128 regs: 512 threads per SM on the teaching chip
    assert r.occupancy["limiter"] == ["registers"]
    assert cuda.profile(capped[1, 256], a, out)["registers per thread"] <= 40
