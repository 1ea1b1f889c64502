"""``simtlab labs release|list``: the course's labs (an nbgrader course, ``labs/`` by default).

``release`` runs nbgrader's generate_assignment for each lab: the student versions appear in
``release/<lab>/`` (solutions replaced by stubs, hidden tests removed) and the gradebook records
every grade cell and the full test source used when grading. Labs whose name starts with "_"
(internal, e.g. the grader's demo lab) are released only when named.
"""

from __future__ import annotations

import argparse

from .errors import CliError


def run(args: argparse.Namespace) -> int:
    """Entry point of ``simtlab labs ...``."""
    try:
        from simtlab.grader._fastimport import speed_up_imports

        speed_up_imports()
        from simtlab.grader.course import Course, CourseError
    except ImportError as exc:
        raise CliError(f"the grading packages are missing ({exc}); install 'simtlab[grader]'") from None
    try:
        course = Course(args.course)
        if args.action == "list":
            for lab in course.labs(include_internal=True):
                state = "released" if course.is_released(lab) else "not released"
                print(f"{lab:<30} {state}")
            return 0
        labs = list(args.labs) or course.labs()
        if not labs:
            raise CliError(f"no labs to release in {course.step_dir('source')}")
        for lab in labs:
            course.release(lab, force=True)
            print(f"released {lab} -> {course.step_dir('release') / lab}")
    except CourseError as exc:
        raise CliError(str(exc)) from None
    return 0
