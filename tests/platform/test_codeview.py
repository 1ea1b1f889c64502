"""The compiled-code view: a kernel's source next to the real compiler's PTX/SASS, lines linked both ways.

Needs ``simtlab[toolchain]`` (skipped with the reason where it is missing, failed instead under
``SIMTLAB_REQUIRE_TOOLCHAIN=1``). The browser check hovers lines in Debian's Chromium (skipped without it,
like the other browser test, unless ``SIMTLAB_REQUIRE_BROWSER=1``).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from platform_kernels import axpy, line_of, transpose_tiled

import simtlab.jupyter as sj
from simtlab.emulator.toolchain import status
from simtlab.jupyter import render as R
from simtlab.jupyter.codeview import CodeView, code_html, code_model

F = np.float32
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def view() -> CodeView:
    st = status()
    if not st["available"]:
        message = f"the real toolchain is not installed: {st['reason']}"
        if os.environ.get("SIMTLAB_REQUIRE_TOOLCHAIN"):
            pytest.fail(message)
        pytest.skip(message)
    a = np.arange(64 * 64, dtype=F).reshape(64, 64)
    return sj.code_view(transpose_tiled, a, np.zeros_like(a), chip="h100")


def test_model_links_python_lines_to_their_ptx(view):
    m = view.model
    r = view.result
    assert m.which == "ptx" and m.compiles and m.arch == "sm_90"
    sync = line_of(transpose_tiled, "cuda.syncthreads()")
    assert m.counts[sync] >= 1
    assert any("bar.sync" in a.text for a in m.asm if a.line == sync)
    assert sum(m.counts.values()) == sum(1 for a in m.asm if a.line is not None)
    assert [ln for ln, _ in m.source][0] == r.firstline and len(m.source) == len(r.source)
    facts = {key: value for _, value, key in m.facts}
    assert facts["registers"] == str(r.registers) and facts["shared"] == f"{r.static_shared} B"


def test_static_html_links_lines_both_ways(view):
    h = view.html()
    assert 'data-simtlab="code-view"' in h and 'data-simtlab-which="ptx"' in h
    sync = line_of(transpose_tiled, "cuda.syncthreads()")
    scope = re.search(r'class="simtlab-v simtlab-code (simtlab-code-\d+)"', h).group(1)
    # one CSS rule per Python line that produced code: hovering either side highlights the other
    rule = (f'.{scope}:has(.py[data-l="{sync}"]:hover) .row[data-l="{sync}"],'
            f'.{scope}:has(.asm[data-l="{sync}"]:hover) .row[data-l="{sync}"]')
    assert rule in h
    assert f'class="row py" data-l="{sync}"' in h and f'class="row asm" data-l="{sync}"' in h
    assert "compiles for sm_90" in h and "<script" not in h
    focus = code_html(view.model, focus=sync)
    assert f'class="row py cur" data-l="{sync}"' in focus


def test_sass_view_and_its_fallback(view):
    r = view.result
    m = code_model(r, "sass")
    if r.sass is None:
        assert m.which == "ptx" and any("nvdisasm" in n for n in m.notes)
        pytest.skip("nvdisasm is not installed")
    code = [a.text for a in m.asm if a.line is not None]
    assert m.which == "sass" and any("BAR" in t for t in code)
    assert all("     " not in t.strip() for t in code)              # nvdisasm's wide padding squeezed


def test_widget_picks_a_line_and_switches_to_sass(view):
    w = view.widget()
    controls, only, pane = w.children
    which, pick = controls.children
    sync = line_of(transpose_tiled, "cuda.syncthreads()")
    pick.value = sync
    assert "bar.sync" in only.value and f'class="row py cur" data-l="{sync}"' in pane.value
    if "SASS" in which.options:
        which.value = "SASS"
        assert 'data-simtlab-which="sass"' in pane.value and "BAR" in only.value
    assert WIDGET_MIME in view.mimebundle("interactive")


def test_a_kernel_that_does_not_compile_shows_the_compilers_message_on_its_line(view):
    from simtlab.emulator import cuda

    @cuda.jit
    def bad(x, flag):
        i = cuda.grid(1)
        if flag > 0:
            v = x
        else:
            v = 1.0
        if i < x.size:
            x[i] = v[0] if flag > 0 else 2.0

    v = sj.code_view(bad, np.ones(8, F), 1, chip="h100")
    h = v.html()
    assert not v.model.compiles and v.model.error_line == line_of(bad, "x[i] = v[0]")
    assert f"does not compile for sm_90 (line {v.model.error_line}): " in h
    assert v.model.message and R.esc(v.model.message) in h
    assert f'class="row py err dim" data-l="{v.model.error_line}"' in h


def test_ptx_magic(view, capsys):
    from IPython.testing.globalipapp import get_ipython
    from IPython.utils.capture import capture_output

    ip = get_ipython()
    ip.extension_manager.load_extension("simtlab.jupyter")
    ip.user_ns["axpy"] = axpy
    ip.run_cell("x = np.ones(300, np.float32); axpy[3, 128](np.float32(2), x, x.copy(), np.zeros_like(x))")
    with capture_output() as cap:
        ip.run_line_magic("ptx", "axpy --chip a100")
    assert len(cap.outputs) == 1 and 'data-simtlab="code-view"' in cap.outputs[0].data["text/html"]
    assert "PTX of axpy (sm_80)" in cap.outputs[0].data["text/html"]
    with capture_output() as cap:
        ip.run_line_magic("ptx", "axpy --sass --signature 'void(float64, float64[:], float64[:], float64[:])'")
    assert 'data-simtlab="code-view"' in cap.outputs[0].data["text/html"]
    capsys.readouterr()
    ip.run_line_magic("ptx", "nothing_here")
    assert "no kernel named 'nothing_here'" in capsys.readouterr().err
    ip.run_line_magic("ptx", "axpy --chip g80")
    assert "compute capability 1.0" in capsys.readouterr().err
    ip.run_line_magic("simt", "")
    assert "%ptx KERNEL" in capsys.readouterr().out


def test_hovering_links_lines_in_a_browser(view, tmp_path):
    from test_browser import CHROMIUM_ARGS, _chromium

    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing.append("the playwright wheel")
    if _chromium() is None:
        missing.append("Debian's chromium")
    if missing:
        why = f"the browser check needs {' and '.join(missing)}"
        if os.environ.get("SIMTLAB_REQUIRE_BROWSER"):
            pytest.fail(why)
        pytest.skip(why)
    page_file = view.save(tmp_path / "code.html")
    sync = line_of(transpose_tiled, "cuda.syncthreads()")
    other = line_of(transpose_tiled, "tile = cuda.shared.array")
    first_code = min(view.model.counts)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"file://{page_file}")
            bg = "e => getComputedStyle(e).backgroundColor"
            page.locator(f".py[data-l='{sync}']").hover()
            assert page.eval_on_selector(f".asm[data-l='{sync}']", bg) == "rgb(254, 240, 138)"
            assert page.eval_on_selector(f".asm[data-l='{first_code}']", bg) == "rgba(0, 0, 0, 0)"
            page.locator(f".asm[data-l='{first_code}']").first.hover()
            assert page.eval_on_selector(f".py[data-l='{first_code}']", bg) == "rgb(254, 240, 138)"
            assert page.eval_on_selector(f".py[data-l='{other}']", bg) != "rgb(254, 240, 138)" or other == first_code
        finally:
            browser.close()
