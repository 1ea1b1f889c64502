"""Static renderings, the interactive widgets, display modes and the magics."""

from __future__ import annotations

import numpy as np
import pytest
from platform_kernels import axpy, line_of, reduce_tree, transpose_naive, transpose_tiled

import simtlab.jupyter as sj
from simtlab.emulator import cuda, get_active_chip
from simtlab.jupyter import render as R
from simtlab.jupyter.recorder import record
from simtlab.jupyter.widgets import (
    LaunchView,
    MemoryMap,
    OccupancyCalculator,
    ProfileView,
    ReplayView,
    TimelineView,
    Visual,
    WarpView,
    display_mode,
    set_display_mode,
)

F = np.float32
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def recs():
    n = 64
    a = np.arange(n * n, dtype=F).reshape(n, n)
    out = np.zeros_like(a)
    with cuda.profile() as prof:
        naive = record(transpose_naive[(n // 32, n // 8), (32, 8)], a, out)
    tiled = record(transpose_tiled[(2, 2), (32, 8)], a, out, statements=True)
    x, y, o = np.arange(1000, dtype=F), np.ones(1000, F), np.zeros(1000, F)
    ax = record(axpy[8, 128], F(2), x, y, o)
    return {"naive": naive, "tiled": tiled, "axpy": ax, "report": prof.report}


def _html_of(visual: Visual) -> str:
    h = visual.html()
    assert h.startswith("<style>") and f'data-simtlab="{visual.kind}"' in h
    return h


def test_static_renderings_carry_the_numbers(recs):
    mm = MemoryMap(recs["axpy"], "out")
    h = _html_of(mm)
    assert 'data-simtlab-value="writes">1,000<' in h and 'data-simtlab-value="reads">0<' in h
    assert "<title>" not in h                                  # 1000 cells: no tooltips in the static output
    tips = R.access_map_html(mm.model, tips=True)              # what the live widget shows
    assert "out[999]: read 0x, written 1x (first: block 7 thread 103)" in tips
    h = _html_of(LaunchView(recs["axpy"]))
    assert 'data-simtlab-value="active_lanes">1,000 of 1,024<' in h and 'data-simtlab-blocks="8"' in h
    h = _html_of(WarpView(recs["naive"], array="out", kind="store"))
    assert 'data-simtlab-value="sectors">32<' in h and 'data-simtlab-value="ideal_sectors">4<' in h
    h = _html_of(WarpView(recs["tiled"], array="tile", kind="load"))
    assert 'data-simtlab-value="wavefronts">32<' in h and "32-way" in h and "#fca5a5" in h   # the red bank
    h = _html_of(ProfileView(recs["report"], recs["naive"]))
    for key in ("Speed of light", "Memory chart", "Source lines", "Roofline", "Occupancy",
                'data-simtlab-value="sectors_per_store_request">32<', 'data-simtlab-chart="roofline"',
                'class="hot" data-simtlab-line="' + str(line_of(transpose_naive, "out[x, y]")) + '"'):
        assert key in h, key
    h = _html_of(TimelineView(recs["report"]))
    assert 'data-simtlab-bars="16"' in h
    h = _html_of(ReplayView(recs["tiled"], warp=0))
    assert "cuda.syncthreads()" in h and "■" * 32 in h
    h = R.replay_step_html(ReplayView(recs["tiled"]).model, 0)
    assert 'data-simtlab-value="step">1 of' in h


def test_number_formatting():
    assert R.num(None) == "n/a" and R.num(1234567) == "1,234,567" and R.num(3.14159) == "3.142"
    assert R.nbytes(16384) == "16.0 KiB" and R.nbytes(10) == "10 B"
    assert R.rate(13.4e9, "FLOP/s") == "13.4 GFLOP/s"
    assert R.dims((5,)) == "(5,)" and R.dims((2, 3, 1)) == "(2, 3, 1)"


def _pane(w):
    """The HTML pane of a widget panel (its last child, searched depth-first)."""
    import ipywidgets

    if isinstance(w, ipywidgets.HTML):
        return w
    for c in reversed(getattr(w, "children", ())):
        p = _pane(c)
        if p is not None:
            return p
    return None


def test_memory_map_widget_switches_arrays_colours_and_zooms(recs):
    import ipywidgets

    w = MemoryMap(recs["naive"], "out").widget()
    (arrays, color), (rows, cols), pane = w.children[0].children, w.children[1].children, w.children[2]
    assert isinstance(arrays, ipywidgets.Dropdown) and arrays.options == ("a", "out")
    assert "Memory access map of &#x27;out&#x27;" in pane.value or "Memory access map of 'out'" in pane.value
    arrays.value = "a"
    assert "map of &#x27;a&#x27;" in pane.value or "map of 'a'" in pane.value
    rows.value, cols.value = (0, 2), (0, 4)
    assert 'data-simtlab-cells="2x4"' in pane.value
    color.value = "reads"
    assert "colour and number: reads" in pane.value


def test_warp_replay_and_occupancy_widgets_react(recs):
    w = WarpView(recs["tiled"], array="tile", kind="load").widget()
    site, warp, exe = w.children[0].children
    assert warp.max == 7 and exe.max == 3
    warp.value = 5
    assert "by warp 5" in w.children[1].value
    site.value = next(v for _, v in site.options if v[2] == "store")
    assert 'data-simtlab-value="wavefronts">1<' in w.children[1].value

    r = ReplayView(recs["tiled"]).widget()
    play, prev, nxt, step, warp = r.children[0].children
    nxt.click()
    assert step.value == 1 and 'data-simtlab-value="step">2 of' in r.children[1].value
    step.value = step.max
    prev.click()
    assert step.value == step.max - 1
    warp.value = 3
    assert "warp 3" in r.children[1].value

    o = OccupancyCalculator(get_active_chip(), 256, 32, 0)
    ow = o.widget()
    threads, regs, shared = ow.children[0].children
    assert 'data-simtlab-value="occupancy">100.0%<' in ow.children[1].value
    regs.value = 128
    assert 'data-simtlab-value="occupancy">25.0%<' in ow.children[1].value
    shared.value = 100 * 1024
    assert "limited by registers and shared memory" in ow.children[1].value or \
        'data-simtlab-value="blocks_per_sm">1<' in ow.children[1].value


def test_profile_widget_has_tabs_and_hot_column_choice(recs):
    import ipywidgets

    w = ProfileView(recs["report"], recs["naive"]).widget()
    header, tabs = w.children
    assert isinstance(tabs, ipywidgets.Tab)
    assert [tabs.get_title(i) for i in range(len(tabs.children))] == [
        "Speed of light", "Memory chart", "Source", "Roofline", "Occupancy", "Metrics"]
    heat, lines = tabs.children[2].children
    heat.value = "global_st_sectors"
    assert "heat: gst sectors" in lines.value
    assert "estimated time" in header.value


def test_display_modes_and_grading(recs, monkeypatch):
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    get_ipython()
    v = MemoryMap(recs["axpy"], "out")
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv("VSCODE_PID", raising=False)
    monkeypatch.delenv("SIMTLAB_WIDGETS", raising=False)
    assert display_mode() == "static"
    assert set(v.mimebundle()) == {"text/html", "text/plain"}
    monkeypatch.setenv("JPY_SESSION_NAME", "tour.ipynb")
    assert display_mode() == "interactive"
    assert set(v.mimebundle()) == {"text/html", "text/plain", WIDGET_MIME}
    set_display_mode("static")
    assert display_mode() == "static"
    set_display_mode(None)
    with capture_output() as cap:
        v.show()
    assert len(cap.outputs) == 1 and WIDGET_MIME in cap.outputs[0].data and "text/html" in cap.outputs[0].data
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with capture_output() as cap:
        v.show()
        sj.timeline(recs["report"]).show()
    assert cap.outputs == []
    with pytest.raises(ValueError):
        set_display_mode("fancy")


def test_public_functions_accept_recordings_launches_and_kernels(recs, tmp_path):
    x, y, out = np.arange(100, dtype=F), np.ones(100, F), np.zeros(100, F)
    lv = sj.launch_view(axpy[1, 128], F(2), x, y, out)
    assert lv.model.lanes_ever_active == 100 and np.allclose(out, 2 * x + y)
    assert sj.memory_map(lv.rec, "x").model.totals["reads"] == 100
    assert sj.warp_view(lv.rec, line=line_of(axpy, "out[i] =")).model.kind == "load"
    assert sj.profile_view(transpose_naive).model.time_us == recs["report"].time_us   # last profiled report
    assert sj.timeline(transpose_naive).model.total_us == recs["report"].time_us
    occ = sj.occupancy_calculator(transpose_naive)
    assert occ.model.threads == 256 and occ.model.registers == recs["report"].occupancy["registers_per_thread"]
    assert sj.occupancy_calculator(threads=512, registers=64).model.threads == 512
    v = np.arange(200, dtype=F)
    partial = np.zeros(4, F)
    rp = sj.replay(reduce_tree[4, 64], v, partial, block=2, warp=1)
    assert rp.model.block == (2, 0, 0) and rp.model.warp == 1 and partial.sum() == 0     # arrays were copied
    assert rp.model.variables and "stride" in rp.model.steps[-1].values
    assert "class='var'" in R.replay_step_html(rp.model, len(rp.model.steps) - 1)
    dash = sj.show(recs["naive"])
    assert [t for t, _ in dash.views] == ["Launch", "Memory map", "Warp view", "Timeline", "Profile"]
    path = dash.save(tmp_path / "dash.html")
    assert "data-simtlab=\"report\"" in open(path, encoding="utf-8").read()
    with pytest.raises(TypeError, match="Recording"):
        sj.launch_view(42)


def test_magics_in_an_ipython_shell(capsys):
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    ip = get_ipython()
    ip.extension_manager.load_extension("simtlab.jupyter")
    ip.user_ns["axpy"] = axpy
    ip.run_cell("x = np.arange(300, dtype=np.float32); y = np.ones(300, np.float32); o = np.zeros(300, np.float32)")
    capsys.readouterr()
    ip.run_line_magic("simt", "")
    assert "%%profile" in capsys.readouterr().out
    ip.run_line_magic("chip", "h100")
    assert get_active_chip().name == "h100" and "switched to" in capsys.readouterr().out
    ip.run_line_magic("chip", "")
    assert "'h100'" in capsys.readouterr().out
    ip.run_line_magic("chip", "nonexistent-chip")
    assert "available chips" in capsys.readouterr().err
    ip.run_line_magic("chip", "teaching")
    with capture_output() as cap:
        ip.run_cell_magic("profile", "", "axpy[3, 128](np.float32(2), x, y, o)\naxpy[2, 256](np.float32(2), x, y, o)")
    htmls = [o.data["text/html"] for o in cap.outputs if "text/html" in o.data]
    assert len(htmls) == 2 and all('data-simtlab="report"' in h for h in htmls)
    assert np.allclose(ip.user_ns["o"], 2 * ip.user_ns["x"] + 1)
    with capture_output() as cap:
        ip.run_cell_magic("profile", "--text", "axpy[3, 128](np.float32(2), x, y, o)")
    assert "estimated time" in cap.stdout and not cap.outputs
    with capture_output() as cap:
        ip.run_cell_magic("record", "--profile", "axpy[3, 128](np.float32(2), x, y, o)")
    assert len(cap.outputs) == 1 and 'data-simtlab="memory-map"' in cap.outputs[0].data["text/html"]
    assert 'data-simtlab="report"' in cap.outputs[0].data["text/html"]
    ip.run_line_magic("sanitize", "on")
    assert cuda.default_session() is not None and "sanitizer: on" in capsys.readouterr().out
    ip.run_line_magic("sanitize", "off")
    assert cuda.default_session() is None
    ip.run_line_magic("sanitize", "sideways")
    assert "on, off or raise" in capsys.readouterr().err
    assert sj.sanitize("raise") is not None and sj.sanitize(False) is None
    assert sj.chip().name == "teaching" and "%chip" in sj.simt_help()


def test_launch_view_pages_through_large_grids():
    n = 200 * 32
    x, y, out = np.ones(n, F), np.ones(n, F), np.zeros(n, F)
    rec = record(axpy[200, 32], F(1), x, y, out)
    v = LaunchView(rec)
    assert len(v.model.blocks) == 64 and v.model.lanes_ever_active == n     # totals cover the whole grid
    w = v.widget()
    color, first = w.children[0].children
    first.value = 128
    assert "(128, 0, 0)" in w.children[1].value and "drawing blocks 128..191 of 200" in w.children[1].value
    color.value = "wave"
    assert "wave 1" in w.children[1].value            # 32 blocks per SM x 4 SMs: block 128 starts wave 1
