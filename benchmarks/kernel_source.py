"""The benchmark kernels, written once with the numba.cuda API the way a good student writes them.

This file is an ordinary numba.cuda module: imported on its own it uses ``numba.cuda`` (so it runs
unchanged on an NVIDIA GPU). The benchmark harness does not import it that way: ``make_kernels(cuda)``
in ``benchmarks/kernels.py`` executes this file once per backend with the global name ``cuda`` already
bound to that backend's module (simtlab's emulator, or numba's CUDA simulator). The kernels therefore
reach ``cuda`` as a module global, exactly as in a student's notebook, which is also the only way numba's
simulator works: it swaps the module *global* named ``cuda`` while a kernel runs, never a closure.

Sizes are compile-time constants at module level (numba freezes globals), and every kernel guards its
indices so that sizes need not be multiples of the block or tile size.
"""

import math

import numpy as np

if "cuda" not in globals():  # imported directly rather than through make_kernels(cuda)
    from numba import cuda

BLOCK = 256  # threads per block of the 1D kernels
TILE = 16  # matmul tile: (TILE, TILE) blocks and shared tiles
TR_TILE = 32  # transpose tile edge (shared tile padded to TR_TILE + 1 columns against bank conflicts)
TR_ROWS = 8  # transpose blocks are (TR_TILE, TR_ROWS): each thread moves TR_TILE // TR_ROWS elements
WARP = 32
# numba needs shared-array shapes as literals or module-level constants, not expressions
WARPS_PER_BLOCK = BLOCK // WARP
TR_TILE_PADDED = TR_TILE + 1
FULL_MASK = 0xFFFFFFFF
NBINS = 256  # histogram bins
HIST_ITEMS = 16  # elements per thread of the histogram's grid-stride loop (sets the grid size)
SCAN_THREADS = 512  # block scan: each thread loads two elements ...
SCAN_BLOCK = 2 * SCAN_THREADS  # ... so each block scans 1024 elements


# --- elementwise -------------------------------------------------------------------------------------


@cuda.jit
def vector_add(a, b, out):
    """out = a + b, one thread per element."""
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


@cuda.jit
def map_2d(a, b, out):
    """out = sqrt(a*a + b*b) elementwise over a 2D array, one thread per element, 16x16 blocks."""
    col, row = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        x = a[row, col]
        y = b[row, col]
        out[row, col] = math.sqrt(x * x + y * y)


# --- matrix multiply ---------------------------------------------------------------------------------


@cuda.jit
def matmul_naive(a, b, c):
    """c = a @ b, one thread per output element reading a row of a and a column of b from global memory."""
    col, row = cuda.grid(2)
    if row < c.shape[0] and col < c.shape[1]:
        acc = np.float32(0.0)
        for k in range(a.shape[1]):
            acc += a[row, k] * b[k, col]
        c[row, col] = acc


