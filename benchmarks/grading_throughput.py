"""Grading throughput: submissions per minute of ``simtlab grade`` at 1 and 2 local workers.

    python benchmarks/grading_throughput.py [--submissions N] [--workers 1 2] [--dask]

Builds a throw-away course with the grader demo lab (labs/source/_grader_demo: three exercises, 9
points, sanitized checks and a profiled metric gate), N submissions that are all correct (the common
case: every cell runs to the end), and grades them with the real pipeline: nbgrader preprocessors,
the simtlab kernel, the sandbox this machine offers, the journal and the gradebook. The one-time warm-up
of the emulator's numba cache is done first and not counted. Prints one line per configuration and the
sandbox used; the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAB = "_grader_demo"


def _course(base: Path) -> Path:
    course = base / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "labs" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "labs" / "source" / LAB, course / "source" / LAB)
    return course


def _class(course: Path, dest: Path, n: int) -> None:
    """n correct submissions: the instructor's notebook with the solutions kept, hidden tests removed."""
    src = json.loads((course / "source" / LAB / "demo.ipynb").read_text())
    for cell in src["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "BEGIN HIDDEN TESTS" in text:
            keep, inside = [], False
            for line in text.split("\n"):
                if "BEGIN HIDDEN TESTS" in line:
                    inside = True
                elif "END HIDDEN TESTS" in line:
                    inside = False
                elif not inside:
                    keep.append(line)
            cell["source"] = "\n".join(keep)
    for i in range(n):
        d = dest / f"student{i:03d}"
        d.mkdir(parents=True)
        (d / "demo.ipynb").write_text(json.dumps(src))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster of 2 processes")
    args = parser.parse_args(argv)

    from simtlab.grader._fastimport import speed_up_imports

    speed_up_imports()
    from simtlab.grader.course import Course
    from simtlab.grader.pipeline import GradeOptions, GradingPipeline
    from simtlab.grader.sandbox import detect_mode

    with tempfile.TemporaryDirectory(prefix="simtlab-grading-bench-") as tmp:
        base = Path(tmp)
        course = Course(_course(base))
        course.release(LAB)
        subs = base / "subs"
        _class(course.root, subs, args.submissions)
        warm = base / "warm"
        _class(course.root, warm, 1)
        GradingPipeline(course, LAB, warm, GradeOptions(workers=1, progress=False,
                                                        state_dir=base / "state-warm")).run()
        import os

        rows = []
        configs = [(f"{w} local worker{'s' if w > 1 else ''}", GradeOptions(workers=w)) for w in args.workers]
        if args.dask:
            configs.append(("Dask LocalCluster, 2 processes", GradeOptions(dask="local:2")))
        for label, opt in configs:
            opt.progress = False
            opt.state_dir = base / f"state-{len(rows)}"
            print(f"grading {args.submissions} submissions with {label} ...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            summary = GradingPipeline(course, LAB, subs, opt).run()
            dt = time.perf_counter() - t0
            assert summary.graded == args.submissions, summary
            bad = [s for s, (score, total) in summary.scores.items() if score != total]
            if bad:
                print(f"warning: {len(bad)} submission(s) did not get full marks: {bad[:3]}", file=sys.stderr)
            rows.append((label, args.submissions / dt * 60, dt))
        print(f"`simtlab grade` end to end on {args.submissions} correct submissions of the grader demo lab "
              f"(3 exercises, 9 points: sanitized checks on random sizes and a profiled metric gate): nbgrader "
              f"preprocessors, the simtlab kernel, the sandbox, the journal and the gradebook; {os.cpu_count()} CPU "
              f"cores. Sandbox: {detect_mode().describe()}. The one-time numba warm-up is not counted.")
        print()
        print("| workers | submissions / minute | seconds |")
        print("|---|---:|---:|")
        for label, rate, dt in rows:
            print(f"| {label} | {rate:.1f} | {dt:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
