"""The pieces under the tools: the compiled per-lane loop, affine regions, and the shortcuts' fidelity."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import cuda
from simtlab.emulator.sanitizer import _regions as R
from simtlab.emulator.sanitizer import _shadow as S

from .zoo import BUGS, Bug

A = R.AffineAccess


def test_mixed_radix_injectivity() -> None:
    assert R._mixed_radix([(4, 32), (128, 8)])              # tile[ty, tx] of a 32-wide float tile
    assert not R._mixed_radix([(4, 32), (64, 8)])           # rows overlap: 32 floats every 16
    assert not R._mixed_radix([(0, 16)])                     # every lane the same element
    assert R._mixed_radix([(0, 1), (4, 1)])                  # one lane is always injective


def _region(acc: A, box, shape, write=True, per_block=False, mask=None) -> R.Region:
    ds = R.digits(acc, box, mask, shape)
    lo = acc.c + sum(min(s * a, s * b) for s, a, b, _ in ds)
    hi = acc.c + sum(max(s * a, s * b) for s, a, b, _ in ds)
    return R.Region(lo, hi + 4, write, acc, ds, per_block)


def test_regions_disjoint_same_lanes_and_grid_digits() -> None:
    shape = (1, 4, 32, 1, 8, 32)       # transpose: (by, bx) blocks of (ty, tx) threads, 1024 x 1024 floats
    full = tuple((0, n - 1) for n in shape)
    row = 4 * 1024
    out_j0 = A(0, (0, 32 * 4, 32 * row, 0, 4, row))              # out[x, y + j] for j = 0 ...
    out_j8 = A(8 * 4, out_j0.S)                                  # ... and j = 8: interleaved, never equal
    r0, r8 = _region(out_j0, full, shape), _region(out_j8, full, shape)
    assert r0.overlaps(r8.lo, r8.hi) and r0.disjoint(r8) and r0.injective()
    shifted = _region(A(4, out_j0.S), full, shape)               # out[x, y + 1]: meets out[x + ..., y]
    assert not r0.disjoint(shifted)
    assert r0.same_lanes(_region(out_j0, full, shape)) and not r0.same_lanes(r8)
    # x = blockIdx.x * 16 + threadIdx.x guarded by x < 257 on rows of 257: one digit bounded by the guard
    shape2 = (1, 1, 17, 1, 1, 16)
    x = np.arange(17)[:, None] * 16 + np.arange(16)[None, :]
    mask = (x < 257).reshape(1, 1, 17, 1, 1, 16)
    acc = A(0, (0, 0, 16 * 40, 0, 0, 40))
    box = R.active_box(mask, shape2)
    ds = R.digits(acc, box, mask, shape2)
    assert ds == ((40, 0, 256, True),)
    assert R.Region(0, 0, True, acc, ds).injective()


def test_affine_fit_of_materialised_indices() -> None:
    class Ev:
        offset0 = 0
        strides = (4,)

    ev = Ev()
    t = np.arange(8).reshape(1, 1, 1, 1, 1, 8)
    ev.indices = (np.where(t < 4, 3 * t + 1, -99),)     # garbage outside the active lanes
    box = ((0, 0),) * 5 + ((0, 3),)
    assert R.affine_of(ev, box) == A(4, (0, 0, 0, 0, 0, 12))
    ev.indices = (np.where(t < 4, t * t, 0),)
    assert R.affine_of(ev, box) is None
    assert R.affine_of(ev) is None


def test_loop_severity_of_equal_values_and_ordering() -> None:
    race_scan = S.kernels()[0]
    t = S.Table(8, 4)
    keys = np.zeros((1, 2), dtype=np.int64)                  # threads 0 and 1 of one block write element 0
    P = np.arange(2, dtype=np.int64)
    bgid = np.array([5], dtype=np.int64)
    bep = np.zeros(1, np.int32)
    wep = np.zeros((1, 1), np.int32)

    def run(vals, bep_now):
        rec, cnt = S.new_records()
        race_scan(S.STORE, keys, P, np.ones(2, dtype=np.int64), S.EMPTY_BOOL_2D, 2, 0, 2, 32, bgid, 5, bep_now,
                  wep, 1, S.EMPTY_I64, S.EMPTY_I64, t.W, t.R, t.values(), vals, 10, rec, cnt)
        return rec[:cnt[0]], int(cnt[1])

    rec, n = run(np.array([[7, 7]], dtype=np.int64), bep)
    assert n == 1 and rec[0, 1] == S.WAW and rec[0, 5] == S.SEV_WARNING
    rec, n = run(np.array([[1, 2]], dtype=np.int64), bep)     # thread 0 vs thread 1 again: different values
    assert n == 2 and set(rec[:, 5]) == {S.SEV_ERROR}
    rec, n = run(np.array([[1, 2]], dtype=np.int64), bep + 1)  # after a barrier: only the in-statement pair
    assert n == 1 and rec[0, 2:5].tolist() == [5, 0, 10]


def _signature(bug: Bug) -> list[tuple]:
    if bug.raises is not None:
        with pytest.raises(bug.raises), cuda.sanitize() as s:
            bug.run()
    else:
        with cuda.sanitize() as s:
            bug.run()
    return sorted((f.tool, f.kind, f.line, f.other_line, f.severity, f.more, f.block, f.thread, f.other_thread)
                  for f in s.findings)


@pytest.mark.parametrize("bug", [b for b in BUGS if b.tool in ("racecheck", "initcheck")],
                         ids=lambda b: b.name)
def test_shortcuts_find_exactly_what_lane_by_lane_checking_finds(bug: Bug, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _signature(bug)
    monkeypatch.setattr(R, "DEFER", False)
    monkeypatch.setattr(R, "FAST_INIT", False)
    assert _signature(bug) == fast


@pytest.fixture
def one_block_per_chunk():
    from simtlab.emulator import kernel as K
    saved = dict(K._settings)
    cuda.set_chunk_budget(max_lanes=1)            # every chunk holds a single block
    yield
    cuda.set_chunk_budget(nbytes=saved["chunk_bytes"], max_lanes=saved["max_chunk_lanes"])


@pytest.mark.parametrize("bug", [b for b in BUGS if b.raises is None], ids=lambda b: b.name)
def test_bugs_are_caught_when_every_block_is_its_own_chunk(bug: Bug, one_block_per_chunk) -> None:
    from .zoo import line_of
    with cuda.sanitize() as s:
        bug.run()
    assert {f.tool for f in s.findings} == {bug.tool}
    # blocks now run one after another, so a cross-block race may show as another kind: the lines must match
    lines = {line_of(bug.kernel, bug.line), line_of(bug.kernel, bug.other) if bug.other else None}
    assert any(f.line in lines and (bug.other is None or f.other_line in lines) and
               (f.kind == bug.kind or bug.scope == "grid") for f in s.findings), [str(f) for f in s.findings]


def test_clean_kernels_stay_clean_when_every_block_is_its_own_chunk(one_block_per_chunk) -> None:
    from tests.conformance.registry import case_rng, get_case
    for name in ("block_reduce_tree", "threadfence_last_block", "syncwarp_shared", "histogram_shared"):
        case = get_case(name)
        with cuda.sanitize() as s:
            case.run(cuda, case_rng(name, 0), "tiny")
        assert len(s.reports) >= 1 and s.clean, (name, [str(f) for f in s.findings])
