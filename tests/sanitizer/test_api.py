"""The sanitizer's API: sessions, modes, tool selection, the per-launch option, the process default,
the environment variable, findings on reports and exceptions, and device-array write tracking."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from simtlab.emulator import (
    Observer,
    OutOfBoundsError,
    SanitizerError,
    SimtError,
    cuda,
    default_session,
    sanitize,
    set_default_sanitize,
)
from simtlab.emulator.observer import active_observers
from simtlab.emulator.sanitizer import Sanitizer, SanitizerSession

from .zoo import (
    global_waw_same_block,
    global_waw_same_value,
    line_of,
    read_device_array_never_written,
    reduce_no_barrier_in_loop,
    tail_read_off_by_one,
)

F = np.float32
REPO = Path(__file__).resolve().parents[2]


@cuda.jit
def racy(x, out):
    s = cuda.shared.array(64, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]  # @w
    out[cuda.grid(1)] = s[63 - t]  # @r


@cuda.jit
def clean(x, out):
    s = cuda.shared.array(64, F)
    t = cuda.threadIdx.x
    s[t] = x[cuda.grid(1)]
    cuda.syncthreads()
    out[cuda.grid(1)] = s[63 - t]


@cuda.jit
def copy(x, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = x[i]


@cuda.jit
def fill(out, v):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = v


def _x():
    return np.arange(128, dtype=F)


def _sanitizers() -> list:
    return [o for o in active_observers() if isinstance(o, Sanitizer)]


@pytest.fixture(autouse=True)
def _no_default():
    set_default_sanitize(False)
    yield
    set_default_sanitize(False)
    assert not _sanitizers(), "a sanitizer was left attached"


def test_report_mode_collects_findings_on_the_launch_report() -> None:
    out = np.zeros(128, F)
    with cuda.sanitize() as s:
        racy[2, 64](_x(), out)
        clean[2, 64](_x(), out)
    assert len(s.reports) == 2
    assert racy.last_report is s.reports[0] and clean.last_report is s.reports[1]
    assert s.reports[1].findings == []
    f = racy.last_report.findings[0]
    assert (f.tool, f.kind, f.line, f.other_line) == ("racecheck", "read-after-write", line_of(racy, "r"),
                                                       line_of(racy, "w"))
    assert f.array == "s" and f.index == (63 - f.thread[0],) and f.address == 4 * (63 - f.thread[0])
    # 2 blocks x 64 threads all read an element another thread wrote: one finding per scope, with counts
    total = sum(g.more + 1 for g in s.findings)
    assert total == 128 and {g.severity for g in s.findings} == {"error"}
    assert not s.clean and s.errors() == s.findings
    assert "read-after-write" in str(s) and "fix:" in str(s)
    assert (out == _x().reshape(2, 64)[:, ::-1].reshape(-1)).all()     # results as without the sanitizer


def test_raise_mode_stops_at_the_first_finding() -> None:
    with pytest.raises(SanitizerError) as info, cuda.sanitize(mode="raise") as s:
        racy[2, 64](_x(), np.zeros(128, F))
    err = info.value
    assert isinstance(err, SimtError)
    assert err.finding.tool == "racecheck" and err.line == line_of(racy, "r") and err.kernel == "racy"
    assert "fix:" in str(err) and "out[cuda.grid(1)] = s[63 - t]" in str(err)
    assert err.finding in s.findings and err.report is racy.last_report


def test_raise_mode_at_the_last_instruction_of_a_launch() -> None:
    with pytest.raises(SanitizerError) as info, cuda.sanitize(mode="raise"):
        global_waw_same_block[2, 64](np.zeros(2, np.int64))
    assert info.value.finding.kind == "write-after-write"


def test_clean_launch_in_raise_mode_does_not_raise() -> None:
    with cuda.sanitize(mode="raise") as s:
        clean[2, 64](_x(), np.zeros(128, F))
    assert s.clean and len(s.reports) == 1


def test_tool_selection() -> None:
    with cuda.sanitize(tools=("initcheck", "memcheck")) as s:
        racy[2, 64](_x(), np.zeros(128, F))
    assert s.clean
    with cuda.sanitize(tools="racecheck") as s:
        read_device_array_never_written[1, 64](cuda.device_array(64, F), np.zeros(64, F))
    assert s.clean
    with pytest.raises(ValueError):
        cuda.sanitize(tools=("memcheck", "helgrind"))
    with pytest.raises(ValueError):
        cuda.sanitize(mode="loud")


def test_engine_errors_raise_as_usual_and_carry_their_finding() -> None:
    with pytest.raises(OutOfBoundsError) as info, cuda.sanitize() as s:
        tail_read_off_by_one[4, 64](np.zeros(256, F), np.zeros(256, F))
    f = info.value.sanitizer_finding
    assert f is s.findings[0] and f.tool == "memcheck" and f.kind == "out-of-bounds"
    assert f.index == (256,) and f.thread == (63, 0, 0) and f.block == (3, 0, 0)
    with pytest.raises(OutOfBoundsError) as info, cuda.sanitize(tools="racecheck") as s:
        tail_read_off_by_one[4, 64](np.zeros(256, F), np.zeros(256, F))
    assert s.clean and getattr(info.value, "sanitizer_finding", None) is None


def test_per_launch_option_returns_the_report() -> None:
    k = cuda.sanitize(racy)
    report = k[2, 64](_x(), np.zeros(128, F))
    assert report is racy.last_report and report.findings[0].tool == "racecheck"
    assert k.reports == [report] and k.last_report is report
    assert cuda.sanitize(copy).forall(100)(np.ones(100, F), np.zeros(100, F)).findings == []
    assert not _sanitizers()
    with pytest.raises(SanitizerError):
        cuda.sanitize(racy, mode="raise")[2, 64](_x(), np.zeros(128, F))
    with pytest.raises(TypeError):
        cuda.sanitize(np.sum)


def test_nested_sessions_check_each_launch_once() -> None:
    with cuda.sanitize() as outer:
        racy[2, 64](_x(), np.zeros(128, F))
        with cuda.sanitize(tools="initcheck") as inner:
            racy[2, 64](_x(), np.zeros(128, F))
            assert _sanitizers() == [inner.sanitizer]
        assert _sanitizers() == [outer.sanitizer]
        racy[2, 64](_x(), np.zeros(128, F))
    assert len(outer.reports) == 2 and len(inner.reports) == 1 and inner.clean
    assert all(r.findings for r in outer.reports)


def test_process_default_and_sessions_inside_it(capsys: pytest.CaptureFixture) -> None:
    assert default_session() is None
    d = set_default_sanitize(True)
    assert default_session() is d and _sanitizers() == [d.sanitizer]
    racy[2, 64](_x(), np.zeros(128, F))
    assert racy.last_report.findings and d.reports[-1] is racy.last_report
    assert "racecheck" in capsys.readouterr().err           # the default echoes findings for students
    with cuda.sanitize() as s:
        clean[2, 64](_x(), np.zeros(128, F))
    assert len(s.reports) == 1 and len(d.reports) == 1     # the session suspended the default
    assert _sanitizers() == [d.sanitizer]
    set_default_sanitize(False)
    assert default_session() is None and not _sanitizers()
    racy[2, 64](_x(), np.zeros(128, F))
    assert racy.last_report.findings == []


def test_environment_variable_turns_it_on() -> None:
    code = textwrap.dedent(f"""
        import numpy as np, sys
        sys.path.insert(0, {str(REPO)!r})
        from simtlab.emulator import cuda, SanitizerError
        from tests.sanitizer.zoo import reduce_no_barrier_in_loop
        try:
            reduce_no_barrier_in_loop[4, 128](np.ones(512, np.float32), np.zeros(4, np.float32))
        except SanitizerError as e:
            print("RAISED", e.finding.tool, e.finding.kind)
    """)
    env = dict(os.environ, SIMTLAB_SANITIZE="raise")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert "RAISED racecheck read-after-write" in out.stdout, out.stdout + out.stderr


def test_echo_prints_findings(capsys: pytest.CaptureFixture) -> None:
    with cuda.sanitize(echo=True):
        reduce_no_barrier_in_loop[4, 128](np.ones(512, F), np.zeros(4, F))
    err = capsys.readouterr().err
    assert "reduce_no_barrier_in_loop" in err and "read-after-write" in err


def test_use_of_a_freed_allocation() -> None:
    d = cuda.to_device(np.ones(64, F))
    d._alloc.freed = True            # what an explicit free would do (numba frees when the array is collected)
    with cuda.sanitize() as s:
        copy[1, 64](d, np.zeros(64, F))
    f = s.findings[0]
    assert (f.tool, f.kind, f.array) == ("memcheck", "use-after-free", "x")
    with pytest.raises(SanitizerError), cuda.sanitize(mode="raise"):
        copy[1, 64](d, np.zeros(64, F))


def test_same_value_writes_are_reported_at_a_lower_severity() -> None:
    from simtlab.emulator.observer import MemoryEvent
    with cuda.sanitize() as s:
        global_waw_same_value[2, 64](np.zeros(2, np.int64))
    f = s.findings[0]
    assert f.kind == "write-after-write"
    engine_reports_values = "value" in MemoryEvent.__dataclass_fields__
    assert f.severity == ("warning" if engine_reports_values else "error")


def test_session_is_a_context_manager_object() -> None:
    s = sanitize()
    assert isinstance(s, SanitizerSession) and not s.active
    with s:
        assert s.active
    assert not s.active and s.reports == []
    s.start()
    copy[1, 32](np.ones(32, F), np.zeros(32, F))
    s.stop()
    assert len(s.reports) == 1
    s.clear()
    assert s.reports == []


class _Counter(Observer):
    def __init__(self) -> None:
        self.ends = 0

    def launch_end(self, launch, error) -> None:
        self.ends += 1


def test_other_observers_still_see_every_launch() -> None:
    from simtlab.emulator import observing
    c = _Counter()
    with observing(c), cuda.sanitize():
        racy[2, 64](_x(), np.zeros(128, F))
    assert c.ends == 1


# -- initcheck's record of what the host wrote ------------------------------------------------------------

def test_host_writes_are_tracked() -> None:
    d = cuda.device_array(64, F)
    assert d._alloc.init is not None and not d._alloc.init.any()
    assert cuda.to_device(np.ones(3, F))._alloc.init is None
    d[:16] = 1.0
    with cuda.sanitize() as s:
        copy[1, 16](d, np.zeros(16, F))
    assert s.clean
    with cuda.sanitize() as s:
        copy[1, 64](d, np.zeros(64, F))
    f = s.findings[0]
    assert (f.tool, f.kind, f.index, f.more) == ("initcheck", "uninitialized-read", (16,), 47)
    d.copy_to_device(np.zeros(64, F))
    with cuda.sanitize() as s:
        copy[1, 64](d, np.zeros(64, F))
    assert s.clean and d._alloc.init is None          # fully written: the record is dropped


def test_views_and_kernel_writes_are_tracked() -> None:
    d = cuda.device_array((8, 8), np.float64)
    d[2, 3:5] = 7.0
    flags = d._alloc.init.reshape(8, 8, 8)
    assert flags[2, 3:5].all() and flags.sum() == 2 * 8
    col = d[:, 1]
    col[4] = 1.0
    assert flags[4, 1].all()
    out = cuda.device_array(64, F)
    with cuda.sanitize() as s:                        # a sanitized kernel writes the first half ...
        fill[1, 32](out[:32], F(2.0))
    with cuda.sanitize() as s:                        # ... which later launches may read
        copy[1, 32](out[:32], np.zeros(32, F))
        copy[1, 32](out[32:], np.zeros(32, F))
    assert [len(r.findings) for r in s.reports] == [0, 1]
    fill[1, 32](out[32:], F(3.0))                     # written without the sanitizer: not reported either
    with cuda.sanitize() as s:
        copy[1, 64](out, np.zeros(64, F))
    assert s.clean


@cuda.jit
def broadcast_without_barrier(x, out):
    s = cuda.shared.array(1, F)
    t = cuda.threadIdx.x
    if t == 0:
        s[0] = x[cuda.blockIdx.x]
    out[cuda.grid(1)] = s[0]


def test_occurrences_count_threads() -> None:
    with cuda.sanitize() as s:
        broadcast_without_barrier[3, 64](np.ones(3, F), np.zeros(192, F))
    # in each block, the 63 threads other than thread 0 read what thread 0 wrote
    assert [f.kind for f in s.findings] == ["read-after-write"] * len(s.findings)
    assert sum(f.more + 1 for f in s.findings) == 3 * 63
    assert all(f.other_thread == (0, 0, 0) and f.thread != (0, 0, 0) for f in s.findings)
