"""Every kernel of the conformance suite is race-free and in bounds: the sanitizer must find nothing.

Each case runs at the conformance suite's "full" size under all four tools, and its outputs must be those
of the same case run without the sanitizer (the sanitizer watches, it never changes results; whether
they match numpy is the conformance suite's business). A handful of cases also run with the
shortcuts off (every instruction checked lane by lane) to show the shortcuts hide nothing there either.
"""

from __future__ import annotations

import os

import pytest

from simtlab.emulator.sanitizer import _regions

if os.environ.get("SIMTLAB_CUDA_BACKEND", "simtlab") not in ("", "simtlab"):
    pytest.skip("the sanitizer belongs to simtlab's emulator", allow_module_level=True)

from tests.conformance.backend import cuda  # noqa: E402
from tests.conformance.registry import all_cases, case_rng, compare_outputs  # noqa: E402

CASES = all_cases()
LANE_BY_LANE = ("matmul_tiled", "block_scan", "threadfence_last_block", "syncwarp_shared", "cas_float_max",
                "dynshared_alias", "histogram_shared", "stencil_1d_shared", "grid_sync")


def _run(case):
    with cuda.sanitize() as s:
        result = case.run(cuda, case_rng(case.name, 0), "full")
    return s, result


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_conformance_case_is_clean(case) -> None:
    plain = case.run(cuda, case_rng(case.name, 0), "full")
    s, result = _run(case)
    assert s.reports, "the case launched no kernel under the sanitizer"
    assert s.clean, "\n".join(str(f) for f in s.findings)
    problems = compare_outputs(result.got, plain.got, lambda k, w: (0.0, 0.0), label=f"{case.name} sanitized")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", [n for n in LANE_BY_LANE if n in {c.name for c in CASES}])
def test_clean_without_shortcuts(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_regions, "DEFER", False)
    monkeypatch.setattr(_regions, "FAST_INIT", False)
    case = next(c for c in CASES if c.name == name)
    s, _ = _run(case)
    assert s.reports and s.clean, "\n".join(str(f) for f in s.findings)
