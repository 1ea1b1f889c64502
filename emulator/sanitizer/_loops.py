"""The compiled per-lane loops of the sanitizer (see :mod:`._shadow`); importing this module imports numba.

Kept apart so that ``simtlab.emulator`` and the sanitizer's API import without numba's start-up cost,
which is paid only when a sanitized launch first touches memory. numba caches the compiled loops on disk.

Both loops visit the lanes of one instruction as a (blocks, m) grid: ``keys[b, j]`` is the byte offset
the thread ``P[j]`` of the chunk's block ``b`` accesses and ``act[b, j]`` whether it is active (an empty
``act`` means all are). ``P`` lists every thread of a block, or, for an instruction whose address does
not depend on some thread axes, only the first two threads along those axes (enough to see any hazard:
see :func:`..checker._compact`); ``Wt[j]`` is how many threads ``P[j]`` stands for, which is what a
hazard found there counts.

With ``window == 0`` a key is a byte offset inside the table's memory (a global allocation); with
``window > 0`` it is an offset inside the block's shared window, valid in ``[0, window)``, and the loop
adds ``b * window``. Lanes whose key falls outside the table are skipped: they are out-of-bounds
accesses, which the engine refuses right after reporting them.
"""

from __future__ import annotations

from numba import njit

from ._shadow import (
    ATOMIC,
    F_ATOMIC,
    F_HASVAL,
    LOAD,
    RAW,
    SEV_ERROR,
    SEV_WARNING,
    STORE,
    WAR,
    WAW,
)


@njit(cache=True, nogil=True, inline="always")
def _unordered(sb, sp, sep, myblock, w, bep_b, wep_bw, ws):
    """True when an earlier access by thread ``sp`` of block ``sb`` (epochs ``sep``) and this lane's are not
    ordered: different blocks, or the same block in the same barrier interval and, for lanes of one warp,
    with no syncwarp between them."""
    if sb != myblock:
        return True
    if ((sep >> 16) & 0xFFFF) != (bep_b & 0xFFFF):
        return False
    if sp // ws != w:
        return True
    return (sep & 0xFFFF) == (wep_bw & 0xFFFF)


@njit(cache=True, nogil=True, inline="always")
def _record(rec, cnt, lane, kind, ob, op, oline, sev, weight):
    n = cnt[0]
    if n < rec.shape[0]:
        rec[n, 0] = lane
        rec[n, 1] = kind
        rec[n, 2] = ob
        rec[n, 3] = op
        rec[n, 4] = oline
        rec[n, 5] = sev
        cnt[0] = n + 1
    cnt[1] += weight


