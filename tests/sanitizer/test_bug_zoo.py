"""Every planted bug of the zoo is caught by the right tool, with the right kind, lines and threads."""

from __future__ import annotations

import pytest

from simtlab.emulator import cuda

from .zoo import BUGS, Bug, line_of

WARP = 32


def _scope(f) -> str:
    if f.other_block != f.block:
        return "grid"
    bx, by, _ = f.block  # noqa: F841 - same block: compare warps of the two threads
    return "warp" if _linear(f.thread) // WARP == _linear(f.other_thread) // WARP else "block"


_BLOCK: dict[str, tuple[int, int, int]] = {}


def _linear(t) -> int:
    dx, dy, _ = _BLOCK["dims"]
    return t[0] + t[1] * dx + t[2] * dx * dy


def test_the_zoo_is_big_enough() -> None:
    assert len(BUGS) >= 25
    assert {b.tool for b in BUGS} == {"memcheck", "racecheck", "synccheck", "initcheck"}


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_is_caught(bug: Bug) -> None:
    if bug.raises is not None:
        # the engine refuses these: the launch raises as it would without the sanitizer
        with pytest.raises(bug.raises) as info, cuda.sanitize() as s:
            bug.run()
    else:
        with cuda.sanitize() as s:
            bug.run()
    assert s.findings, f"no finding for: {bug.name}"
    # the bug is reported by its tool only (no noise from the others)
    assert {f.tool for f in s.findings} == {bug.tool}, [str(f) for f in s.findings]
    line = line_of(bug.kernel, bug.line) if bug.line else None
    other = line_of(bug.kernel, bug.other) if bug.other else None
    hits = [f for f in s.findings if f.kind == bug.kind and f.line == line and (other is None or f.other_line == other)]
    assert hits, f"expected {bug.tool}/{bug.kind} at line {line} (other {other}); got:\n" + \
        "\n".join(str(f) for f in s.findings)
    f = hits[0]
    assert f.severity == bug.severity
    assert f.fix, "every finding says how to fix it"
    if bug.raises is not None:
        assert getattr(info.value, "sanitizer_finding", None) is f
    if bug.tool in ("racecheck", "initcheck", "memcheck") and bug.kind != "misaligned":
        assert f.array and f.index is not None and f.address is not None
        assert f.block is not None and f.thread is not None
    if bug.tool == "racecheck":
        assert f.other_block is not None and f.other_thread is not None
        assert (f.block, f.thread) != (f.other_block, f.other_thread)
        if bug.scope:
            _BLOCK["dims"] = s.reports[-1].block
            assert any(_scope(h) == bug.scope for h in hits), [str(h) for h in hits]
