"""Warp-level intrinsics: shuffles, votes, match, masks, and the warp barrier.

A block's threads form warps of ``warp_size`` consecutive linear thread ids. Lane arrays are
reshaped to ``(blocks, threads)`` and then to ``(blocks, warps, warp_size)`` (the last warp
padded) so each intrinsic is a few numpy operations over all warps of the chunk at once.
Every call checks its mask: the lanes it names must be the lanes executing the call, as the
CUDA Programming Guide requires for the ``*_sync`` intrinsics.
"""

from __future__ import annotations

import numpy as np

from .errors import KernelTypeError, LaneLocation, WarpMaskError, with_lanes
from .lanes import LaneSpace, truth, val

FULL = 0xFFFFFFFF


def _bp(x, sp: LaneSpace) -> np.ndarray:
    """A lane value as a (blocks, threads) array."""
    return np.broadcast_to(val(x), sp.shape).reshape(sp.nblocks, sp.nthreads)


def _back(x_bp: np.ndarray, sp: LaneSpace) -> np.ndarray:
    return x_bp.reshape(sp.shape)


def _warps(x_bp: np.ndarray, ws: int, fill=0) -> np.ndarray:
    b, p = x_bp.shape
    w = -(-p // ws)
    if w * ws != p:
        pad = np.full((b, w * ws - p), fill, dtype=x_bp.dtype)
        x_bp = np.concatenate([x_bp, pad], axis=1)
    return x_bp.reshape(b, w, ws)


def _lanes_from_warps(x_bw: np.ndarray, sp: LaneSpace, ws: int) -> np.ndarray:
    b, w = x_bw.shape
    full = np.repeat(x_bw[:, :, None], ws, axis=2).reshape(b, w * ws)[:, :sp.nthreads]
    return _back(np.ascontiguousarray(full), sp)


def _active_bp(st, m) -> np.ndarray:
    sp = st.sp
    if m is None:
        return np.ones((sp.nblocks, sp.nthreads), dtype=bool)
    return _bp(m, sp)


def _ballot_bits(pred_bp: np.ndarray, ws: int) -> np.ndarray:
    """(blocks, warps) uint64 with bit l set where lane l's predicate holds."""
    w = _warps(pred_bp.astype(np.uint64), ws)
    weights = (np.uint64(1) << np.arange(ws, dtype=np.uint64))
    return (w * weights).sum(axis=2, dtype=np.uint64)


def _exist_bits(sp: LaneSpace, ws: int) -> np.ndarray:
    ex = np.ones((1, sp.nthreads), dtype=bool)
    return _ballot_bits(ex, ws)[0]            # (warps,)


def _mask_bits(mask, sp: LaneSpace) -> np.ndarray:
    mk = val(mask)
    if isinstance(mk, np.ndarray) and mk.dtype.kind not in "iub":
        raise KernelTypeError("a warp mask must be an integer such as 0xffffffff")
    return _bp(np.asarray(mk).astype(np.int64) & FULL, sp).astype(np.uint64)


def _active_small(st, m) -> np.ndarray:
    """Active lanes as (blocks or 1, threads): one row when the mask is the same in every block."""
    sp = st.sp
    if m is None:
        return np.ones((1, sp.nthreads), dtype=bool)
    if m.ndim == 6 and m.shape[0] == m.shape[1] == m.shape[2] == 1:
        return np.broadcast_to(m, (1, 1, 1) + sp.shape[3:]).reshape(1, sp.nthreads)
    return _bp(m, sp)


def check_mask(st, m, mask, what: str) -> None:
    """Check that the lanes named by ``mask`` are exactly executing the call (CUDA's rule for *_sync)."""
    sp, ws = st.sp, st.warp_size
    act = _active_small(st, m)
    mk = val(mask)
    if isinstance(mk, np.ndarray) and mk.dtype.kind not in "iub":
        raise KernelTypeError("a warp mask must be an integer such as 0xffffffff")
    uniform = not (isinstance(mk, np.ndarray) and mk.ndim)
    if uniform:
        mbits = np.uint64(int(mk) & FULL)
    else:
        mbits = _bp(np.asarray(mk).astype(np.int64) & FULL, sp).astype(np.uint64)
        act = np.broadcast_to(act, mbits.shape)
    abits = _ballot_bits(act, ws)                                   # (B or 1, W)
    ex = _exist_bits(sp, ws)                                        # (W,)
    if uniform:
        # per warp: every named (existing) lane active, and every active lane named
        named = mbits & ex
        bad_w = (abits != 0) & (((named & ~abits) != 0) | ((abits & ~mbits) != 0))
        if not bad_w.any():
            return
        act_full = np.broadcast_to(act, (sp.nblocks, sp.nthreads)) if act.shape[0] == 1 else act
        mbits = np.broadcast_to(mbits, act_full.shape)
        act = act_full
        abits = _ballot_bits(act, ws)
    lane_abits = _lanes_from_warps(abits, sp, ws).reshape(act.shape)
    lane_ex = _lanes_from_warps(np.broadcast_to(ex, abits.shape), sp, ws).reshape(act.shape)
    lane = (np.arange(sp.nthreads) % ws).astype(np.uint64)
    own = (mbits >> lane) & np.uint64(1)
    missing = mbits & lane_ex & ~lane_abits
    bad = act & ((missing != 0) | (own == 0))
    if bad.any():
        flat = np.flatnonzero(bad.reshape(-1))
        blk, thr = sp.unravel(int(flat[0]))
        b0, p0 = divmod(int(flat[0]), sp.nthreads)
        mk0 = int(np.broadcast_to(mbits, act.shape)[b0, p0])
        miss0 = int(np.broadcast_to(missing, act.shape)[b0, p0])
        missing_lanes = [k for k in range(ws) if (miss0 >> k) & 1]
        if int(np.broadcast_to(own, act.shape)[b0, p0]) == 0:
            detail = f"the calling lane {p0 % ws} is not in its own mask 0x{mk0:08x}"
        else:
            shown = ", ".join(map(str, missing_lanes[:8])) + (" ..." if len(missing_lanes) > 8 else "")
            detail = (f"mask 0x{mk0:08x} names lanes {shown} of warp {p0 // ws}, which are not executing "
                      "this call (they exited, took another branch, or left a loop)")
        err = WarpMaskError(f"cuda.{what}: {detail}",
                            fix="make every lane named in the mask reach the call together, or pass "
                                "cuda.activemask() / a mask built with cuda.ballot_sync for the lanes that do")
        raise with_lanes(err, LaneLocation(blk, thr, int(flat.size)))


def _varies_in_warp(x) -> bool:
    x = val(x)
    return isinstance(x, np.ndarray) and x.ndim == 6 and (x.shape[3] > 1 or x.shape[4] > 1 or x.shape[5] > 1)


def _shuffle(st, m, mask, value, src_lane_fn, what):
    check_mask(st, m, mask, what)
    if not _varies_in_warp(value):
        return val(value)
    sp, ws = st.sp, st.warp_size
    p = np.arange(sp.nthreads, dtype=np.int64)[None, :]
    lane = p % ws
    src, valid = src_lane_fn(lane)
    src_p = p - lane + src
    valid = valid & (src_p < sp.nthreads)
    src_p = np.where(valid, src_p, p)
    v = _bp(value, sp)
    if src_p.shape[0] == 1:             # the same source lane pattern in every block
        return _back(np.take(v, src_p[0], axis=1), sp)
    src_p = np.broadcast_to(src_p, v.shape)
    return _back(np.take_along_axis(v, src_p, axis=1), sp)


def _lane_arg(x, sp):
    x = val(x)
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iu":
            raise KernelTypeError("a lane index / delta must be an integer")
        return _bp(x, sp).astype(np.int64)
    return np.int64(x)


def shfl_sync(st, m, mask, value, src_lane):
    s = _lane_arg(src_lane, st.sp)
    ws = st.warp_size
    return _shuffle(st, m, mask, value, lambda lane: (s % ws, True), "shfl_sync")


def shfl_up_sync(st, m, mask, value, delta):
    d = _lane_arg(delta, st.sp)
    return _shuffle(st, m, mask, value, lambda lane: (lane - d, lane - d >= 0), "shfl_up_sync")


def shfl_down_sync(st, m, mask, value, delta):
    d = _lane_arg(delta, st.sp)
    ws = st.warp_size
    return _shuffle(st, m, mask, value, lambda lane: (lane + d, lane + d < ws), "shfl_down_sync")


def shfl_xor_sync(st, m, mask, value, lane_mask):
    x = _lane_arg(lane_mask, st.sp)
    ws = st.warp_size
    return _shuffle(st, m, mask, value, lambda lane: ((lane ^ x) % ws, (lane ^ x) < ws), "shfl_xor_sync")


def _vote(st, m, mask, pred, what):
    check_mask(st, m, mask, what)
    sp, ws = st.sp, st.warp_size
    act = _active_bp(st, m)
    mbits = _mask_bits(mask, sp)
    p = _bp(truth(pred), sp) & act
    pbits = _lanes_from_warps(_ballot_bits(p, ws), sp, ws).reshape(sp.nblocks, sp.nthreads)
    ex = _lanes_from_warps(np.broadcast_to(_exist_bits(sp, ws), (sp.nblocks, -(-sp.nthreads // ws))),
                           sp, ws).reshape(sp.nblocks, sp.nthreads)
    return pbits, mbits & ex


def ballot_sync(st, m, mask, pred):
    pbits, named = _vote(st, m, mask, pred, "ballot_sync")
    return _back((pbits & named).astype(np.uint32), st.sp)


def any_sync(st, m, mask, pred):
    pbits, named = _vote(st, m, mask, pred, "any_sync")
    return _back((pbits & named) != 0, st.sp)


def all_sync(st, m, mask, pred):
    pbits, named = _vote(st, m, mask, pred, "all_sync")
    return _back((pbits & named) == named, st.sp)


def eq_sync(st, m, mask, pred):
    pbits, named = _vote(st, m, mask, pred, "eq_sync")
    sel = pbits & named
    return _back((sel == 0) | (sel == named), st.sp)


def _match(st, m, mask, value, what):
    check_mask(st, m, mask, what)
    sp, ws = st.sp, st.warp_size
    act = _active_bp(st, m)
    mbits = _mask_bits(mask, sp)
    v = np.ascontiguousarray(_bp(value, sp))
    if v.dtype.kind == "f":         # compared by bit pattern: -0.0 differs from 0.0, NaN matches NaN
        v = v.view(np.dtype(f"u{v.dtype.itemsize}"))
    v = _warps(v, ws)                                                # (B, W, ws)
    a = _warps(act, ws, fill=False)
    eq = (v[:, :, :, None] == v[:, :, None, :]) & a[:, :, None, :]  # (B, W, i, j)
    weights = (np.uint64(1) << np.arange(ws, dtype=np.uint64))
    bits = (eq.astype(np.uint64) * weights).sum(axis=3, dtype=np.uint64)   # (B, W, ws)
    bits = bits.reshape(sp.nblocks, -1)[:, :sp.nthreads] & mbits
    return bits, mbits


def match_any_sync(st, m, mask, value):
    bits, _ = _match(st, m, mask, value, "match_any_sync")
    return _back(bits.astype(np.uint32), st.sp)


def match_all_sync(st, m, mask, value):
    bits, mbits = _match(st, m, mask, value, "match_all_sync")
    sp, ws = st.sp, st.warp_size
    ex = _lanes_from_warps(np.broadcast_to(_exist_bits(sp, ws), (sp.nblocks, -(-sp.nthreads // ws))),
                           sp, ws).reshape(sp.nblocks, sp.nthreads)
    named = mbits & ex
    allsame = bits == named
    return _back(np.where(allsame, named, 0).astype(np.uint32), sp), _back(allsame, sp)


def activemask(st, m):
    sp, ws = st.sp, st.warp_size
    act = _active_bp(st, m)
    return _lanes_from_warps(_ballot_bits(act, ws), sp, ws).astype(np.uint32)


def lanemask_lt(st, m):
    sp, ws = st.sp, st.warp_size
    lane = (np.arange(sp.nthreads, dtype=np.uint64) % ws)
    return _back(np.broadcast_to(((np.uint64(1) << lane) - np.uint64(1)).astype(np.uint32),
                                 (sp.nblocks, sp.nthreads)).copy(), sp)


def syncwarp(st, m, mask=FULL):
    check_mask(st, m, mask, "syncwarp")
    if st.obs:
        st.barrier_event("warp", m)
