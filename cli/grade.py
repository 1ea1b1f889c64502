"""``simtlab grade LAB --submissions DIR``: grade a class's submissions of one lab.

Thin layer over `simtlab.grader.pipeline`: turns the flags (and the course's ``c.SimtlabGrader``
settings) into `GradeOptions`, runs the pipeline and prints where the results went. Re-running the
same command after an interruption resumes (see ``grader/README.md``); ``--fresh`` starts over.
"""

from __future__ import annotations

import argparse
import sys

from .errors import CliError


def _options(args: argparse.Namespace, course) -> object:
    from simtlab.grader.pipeline import GradeOptions
    from simtlab.grader.sandbox import Limits

    lim = Limits()
    cfg = course.grader_setting
    lim.memory_bytes = int(args.memory if args.memory is not None else cfg("memory_mb", lim.memory_bytes >> 20)) << 20
    lim.cpu_seconds = int(args.cpu if args.cpu is not None else cfg("cpu_seconds", lim.cpu_seconds))
    lim.wall_seconds = float(args.wall if args.wall is not None else cfg("wall_seconds", lim.wall_seconds))
    lim.processes = int(args.processes if args.processes is not None else cfg("processes", lim.processes))
    for name in ("memory_bytes", "cpu_seconds", "wall_seconds", "processes"):
        if getattr(lim, name) <= 0:
            raise CliError(f"--{name.split('_')[0]} must be positive")
    workers = args.workers if args.workers is not None else int(cfg("workers", 0) or 0)
    if not workers:
        import os

        workers = max(1, os.cpu_count() or 1)
    if workers < 1:
        raise CliError("--workers must be at least 1")
    if args.cell_timeout is not None and args.cell_timeout <= 0:
        raise CliError("--cell-timeout must be positive")
    return GradeOptions(workers=workers, dask=args.dask, limits=lim, cell_timeout=args.cell_timeout,
                        sandbox=args.sandbox, fresh=args.fresh, progress=not args.no_progress,
                        state_dir=args.state, csv_path=args.csv, hide=list(args.hide or []),
                        feedback=not args.no_feedback, retry_errors=args.retry_errors)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``simtlab grade``."""
    try:
        from simtlab.grader._fastimport import speed_up_imports

        speed_up_imports()
        from simtlab.grader.collect import CollectError
        from simtlab.grader.course import Course, CourseError
        from simtlab.grader.pipeline import GradingPipeline
    except ImportError as exc:
        raise CliError(f"the grading packages are missing ({exc}); install 'simtlab[grader]'") from None
    try:
        course = Course(args.course)
        if args.lab not in course.labs(include_internal=True):
            known = ", ".join(course.labs(include_internal=True)) or "none"
            raise CliError(f"no lab '{args.lab}' in {course.step_dir('source')} (labs: {known})")
        options = _options(args, course)
        pipeline = GradingPipeline(course, args.lab, args.submissions, options,
                                   echo=lambda m: print(m, file=sys.stderr, flush=True))
        summary = pipeline.run()
    except (CourseError, CollectError) as exc:
        raise CliError(str(exc)) from None
    print(f"{summary.lab}: {summary.total} submission(s): {summary.graded} graded now, {summary.reused} graded "
          f"before, {summary.recovered} recovered from the journal, {summary.failed} could not be graded")
    print(f"grades: {summary.csv_path}")
    print(f"feedback: {course.step_dir('feedback')}/<student>/{summary.lab}/")
    print(f"log: {summary.log_path}")
    return 0
