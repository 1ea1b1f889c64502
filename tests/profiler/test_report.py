"""``cuda.profile`` in its two forms, and what a report holds: names, labels, tables, findings, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simtlab.emulator import OutOfBoundsError, cuda
from simtlab.emulator.profiler import Profiler
from simtlab.emulator.profiler import collector as collector_module
from simtlab.emulator.report import LaunchReport

F = np.float32


@cuda.jit
def scale(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * 2


@cuda.jit
def column_sum(m, out):
    c = cuda.grid(1)
    if c < m.shape[0]:
        acc = np.float32(0)
        for k in range(m.shape[1]):
            acc += m[c, k]          # neighbouring threads read rows 4 KB apart
        out[c] = acc


@cuda.jit
def oob(x):
    x[cuda.grid(1) + 1000] = 1


def test_context_manager_collects_every_launch():
    x = cuda.to_device(np.arange(1000, dtype=F))
    out = cuda.device_array(1000, F)
    with cuda.profile() as prof:
        scale[4, 256](x, out)
        scale[8, 128](x, out)
    assert len(prof) == 2 and [r.block for r in prof] == [(256, 1, 1), (128, 1, 1)]
    assert prof.report is prof.reports[-1] is scale.last_report
    assert prof.total_time_us == pytest.approx(sum(r.time_us for r in prof))
    assert "2 launches" in str(prof)
    assert (out.copy_to_host() == np.arange(1000) * 2).all()
    scale[4, 256](x, out)                       # outside the block: not profiled
    assert len(prof) == 2 and scale.last_report.time_us is None


def test_function_form_returns_the_report_and_forwards_options():
    x = np.arange(1000, dtype=F)
    out = np.zeros(1000, F)
    r = cuda.profile(scale[4, 256], x, out, chip="h100", registers=40)
    assert isinstance(r, LaunchReport) and r.chip == "h100" and r["registers per thread"] == 40
    assert (out == x * 2).all()                 # host arrays are copied back as usual
    session = cuda.profile(lambda: [scale[4, 256](x, out) for _ in range(3)])
    assert len(session.reports) == 3
    with pytest.raises(TypeError):
        cuda.profile(42)


def test_metrics_have_ncu_names_friendly_labels_and_sections():
    x = cuda.to_device(np.arange(1000, dtype=F))
    out = cuda.device_array(1000, F)
    r = cuda.profile(scale[4, 256], x, out)
    assert r["smsp__inst_executed.sum"] == r["warp instructions"]
    assert r["l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"] == r["global load sectors"] == 125
    m = r.metrics["l1tex__t_sectors_pipe_lsu_mem_global_op_ld.sum"]
    assert m.section == "global memory" and m.unit == "sectors" and not m.estimated
    assert r["launch__grid_size"] == 4 and r["sm__maximum_warps_per_active_cycle_pct"] == 100.0
    with pytest.raises(KeyError):
        r["no such metric"]


def test_report_prints_sections_a_per_line_table_and_findings():
    m = cuda.to_device(np.ones((256, 1024), F))
    out = cuda.device_array(256, F)
    r = cuda.profile(column_sum[2, 128], m, out)
    text = str(r)
    for heading in ("launch:", "occupancy:", "instructions:", "global memory:", "caches:",
                    "estimated time (a model, not a measurement):", "per line:"):
        assert heading in text
    line = column_sum.py_func.__code__.co_firstlineno + 6
    assert "acc += m[c, k]" in r.line_table()
    f = [f for f in r.findings if f.kind == "uncoalesced"][0]
    assert f.line == line
    assert f.message == (f"line {line}: 32 sectors per request, ideal 4: neighbouring threads read addresses "
                         "4 KB apart")
    assert "last (contiguous) dimension" in f.fix
    assert r.line(line)["global_ld_sectors"] == 32 * 8 * 1024


def test_to_dict_is_json():
    x = cuda.to_device(np.arange(1000, dtype=F))
    out = cuda.device_array(1000, F)
    r = cuda.profile(scale[4, 256], x, out)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["kernel"] == "scale" and d["grid"] == [4, 1, 1]
    assert d["metrics"]["gpu__time_duration.sum"]["estimated"] is True
    assert d["metrics"]["gpu__time_duration.sum"]["unit"] == "us"
    assert d["estimate"]["bound"] and d["occupancy"]["limiter"]
    line = str(scale.py_func.__code__.co_firstlineno + 4)
    assert d["per_line"][line]["global_ld_requests"] == 32
    assert any(f["tool"] == "profiler" for f in d["findings"])


def test_failed_launch_gives_no_report_and_a_profiler_bug_never_breaks_a_launch(monkeypatch):
    x = cuda.device_array(10, F)
    with cuda.profile() as prof:
        with pytest.raises(OutOfBoundsError):
            oob[1, 32](x)
    assert len(prof) == 0

    def boom(self, ev):
        raise RuntimeError("boom")

    monkeypatch.setattr(collector_module.LaunchCollector, "memory", boom)
    xs = cuda.to_device(np.arange(64, dtype=F))
    out = cuda.device_array(64, F)
    with cuda.profile() as prof:
        scale[1, 64](xs, out)
    assert (out.copy_to_host() == np.arange(64) * 2).all()
    assert "profiler stopped" in prof.report.notes[0]


def test_profiler_observer_can_be_attached_directly():
    from simtlab.emulator import observing
    p = Profiler()
    x = cuda.to_device(np.arange(64, dtype=F))
    out = cuda.device_array(64, F)
    with observing(p):
        scale[1, 64](x, out)
    assert len(p.reports) == 1 and p.reports[0]["global load requests"] == 2
