"""How much slower a sanitized launch is than a plain one, on the standard benchmark set.

For every benchmark of ``benchmarks/kernels.py`` (same seeded inputs, data already on the device, one
warm-up run each way so compilation and numba's loading of the sanitizer's loops are not timed): the
best of the timed plain runs, the best of the timed runs under ``cuda.sanitize()`` (all four tools),
their ratio, and the number of findings (must be 0: the benchmark kernels are race-free) and whether the
results are still right. The target of issue 4 is a ratio of at most 5.

Usage: ``python -m benchmarks.sanitizer_overhead [--size quick|full|test] [--only NAME[,NAME]] [--repeat N]
[--clock cpu|wall]``.
Prints a Markdown table (for ``benchmarks/RESULTS.md``) and a summary line.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.kernels import BENCHMARKS, Benchmark, Runner  # noqa: E402

TARGET_RATIO = 5.0
MIN_TIMED_SECONDS = 0.3


CLOCKS = {"cpu": time.thread_time, "wall": time.perf_counter}


def _best(fn: Callable[[], Any], repeat: int, clock: Callable[[], float]) -> float:
    """Best time of at least ``repeat`` runs (more while less than MIN_TIMED_SECONDS was measured)."""
    times: list[float] = []
    while len(times) < repeat or (sum(times) < MIN_TIMED_SECONDS and len(times) < 20):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def measure(bench: Benchmark, size: tuple[int, ...], cuda: Any, repeat: int, clock: str = "cpu") -> dict[str, Any]:
    """Plain and sanitized timings of one benchmark, its findings and whether both results are right."""
    inputs = bench.inputs(size)
    expected = bench.numpy_expr(inputs)
    runner = Runner(cuda)
    state = bench.prepare(cuda, inputs)
    ok = True

    def plain() -> Any:
        return bench.run(runner, state)

    def sanitized() -> Any:
        with cuda.sanitize() as s:
            out = bench.run(runner, state)
        findings.extend(s.findings)
        return out

    findings: list = []
    ok &= bench.check(bench.fetch(plain()), expected)[0]        # warm-up: compiles the kernels
    ok &= bench.check(bench.fetch(sanitized()), expected)[0]    # warm-up: loads the sanitizer's loops
    t_plain = _best(plain, repeat, CLOCKS[clock])
    t_san = _best(sanitized, repeat, CLOCKS[clock])
    return {"name": bench.name, "size": bench.size_label(size), "plain": t_plain, "sanitized": t_san,
            "ratio": t_san / t_plain, "findings": len(findings), "ok": ok}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("quick", "full", "test"), default="quick")
    ap.add_argument("--only", default="", help="comma-separated benchmark names")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                    help="cpu: this thread's CPU time (steadier on a shared machine); wall: elapsed time")
    args = ap.parse_args(argv)
    from simtlab.emulator import cuda

    only = {n for n in args.only.split(",") if n}
    rows = []
    for bench in BENCHMARKS:
        if only and bench.name not in only:
            continue
        size = getattr(bench, args.size)
        rows.append(measure(bench, size, cuda, args.repeat, args.clock))
        r = rows[-1]
        print(f"  {r['name']}: {r['ratio']:.2f}x", file=sys.stderr, flush=True)
    print(f"Sanitizer overhead ({args.size} sizes; {platform.machine()}, Python {platform.python_version()}; "
          f"best of timed runs, {args.clock} time, launches only)\n")
    print("| benchmark | size | plain (s) | sanitized (s) | ratio | findings | results |")
    print("|---|---|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['name']} | {r['size']} | {r['plain']:.4f} | {r['sanitized']:.4f} | {r['ratio']:.2f}x | "
              f"{r['findings']} | {'ok' if r['ok'] else 'WRONG'} |")
    if not rows:
        return 1
    ratios = [r["ratio"] for r in rows]
    geo = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    worst = max(rows, key=lambda r: r["ratio"])
    met = all(x <= TARGET_RATIO for x in ratios)
    print(f"\ngeometric mean {geo:.2f}x, worst {worst['ratio']:.2f}x ({worst['name']}); target <= {TARGET_RATIO:g}x: "
          f"{'met' if met else 'NOT met'}; findings in all: {sum(r['findings'] for r in rows)}")
    return 0 if all(r["ok"] and r["findings"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
