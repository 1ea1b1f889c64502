"""The real-toolchain bridge on the benchmark kernels: registers per thread from the real compiler against the
emulator's estimate, what that does to occupancy, and what compiling costs.

    python -m benchmarks.toolchain_figures [--chip h100]

For every benchmark of the standard set (at its test size): one launch profiled with ``registers="estimate"``
and one with the real compiler's count (``simtlab[toolchain]``), reading ``launch__registers_per_thread`` and
the theoretical occupancy of each; then ``cuda.compile_check`` of each kernel the benchmark launched, timed
(the first call in the process pays for loading numba.cuda and NVVM; later ones for their own compile; a repeat
is a cache hit). Prints a Markdown section (``## Real-toolchain figures``); without the extra it says so.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.kernels import BENCHMARKS, Runner  # noqa: E402

REGISTERS = "launch__registers_per_thread"
OCCUPANCY = "sm__maximum_warps_per_active_cycle_pct"


def _profiled(cuda, bench, registers: str) -> list:
    """The reports of one run of `bench` profiled with the given register source."""
    state = bench.prepare(cuda, bench.inputs(bench.test))
    with cuda.profile(registers=registers) as session:
        bench.run(Runner(cuda), state)
    return list(session.reports)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="h100")
    args = ap.parse_args(argv)
    from simtlab.emulator import cuda
    from simtlab.emulator.toolchain import status

    print("## Real-toolchain figures\n")
    st = status()
    if not st["available"]:
        print(f"Not measured: {st['reason']} (`pip install 'simtlab[toolchain]'`).")
        return 0
    cuda.select_chip(args.chip)
    kernels = Runner(cuda).k                  # the benchmark kernels (one module per backend, shared by runners)
    rows, times = [], []
    for bench in BENCHMARKS:
        estimated = _profiled(cuda, bench, "estimate")
        for name in dict.fromkeys(r.kernel for r in estimated):
            kernel = getattr(kernels, name, None)
            if kernel is not None:           # compiled for the types of its last launch (the run above)
                t0 = time.perf_counter()
                cuda.compile_check(kernel, chip=args.chip, sass=False)
                times.append(time.perf_counter() - t0)
        compiled = _profiled(cuda, bench, "compiler")   # the compile above is cached
        seen = set()
        for est, real in zip(estimated, compiled):
            if est.kernel not in seen:
                seen.add(est.kernel)
                rows.append((bench.name, est.kernel, est.metrics[REGISTERS].value, real.metrics[REGISTERS].value,
                             est.metrics[OCCUPANCY].value, real.metrics[OCCUPANCY].value, real.registers_note))
    print(f"Chip `{args.chip}`; every benchmark kernel at its test size, profiled twice: registers per thread from "
          f"the emulator's estimate and from the real compiler ({rows[0][6] if rows else '-'}).\n")
    print("| benchmark | kernel | registers (estimate) | registers (compiler) | occupancy (estimate) | "
          "occupancy (compiler) |")
    print("|---|---|---:|---:|---:|---:|")
    for b, k, re_, rc, oe, oc, _src in rows:
        print(f"| {b} | `{k}` | {re_:.0f} | {rc:.0f} | {oe:.1f}% | {oc:.1f}% |")
    if times:
        rest = sorted(times[1:]) or [0.0]
        print(f"\n`cuda.compile_check` (no SASS), {len(times)} kernels in one process: the first call "
              f"{times[0]:.2f} s (it loads numba.cuda and NVVM), then median {rest[len(rest) // 2]:.2f} s and max "
              f"{rest[-1]:.2f} s per kernel; a repeat with the same argument types is a cache hit.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
