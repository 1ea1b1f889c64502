"""The profiler's hot loops, compiled with numba (``@njit(cache=True)``).

Everything here works on the engine's *compact* per-chunk values: lane offsets and masks come as
6-D broadcast views over the chunk's lane space ``(bz, by, bx, tz, ty, tx)`` (zero strides where a
value does not depend on an axis), so no per-lane array of the chunk is materialised. Each walker takes one
block at a time: `_gather_block` lists its active lanes (offset and linear thread id, at most one block's
threads), and warps (or half-warps) are the runs of lanes in one group of ``warp_size`` consecutive thread
ids, as the hardware forms them.

- `global_warps`: per warp, the distinct 32-byte sectors (and 128-byte lines) the active lanes
  touch, the ideal sector count, active lanes, the largest number of lanes on one address
  (atomic serialisation), and the sector stream for the cache model.
- `shared_warps`: per warp, shared-memory wavefronts under the bank rule (distinct words per bank,
  broadcast free), split into phases of ``phase`` lanes (half-warps on cc 1.x, and for 8/16-byte
  accesses as many lanes as fill ``banks x bank_bytes``), the ideal wavefronts and the N-way
  degree.
- `cache_run`: L1 (one per SM) and L2 as set-associative LRU caches of 128-byte lines with 32-byte
  sector valid/dirty bits, driven by the sector stream in the replay order.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _insert(vals, cnts, n, v):
    """Insert v into the sorted distinct list vals[:n] (multiplicities in cnts); returns the new n."""
    if n == 0 or v > vals[n - 1]:
        vals[n] = v
        cnts[n] = 1
        return n + 1
    if v == vals[n - 1]:
        cnts[n - 1] += 1
        return n
    i = n - 1
    while i > 0 and vals[i - 1] >= v:
        i -= 1
    if vals[i] == v:
        cnts[i] += 1
        return n
    for j in range(n, i, -1):
        vals[j] = vals[j - 1]
        cnts[j] = cnts[j - 1]
    vals[i] = v
    cnts[i] = 1
    return n + 1


@njit(cache=True, inline="always")
def _gather_block(off, act, i0, i1, i2, offs, ts):
    """The active lanes of block (i0, i1, i2) in linear thread order: their offsets into `offs` and linear thread
    ids into `ts`; returns how many. Warps (and half-warps) are then runs of equal ``ts // group``."""
    T0, T1, T2 = off.shape[3], off.shape[4], off.shape[5]
    n = 0
    t = 0
    for j0 in range(T0):
        for j1 in range(T1):
            for j2 in range(T2):
                if act[i0, i1, i2, j0, j1, j2]:
                    offs[n] = off[i0, i1, i2, j0, j1, j2]
                    ts[n] = t
                    n += 1
                t += 1
    return n


