"""Conformance cases: block-level cooperation through shared memory and barriers, grid sync, fences."""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .backend import cuda
from .registry import Result, blocks_for, case, pick


def _per_block(a: np.ndarray, tpb: int, fill: float | int = 0) -> np.ndarray:
    """Pad ``a`` to whole blocks of ``tpb`` with ``fill`` and reshape to (blocks, tpb)."""
    blocks = -(-len(a) // tpb)
    padded = np.full(blocks * tpb, fill, dtype=a.dtype)
    padded[: len(a)] = a
    return padded.reshape(blocks, tpb)


# ---------------------------------------------------------------------------------------------
# tree reduction

RED_TPB = 128


@cuda.jit
def block_reduce_kernel(x, f, part_i, part_f):
    si = cuda.shared.array(RED_TPB, np.int64)
    sf = cuda.shared.array(RED_TPB, np.float32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    n = x.size
    si[t] = x[i] if i < n else 0
    sf[t] = f[i] if i < n else 0.0
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if t < s:
            si[t] += si[t + s]
            sf[t] += sf[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        part_i[cuda.blockIdx.x] = si[0]
        part_f[cuda.blockIdx.x] = sf[0]


@case(tags=("reduction", "tree", "shared", "syncthreads", "int64", "float32"), rtol=1e-5, atol=1e-4)
def block_reduce_tree(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Per-block sums by a shared-memory tree with a barrier after every level."""
    n = pick(size, 100_001, 301)
    x = rng.integers(-(10**9), 10**9, n, dtype=np.int64)
    f = rng.standard_normal(n).astype(np.float32)
    blocks = blocks_for(n, RED_TPB)
    part_i = np.zeros(blocks, np.int64)
    part_f = np.zeros(blocks, np.float32)
    block_reduce_kernel[blocks, RED_TPB](x, f, part_i, part_f)
    return Result(
        {"sum_i": part_i, "sum_f": part_f},
        {
            "sum_i": _per_block(x, RED_TPB).sum(axis=1),
            "sum_f": _per_block(f.astype(np.float64), RED_TPB).sum(axis=1),
        },
    )


# ---------------------------------------------------------------------------------------------
# Hillis-Steele scan, three phases, any length

SCAN_TPB = 128


@cuda.jit
def hs_scan_kernel(x, out, block_sums):
    buf = cuda.shared.array((2, SCAN_TPB), np.int64)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    n = x.size
    buf[0, t] = x[i] if i < n else 0
    cuda.syncthreads()
    pin = 0
    offset = 1
    while offset < SCAN_TPB:
        pout = 1 - pin
        if t >= offset:
            buf[pout, t] = buf[pin, t] + buf[pin, t - offset]
        else:
            buf[pout, t] = buf[pin, t]
        cuda.syncthreads()
        pin = pout
        offset *= 2
    if i < n:
        out[i] = buf[pin, t]
    if t == SCAN_TPB - 1:
        block_sums[cuda.blockIdx.x] = buf[pin, t]


@cuda.jit
def add_offsets_kernel(out, scanned_sums):
    i = cuda.grid(1)
    b = cuda.blockIdx.x
    if b > 0 and i < out.size:
        out[i] += scanned_sums[b - 1]


def _device_scan(cuda: ModuleType, d_x: object, n: int, levels: list[np.ndarray]) -> object:
    blocks = blocks_for(n, SCAN_TPB, allow_exact=True)
    d_out = cuda.device_array(n, np.int64)
    d_sums = cuda.device_array(blocks, np.int64)
    hs_scan_kernel[blocks, SCAN_TPB](d_x, d_out, d_sums)
    levels.append(d_sums.copy_to_host())
    if blocks > 1:
        d_scanned = _device_scan(cuda, d_sums, blocks, levels)
        add_offsets_kernel[blocks, SCAN_TPB](d_out, d_scanned)
    return d_out


@case(tags=("scan", "hillis-steele", "double-buffer", "shared", "syncthreads", "multi-kernel"))
def block_scan(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Inclusive scan of any length: Hillis-Steele per block (double buffer, barrier per step),
    scan of the block sums (recursively), then a kernel adding each block's offset."""
    n = pick(size, 50_001, 201)
    x = rng.integers(-50, 100, n, dtype=np.int64)
    levels: list[np.ndarray] = []
    d_out = _device_scan(cuda, cuda.to_device(x), n, levels)
    block_sums = levels[0]
    return Result(
        {"scan": d_out.copy_to_host(), "block_sums": block_sums},
        {"scan": np.cumsum(x), "block_sums": _per_block(x, SCAN_TPB).sum(axis=1)},
    )


# ---------------------------------------------------------------------------------------------
# syncthreads_count / _and / _or

VOTE_TPB = 100


@cuda.jit
def sync_votes_kernel(x, n, out):
    i = cuda.grid(1)
    positive = i < n and x[i] > 0
    nonneg = i >= n or x[i] >= 0
    zero = i < n and x[i] == 0
    # numba wants an integer predicate here (a bool does not type)
    c = cuda.syncthreads_count(1 if positive else 0)
    a = cuda.syncthreads_and(1 if nonneg else 0)
    o = cuda.syncthreads_or(1 if zero else 0)
    out[i, 0] = c
    out[i, 1] = 1 if a else 0
    out[i, 2] = 1 if o else 0


@case(tags=("syncthreads_count", "syncthreads_and", "syncthreads_or", "block-vote", "non-warp-multiple"))
def syncthreads_votes(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Block-wide votes; blocks of 100 threads (not a multiple of the warp) with a partial last block."""
    n = pick(size, 30_050, 250)
    blocks = blocks_for(n, VOTE_TPB)
    x = rng.integers(1, 50, n, dtype=np.int32)
    # give some blocks zeros and some negatives, leave others all positive
    for b in range(blocks):
        lo, hi = b * VOTE_TPB, min(n, (b + 1) * VOTE_TPB)
        kind = b % 4
        if kind == 1:
            x[rng.integers(lo, hi)] = 0
        elif kind == 2:
            x[rng.integers(lo, hi, 3)] = -rng.integers(1, 5)
        elif kind == 3:
            x[lo:hi] = rng.integers(-5, 5, hi - lo)
    out = np.full((blocks * VOTE_TPB, 3), -1, np.int32)
    sync_votes_kernel[blocks, VOTE_TPB](x, n, out)
    xb = _per_block(x.astype(np.int64), VOTE_TPB, fill=1)
    valid = _per_block(np.ones(n, bool), VOTE_TPB, fill=False)
    count = np.sum((xb > 0) & valid, axis=1)
    all_nonneg = np.all((xb >= 0) | ~valid, axis=1)
    any_zero = np.any((xb == 0) & valid, axis=1)
    exp = np.repeat(np.stack([count, all_nonneg, any_zero], axis=1), VOTE_TPB, axis=0).astype(np.int32)
    return Result({"out": out}, {"out": exp})


# ---------------------------------------------------------------------------------------------
# threadfence: the "last block finishes the reduction" pattern

LB_TPB = 128


@cuda.jit
def last_block_kernel(x, partial, counter, result):
    sh = cuda.shared.array(LB_TPB, np.int64)
    is_last = cuda.shared.array(1, np.int32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    n = x.size
    sh[t] = x[i] if i < n else 0
    cuda.syncthreads()
    s = LB_TPB // 2
    while s > 0:
        if t < s:
            sh[t] += sh[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        partial[cuda.blockIdx.x] = sh[0]
        cuda.threadfence()
        ticket = cuda.atomic.add(counter, 0, 1)
        is_last[0] = 1 if ticket == cuda.gridDim.x - 1 else 0
    cuda.syncthreads()
    if is_last[0] == 1:
        acc = 0
        for j in range(t, cuda.gridDim.x, LB_TPB):
            acc += partial[j]
        sh[t] = acc
        cuda.syncthreads()
        s = LB_TPB // 2
        while s > 0:
            if t < s:
                sh[t] += sh[t + s]
            cuda.syncthreads()
            s //= 2
        if t == 0:
            result[0] = sh[0]


@case(tags=("threadfence", "atomic", "last-block", "syncthreads", "block-uniform-branch"))
def threadfence_last_block(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Each block publishes a partial sum, fences, takes a ticket; the last block adds the partials
    (its barriers sit inside a branch that is uniform across the block)."""
    n = pick(size, 90_001, 301)
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    blocks = blocks_for(n, LB_TPB)
    partial = np.zeros(blocks, np.int64)
    counter = np.zeros(1, np.int32)
    result = np.zeros(1, np.int64)
    last_block_kernel[blocks, LB_TPB](x, partial, counter, result)
    return Result(
        {"partial": partial, "counter": counter, "result": result},
        {
            "partial": _per_block(x, LB_TPB).sum(axis=1),
            "counter": np.array([blocks], np.int32),
            "result": np.array([x.sum()]),
        },
    )


# ---------------------------------------------------------------------------------------------
# cooperative grid sync


@cuda.jit
def grid_sync_kernel(x, tmp, out):
    grid = cuda.cg.this_grid()
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    n = x.size
    for j in range(start, n, stride):
        tmp[j] = x[j] * 2
    grid.sync()
    for j in range(start, n, stride):
        out[j] = tmp[n - 1 - j] + tmp[(j + 1) % n]
    grid.sync()
    for j in range(start, n, stride):
        tmp[j] = out[(j * 7919) % n]


@case(
    tags=("grid-sync", "cooperative", "cg", "grid-stride"),
    sim_ok=False,
    sim_reason="numba's simulator runs blocks one after another and its this_grid().sync() only "
    "synchronises the current block, so later phases read data other blocks have not written yet",
)
def grid_sync(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """cuda.cg.this_grid().sync() between phases that read what other blocks wrote."""
    n = pick(size, 50_001, 301)
    blocks, tpb = pick(size, (8, 128), (3, 32))
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    tmp = np.zeros(n, np.int64)
    out = np.zeros(n, np.int64)
    grid_sync_kernel[blocks, tpb](x, tmp, out)
    t = 2 * x
    j = np.arange(n)
    exp_out = t[n - 1 - j] + t[(j + 1) % n]
    exp_tmp = exp_out[(j * 7919) % n]
    return Result({"out": out, "tmp": tmp}, {"out": exp_out, "tmp": exp_tmp})


# ---------------------------------------------------------------------------------------------
# a barrier inside a loop whose (block-uniform) exit is decided by syncthreads_or

CV_TPB = 128


@cuda.jit
def converge_kernel(labels, seg, out, rounds):
    lab = cuda.shared.array(CV_TPB, np.int32)
    sg = cuda.shared.array(CV_TPB, np.int32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    n = labels.size
    lab[t] = labels[i] if i < n else 0
    sg[t] = seg[i] if i < n else -1 - t
    cuda.syncthreads()
    it = 0
    while True:
        v = lab[t]
        if t > 0 and sg[t - 1] == sg[t]:
            v = min(v, lab[t - 1])
        if t + 1 < CV_TPB and sg[t + 1] == sg[t]:
            v = min(v, lab[t + 1])
        changed = v != lab[t]
        cuda.syncthreads()
        lab[t] = v
        it += 1
        if cuda.syncthreads_or(1 if changed else 0) == 0:
            break
    if i < n:
        out[i] = lab[t]
    if t == 0:
        rounds[cuda.blockIdx.x] = it


def _converge_reference(labels: np.ndarray, seg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lab = _per_block(labels.astype(np.int64), CV_TPB)
    blocks = lab.shape[0]
    pad_seg = -1 - np.tile(np.arange(CV_TPB), blocks)
    sg = pad_seg.copy()
    sg[: len(seg)] = seg
    sg = sg.reshape(blocks, CV_TPB)
    same_left = np.zeros_like(sg, dtype=bool)
    same_left[:, 1:] = sg[:, 1:] == sg[:, :-1]
    rounds = np.zeros(blocks, np.int32)
    live = np.ones(blocks, dtype=bool)
    big = np.iinfo(np.int64).max
    while live.any():
        left = np.where(same_left, np.roll(lab, 1, axis=1), big)
        right_ok = np.zeros_like(same_left)
        right_ok[:, :-1] = same_left[:, 1:]
        right = np.where(right_ok, np.roll(lab, -1, axis=1), big)
        new = np.minimum(lab, np.minimum(left, right))
        changed = (new != lab).any(axis=1)
        lab[live] = new[live]
        rounds[live] += 1
        live &= changed
    return lab.reshape(-1)[: len(labels)], rounds


@case(tags=("syncthreads_or", "barrier-in-loop", "while", "break", "shared", "label-propagation"))
def block_converge_loop(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Min-label propagation along segments inside each block, iterated with barriers until
    syncthreads_or says nothing changed: a while-True loop with a barrier and a block-uniform break."""
    n = pick(size, 30_001, 301)
    lengths = rng.integers(1, 40, n)
    seg = np.repeat(np.arange(n), lengths)[:n].astype(np.int32)
    labels = rng.integers(0, 10**6, n, dtype=np.int32)
    blocks = blocks_for(n, CV_TPB)
    out = np.zeros(n, np.int32)
    rounds = np.zeros(blocks, np.int32)
    converge_kernel[blocks, CV_TPB](labels, seg, out, rounds)
    exp_lab, exp_rounds = _converge_reference(labels, seg)
    return Result({"labels": out, "rounds": rounds}, {"labels": exp_lab, "rounds": exp_rounds})