@cuda.jit
def matmul_tiled(a, b, c):
    """c = a @ b with (TILE, TILE) tiles of a and b staged through shared memory."""
    sa = cuda.shared.array((TILE, TILE), np.float32)
    sb = cuda.shared.array((TILE, TILE), np.float32)
    col, row = cuda.grid(2)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    n_k = a.shape[1]
    acc = np.float32(0.0)
    for t in range((n_k + TILE - 1) // TILE):
        k = t * TILE + tx
        if row < a.shape[0] and k < n_k:
            sa[ty, tx] = a[row, k]
        else:
            sa[ty, tx] = 0.0
        k = t * TILE + ty
        if k < n_k and col < b.shape[1]:
            sb[ty, tx] = b[k, col]
        else:
            sb[ty, tx] = 0.0
        cuda.syncthreads()
        for j in range(TILE):
            acc += sa[ty, j] * sb[j, tx]
        cuda.syncthreads()
    if row < c.shape[0] and col < c.shape[1]:
        c[row, col] = acc


# --- reductions --------------------------------------------------------------------------------------


@cuda.jit
def reduce_shared(x, partial):
    """partial[block] = sum of the block's BLOCK elements: shared-memory tree, sequential addressing."""
    sdata = cuda.shared.array(BLOCK, np.float32)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    v = np.float32(0.0)
    if i < x.size:
        v = x[i]
    sdata[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sdata[tid] += sdata[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid == 0:
        partial[cuda.blockIdx.x] = sdata[0]


@cuda.jit
def reduce_warp(x, partial):
    """partial[block] = sum of the block's BLOCK elements: shuffles within each warp, then warp 0
    reduces the per-warp sums staged in shared memory."""
    warp_sums = cuda.shared.array(WARPS_PER_BLOCK, np.float32)
    tid = cuda.threadIdx.x
    lane = tid % WARP
    warp = tid // WARP
    i = cuda.grid(1)
    v = np.float32(0.0)
    if i < x.size:
        v = x[i]
    offset = WARP // 2
    while offset > 0:
        v += cuda.shfl_down_sync(FULL_MASK, v, offset)
        offset //= 2
    if lane == 0:
        warp_sums[warp] = v
    cuda.syncthreads()
    if warp == 0:
        v = np.float32(0.0)
        if lane < cuda.blockDim.x // WARP:
            v = warp_sums[lane]
        offset = WARP // 2
        while offset > 0:
            v += cuda.shfl_down_sync(FULL_MASK, v, offset)
            offset //= 2
        if lane == 0:
            partial[cuda.blockIdx.x] = v


# --- histogram ---------------------------------------------------------------------------------------


@cuda.jit
def histogram(data, bins):
    """bins[v] += count of v in data: grid-stride loop with atomics into a per-block shared histogram,
    then one atomic per bin to merge it into the global histogram (which must start zeroed)."""
    local = cuda.shared.array(NBINS, np.int32)
    tid = cuda.threadIdx.x
    j = tid
    while j < NBINS:
        local[j] = 0
        j += cuda.blockDim.x
    cuda.syncthreads()
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    while i < data.size:
        cuda.atomic.add(local, data[i], 1)
        i += stride
    cuda.syncthreads()
    j = tid
    while j < NBINS:
        cuda.atomic.add(bins, j, local[j])
        j += cuda.blockDim.x


# --- transpose ---------------------------------------------------------------------------------------


@cuda.jit
def transpose_naive(a, out):
    """out = a.T reading rows of a (coalesced) and writing columns of out (strided).
    Blocks are (TR_TILE, TR_ROWS); each thread moves TR_TILE // TR_ROWS elements of a 32x32 tile."""
    x = cuda.blockIdx.x * TR_TILE + cuda.threadIdx.x
    y = cuda.blockIdx.y * TR_TILE + cuda.threadIdx.y
    for j in range(0, TR_TILE, TR_ROWS):
        if x < a.shape[1] and y + j < a.shape[0]:
            out[x, y + j] = a[y + j, x]


@cuda.jit
def transpose_tiled(a, out):
    """out = a.T through a shared 32x33 tile, so that both the read of a and the write of out are
    coalesced; the extra column keeps the tile's column reads free of bank conflicts."""
    tile = cuda.shared.array((TR_TILE, TR_TILE_PADDED), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    x = cuda.blockIdx.x * TR_TILE + tx
    y = cuda.blockIdx.y * TR_TILE + ty
    for j in range(0, TR_TILE, TR_ROWS):
        if x < a.shape[1] and y + j < a.shape[0]:
            tile[ty + j, tx] = a[y + j, x]
    cuda.syncthreads()
    x = cuda.blockIdx.y * TR_TILE + tx
    y = cuda.blockIdx.x * TR_TILE + ty
    for j in range(0, TR_TILE, TR_ROWS):
        if x < a.shape[0] and y + j < a.shape[1]:
            out[y + j, x] = tile[tx, ty + j]


# --- scan --------------------------------------------------------------------------------------------


@cuda.jit
def scan_blocks(x, out, block_sums):
    """Inclusive scan of each SCAN_BLOCK-element block of x into out (Blelloch work-efficient scan in
    shared memory: up-sweep, clear the root, down-sweep, then add the input back), and each block's
    total into block_sums[block]."""
    temp = cuda.shared.array(SCAN_BLOCK, np.int32)
    tid = cuda.threadIdx.x
    base = cuda.blockIdx.x * SCAN_BLOCK
    ai = tid
    bi = tid + SCAN_THREADS
    va = 0
    if base + ai < x.size:
        va = x[base + ai]
    vb = 0
    if base + bi < x.size:
        vb = x[base + bi]
    temp[ai] = va
    temp[bi] = vb
    offset = 1
    d = SCAN_THREADS
    while d > 0:  # up-sweep: build partial sums in place
        cuda.syncthreads()
        if tid < d:
            left = offset * (2 * tid + 1) - 1
            right = offset * (2 * tid + 2) - 1
            temp[right] += temp[left]
        offset *= 2
        d //= 2
    if tid == 0:
        block_sums[cuda.blockIdx.x] = temp[SCAN_BLOCK - 1]
        temp[SCAN_BLOCK - 1] = 0
    d = 1
    while d < SCAN_BLOCK:  # down-sweep: turn the partial sums into an exclusive scan
        offset //= 2
        cuda.syncthreads()
        if tid < d:
            left = offset * (2 * tid + 1) - 1
            right = offset * (2 * tid + 2) - 1
            t = temp[left]
            temp[left] = temp[right]
            temp[right] += t
        d *= 2
    cuda.syncthreads()
    if base + ai < out.size:
        out[base + ai] = temp[ai] + va
    if base + bi < out.size:
        out[base + bi] = temp[bi] + vb


@cuda.jit
def add_block_carry(out, scanned_sums):
    """Add the inclusive scan of the preceding blocks' totals to every element of blocks 1, 2, ...
    (launched with the same grid as scan_blocks)."""
    block = cuda.blockIdx.x
    if block > 0:
        carry = scanned_sums[block - 1]
        i = block * SCAN_BLOCK + cuda.threadIdx.x
        if i < out.size:
            out[i] += carry
        i += SCAN_THREADS
        if i < out.size:
            out[i] += carry


# --- softmax -----------------------------------------------------------------------------------------


@cuda.jit
def softmax_rows(x, out):
    """out[r] = softmax(x[r]): one block per row; the row's max and sum of exponentials are reduced
    through shared memory; each thread strides over the row's columns."""
    smem = cuda.shared.array(BLOCK, np.float32)
    row = cuda.blockIdx.x
    tid = cuda.threadIdx.x
    ncols = x.shape[1]

    m = np.float32(-math.inf)
    c = tid
    while c < ncols:
        m = max(m, x[row, c])
        c += cuda.blockDim.x
    smem[tid] = m
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            smem[tid] = max(smem[tid], smem[tid + s])
        cuda.syncthreads()
        s //= 2
    row_max = smem[0]
    cuda.syncthreads()  # every thread has read the max before smem is reused

    acc = np.float32(0.0)
    c = tid
    while c < ncols:
        acc += math.exp(x[row, c] - row_max)
        c += cuda.blockDim.x
    smem[tid] = acc
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            smem[tid] += smem[tid + s]
        cuda.syncthreads()
        s //= 2
    total = smem[0]

    c = tid
    while c < ncols:
        out[row, c] = math.exp(x[row, c] - row_max) / total
        c += cuda.blockDim.x