@njit(cache=True, inline="always")
def _group_end(ts, k, n, group):
    """The end of the run of lanes starting at k that lie in the same group of `group` threads as lane k."""
    limit = (ts[k] // group + 1) * group       # ts is increasing: the group ends before this thread id
    e = k + 1
    while e < n and ts[e] < limit:
        e += 1
    return e


@njit(cache=True)
def global_warps(off, act, base, itemsize, sector_bytes, line_sectors, ws, mode,
                 chunk_lanes, grid_warps, block_gids, slot0, want_stream,
                 out_sec, out_lines, out_ideal, out_lanes, out_mult, stream, stream_slot):
    """Per-warp sector statistics of one global/local/constant memory instruction.

    mode 0: global (address = base + offset); 1: local (the offset is element * chunk_lanes *
    itemsize + lane * itemsize in the engine's storage; it is re-laid out interleaved per warp:
    ``((element * grid_warps + global_warp) * ws + lane) * itemsize``); 2: distinct addresses only
    (constant memory: sector_bytes = 1, itemsize = 1).
    Returns the number of sectors written to `stream` (when want_stream).
    """
    S0, S1, S2, T0, T1, T2 = off.shape
    nw = out_sec.shape[1]
    offs = np.empty(T0 * T1 * T2, np.int64)
    ts = np.empty(T0 * T1 * T2, np.int64)
    addrs = np.empty(ws, np.int64)
    secs = np.empty(4 * ws, np.int64)
    scnt = np.empty(4 * ws, np.int64)
    dist = np.empty(ws, np.int64)
    dcnt = np.empty(ws, np.int64)
    ns = 0
    b = 0
    stride_elem = chunk_lanes * itemsize
    for i0 in range(S0):
        for i1 in range(S1):
            for i2 in range(S2):
                nact = _gather_block(off, act, i0, i1, i2, offs, ts)
                k = 0
                while k < nact:
                    e = _group_end(ts, k, nact, ws)
                    w = ts[k] // ws
                    na = e - k
                    for q in range(na):
                        o = offs[k + q]
                        if mode == 1:
                            elem = o // stride_elem
                            gw = block_gids[b] * nw + w
                            addrs[q] = base + ((elem * grid_warps + gw) * ws + (ts[k + q] % ws)) * itemsize
                        else:
                            addrs[q] = base + o
                    n = 0
                    nd = 0
                    for q in range(na):
                        a = addrs[q]
                        s0 = a // sector_bytes
                        s1 = (a + itemsize - 1) // sector_bytes
                        for sct in range(s0, s1 + 1):
                            n = _insert(secs, scnt, n, sct)
                        nd = _insert(dist, dcnt, nd, a)
                    nl = 1
                    for q in range(1, n):
                        if secs[q] // line_sectors != secs[q - 1] // line_sectors:
                            nl += 1
                    mm = 1
                    for q in range(nd):
                        if dcnt[q] > mm:
                            mm = dcnt[q]
                    out_sec[b, w] = n
                    out_lines[b, w] = nl
                    out_ideal[b, w] = (nd * itemsize + sector_bytes - 1) // sector_bytes
                    out_lanes[b, w] = na
                    out_mult[b, w] = mm
                    if want_stream:
                        slot = slot0 + b * nw + w
                        for q in range(n):
                            stream[ns] = secs[q]
                            stream_slot[ns] = slot
                            ns += 1
                    k = e
                b += 1
    return ns


@njit(cache=True)
def shared_warps(off, act, itemsize, banks, bank_bytes, phase, ws, atomic, out_wave, out_ideal, out_ways, out_lanes):
    """Per-warp shared-memory wavefronts of one instruction (see the module docstring)."""
    S0, S1, S2, T0, T1, T2 = off.shape
    offs = np.empty(T0 * T1 * T2, np.int64)
    ts = np.empty(T0 * T1 * T2, np.int64)
    words = np.empty(8 * ws, np.int64)
    wcnt = np.empty(8 * ws, np.int64)
    bank_cnt = np.zeros(banks, np.int64)
    b = 0
    for i0 in range(S0):
        for i1 in range(S1):
            for i2 in range(S2):
                nact = _gather_block(off, act, i0, i1, i2, offs, ts)
                k0 = 0
                while k0 < nact:
                    e = _group_end(ts, k0, nact, ws)
                    w = ts[k0] // ws
                    wave = 0
                    ideal = 0
                    ways = 0
                    k = k0
                    while k < e:
                        ph = (ts[k] % ws) // phase
                        nwd = 0
                        for q in range(banks):
                            bank_cnt[q] = 0
                        while k < e and (ts[k] % ws) // phase == ph:
                            o = offs[k]
                            w0 = o // bank_bytes
                            w1 = (o + itemsize - 1) // bank_bytes
                            for x in range(w0, w1 + 1):
                                if atomic:
                                    bank_cnt[x % banks] += 1
                                else:
                                    before = nwd
                                    nwd = _insert(words, wcnt, nwd, x)
                                    if nwd != before:
                                        bank_cnt[x % banks] += 1
                            k += 1
                        m = 1
                        for q in range(banks):
                            if bank_cnt[q] > m:
                                m = bank_cnt[q]
                        wave += m
                        if m > ways:
                            ways = m
                        ideal += max(1, (nwd + banks - 1) // banks) if not atomic else 1
                    out_wave[b, w] = wave
                    out_ideal[b, w] = ideal
                    out_ways[b, w] = ways
                    out_lanes[b, w] = e - k0
                    k0 = e
                b += 1


@njit(cache=True, inline="always")
def _set_of(line, nsets):
    h = line ^ (line >> 9) ^ (line >> 17)
    return h % nsets


@njit(cache=True)
def _popc8(x):
    c = 0
    while x:
        c += x & 1
        x >>= 1
    return c


@njit(cache=True)
def cache_run(secs, slots, seg_off, ev_kind, ev_line, blk_sm, wave_lo, wave_hi, line_shift,
              has_l1, l1_tag, l1_valid, l1_stamp,
              has_l2, l2_tag, l2_valid, l2_dirty, l2_stamp,
              clock, levels, counters, line_stats):
    """Run the buffered sector stream through L1 (per SM) and L2 in the hardware's order.

    The stream is stored per memory event, block-major: accesses of event e and block b are
    ``seg_off[e, b]:seg_off[e, b + 1]``. The replay goes wave by wave (blocks ``wave_lo[k]:wave_hi[k]``),
    and within a wave event by event (lockstep), block by block. kinds: 0 load, 1 store, 2 atomic.
    levels[slot] := the slowest level (1 L1, 2 L2, 3 DRAM) that served the warp's sectors.
    counters: 0 L1 hit, 1 L1 miss, 2 L2 read hit, 3 L2 read miss, 4 L2 write, 5 L2 atomic,
    6 DRAM sectors read, 7 DRAM sectors written, 8 L2 atomic miss.
    line_stats[line, 0..2] += L1 hits, L2 hits, DRAM reads (of loads).
    """
    mask = (1 << line_shift) - 1
    nev = seg_off.shape[0]
    n1 = l1_tag.shape[1]
    w1 = l1_tag.shape[2]
    n2 = l2_tag.shape[0]
    w2 = l2_tag.shape[1]
    c_l1h = 0
    c_l1m = 0
    c_l2h = 0
    c_l2m = 0
    c_l2w = 0
    c_l2a = 0
    c_drd = 0
    c_dwr = 0
    c_l2am = 0
    for k in range(wave_lo.shape[0]):
        for e in range(nev):
            kind = ev_kind[e]
            li = ev_line[e]
            for b in range(wave_lo[k], wave_hi[k]):
                sm = blk_sm[b]
                for i in range(seg_off[e, b], seg_off[e, b + 1]):
                    clock += 1
                    s = secs[i]
                    line = s >> line_shift
                    bit = np.uint8(1 << (s & mask))
                    lv = 0
                    done = False
                    if kind == 0 and has_l1:
                        st = _set_of(line, n1)
                        hitway = -1
                        for w in range(w1):
                            if l1_tag[sm, st, w] == line:
                                hitway = w
                                break
                        if hitway >= 0 and (l1_valid[sm, st, hitway] & bit) != 0:
                            l1_stamp[sm, st, hitway] = clock
                            c_l1h += 1
                            line_stats[li, 0] += 1
                            lv = 1
                            done = True
                        else:
                            c_l1m += 1
                            if hitway >= 0:
                                l1_valid[sm, st, hitway] |= bit
                                l1_stamp[sm, st, hitway] = clock
                            else:
                                victim = 0
                                oldest = l1_stamp[sm, st, 0]
                                for w in range(1, w1):
                                    if l1_stamp[sm, st, w] < oldest:
                                        oldest = l1_stamp[sm, st, w]
                                        victim = w
                                l1_tag[sm, st, victim] = line
                                l1_valid[sm, st, victim] = bit
                                l1_stamp[sm, st, victim] = clock
                    if not done:
                        if not has_l2:
                            if kind == 0:
                                c_drd += 1
                                line_stats[li, 2] += 1
                                lv = 3
                            elif kind == 1:
                                c_dwr += 1
                            else:
                                c_drd += 1
                                c_dwr += 1
                                lv = 3
                        else:
                            st = _set_of(line, n2)
                            hitway = -1
                            for w in range(w2):
                                if l2_tag[st, w] == line:
                                    hitway = w
                                    break
                            if hitway < 0:
                                victim = 0
                                oldest = l2_stamp[st, 0]
                                for w in range(1, w2):
                                    if l2_stamp[st, w] < oldest:
                                        oldest = l2_stamp[st, w]
                                        victim = w
                                if l2_dirty[st, victim] != 0:
                                    c_dwr += _popc8(l2_dirty[st, victim])
                                l2_tag[st, victim] = line
                                l2_valid[st, victim] = 0
                                l2_dirty[st, victim] = 0
                                hitway = victim
                            present = (l2_valid[st, hitway] & bit) != 0
                            l2_stamp[st, hitway] = clock
                            if kind == 0:
                                if present:
                                    c_l2h += 1
                                    line_stats[li, 1] += 1
                                    lv = 2
                                else:
                                    c_l2m += 1
                                    c_drd += 1
                                    line_stats[li, 2] += 1
                                    l2_valid[st, hitway] |= bit
                                    lv = 3
                            elif kind == 1:
                                c_l2w += 1
                                l2_valid[st, hitway] |= bit
                                l2_dirty[st, hitway] |= bit
                            else:
                                c_l2a += 1
                                lv = 2
                                if not present:
                                    c_drd += 1
                                    c_l2am += 1
                                    lv = 3
                                l2_valid[st, hitway] |= bit
                                l2_dirty[st, hitway] |= bit
                    sl = slots[i]
                    if lv > levels[sl]:
                        levels[sl] = lv
    counters[0] += c_l1h
    counters[1] += c_l1m
    counters[2] += c_l2h
    counters[3] += c_l2m
    counters[4] += c_l2w
    counters[5] += c_l2a
    counters[6] += c_drd
    counters[7] += c_dwr
    counters[8] += c_l2am
    return clock


@njit(cache=True)
def dirty_sectors(l2_dirty):
    """Dirty sectors left in L2 (written back to DRAM when the kernel's data is flushed)."""
    c = 0
    for i in range(l2_dirty.shape[0]):
        for j in range(l2_dirty.shape[1]):
            if l2_dirty[i, j]:
                c += _popc8(l2_dirty[i, j])
    return c


@njit(cache=True)
def halfwarp_segments(off, act, base, itemsize, half, ws, slot0, out_sec, out_ideal, out_lanes, stream, stream_slot):
    """Compute capability 1.0/1.1 coalescing (see `collector.LaunchCollector._g80_global`): per half-warp,
    one transaction of ``half * itemsize`` bytes when thread k accesses word k of an aligned segment
    (inactive threads allowed), otherwise one 32-byte transaction per active thread. Transactions are
    written as 32-byte sectors; returns how many."""
    S0, S1, S2, T0, T1, T2 = off.shape
    nw = out_sec.shape[1]
    offs = np.empty(T0 * T1 * T2, np.int64)
    ts = np.empty(T0 * T1 * T2, np.int64)
    seg = half * itemsize
    per = max(1, seg // 32)
    ns = 0
    b = 0
    for i0 in range(S0):
        for i1 in range(S1):
            for i2 in range(S2):
                nact = _gather_block(off, act, i0, i1, i2, offs, ts)
                k = 0
                while k < nact:
                    e = _group_end(ts, k, nact, half)
                    w = ts[k] // ws
                    na = e - k
                    start = base + offs[k] - (ts[k] % half) * itemsize
                    ok = start % seg == 0
                    for q in range(k, e):
                        if base + offs[q] - (ts[q] % half) * itemsize != start:
                            ok = False
                            break
                    slot = slot0 + b * nw + w
                    if ok:
                        for q in range(per):
                            stream[ns] = start // 32 + q
                            stream_slot[ns] = slot
                            ns += 1
                        out_sec[b, w] += per
                    else:
                        for q in range(k, e):
                            stream[ns] = (base + offs[q]) // 32
                            stream_slot[ns] = slot
                            ns += 1
                        out_sec[b, w] += na
                    out_ideal[b, w] += per
                    out_lanes[b, w] += na
                    k = e
                b += 1
    return ns
