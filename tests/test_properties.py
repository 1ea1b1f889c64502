"""Property tests of the simtlab emulator over random launch shapes and sizes (hypothesis).

Launch geometry is where an emulator that vectorizes over threads can go subtly wrong: 1D/2D/3D
grids and blocks, block sizes up to the 1024-thread limit that are not multiples of the warp, and
partial last blocks. Each property compares a kernel's per-thread outputs with the same quantities
computed by numpy from the launch configuration.

These run on the simtlab backend only (numba's simulator is far too slow for them, and lacks the
warp shuffles); they are skipped when ``SIMTLAB_CUDA_BACKEND`` names another backend.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

if (os.environ.get("SIMTLAB_CUDA_BACKEND") or "simtlab") != "simtlab":
    pytest.skip("property tests run on the simtlab backend only", allow_module_level=True)

from simtlab.emulator import cuda  # noqa: E402

MAX_THREADS_PER_BLOCK = 1024
MAX_BLOCK_Z = 64
MAX_LAUNCH_THREADS = 40_000
FULL_MASK = 0xFFFFFFFF
FIELDS = 12

Dims = tuple[int, int, int]


# ---------------------------------------------------------------------------------------------
# strategies


@st.composite
def block_shapes(draw: st.DrawFn) -> Dims:
    """(x, y, z) block dimensions within CUDA's limits; 1D, 2D or 3D."""
    ndim = draw(st.integers(1, 3))
    bx = draw(st.integers(1, MAX_THREADS_PER_BLOCK))
    by = draw(st.integers(1, MAX_THREADS_PER_BLOCK // bx)) if ndim >= 2 else 1
    bz = draw(st.integers(1, min(MAX_BLOCK_Z, MAX_THREADS_PER_BLOCK // (bx * by)))) if ndim == 3 else 1
    return bx, by, bz


@st.composite
def launch_shapes(draw: st.DrawFn) -> tuple[Dims, Dims]:
    """A (grid, block) pair whose total thread count stays below MAX_LAUNCH_THREADS."""
    block = draw(block_shapes())
    per_block = block[0] * block[1] * block[2]
    max_blocks = max(1, MAX_LAUNCH_THREADS // per_block)
    ndim = draw(st.integers(1, 3))
    gx = draw(st.integers(1, min(max_blocks, 64)))
    gy = draw(st.integers(1, max(1, min(16, max_blocks // gx)))) if ndim >= 2 else 1
    gz = draw(st.integers(1, max(1, min(8, max_blocks // (gx * gy))))) if ndim == 3 else 1
    return (gx, gy, gz), block


def as_launch_arg(dims: Dims) -> int | tuple[int, ...]:
    """The way a student writes the dimensions: an int for 1D, a tuple of the used dims otherwise."""
    used = len(dims)
    while used > 1 and dims[used - 1] == 1:
        used -= 1
    return dims[0] if used == 1 else tuple(dims[:used])


# ---------------------------------------------------------------------------------------------
# thread identities


@cuda.jit
def identity_kernel(out):
    x, y, z = cuda.grid(3)
    gx, gy = cuda.grid(2)
    bdx, bdy, bdz = cuda.blockDim.x, cuda.blockDim.y, cuda.blockDim.z
    block_id = (cuda.blockIdx.z * cuda.gridDim.y + cuda.blockIdx.y) * cuda.gridDim.x + cuda.blockIdx.x
    thread_id = (cuda.threadIdx.z * bdy + cuda.threadIdx.y) * bdx + cuda.threadIdx.x
    gid = block_id * (bdx * bdy * bdz) + thread_id
    sx, sy, sz = cuda.gridsize(3)
    out[gid, 0] = x
    out[gid, 1] = y
    out[gid, 2] = z
    out[gid, 3] = block_id
    out[gid, 4] = thread_id
    out[gid, 5] = cuda.laneid
    out[gid, 6] = cuda.warpsize
    out[gid, 7] = cuda.grid(1)
    out[gid, 8] = gx * 100000 + gy
    out[gid, 9] = cuda.gridDim.x + 1000 * cuda.gridDim.y + 1000000 * cuda.gridDim.z
    out[gid, 10] = bdx + 10000 * bdy + 100000000 * bdz
    out[gid, 11] = sx + 100000 * sy + 10000000000 * sz


def expected_identities(grid: Dims, block: Dims) -> np.ndarray:
    """Per-thread identities, indexed like the kernel's ``gid``, computed from the launch shape."""
    gx, gy, gz = grid
    bx, by, bz = block
    bz_i, by_i, bx_i = (a.reshape(-1) for a in np.indices((gz, gy, gx)))
    tz_i, ty_i, tx_i = (a.reshape(-1) for a in np.indices((bz, by, bx)))
    block_id = (bz_i * gy + by_i) * gx + bx_i
    thread_id = (tz_i * by + ty_i) * bx + tx_i
    # rows: blocks in block_id order, then threads in thread_id order, i.e. gid order
    b = {k: np.repeat(v, bx * by * bz) for k, v in {"x": bx_i, "y": by_i, "z": bz_i, "id": block_id}.items()}
    t = {k: np.tile(v, gx * gy * gz) for k, v in {"x": tx_i, "y": ty_i, "z": tz_i, "id": thread_id}.items()}
    x = b["x"] * bx + t["x"]
    y = b["y"] * by + t["y"]
    z = b["z"] * bz + t["z"]
    n = len(x)
    out = np.empty((n, FIELDS), np.int64)
    out[:, 0] = x
    out[:, 1] = y
    out[:, 2] = z
    out[:, 3] = b["id"]
    out[:, 4] = t["id"]
    out[:, 5] = t["id"] % 32
    out[:, 6] = 32
    out[:, 7] = x
    out[:, 8] = x * 100000 + y
    out[:, 9] = gx + 1000 * gy + 1000000 * gz
    out[:, 10] = bx + 10000 * by + 100000000 * bz
    out[:, 11] = gx * bx + 100000 * gy * by + 10000000000 * gz * bz
    return out


@settings(max_examples=150, deadline=None)
@given(shape=launch_shapes())
def test_thread_identities(shape: tuple[Dims, Dims]) -> None:
    grid, block = shape
    total = int(np.prod(grid)) * int(np.prod(block))
    out = np.full((total, FIELDS), -1, np.int64)
    identity_kernel[as_launch_arg(grid), as_launch_arg(block)](out)
    np.testing.assert_array_equal(out, expected_identities(grid, block))


# ---------------------------------------------------------------------------------------------
# guarded map


@cuda.jit
def guarded_map_kernel(x, n, out):
    i = cuda.grid(1)
    if i < n:
        out[i] = x[i] * 3 + 1


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 20_000),
    tpb=st.integers(1, MAX_THREADS_PER_BLOCK),
    extra_blocks=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_guarded_map(n: int, tpb: int, extra_blocks: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pad = 7
    x = rng.integers(-(10**6), 10**6, n + pad, dtype=np.int64)
    out = np.full(n + pad, -99, np.int64)
    guarded_map_kernel[(n + tpb - 1) // tpb + extra_blocks, tpb](x, n, out)
    expected = np.full(n + pad, -99, np.int64)
    expected[:n] = x[:n] * 3 + 1
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------------------------------
# grid-stride loop


@cuda.jit
def grid_stride_sum_kernel(x, partial):
    start = cuda.grid(1)
    acc = 0
    for i in range(start, x.size, cuda.gridsize(1)):
        acc += x[i]
    partial[start] = acc


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(0, 50_000),
    blocks=st.integers(1, 40),
    tpb=st.integers(1, MAX_THREADS_PER_BLOCK),
    seed=st.integers(0, 2**32 - 1),
)
def test_grid_stride_sum(n: int, blocks: int, tpb: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-(10**9), 10**9, n, dtype=np.int64)
    threads = blocks * tpb
    partial = np.full(threads, -1, np.int64)
    grid_stride_sum_kernel[blocks, tpb](x, partial)
    padded = np.zeros(-(-max(n, 1) // threads) * threads, np.int64)
    padded[:n] = x
    expected = padded.reshape(-1, threads).sum(axis=0)
    np.testing.assert_array_equal(partial, expected)
    assert int(partial.sum()) == int(x.sum())


# ---------------------------------------------------------------------------------------------
# warp-shuffle reduction


@cuda.jit
def warp_sum_kernel(x, warp_sums):
    i = cuda.grid(1)
    v = x[i] if i < x.size else 0
    offset = 16
    while offset > 0:
        v += cuda.shfl_down_sync(FULL_MASK, v, offset)
        offset //= 2
    if cuda.laneid == 0:
        warp_sums[i // 32] = v


@settings(max_examples=100, deadline=None)
@given(
    warps_per_block=st.integers(1, MAX_THREADS_PER_BLOCK // 32),
    blocks=st.integers(1, 20),
    fill=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_warp_shuffle_reduction(warps_per_block: int, blocks: int, fill: float, seed: int) -> None:
    tpb = 32 * warps_per_block
    threads = blocks * tpb
    n = max(1, int(threads * fill))
    rng = np.random.default_rng(seed)
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    warp_sums = np.full(threads // 32, -1, np.int64)
    warp_sum_kernel[blocks, tpb](x, warp_sums)
    padded = np.zeros(threads, np.int64)
    padded[:n] = x
    np.testing.assert_array_equal(warp_sums, padded.reshape(-1, 32).sum(axis=1))
