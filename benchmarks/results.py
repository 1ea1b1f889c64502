"""Regenerate ``benchmarks/RESULTS.md``: every measurement of the project, side by side, in one run.

    python -m benchmarks.results [--quick]

Runs, each in its own process so that one does not warm the next: the benchmark set
(``benchmarks.run``: simtlab vs numba's CUDA simulator vs numpy), the profiling overhead
(``benchmarks.profile_overhead``), the sanitizer overhead (``benchmarks.sanitizer_overhead``), the
real-toolchain figures (``benchmarks.toolchain_figures``) and the grading throughput
(``benchmarks.grading_throughput``), and writes their Markdown into one file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "RESULTS.md"


def _run(args: list[str]) -> str:
    """stdout of ``python -m <args>`` run from the repository root (stderr passes through as progress)."""
    proc = subprocess.run([sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.PIPE, text=True)
    if proc.returncode not in (0, 1):
        return f"(`python -m {' '.join(args)}` failed with exit code {proc.returncode})\n\n{proc.stdout}"
    return proc.stdout


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes everywhere (figures less meaningful)")
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        main_md = Path(tmp) / "main.md"
        _run(["benchmarks.run", "--output", str(main_md)] + (["--quick"] if args.quick else []))
        parts = [main_md.read_text() if main_md.exists() else "(benchmarks.run wrote nothing)\n"]
    parts.append(_run(["benchmarks.profile_overhead"] + (["--quick"] if args.quick else [])))
    parts.append("## Sanitizer overhead\n\n" + _run(["benchmarks.sanitizer_overhead", "--size",
                                                      "quick" if args.quick else "full"]))
    parts.append(_run(["benchmarks.toolchain_figures"]))
    if (REPO / "benchmarks" / "grading_throughput.py").exists():
        parts.append("## Grading throughput\n\n" + _run(["benchmarks.grading_throughput"]))
    args.output.write_text("\n\n".join(p.strip() for p in parts) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
