"""Conformance cases: warp-level intrinsics (shuffles, votes, match, masks, syncwarp).

numba's CUDA simulator has none of these functions (it runs every thread as an OS thread, with no
notion of a warp), so all cases here are sim_ok=False.

Warps are 32 consecutive linear thread ids of a block; a block whose size is not a multiple of 32
ends with a partial warp, whose missing lanes are not active. Shuffles with the full mask are only
used in blocks whose size is a multiple of 32 (a full mask naming lanes that do not exist is
undefined behaviour on a GPU); the vote case uses activemask() and a partial warp on purpose.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from .backend import cuda
from .registry import Result, blocks_for, case, pick

NO_WARPS_IN_SIM = (
    "numba's simulator has no warp intrinsics (shfl_*_sync, votes, match_*_sync, activemask, "
    "lanemask_lt, syncwarp) and does not run the lanes of a warp in lockstep"
)
FULL = 0xFFFFFFFF


def _warps(a: np.ndarray, tpb: int, fill: float | int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lay per-thread values (indexed by global linear id, padded to whole blocks) out as warps.

    Returns (values, exists) of shape (blocks, warps_per_block, 32); ``exists`` is False for lanes
    past the end of a partial warp (which hold ``fill``).
    """
    blocks = -(-len(a) // tpb)
    per_block = np.full(blocks * tpb, fill, dtype=a.dtype)
    per_block[: len(a)] = a
    per_block = per_block.reshape(blocks, tpb)
    wpb = -(-tpb // 32)
    vals = np.full((blocks, wpb * 32), fill, dtype=a.dtype)
    vals[:, :tpb] = per_block
    exists = np.zeros((blocks, wpb * 32), dtype=bool)
    exists[:, :tpb] = True
    return vals.reshape(blocks, wpb, 32), exists.reshape(blocks, wpb, 32)


def _unwarp(w: np.ndarray, tpb: int, n: int) -> np.ndarray:
    """Inverse of :func:`_warps` (drops padding lanes and the tail past ``n``)."""
    blocks = w.shape[0]
    return w.reshape(blocks, -1)[:, :tpb].reshape(-1)[:n]


def _lane_bits(flags: np.ndarray) -> np.ndarray:
    """(…, 32) booleans -> (…) uint32 masks with bit l set where flags[..., l]."""
    weights = np.left_shift(np.uint64(1), np.arange(32, dtype=np.uint64))
    return (flags.astype(np.uint64) * weights).sum(axis=-1).astype(np.uint32)


# ---------------------------------------------------------------------------------------------
# shuffles

WR_TPB = 128
WR_WARPS = WR_TPB // 32


@cuda.jit
def warp_reduce_kernel(x, f, out_i, out_f):
    warp_i = cuda.shared.array(WR_WARPS, np.int64)
    warp_f = cuda.shared.array(WR_WARPS, np.float32)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    lane = t % 32
    w = t // 32
    n = x.size
    vi = x[i] if i < n else 0
    vf = f[i] if i < n else np.float32(0.0)
    off = 16
    while off > 0:
        vi += cuda.shfl_down_sync(FULL, vi, off)
        vf += cuda.shfl_down_sync(FULL, vf, off)
        off //= 2
    if lane == 0:
        warp_i[w] = vi
        warp_f[w] = vf
    cuda.syncthreads()
    if w == 0:
        vi = warp_i[lane] if lane < WR_WARPS else 0
        vf = warp_f[lane] if lane < WR_WARPS else np.float32(0.0)
        off = 16
        while off > 0:
            vi += cuda.shfl_down_sync(FULL, vi, off)
            vf += cuda.shfl_down_sync(FULL, vf, off)
            off //= 2
        if lane == 0:
            out_i[cuda.blockIdx.x] = vi
            out_f[cuda.blockIdx.x] = vf


@case(
    tags=("warp", "shfl_down_sync", "reduction", "shared", "syncthreads"),
    rtol=1e-5,
    atol=1e-4,
    sim_ok=False,
    sim_reason=NO_WARPS_IN_SIM,
)
def warp_reduce_shfl_down(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Block sums: shfl_down_sync tree inside each warp, warp sums through shared memory, then a
    second shuffle reduction in warp 0."""
    n = pick(size, 100_001, 301)
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int32)
    f = rng.standard_normal(n).astype(np.float32)
    blocks = blocks_for(n, WR_TPB)
    out_i = np.zeros(blocks, np.int64)
    out_f = np.zeros(blocks, np.float32)
    warp_reduce_kernel[blocks, WR_TPB](x, f, out_i, out_f)
    xi, _ = _warps(x.astype(np.int64), WR_TPB)
    xf, _ = _warps(f.astype(np.float64), WR_TPB)
    return Result(
        {"sum_i": out_i, "sum_f": out_f},
        {"sum_i": xi.sum(axis=(1, 2)), "sum_f": xf.sum(axis=(1, 2))},
    )


@cuda.jit
def butterfly_kernel(x, out_sum, out_max):
    i = cuda.grid(1)
    n = x.size
    v = x[i] if i < n else 0
    m = x[i] if i < n else -(2**31)
    mask = 16
    while mask > 0:
        v += cuda.shfl_xor_sync(FULL, v, mask)
        m = max(m, cuda.shfl_xor_sync(FULL, m, mask))
        mask //= 2
    if i < n:
        out_sum[i] = v
        out_max[i] = m


@case(tags=("warp", "shfl_xor_sync", "butterfly", "allreduce"), sim_ok=False, sim_reason=NO_WARPS_IN_SIM)
def warp_butterfly_shfl_xor(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """shfl_xor_sync butterfly: every lane ends with its warp's sum and maximum."""
    n = pick(size, 50_021, 150)
    tpb = 64
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int32)
    out_sum = np.zeros(n, np.int64)
    out_max = np.zeros(n, np.int64)
    butterfly_kernel[blocks_for(n, tpb), tpb](x, out_sum, out_max)
    ws, _ = _warps(x.astype(np.int64), tpb, fill=0)
    wm, _ = _warps(x.astype(np.int64), tpb, fill=-(2**31))
    sums = np.broadcast_to(ws.sum(axis=2, keepdims=True), ws.shape)
    maxs = np.broadcast_to(wm.max(axis=2, keepdims=True), wm.shape)
    return Result(
        {"sum": out_sum, "max": out_max},
        {"sum": _unwarp(sums, tpb, n), "max": _unwarp(maxs, tpb, n)},
    )


@cuda.jit
def warp_scan_kernel(x, out, out_up5):
    i = cuda.grid(1)
    lane = cuda.laneid
    n = x.size
    v = x[i] if i < n else 0
    # raw shfl_up: lanes below the offset get their own value back
    up5 = cuda.shfl_up_sync(FULL, v, 5)
    d = 1
    while d < 32:
        y = cuda.shfl_up_sync(FULL, v, d)
        if lane >= d:
            v += y
        d *= 2
    if i < n:
        out[i] = v
        out_up5[i] = up5


@case(tags=("warp", "shfl_up_sync", "scan", "laneid"), sim_ok=False, sim_reason=NO_WARPS_IN_SIM)
def warp_scan_shfl_up(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Inclusive scan within each warp with shfl_up_sync (lanes below the offset keep their value)."""
    n = pick(size, 40_003, 170)
    tpb = 96
    x = rng.integers(-1000, 1000, n, dtype=np.int64)
    out = np.zeros(n, np.int64)
    out_up5 = np.zeros(n, np.int64)
    warp_scan_kernel[blocks_for(n, tpb), tpb](x, out, out_up5)
    w, _ = _warps(x, tpb)
    lane = np.arange(32)
    up5 = np.where(lane >= 5, w[:, :, np.maximum(lane - 5, 0)], w)
    return Result(
        {"scan": out, "up5": out_up5},
        {"scan": _unwarp(np.cumsum(w, axis=2), tpb, n), "up5": _unwarp(up5, tpb, n)},
    )


@cuda.jit
def shfl_idx_kernel(x, big, f64, src, out):
    i = cuda.grid(1)
    lane = cuda.laneid
    n = x.size
    v = x[i] if i < n else -1
    g = big[i] if i < n else 0
    h = f64[i] if i < n else 0.0
    s = src[i] if i < n else 0
    b = cuda.shfl_sync(FULL, v, 5)
    r = cuda.shfl_sync(FULL, v, (lane + 1) % 32)
    gb = cuda.shfl_sync(FULL, g, 31 - lane)
    hd = cuda.shfl_down_sync(FULL, h, 3)
    sv = cuda.shfl_sync(FULL, v, s)
    if i < n:
        out[i, 0] = b
        out[i, 1] = r
        out[i, 2] = gb
        out[i, 3] = int(hd * 4.0)
        out[i, 4] = sv


@case(tags=("warp", "shfl_sync", "shfl_down_sync", "int64", "float64", "broadcast"), sim_ok=False,
      sim_reason=NO_WARPS_IN_SIM)
def warp_shfl_idx(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """shfl_sync from a fixed lane, from lane+1, from a per-thread lane; 64-bit int and float
    shuffles (values above 2**32); shfl_down_sync keeps the caller's value past the warp's end."""
    n = pick(size, 30_011, 150)
    tpb = 64
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int32)
    big = rng.integers(2**33, 2**60, n, dtype=np.int64)
    f64 = rng.integers(-1000, 1000, n) / 4.0
    src = rng.integers(0, 32, n).astype(np.int32)
    out = np.zeros((n, 5), np.int64)
    shfl_idx_kernel[blocks_for(n, tpb), tpb](x, big, f64, src, out)
    wx, _ = _warps(x.astype(np.int64), tpb, fill=-1)
    wg, _ = _warps(big, tpb, fill=0)
    wh, _ = _warps(f64, tpb, fill=0.0)
    ws, _ = _warps(src.astype(np.int64), tpb, fill=0)
    lane = np.arange(32)
    down = np.where(lane + 3 < 32, np.minimum(lane + 3, 31), lane)
    exp = np.stack(
        [
            _unwarp(np.broadcast_to(wx[:, :, 5:6], wx.shape), tpb, n),
            _unwarp(wx[:, :, (lane + 1) % 32], tpb, n),
            _unwarp(wg[:, :, 31 - lane], tpb, n),
            _unwarp(np.trunc(wh[:, :, down] * 4.0).astype(np.int64), tpb, n),
            _unwarp(np.take_along_axis(wx, ws, axis=2), tpb, n),
        ],
        axis=1,
    )
    return Result({"out": out}, {"out": exp})


# ---------------------------------------------------------------------------------------------
# votes and masks

VOTE_TPB = 80  # two full warps and a partial warp of 16 lanes


@cuda.jit
def warp_vote_kernel(x, n, out):
    i = cuda.grid(1)
    lane = cuda.laneid
    am = cuda.activemask()
    p = i < n and x[i] > 0
    out[i, 0] = am
    out[i, 1] = cuda.ballot_sync(am, p)
    out[i, 2] = 1 if cuda.any_sync(am, p) else 0
    out[i, 3] = 1 if cuda.all_sync(am, p) else 0
    out[i, 4] = 1 if cuda.eq_sync(am, p) else 0
    out[i, 5] = cuda.lanemask_lt()
    if lane % 3 == 0:
        # On a GPU activemask() reports the lanes that are converged at this point; for a simple
        # branch like this one that is the lanes that took it, which is what lockstep gives.
        inner = cuda.activemask()
        out[i, 6] = inner
        out[i, 7] = cuda.ballot_sync(inner, p)
    else:
        out[i, 6] = 0
        out[i, 7] = 1


@case(
    tags=("warp", "ballot_sync", "any_sync", "all_sync", "eq_sync", "activemask", "lanemask_lt", "partial-warp"),
    sim_ok=False,
    sim_reason=NO_WARPS_IN_SIM,
)
def warp_votes(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """ballot/any/all/eq_sync over activemask() in blocks of 80 (the third warp has 16 lanes),
    lanemask_lt, and activemask()/ballot inside a divergent branch."""
    n = pick(size, 40_001, 230)
    blocks = blocks_for(n, VOTE_TPB)
    total = blocks * VOTE_TPB
    # per warp: all positive, all non-positive, or mixed
    x = rng.integers(-5, 6, n, dtype=np.int32)
    for b in range(blocks):
        for w in range(0, VOTE_TPB, 32):
            lo = b * VOTE_TPB + w
            hi = min(lo + 32, b * VOTE_TPB + VOTE_TPB, n)
            kind = rng.integers(0, 3)
            if lo < hi and kind == 0:
                x[lo:hi] = rng.integers(1, 6, hi - lo)
            elif lo < hi and kind == 1:
                x[lo:hi] = rng.integers(-5, 1, hi - lo)
    out = np.zeros((total, 8), np.uint32)
    warp_vote_kernel[blocks, VOTE_TPB](x, n, out)

    p = np.zeros(total, dtype=bool)
    p[:n] = x > 0
    wp, exists = _warps(p, VOTE_TPB, fill=False)
    am = _lane_bits(exists)
    ballot = _lane_bits(wp & exists)
    n_exist = exists.sum(axis=2)
    n_true = (wp & exists).sum(axis=2)
    lane = np.arange(32)
    branch = exists & (lane % 3 == 0)
    inner = _lane_bits(branch)
    inner_ballot = _lane_bits(wp & branch)

    def per_lane(v: np.ndarray) -> np.ndarray:
        return np.broadcast_to(v[..., None], wp.shape)

    fields = [
        per_lane(am),
        per_lane(ballot),
        per_lane(n_true > 0),
        per_lane(n_true == n_exist),
        per_lane((n_true == 0) | (n_true == n_exist)),
        np.broadcast_to(((np.uint64(1) << lane.astype(np.uint64)) - np.uint64(1)).astype(np.uint32), wp.shape),
        np.where(lane % 3 == 0, per_lane(inner), 0),
        np.where(lane % 3 == 0, per_lane(inner_ballot), 1),
    ]
    exp = np.stack([_unwarp(f.astype(np.uint32), VOTE_TPB, total) for f in fields], axis=1)
    return Result({"out": out}, {"out": exp})


@cuda.jit
def match_kernel(k, f, u, out):
    i = cuda.grid(1)
    n = k.size
    v = k[i] if i < n else -1
    g = f[i] if i < n else np.float32(1.5)
    w = u[i] if i < n else 7
    out[i, 0] = cuda.match_any_sync(FULL, v)
    out[i, 1] = cuda.match_any_sync(FULL, g)
    m, pred = cuda.match_all_sync(FULL, w)
    out[i, 2] = m
    out[i, 3] = 1 if pred else 0


@case(tags=("warp", "match_any_sync", "match_all_sync", "bitwise-compare"), sim_ok=False,
      sim_reason=NO_WARPS_IN_SIM)
def warp_match(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """match_any_sync on int and float32 values (compared by bit pattern: 0.0 and -0.0 differ, NaN
    matches NaN) and match_all_sync on warps that are uniform or not."""
    n = pick(size, 30_001, 150)
    tpb = 64
    blocks = blocks_for(n, tpb)
    total = blocks * tpb
    k = rng.integers(0, 4, n).astype(np.int32)
    f = rng.choice(np.array([0.0, -0.0, 1.5, np.nan], np.float32), n)
    u = np.repeat(rng.integers(0, 3, -(-n // 32)), 32)[:n].astype(np.int64)
    flip = rng.random(len(u) // 32 + 1) < 0.5
    for wi in np.nonzero(flip)[0]:
        if wi * 32 < n:
            u[wi * 32 + rng.integers(0, min(32, n - wi * 32))] += 1
    out = np.zeros((total, 4), np.uint32)
    match_kernel[blocks, tpb](k, f, u, out)

    kk = np.full(total, -1, np.int64)
    kk[:n] = k
    fb = np.full(total, np.float32(1.5)).view(np.uint32)
    fb[:n] = f.view(np.uint32)
    uu = np.full(total, 7, np.int64)
    uu[:n] = u
    wk = kk.reshape(-1, 32)
    wf = fb.reshape(-1, 32)
    wu = uu.reshape(-1, 32)
    any_k = _lane_bits(wk[:, :, None] == wk[:, None, :])
    any_f = _lane_bits(wf[:, :, None] == wf[:, None, :])
    uniform = np.all(wu == wu[:, :1], axis=1)
    all_mask = np.where(uniform, np.uint32(FULL), np.uint32(0))
    exp = np.stack(
        [
            any_k.reshape(-1),
            any_f.reshape(-1),
            np.repeat(all_mask, 32),
            np.repeat(uniform.astype(np.uint32), 32),
        ],
        axis=1,
    )
    return Result({"out": out}, {"out": exp})


@cuda.jit
def compact_kernel(x, out, counter, rank_out):
    i = cuda.grid(1)
    n = x.size
    lane = cuda.laneid
    keep = i < n and x[i] % 3 == 0
    b = cuda.ballot_sync(FULL, keep)
    rank = cuda.popc(b & cuda.lanemask_lt())
    total = cuda.popc(b)
    base = 0
    if lane == 0 and total > 0:
        base = cuda.atomic.add(counter, 0, total)
    base = cuda.shfl_sync(FULL, base, 0)
    if keep:
        out[base + rank] = x[i]
    if i < n:
        rank_out[i] = rank * 100 + total


@case(tags=("warp", "ballot_sync", "lanemask_lt", "popc", "compaction", "atomic", "shfl_sync"),
      sim_ok=False, sim_reason=NO_WARPS_IN_SIM)
def warp_compaction(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Stream compaction: ballot, popc(ballot & lanemask_lt) for the rank, one atomic per warp for
    the base (broadcast with shfl_sync). The order of warps in the output is not defined: the
    output is compared sorted, the per-thread ranks exactly."""
    n = pick(size, 60_001, 190)
    tpb = 96
    x = rng.integers(-1000, 1000, n, dtype=np.int64)
    keep = x % 3 == 0
    out = np.zeros(n, np.int64)
    counter = np.zeros(1, np.int32)
    rank_out = np.zeros(n, np.int64)
    compact_kernel[blocks_for(n, tpb), tpb](x, out, counter, rank_out)
    count = int(keep.sum())
    wk, _ = _warps(keep, tpb, fill=False)
    rank = np.cumsum(wk, axis=2) - wk
    total = np.broadcast_to(wk.sum(axis=2, keepdims=True), wk.shape)
    return Result(
        {"counter": counter, "kept_sorted": np.sort(out[:count]), "rank": rank_out},
        {
            "counter": np.array([count], np.int32),
            "kept_sorted": np.sort(x[keep]),
            "rank": _unwarp(rank * 100 + total, tpb, n),
        },
    )


SW_TPB = 96


@cuda.jit
def syncwarp_kernel(x, out_sum, out_rev):
    sh = cuda.shared.array(SW_TPB, np.int64)
    t = cuda.threadIdx.x
    lane = t % 32
    i = cuda.grid(1)
    n = x.size
    sh[t] = x[i] if i < n else 0
    cuda.syncwarp()
    rev = sh[t - lane + 31 - lane]
    cuda.syncwarp()
    off = 16
    while off > 0:
        if lane < off:
            sh[t] += sh[t + off]
        cuda.syncwarp(FULL)
        off //= 2
    if lane == 0:
        out_sum[i // 32] = sh[t]
    if i < n:
        out_rev[i] = rev


@case(tags=("warp", "syncwarp", "shared", "warp-synchronous"), sim_ok=False, sim_reason=NO_WARPS_IN_SIM)
def syncwarp_shared(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Warp-synchronous shared-memory code made correct with syncwarp(): a reversal within each
    warp and a tree sum per warp."""
    n = pick(size, 50_003, 170)
    blocks = blocks_for(n, SW_TPB)
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    out_sum = np.zeros(blocks * SW_TPB // 32, np.int64)
    out_rev = np.zeros(n, np.int64)
    syncwarp_kernel[blocks, SW_TPB](x, out_sum, out_rev)
    w, _ = _warps(x, SW_TPB)
    return Result(
        {"sum": out_sum, "rev": out_rev},
        {"sum": w.sum(axis=2).reshape(-1), "rev": _unwarp(w[:, :, ::-1], SW_TPB, n)},
    )


@cuda.jit
def warp2d_kernel(x, sums, lanes, ballots):
    c, r = cuda.grid(2)
    h, w = x.shape
    inside = r < h and c < w
    v = x[r, c] if inside else 0
    s = v
    m = 16
    while m > 0:
        s += cuda.shfl_xor_sync(FULL, s, m)
        m //= 2
    b = cuda.ballot_sync(FULL, inside and v > 0)
    if inside:
        sums[r, c] = s
        lanes[r, c] = cuda.laneid
        ballots[r, c] = b


@case(tags=("warp", "2d-block", "shfl_xor_sync", "ballot_sync", "laneid"), sim_ok=False, sim_reason=NO_WARPS_IN_SIM)
def warp_2d_block(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Warps of a 2D block (16x6): lanes are numbered by linear thread id tx + 16*ty, so each warp
    spans two rows; shuffles and ballots follow that numbering."""
    h, w = pick(size, (301, 333), (13, 20))
    bx, by = 16, 6
    gx, gy = blocks_for(w, bx), blocks_for(h, by)
    x = rng.integers(-100, 100, (h, w), dtype=np.int64)
    sums = np.zeros((h, w), np.int64)
    lanes = np.full((h, w), -1, np.int32)
    ballots = np.zeros((h, w), np.uint32)
    warp2d_kernel[(gx, gy), (bx, by)](x, sums, lanes, ballots)
    # lay the padded grid out as (block_y, block_x, ty, tx), then flatten each block linearly
    xp = np.zeros((gy * by, gx * bx), np.int64)
    xp[:h, :w] = x
    inside = np.zeros_like(xp, dtype=bool)
    inside[:h, :w] = True
    blocks_v = xp.reshape(gy, by, gx, bx).transpose(0, 2, 1, 3).reshape(gy, gx, 3, 32)
    blocks_p = (inside & (xp > 0)).reshape(gy, by, gx, bx).transpose(0, 2, 1, 3).reshape(gy, gx, 3, 32)
    warp_sum = np.broadcast_to(blocks_v.sum(axis=3, keepdims=True), blocks_v.shape)
    warp_ballot = np.broadcast_to(_lane_bits(blocks_p)[..., None], blocks_v.shape)
    lane = np.broadcast_to(np.arange(32), blocks_v.shape)

    def to_grid(a: np.ndarray) -> np.ndarray:
        return a.reshape(gy, gx, by, bx).transpose(0, 2, 1, 3).reshape(gy * by, gx * bx)[:h, :w]

    return Result(
        {"sums": sums, "lanes": lanes, "ballots": ballots},
        {"sums": to_grid(warp_sum), "lanes": to_grid(lane).astype(np.int32), "ballots": to_grid(warp_ballot)},
    )
