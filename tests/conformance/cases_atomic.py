"""Conformance cases: atomics on global and shared memory, their old values, CAS loops.

The order in which contending atomics are applied is not defined on a GPU. Final values are
compared exactly; the old values handed back are compared through an order-independent form:
sorted (when the multiset of olds is fixed, e.g. a counter) or the verdict of a check that some
serial order of the updates produces exactly those olds (expected verdict: 1 for every cell).
"""

from __future__ import annotations

import operator
from types import ModuleType

import numpy as np

from .backend import cuda
from .registry import Result, blocks_for, case, per_target_serializable, pick

# ---------------------------------------------------------------------------------------------
# histograms


@cuda.jit
def hist_global_kernel(v, w, hist, whist):
    i = cuda.grid(1)
    if i < v.size:
        cuda.atomic.add(hist, v[i], 1)
        cuda.atomic.add(whist, v[i], w[i])


@case(tags=("atomic", "atomic.add", "histogram", "global", "float32"), rtol=0.0)
def histogram_global(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.add on global int32 bins and float32 bins (weights k/4: every order sums exactly)."""
    n = pick(size, 100_003, 301)
    tpb = 256 if size == "full" else 64
    bins = 37
    v = rng.integers(0, bins, n).astype(np.int32)
    v[: bins // 2] = 3  # a hot bin
    w = (rng.integers(1, 41, n) / 4).astype(np.float32)
    hist = np.zeros(bins, np.int32)
    whist = np.zeros(bins, np.float32)
    hist_global_kernel[blocks_for(n, tpb), tpb](v, w, hist, whist)
    return Result(
        {"hist": hist, "whist": whist},
        {"hist": np.bincount(v, minlength=bins), "whist": np.bincount(v, weights=w, minlength=bins)},
    )


SH_BINS = 300
SH_TPB = 128


@cuda.jit
def hist_shared_kernel(v, hist, block_max):
    local = cuda.shared.array(SH_BINS, np.int32)
    top = cuda.shared.array(1, np.int32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    for b in range(t, SH_BINS, SH_TPB):
        local[b] = 0
    if t == 0:
        top[0] = -1
    cuda.syncthreads()
    if i < v.size:
        cuda.atomic.add(local, v[i], 1)
        cuda.atomic.max(top, 0, v[i])
    cuda.syncthreads()
    for b in range(t, SH_BINS, SH_TPB):
        if local[b] != 0:
            cuda.atomic.add(hist, b, local[b])
    if t == 0:
        block_max[cuda.blockIdx.x] = top[0]


@case(tags=("atomic", "atomic.add", "atomic.max", "histogram", "shared", "privatization"))
def histogram_shared(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Per-block histogram with atomics on shared memory, merged into global with atomic.add;
    plus a block maximum with atomic.max on a shared scalar."""
    n = pick(size, 80_001, 301)
    v = rng.integers(0, SH_BINS, n).astype(np.int32)
    v[:50] = 7
    blocks = blocks_for(n, SH_TPB)
    hist = np.zeros(SH_BINS, np.int32)
    block_max = np.zeros(blocks, np.int32)
    hist_shared_kernel[blocks, SH_TPB](v, hist, block_max)
    pad = np.full(blocks * SH_TPB, -1, np.int32)
    pad[:n] = v
    return Result(
        {"hist": hist, "block_max": block_max},
        {"hist": np.bincount(v, minlength=SH_BINS), "block_max": pad.reshape(blocks, SH_TPB).max(axis=1)},
    )


@cuda.jit
def hist2d_kernel(a, b, h):
    i = cuda.grid(1)
    if i < a.size:
        cuda.atomic.add(h, (a[i], b[i]), 1)


@case(tags=("atomic", "atomic.add", "tuple-index", "int64", "2d"))
def histogram_2d(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.add on a 2D int64 array with a tuple index."""
    n = pick(size, 60_001, 199)
    tpb = 128 if size == "full" else 64
    a = rng.integers(0, 13, n).astype(np.int32)
    b = rng.integers(0, 9, n).astype(np.int64)
    h = np.zeros((13, 9), np.int64)
    hist2d_kernel[blocks_for(n, tpb), tpb](a, b, h)
    exp = np.zeros((13, 9), np.int64)
    np.add.at(exp, (a, b), 1)
    return Result({"h": h}, {"h": exp})


# ---------------------------------------------------------------------------------------------
# old values


@cuda.jit
def add_olds_kernel(x, counter, ticket, compact, fw, facc, fold):
    i = cuda.grid(1)
    if i < x.size:
        old = cuda.atomic.add(counter, 0, 1)
        ticket[i] = old
        compact[old] = x[i]
        fold[i] = cuda.atomic.add(facc, i % facc.size, fw[i])


@case(tags=("atomic", "atomic.add", "old-values", "compaction", "float32"))
def atomic_add_olds(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.add returns old values: tickets from a counter are a permutation of 0..n-1 (used to
    compact the input); float adds of k/4 hand back olds consistent with one serial order."""
    n = pick(size, 70_001, 203)
    tpb = 128 if size == "full" else 64
    cells = 5
    x = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    fw = (rng.integers(1, 41, n) / 4).astype(np.float32)
    counter = np.zeros(1, np.int32)
    ticket = np.full(n, -1, np.int32)
    compact = np.zeros(n, np.int64)
    facc = (np.arange(cells) * 0.5).astype(np.float32)
    init = facc.copy()
    fold = np.zeros(n, np.float32)
    add_olds_kernel[blocks_for(n, tpb), tpb](x, counter, ticket, compact, fw, facc, fold)
    target = np.arange(n) % cells
    verdict = per_target_serializable(init, target, fw, fold, facc, operator.add)
    return Result(
        {
            "counter": counter,
            "tickets_sorted": np.sort(ticket),
            "compact_sorted": np.sort(compact),
            "compact_matches_ticket": (compact[np.clip(ticket, 0, n - 1)] == x).astype(np.int8),
            "facc": facc,
            "float_olds_serializable": verdict,
        },
        {
            "counter": np.array([n], np.int32),
            "tickets_sorted": np.arange(n, dtype=np.int32),
            "compact_sorted": np.sort(x),
            "compact_matches_ticket": np.ones(n, np.int8),
            "facc": init + np.bincount(target, weights=fw, minlength=cells),
            "float_olds_serializable": np.ones(cells, np.int8),
        },
    )


@cuda.jit
def minmax_sub_kernel(cell, vi, vf, imax, imin, fmax, fmin, acc, olds_i, olds_f, olds_sub):
    i = cuda.grid(1)
    if i < cell.size:
        c = cell[i]
        olds_i[0, i] = cuda.atomic.max(imax, c, vi[i])
        olds_i[1, i] = cuda.atomic.min(imin, c, vi[i])
        olds_f[0, i] = cuda.atomic.max(fmax, c, vf[i])
        olds_f[1, i] = cuda.atomic.min(fmin, c, vf[i])
        olds_sub[i] = cuda.atomic.sub(acc, c, vi[i] % 1000 + 1)


@case(tags=("atomic", "atomic.max", "atomic.min", "atomic.sub", "old-values", "int32", "float32"))
def atomic_minmax_sub(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.max/min (int32 and float32) and atomic.sub (int64) on several cells: final values
    and the consistency of every old value handed back."""
    n = pick(size, 40_001, 157)
    tpb = 128 if size == "full" else 32
    cells = 11
    cell = rng.integers(0, cells, n).astype(np.int32)
    vi = rng.integers(-(10**6), 10**6, n, dtype=np.int32)
    vf = rng.standard_normal(n).astype(np.float32)
    imax0 = rng.integers(-(10**5), 10**5, cells, dtype=np.int32)
    imin0 = rng.integers(-(10**5), 10**5, cells, dtype=np.int32)
    fmax0 = rng.standard_normal(cells).astype(np.float32)
    fmin0 = rng.standard_normal(cells).astype(np.float32)
    acc0 = np.full(cells, 10**12, np.int64)
    imax, imin, fmax, fmin, acc = imax0.copy(), imin0.copy(), fmax0.copy(), fmin0.copy(), acc0.copy()
    olds_i = np.zeros((2, n), np.int32)
    olds_f = np.zeros((2, n), np.float32)
    olds_sub = np.zeros(n, np.int64)
    minmax_sub_kernel[blocks_for(n, tpb), tpb](cell, vi, vf, imax, imin, fmax, fmin, acc, olds_i, olds_f, olds_sub)
    sub_vals = (vi.astype(np.int64) % 1000) + 1
    verdicts = np.concatenate(
        [
            per_target_serializable(imax0, cell, vi, olds_i[0], imax, max),
            per_target_serializable(imin0, cell, vi, olds_i[1], imin, min),
            per_target_serializable(fmax0, cell, vf, olds_f[0], fmax, max),
            per_target_serializable(fmin0, cell, vf, olds_f[1], fmin, min),
            per_target_serializable(acc0, cell, sub_vals, olds_sub, acc, operator.sub),
        ]
    )

    def grouped(op: np.ufunc, init: np.ndarray, vals: np.ndarray) -> np.ndarray:
        out = init.copy()
        op.at(out, cell, vals)
        return out

    return Result(
        {"imax": imax, "imin": imin, "fmax": fmax, "fmin": fmin, "acc": acc, "olds_ok": verdicts},
        {
            "imax": grouped(np.maximum, imax0, vi),
            "imin": grouped(np.minimum, imin0, vi),
            "fmax": grouped(np.maximum, fmax0, vf),
            "fmin": grouped(np.minimum, fmin0, vf),
            "acc": grouped(np.subtract, acc0, sub_vals),
            "olds_ok": np.ones(5 * cells, np.int8),
        },
    )


@cuda.jit
def bitwise_atomics_kernel(word, and_mask, bit, w_and, w_or, w_xor, olds_and, olds_or, olds_xor):
    i = cuda.grid(1)
    if i < word.size:
        w = word[i]
        olds_and[i] = cuda.atomic.and_(w_and, w, and_mask[i])
        olds_or[i] = cuda.atomic.or_(w_or, w, bit[i])
        olds_xor[i] = cuda.atomic.xor(w_xor, w, bit[i])


@case(tags=("atomic", "atomic.and_", "atomic.or_", "atomic.xor", "old-values", "int32", "uint32"))
def atomic_bitwise(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.and_ (int32, clearing bit 31 too), or_ and xor (uint32): every thread owns one bit of
    one word; final words and old values are checked."""
    n = pick(size, 30_007, 157)
    tpb = 128 if size == "full" else 32
    words = -(-n // 32)
    perm = rng.permutation(n)
    word = (perm % words).astype(np.int32)
    bitpos = (perm // words).astype(np.uint32)
    bit = (np.uint32(1) << bitpos).astype(np.uint32)
    and_mask = (~bit).view(np.int32)
    and0 = rng.integers(-(2**31), 2**31, words, dtype=np.int32)
    or0 = rng.integers(0, 2**32, words, dtype=np.uint32)
    xor0 = rng.integers(0, 2**32, words, dtype=np.uint32)
    w_and, w_or, w_xor = and0.copy(), or0.copy(), xor0.copy()
    olds_and = np.zeros(n, np.int32)
    olds_or = np.zeros(n, np.uint32)
    olds_xor = np.zeros(n, np.uint32)
    bitwise_atomics_kernel[blocks_for(n, tpb), tpb](
        word, and_mask, bit, w_and, w_or, w_xor, olds_and, olds_or, olds_xor
    )
    exp_and, exp_or, exp_xor = and0.copy(), or0.copy(), xor0.copy()
    np.bitwise_and.at(exp_and, word, and_mask)
    np.bitwise_or.at(exp_or, word, bit)
    np.bitwise_xor.at(exp_xor, word, bit)
    verdicts = np.concatenate(
        [
            per_target_serializable(and0, word, and_mask, olds_and, w_and, operator.and_),
            per_target_serializable(or0, word, bit, olds_or, w_or, operator.or_),
            per_target_serializable(xor0, word, bit, olds_xor, w_xor, operator.xor),
        ]
    )
    return Result(
        {"and": w_and, "or": w_or, "xor": w_xor, "olds_ok": verdicts},
        {"and": exp_and, "or": exp_or, "xor": exp_xor, "olds_ok": np.ones(3 * words, np.int8)},
    )


@cuda.jit
def exch_inc_dec_kernel(cell, val, limit, ex, inc, dec, olds_ex, olds_inc, olds_dec):
    i = cuda.grid(1)
    if i < cell.size:
        c = cell[i]
        olds_ex[i] = cuda.atomic.exch(ex, c, val[i])
        olds_inc[i] = cuda.atomic.inc(inc, c, limit)
        olds_dec[i] = cuda.atomic.dec(dec, c, limit)


def _serial_olds(init: int, count: int, step: object) -> list[int]:
    olds, s = [], init
    for _ in range(count):
        olds.append(s)
        s = step(s)
    return olds + [s]


@case(tags=("atomic", "atomic.exch", "atomic.inc", "atomic.dec", "old-values", "uint32", "wraparound"))
def atomic_exch_inc_dec(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """atomic.exch (a chain of distinct values), atomic.inc/dec with a limit (CUDA's wrapping
    semantics: inc wraps to 0 after `limit`, dec wraps to `limit` at 0 or above it)."""
    n = pick(size, 30_011, 151)
    tpb = 128 if size == "full" else 32
    cells = 7
    limit = 13
    cell = (np.arange(n) % cells).astype(np.int32)
    rng.shuffle(cell)
    val = (rng.permutation(n) + 1000).astype(np.int32)
    ex0 = np.arange(cells, dtype=np.int32) - 100
    inc0 = np.array([0, 5, 13, 20, 1, 2, 3], np.uint32)
    dec0 = np.array([0, 5, 13, 20, 1, 2, 3], np.uint32)
    ex, inc, dec = ex0.copy(), inc0.copy(), dec0.copy()
    olds_ex = np.zeros(n, np.int32)
    olds_inc = np.zeros(n, np.uint32)
    olds_dec = np.zeros(n, np.uint32)
    exch_inc_dec_kernel[blocks_for(n, tpb), tpb](cell, val, limit, ex, inc, dec, olds_ex, olds_inc, olds_dec)
    order = np.lexsort((olds_inc, cell))
    order_d = np.lexsort((olds_dec, cell))
    exp_inc_olds, exp_dec_olds, exp_inc, exp_dec = [], [], [], []
    for c in range(cells):
        k = int(np.count_nonzero(cell == c))
        seq = _serial_olds(int(inc0[c]), k, lambda s: 0 if s >= limit else s + 1)
        exp_inc_olds += sorted(seq[:-1])
        exp_inc.append(seq[-1])
        seq = _serial_olds(int(dec0[c]), k, lambda s: limit if s == 0 or s > limit else s - 1)
        exp_dec_olds += sorted(seq[:-1])
        exp_dec.append(seq[-1])
    verdict = per_target_serializable(ex0, cell, val, olds_ex, ex, lambda s, v: v)
    return Result(
        {
            "inc": inc,
            "dec": dec,
            "inc_olds": olds_inc[order],
            "dec_olds": olds_dec[order_d],
            "exch_ok": verdict,
            "exch_final_is_an_input": np.isin(ex, val).astype(np.int8),
        },
        {
            "inc": np.array(exp_inc, np.uint32),
            "dec": np.array(exp_dec, np.uint32),
            "inc_olds": np.array(exp_inc_olds, np.uint32),
            "dec_olds": np.array(exp_dec_olds, np.uint32),
            "exch_ok": np.ones(cells, np.int8),
            "exch_final_is_an_input": np.ones(cells, np.int8),
        },
    )


# ---------------------------------------------------------------------------------------------
# compare-and-swap


@cuda.jit(device=True)
def float_order_key(bits):
    # int32 bit pattern of a float32 -> int32 whose signed order is the float order
    if bits >= 0:
        return bits
    return bits ^ 0x7FFFFFFF


@cuda.jit
def cas_max_kernel(xbits, bucket, best, best_bucket):
    i = cuda.grid(1)
    if i < xbits.size:
        key = float_order_key(xbits[i])
        old = best[0]
        while key > old:
            prev = cuda.atomic.compare_and_swap(best, old, key)
            if prev == old:
                break
            old = prev
        b = bucket[i]
        old = best_bucket[b]
        while key > old:
            prev = cuda.atomic.cas(best_bucket, b, old, key)
            if prev == old:
                break
            old = prev


def _float_order_keys(x: np.ndarray) -> np.ndarray:
    bits = np.asarray(x, np.float32).view(np.int32)
    return np.where(bits >= 0, bits, bits ^ np.int32(0x7FFFFFFF)).astype(np.int32)


def _key_to_float(key: np.ndarray) -> np.ndarray:
    key = np.asarray(key, np.int32)
    bits = np.where(key >= 0, key, key ^ np.int32(0x7FFFFFFF)).astype(np.int32)
    return bits.view(np.float32)


@case(tags=("atomic", "cas", "compare_and_swap", "cas-loop", "float-max", "device-function"))
def cas_float_max(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Float atomic max built from CAS loops on order-preserving int32 keys: compare_and_swap for a
    global maximum, atomic.cas with an index for per-bucket maxima (empty buckets keep -2**31)."""
    n = pick(size, 50_001, 201)
    tpb = 128 if size == "full" else 64
    buckets = 23
    x = (rng.standard_normal(n) * 100).astype(np.float32)
    x[:3] = [-0.0, -np.inf, 3.5]
    bucket = rng.integers(0, buckets, n).astype(np.int32)
    best = np.full(1, -(2**31), np.int32)
    best_bucket = np.full(buckets, -(2**31), np.int32)
    cas_max_kernel[blocks_for(n, tpb), tpb](x.view(np.int32), bucket, best, best_bucket)
    exp_bucket = np.full(buckets, -(2**31), np.int32)
    np.maximum.at(exp_bucket, bucket, _float_order_keys(x))
    return Result(
        {"max": _key_to_float(best), "bucket_keys": best_bucket},
        {"max": np.array([x.max()], np.float32), "bucket_keys": exp_bucket},
    )


EMPTY = -1


@cuda.jit
def hash_insert_kernel(keys, table, pos):
    i = cuda.grid(1)
    if i < keys.size:
        key = keys[i]
        size = table.size
        h = (np.int64(key) * 2654435761) % size
        for probe in range(size):
            slot = (h + probe) % size
            prev = cuda.atomic.cas(table, slot, EMPTY, key)
            if prev == EMPTY or prev == key:
                pos[i] = slot
                break


@case(tags=("atomic", "cas", "hash-table", "linear-probing", "for", "break"))
def cas_hash_insert(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Concurrent insertion into an open-addressing hash table by claiming slots with atomic.cas.

    Slots depend on the order of contending inserts, so the checks are order-free: each thread's
    slot holds its key, the table holds exactly the distinct keys, and every slot between a key's
    hash and its position is occupied (linear probing invariant)."""
    n = pick(size, 40_009, 157)
    tpb = 128 if size == "full" else 32
    keys = rng.integers(0, 2**31 - 1, n, dtype=np.int64).astype(np.int32)
    keys[n // 2 : n // 2 + 20] = keys[:20]  # duplicates
    tsize = 2 * n + 1
    table = np.full(tsize, EMPTY, np.int32)
    pos = np.full(n, -1, np.int64)
    hash_insert_kernel[blocks_for(n, tpb), tpb](keys, table, pos)
    h = (keys.astype(np.int64) * 2654435761) % tsize
    dist = (pos - h) % tsize
    occupied = table != EMPTY
    probe_ok = np.ones(n, np.int8)
    for r in np.nonzero(dist)[0]:
        span = (h[r] + np.arange(dist[r])) % tsize
        probe_ok[r] = occupied[span].all()
    return Result(
        {
            "found": table[np.clip(pos, 0, tsize - 1)],
            "found_valid": (pos >= 0).astype(np.int8),
            "stored_sorted": np.sort(table[occupied]),
            "probe_ok": probe_ok,
        },
        {
            "found": keys,
            "found_valid": np.ones(n, np.int8),
            "stored_sorted": np.unique(keys),
            "probe_ok": np.ones(n, np.int8),
        },
    )


@cuda.jit
def shared_rank_kernel(x, rank, block_count):
    cnt = cuda.shared.array(1, np.int32)
    t = cuda.threadIdx.x
    i = cuda.grid(1)
    if t == 0:
        cnt[0] = 0
    cuda.syncthreads()
    r = -1
    if i < x.size and x[i] % 2 == 0:
        r = cuda.atomic.add(cnt, 0, 1)
    cuda.syncthreads()
    if i < x.size:
        rank[i] = r
    if t == 0:
        block_count[cuda.blockIdx.x] = cnt[0]


@case(tags=("atomic", "atomic.add", "shared", "old-values", "ranks"))
def shared_atomic_ranks(cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
    """Ranks handed out by atomic.add on a shared counter: within each block, the selected threads'
    olds are a permutation of 0..count-1 (compared per block, sorted)."""
    n = pick(size, 50_001, 201)
    tpb = 128 if size == "full" else 64
    blocks = blocks_for(n, tpb)
    x = rng.integers(0, 100, n, dtype=np.int64)
    rank = np.full(n, -2, np.int32)
    block_count = np.zeros(blocks, np.int32)
    shared_rank_kernel[blocks, tpb](x, rank, block_count)
    block = np.arange(n) // tpb
    sel = x % 2 == 0
    counts = np.bincount(block[sel], minlength=blocks).astype(np.int32)
    exp = []
    for b in range(blocks):
        exp.append(np.full(int(np.count_nonzero(~sel & (block == b))), -1))
        exp.append(np.arange(counts[b]))
    exp_sorted = np.concatenate(exp).astype(np.int32)
    got_sorted = rank[np.lexsort((rank, block))]
    return Result(
        {"ranks_by_block": got_sorted, "block_count": block_count},
        {"ranks_by_block": exp_sorted, "block_count": counts},
    )