@njit(cache=True, nogil=True)
def race_scan(kind, keys, P, Wt, act, key_shift, window, nt, ws, bgid, base, bep, wep, seq, fence_seq, acq_seq,
              W, R, WV, vals, line, rec, cnt):
    """Check one instruction's lanes (blocks in order, threads in ``P`` order) against the shadow tables
    ``W`` (per key: block, thread, line, epochs, sequence number, flags) and ``R`` (two reader slots of
    block, thread, line, epochs), then record the accesses in them.

    Block ids (``bgid``) are unique over the process (a launch's ids start at ``base``), so the tables
    need no clearing: an entry is current if its block id is at least ``base`` (global memory, shared by
    the launch's blocks) or equals the lane's own block (shared memory, private to the block)."""
    nkeys = W.shape[0]
    use_act = act.shape[0] > 0
    use_fence = fence_seq.shape[0] > 0
    use_vals = vals.shape[0] > 0 and WV.shape[0] > 0
    has_r = R.shape[0] > 0
    nb, m = keys.shape
    for b in range(nb):
        myblock = bgid[b]
        bep_b = bep[b]
        for j in range(m):
            if use_act and not act[b, j]:
                continue
            off = keys[b, j]
            if window > 0:
                if off < 0 or off >= window:
                    continue
                off += b * window
            if off < 0:
                continue
            k = off >> key_shift
            if k >= nkeys:
                continue
            p = P[j]
            w = p // ws
            wep_bw = wep[b, w]
            lane = b * nt + p
            warn_b = -1
            warn_p = 0
            warn_line = 0
            # -- against the last writer
            wb = W[k, 0]
            wp = W[k, 1]
            wvalid = wb == myblock if window > 0 else wb >= base
            if wvalid and (wb != myblock or wp != p) and _unordered(wb, wp, W[k, 3], myblock, w, bep_b, wep_bw, ws):
                hazard = True
                if kind != STORE and (W[k, 5] & F_ATOMIC) != 0:
                    # atomic after atomic, or a plain read of an atomically updated element (the first read of
                    # a compare-and-swap loop; aligned loads and atomics never tear): not a hazard
                    hazard = False
                elif use_fence and wb != myblock:
                    fs = fence_seq[wb - base]
                    if fs > W[k, 4] and acq_seq[myblock - base] > fs:
                        hazard = False          # published by threadfence + atomic, acquired by an atomic
                if hazard:
                    if kind == LOAD:
                        _record(rec, cnt, lane, RAW, wb, wp, W[k, 2], SEV_ERROR, Wt[j])
                    else:
                        sev = SEV_ERROR
                        if use_vals and (W[k, 5] & F_HASVAL) != 0 and WV[k] == vals[b, j]:
                            sev = SEV_WARNING
                        if sev == SEV_WARNING and kind == STORE and has_r:
                            # same value written twice: report it only if no read races with this write
                            # (a lost update, e.g. h[b] += 1 by two threads, is a write-after-read error)
                            warn_b = wb
                            warn_p = wp
                            warn_line = W[k, 2]
                        else:
                            _record(rec, cnt, lane, WAW, wb, wp, W[k, 2], sev, Wt[j])
            ep = ((bep_b & 0xFFFF) << 16) | (wep_bw & 0xFFFF)
            if kind == LOAD:
                # remember the reader: two slots holding distinct threads suffice to find a later WAR
                r1b = R[k, 0]
                r1p = R[k, 1]
                if window > 0:
                    r1ok = r1b == myblock
                    r2ok = R[k, 4] == myblock
                else:
                    r1ok = r1b >= base
                    r2ok = R[k, 4] >= base
                if (not r1ok or (r1b == myblock and r1p == p)
                        or (r1b == myblock and not _unordered(r1b, r1p, R[k, 3], myblock, w, bep_b, wep_bw, ws))):
                    R[k, 0] = myblock
                    R[k, 1] = p
                    R[k, 2] = line
                    R[k, 3] = ep
                else:
                    r2b = R[k, 4]
                    if (not r2ok or (r2b == myblock and R[k, 5] == p) or r2b == r1b
                            or (r2b == myblock
                                and not _unordered(r2b, R[k, 5], R[k, 7], myblock, w, bep_b, wep_bw, ws))):
                        R[k, 4] = myblock
                        R[k, 5] = p
                        R[k, 6] = line
                        R[k, 7] = ep
                continue
            # -- a plain write against earlier readers (an atomic's update is what CAS-loop readers expect)
            if has_r and kind == STORE:
                found_war = False
                for s in range(2):
                    rb = R[k, 4 * s]
                    rp = R[k, 4 * s + 1]
                    rok = rb == myblock if window > 0 else rb >= base
                    if rok and (rb != myblock or rp != p) and _unordered(rb, rp, R[k, 4 * s + 3], myblock, w,
                                                                             bep_b, wep_bw, ws):
                        _record(rec, cnt, lane, WAR, rb, rp, R[k, 4 * s + 2], SEV_ERROR, Wt[j])
                        found_war = True
                        break
                if warn_b >= 0 and not found_war:
                    _record(rec, cnt, lane, WAW, warn_b, warn_p, warn_line, SEV_WARNING, Wt[j])
            if (kind == ATOMIC and wvalid and (W[k, 5] & F_ATOMIC) == 0
                    and (wb != myblock or ((W[k, 3] >> 16) & 0xFFFF) == (bep_b & 0xFFFF))):
                continue        # keep the plain write of this interval: it races with other threads' accesses
            W[k, 0] = myblock
            W[k, 1] = p
            W[k, 2] = line
            W[k, 3] = ep
            W[k, 4] = seq
            flags = 0
            if kind == ATOMIC:
                flags |= F_ATOMIC
            if use_vals:
                flags |= F_HASVAL
                WV[k] = vals[b, j]
            W[k, 5] = flags


@njit(cache=True, nogil=True)
def init_scan(keys, P, Wt, act, window, nt, itemsize, bitmap, poisoned, read, write, rec, cnt):
    """initcheck for one instruction. ``read``: report lanes whose element's first byte was never written
    (when ``poisoned`` is given, only lanes whose element held the 0xFF fill in every byte: memory written
    by a launch nobody sanitized is not reported). ``write``: mark every byte of the element written."""
    use_act = act.shape[0] > 0
    n = bitmap.shape[0]
    check_poison = poisoned.shape[0] > 0
    nb, m = keys.shape
    for b in range(nb):
        for j in range(m):
            if use_act and not act[b, j]:
                continue
            k = keys[b, j]
            if window > 0:
                if k < 0 or k >= window:
                    continue
                k += b * window
            if k < 0 or k + itemsize > n:
                continue
            if read and bitmap[k] == 0:
                if not check_poison or poisoned[b, j]:
                    _record(rec, cnt, b * nt + P[j], 0, -1, -1, 0, SEV_ERROR, Wt[j])
            if write:
                for i in range(itemsize):
                    bitmap[k + i] = 1
