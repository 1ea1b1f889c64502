"""What profiling costs: each benchmark of the standard set run plain and under ``cuda.profile()``.

For every benchmark (full size unless ``--quick``), on the same inputs and device arrays: one warm-up
of each variant (compilation, numba's cached loops), then the best of ``--repeat`` timed runs of the
launches alone. The ratio profiled / plain is the overhead; the target is at most 3x over the set
(the sum of the times). The script prints a Markdown section (``## Profiling overhead``) that the
benchmark report can include.

Usage: ``python -m benchmarks.profile_overhead [--quick] [--only NAME[,NAME]] [--repeat N] [--chip NAME]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.kernels import BENCHMARKS, Benchmark, Runner  # noqa: E402

TARGET_RATIO = 3.0


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def measure(bench: Benchmark, cuda: Any, quick: bool, repeat: int) -> tuple[float, float, int]:
    """(plain seconds, profiled seconds, launches) for one benchmark."""
    size = bench.quick if quick else bench.full
    state = bench.prepare(cuda, bench.inputs(size))
    launches = 0

    def plain() -> None:
        nonlocal launches
        r = Runner(cuda)
        bench.run(r, state)
        launches = r.launches

    def profiled() -> None:
        with cuda.profile():
            bench.run(Runner(cuda), state)

    plain()
    profiled()
    return _best(plain, repeat), _best(profiled, repeat), launches


def render(rows: list[tuple[str, float, float, int]], chip: str, quick: bool) -> str:
    """The Markdown section."""
    out = ["## Profiling overhead", "",
           f"Each benchmark run plain and inside `cuda.profile()` (all counters, the L1/L2 model and the timing "
           f"model) on chip '{chip}', {'quick' if quick else 'full'} sizes, best of several runs, launches only.",
           "", "| benchmark | launches | plain (ms) | profiled (ms) | ratio |", "|---|---:|---:|---:|---:|"]
    for name, p, q, n in rows:
        out.append(f"| {name} | {n} | {p * 1e3:.1f} | {q * 1e3:.1f} | {q / p:.2f}x |")
    tp = sum(r[1] for r in rows)
    tq = sum(r[2] for r in rows)
    verdict = "meets" if tq / tp <= TARGET_RATIO else "misses"
    out += [f"| **whole set** | | **{tp * 1e3:.1f}** | **{tq * 1e3:.1f}** | **{tq / tp:.2f}x** |", "",
            f"Over the set, profiling costs {tq / tp:.2f}x an unprofiled run ({verdict} the target of at most "
            f"{TARGET_RATIO:g}x). Elementwise kernels, whose plain runs take about a millisecond, cost relatively "
            "more: every sector still goes through the cache model."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="use the quick sizes")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per variant (best is kept)")
    ap.add_argument("--chip", default="teaching", help="chip to run on")
    args = ap.parse_args(argv)
    from simtlab.emulator import cuda
    only = {s for s in args.only.split(",") if s}
    rows = []
    with cuda.use_chip(args.chip):
        for b in BENCHMARKS:
            if only and b.name not in only:
                continue
            p, q, n = measure(b, cuda, args.quick, max(1, args.repeat))
            rows.append((b.name, p, q, n))
            print(f"{b.name:16s} plain {p * 1e3:8.1f} ms  profiled {q * 1e3:8.1f} ms  {q / p:5.2f}x",
                  file=sys.stderr, flush=True)
    print(render(rows, args.chip, args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
