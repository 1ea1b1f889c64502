"""What each visualizer would show for known kernels: the models, computed from recorded data and reports."""

from __future__ import annotations

import numpy as np
import pytest
from platform_kernels import (
    all_write_first,
    axpy,
    broadcast_and_wide,
    line_of,
    reduce_tree,
    transpose_naive,
    transpose_padded,
    transpose_tiled,
)

from simtlab.emulator import cuda, use_chip
from simtlab.jupyter import models as M
from simtlab.jupyter.recorder import NONE, record, recording

F = np.float32


@pytest.fixture(scope="module")
def axpy_rec():
    n, threads = 1000, 128
    x, y, out = np.arange(n, dtype=F), np.ones(n, F), np.zeros(n, F)
    rec = record(axpy[(n + threads - 1) // threads, threads], F(2), x, y, out)
    assert np.allclose(out, 2 * x + y)      # the launch ran for real
    return rec


@pytest.fixture(scope="module")
def transposes():
    n = 64
    a = np.arange(n * n, dtype=F).reshape(n, n)
    out = np.zeros_like(a)
    naive = record(transpose_naive[(n // 32, n // 8), (32, 8)], a, out)
    assert (out == a.T).all()
    tiled = record(transpose_tiled[(n // 32, n // 32), (32, 8)], a, out)
    padded = record(transpose_padded[(n // 32, n // 32), (32, 8)], a, out)
    assert (out == a.T).all()
    return naive, tiled, padded


def test_launch_view_blocks_warps_active_lanes_and_sms(axpy_rec):
    m = M.launch_model(axpy_rec)
    assert (m.grid, m.block, m.nblocks, m.warps_per_block) == ((8, 1, 1), (128, 1, 1), 8, 4)
    assert m.lanes_total == 1024 and m.lanes_ever_active == 1000
    # 1000 = 7 x 128 + 104: the last block has 3 full warps and 8 active lanes in its last warp
    last = m.blocks[7]
    assert [w.ever_active for w in last.warps] == [32, 32, 32, 8]
    assert last.warps[3].active_mask == 0xFF
    assert all(w.ever_active == 32 for b in m.blocks[:7] for w in b.warps)
    # round-robin on the teaching chip's 4 SMs, one wave (many blocks fit an SM)
    assert [b.sm for b in m.blocks] == [0, 1, 2, 3, 0, 1, 2, 3]
    assert m.waves == 1 and all(b.wave == 0 for b in m.blocks)
    assert m.blocks[5].index == (5, 0, 0)
    # SIMT efficiency over the recorded memory instructions: 3 per thread, 1000 lanes of 32 warps x 3
    assert m.simt_efficiency == pytest.approx(100 * 3000 / (32 * 3 * 32))


def test_block_schedule_is_round_robin_in_waves():
    sm, slot, wave = M.block_schedule(20, 4, 2)
    assert sm.tolist() == [b % 4 for b in range(20)]
    assert wave.tolist() == [(b // 4) // 2 for b in range(20)]
    assert slot.tolist() == [(b // 4) % 2 for b in range(20)]


def test_memory_map_counts_who_wrote_and_read_each_element(axpy_rec):
    m = M.access_map(axpy_rec, "out")
    assert m.layout == (32, 32) and m.cell == (1, 1)
    assert m.totals == {"elements": 1000, "reads": 0, "writes": 1000, "atomics": 0, "untouched": 0, "rewritten": 0,
                        "max_reads": 0, "dropped": 0}
    flat_writer = m.writer.reshape(-1)[:1000]
    assert (flat_writer == np.arange(1000)).all()                  # element i written by global thread i
    assert (m.writer_block.reshape(-1)[:1000] == np.arange(1000) // 128).all()
    assert (m.reader.reshape(-1)[:1000] == NONE).all()
    assert m.elements.sum() == 1000 and m.lines == {"store": [line_of(axpy, "out[i] =")]}
    x = M.access_map(axpy_rec, "x")
    assert x.totals["reads"] == 1000 and x.totals["writes"] == 0 and x.totals["max_reads"] == 1
    assert M.access_map(axpy_rec).array == "out"                  # default: the first array written


def test_memory_map_zoom_and_aggregation(transposes):
    naive = transposes[0]
    full = M.access_map(naive, "out", max_cells=(16, 16))
    assert full.layout == (64, 64) and full.cell == (4, 4) and full.cells == (16, 16)
    assert full.writes.sum() == 64 * 64 and (full.writes == 16).all()
    # zoom into rows 8..11, cols 32..39: one cell per element, written by the transposed thread
    z = M.access_map(naive, "out", window=(8, 12, 32, 40))
    assert z.cells == (4, 8) and z.cell == (1, 1)
    # out[r, c] is written by the thread with x = r, y = c: block (r // 32, c // 8), thread (r % 32, c % 8)
    r, c = 9, 33
    gid = z.writer[r - 8, c - 32]
    b, t = divmod(int(gid), 256)
    assert naive.block_index(b) == (r // 32, c // 8, 0) and naive.thread_index(t) == (r % 32, c % 8, 0)


def test_memory_map_flags_elements_written_twice():
    out = np.zeros(4, F)
    rec = record(all_write_first[2, 32], out)
    m = M.access_map(rec, "out")
    assert m.totals["writes"] == 64 and m.totals["rewritten"] == 1 and m.totals["untouched"] == 3
    assert bool(m.rewritten[0, 0]) and bool(m.multi_block[0, 0]) and not m.rewritten[0, 1]
    assert m.writer[0, 0] == 0 and m.writer_block[0, 0] == 0


def test_huge_arrays_are_recorded_in_bins():
    from simtlab.emulator import observing
    from simtlab.jupyter.recorder import LaunchRecorder

    n = 5000
    x, y, out = np.ones(n, F), np.ones(n, F), np.zeros(n, F)
    rec = LaunchRecorder(max_elements=1000)
    with observing(rec):
        axpy[(n + 127) // 128, 128](F(1), x, y, out)
    a = rec.recordings[0].arrays["out"]
    assert a.bin_size == 5 and a.writes.size == 1000 and a.writes.sum() == n
    m = M.access_map(rec.recordings[0], "out")
    assert not m.exact and m.totals["writes"] == n and "bins of 5" in m.notes[0]


def test_warp_view_sectors_of_coalesced_and_strided_accesses(transposes):
    naive = transposes[0]
    ld = M.warp_access(naive, array="a", kind="load")
    assert (ld.active_lanes, len(ld.sectors), ld.ideal_sectors) == (32, 4, 4)
    assert ld.bytes_requested == 128 and ld.bytes_moved == 128 and ld.efficiency == 100
    assert [lanes for _, lanes in ld.sectors] == [list(range(k, k + 8)) for k in range(0, 32, 8)]
    st = M.warp_access(naive, array="out", kind="store")
    assert (len(st.sectors), st.ideal_sectors, st.bytes_moved) == (32, 4, 1024)
    assert st.efficiency == pytest.approx(12.5)
    # sector addresses: a column of out: 64 floats = 256 bytes apart
    addrs = [a for a, _ in st.sectors]
    assert all(b - a == 256 for a, b in zip(addrs, addrs[1:]))
    assert st.line == line_of(transpose_naive, "out[x, y]") and "out[x, y] = a[y, x]" in st.text


def test_warp_view_bank_conflicts_and_padding(transposes):
    _, tiled, padded = transposes
    conf = M.warp_access(tiled, array="tile", kind="load")
    assert (conf.space, conf.wavefronts, conf.ideal_wavefronts, conf.conflicts, conf.ways) == ("shared", 32, 1, 31, 32)
    assert all(ln.conflict and ln.unit == 0 for ln in conf.lanes)
    assert conf.executions == 4
    ok = M.warp_access(padded, array="tile", kind="load")
    assert (ok.wavefronts, ok.conflicts, ok.ways) == (1, 0, 1)
    assert sorted(ln.unit for ln in ok.lanes) == list(range(32)) and not any(ln.conflict for ln in ok.lanes)
    store = M.warp_access(tiled, array="tile", kind="store")
    assert store.wavefronts == 1 and store.conflicts == 0
    # another warp and another execution of the same line
    w1 = M.warp_access(tiled, array="tile", kind="load", warp=1, execution=2)
    assert (w1.warp, w1.execution, w1.wavefronts) == (1, 2, 32)


def test_warp_view_broadcast_and_8_byte_phases():
    x = np.arange(64, dtype=np.float64)
    out = np.zeros(64)
    rec = record(broadcast_and_wide[1, 64], x, out)
    wide = M.warp_access(rec, array="s", kind="store")
    assert (wide.wavefronts, wide.ideal_wavefronts, wide.conflicts) == (2, 2, 0)
    bc = M.warp_access(rec, array="s", kind="load")           # one word for every lane: broadcast, no conflict
    assert (bc.conflicts, bc.ways) == (0, 1) and bc.wavefronts == bc.ideal_wavefronts
    assert len(bc.bank_words) == 2                             # an 8-byte element spans two banks
    with pytest.raises(KeyError, match="no recorded memory access"):
        M.warp_access(rec, array="nothing")


def test_occupancy_model_and_curves():
    with use_chip("teaching") as chip:
        m = M.occupancy_model(chip, 256, 32, 0)
        assert m.percent == 100.0 and m.result["blocks_per_sm"] == 8
        # 128 registers: 4096 per warp, 16384 per scheduler partition -> 4 warps each, 16 warps -> 2 blocks of 8 warps
        r = M.occupancy_model(chip, 256, 128, 0)
        assert r.result["blocks_per_sm"] == 2 and r.percent == 25.0 and r.result["limiter"] == ["registers"]
        assert "limited by registers" in r.explain()
        assert m.by_threads[0][0] == 32 and m.by_threads[-1][0] == 1024
        assert dict(m.by_registers)[128] == 25.0
        # 100 KiB of shared memory per block: one block of 256 threads per SM
        s = M.occupancy_model(chip, 256, 32, 100 * 1024)
        assert s.result["blocks_per_sm"] == 1 and s.result["limiter"] == ["shared"]


def test_report_model_reads_the_profiler_report(transposes):
    n = 64
    a = np.arange(n * n, dtype=F).reshape(n, n)
    out = np.zeros_like(a)
    report = cuda.profile(transpose_naive[(n // 32, n // 8), (32, 8)], a, out)
    m = M.report_model(report)
    assert m.profiled and m.kernel == "transpose_naive" and m.time_us == pytest.approx(report.time_us)
    assert m.memory.sectors_per_load_request == 4 and m.memory.sectors_per_store_request == 32
    assert {label for label, _ in m.sol} >= {"Compute (SM)", "Memory", "DRAM"}
    assert m.bound == report.bound
    hot = [r for r in m.lines if r.hot]
    assert [r.line for r in hot][-1] == line_of(transpose_naive, "out[x, y]")
    assert any("def transpose_naive" in r.text for r in m.lines)     # source found from the report's file
    st = next(r for r in m.lines if r.line == line_of(transpose_naive, "out[x, y]"))
    assert st.values["gst_sectors_per_request"] == 32 and st.values["gld_sectors_per_request"] == 4
    assert m.occupancy.registers == report.occupancy["registers_per_thread"]
    assert m.roofline.dram_bytes == report["dram__bytes.sum"]
    assert any("uncoalesced" in f for f in m.findings)


def test_report_model_without_profiler_and_roofline_point(axpy_rec):
    plain = M.report_model(axpy_rec.report)
    assert not plain.profiled and plain.time_us is None and plain.sol == []
    n = 4096
    x, y, out = np.ones(n, F), np.ones(n, F), np.zeros(n, F)
    report = cuda.profile(axpy[n // 256, 256], F(2), x, y, out)
    r = M.roofline_model(report)
    assert r.flops == pytest.approx(2 * n, rel=0.01)                 # one mul and one add per element
    assert r.intensity == pytest.approx(r.flops / report["dram__bytes.sum"])
    assert r.bound == "memory" and r.achieved == pytest.approx(r.flops / (report.time_us * 1e-6))
    assert r.peak_flops == get_peak()


def get_peak() -> float:
    from simtlab.emulator import get_active_chip

    return float(get_active_chip().peak_fp32_flops)


def test_timeline_from_report_waves_and_times():
    a = np.ones((256, 256), F)
    out = np.zeros_like(a)
    with cuda.profile() as prof:
        transpose_padded[(8, 8), (32, 8)](a, out)
    report = prof.report
    t = M.timeline_model(report)
    per_sm = report.occupancy["blocks_per_sm"]
    assert t.blocks_per_sm == per_sm and len(t.bars) == 64
    assert t.waves == -(-64 // (4 * per_sm))
    for blk, sm, slot, wave, t0, t1 in t.bars:
        assert sm == blk % 4 and wave == (blk // 4) // per_sm and slot == (blk // 4) % per_sm
        assert t.overhead_us <= t0 < t1 <= t.total_us + 1e-9
    assert max(b[5] for b in t.bars) == pytest.approx(report.time_us)
    plain = M.timeline_model(None, record(transpose_padded[(2, 2), (32, 8)], a[:64, :64].copy(), out[:64, :64].copy()))
    assert plain.time_axis == "waves" and plain.total_us is None


def test_replay_model_follows_divergence_of_a_tree_reduction():
    v = np.arange(200, dtype=F)
    partial = np.zeros(4, F)
    rec = record(reduce_tree[4, 64], v, partial, statements=True, focus_block=(1, 0, 0))
    assert partial.sum() == v.sum()
    m = M.replay_model(rec, warp=0)
    assert m.block == (1, 0, 0) and m.lanes == 32 and m.variables
    add_line = line_of(reduce_tree, "s[t] += s[t + stride]")
    adds = [s for s in m.steps if s.line == add_line]
    assert [sum(s.active) for s in adds] == [16, 8, 4, 2, 1, 1]       # strides 1..32 for the lanes of warp 0
    assert [s.values["stride"][0] for s in adds] == [1, 2, 4, 8, 16, 32]   # each lane's variables, per step
    assert adds[0].values["t"] == list(range(32)) and adds[0].values["i"] == list(range(64, 96))
    assert adds[0].active == [t % 2 == 0 for t in range(32)]
    loads = adds[0].accesses
    assert ("s", "load", "shared") == loads[0][:3] and loads[0][3][:4] == [0, -1, 2, -1]
    assert [a[:3] for a in loads] == [("s", "load", "shared"), ("s", "load", "shared"), ("s", "store", "shared")]
    cond = next(s for s in m.steps if s.line == line_of(reduce_tree, "if t % (2 * stride)"))
    assert cond.kind == "branch" and cond.taken == [t % 2 == 0 for t in range(32)]
    first_load = next(s for s in m.steps if s.line == line_of(reduce_tree, "s[t] = x[i]"))
    x_acc = [a for a in first_load.accesses if a[0] == "x"][0]
    assert x_acc[3] == list(range(64, 96))                            # block 1 reads x[64..95] in warp 0
    w1 = M.replay_model(rec, warp=1)
    assert [sum(s.active) for s in w1.steps if s.line == add_line] == [16, 8, 4, 2, 1]
    with pytest.raises(ValueError, match="statements=True"):
        M.replay_model(record(reduce_tree[4, 64], v, partial))


def test_recording_context_collects_every_launch(axpy_rec):
    x, y, out = np.ones(64, F), np.ones(64, F), np.zeros(64, F)
    with recording() as recs:
        axpy[1, 64](F(1), x, y, out)
        axpy[2, 32](F(1), x, y, out)
    assert [r.grid for r in recs] == [(1, 1, 1), (2, 1, 1)]
    assert recs[0].source[line_of(axpy, "out[i] =")].strip() == "out[i] = a * x[i] + y[i]"


def test_warp_view_agrees_with_the_profilers_shared_memory_counters(transposes):
    n = 64
    a = np.arange(n * n, dtype=F).reshape(n, n)
    out = np.zeros_like(a)
    with cuda.profile() as prof:
        rec = record(transpose_tiled[(n // 32, n // 32), (32, 8)], a, out)
    per_line = prof.report.per_line
    for kind, key in (("load", "shared_ld_wavefronts"), ("store", "shared_st_wavefronts")):
        w = M.warp_access(rec, array="tile", kind=kind)
        site = rec.sites[(w.line, "tile", kind, "shared")]
        assert per_line[w.line][key] == w.wavefronts * site.warp_requests


def test_a_failing_launch_keeps_what_was_recorded():
    from simtlab.emulator import OutOfBoundsError

    @cuda.jit
    def unguarded(x, out):
        i = cuda.grid(1)
        out[i] = x[i] * 2

    x, out = np.ones(100, F), np.zeros(100, F)
    with pytest.raises(OutOfBoundsError) as info:
        record(unguarded[2, 64], x, out)
    rec = info.value.recording
    assert rec.error.startswith("OutOfBoundsError") and rec.kernel == "unguarded"
    assert M.launch_model(rec).nblocks == 2
