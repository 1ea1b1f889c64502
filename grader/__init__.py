"""simtlab.grader: checks for lab test cells, and the instructor's grading pipeline.

In a lab's test cells (light: imports only numpy and the emulator)::

    from simtlab.grader import check_kernel, check_metrics, Rubric

* `check_kernel`: a kernel against a numpy reference on many seeded random inputs with awkward
  sizes, every launch sanitized; failures say which input, which elements, and what to look at.
* `check_metrics`: gates on counted metrics (sectors per request per line, bank conflicts,
  estimated time against the reference solution's).
* `Rubric`: partial credit for one nbgrader test cell.
* `check_compiles`: the kernel also compiles with numba-cuda's real compiler for the lab's chip
  (optional; needs ``simtlab[toolchain]``, else `GraderSetupError`, see ``grader/README.md``).

For instructors (imported on demand; they need the ``grader`` extra): `simtlab.grader.pipeline`
(``simtlab grade``), `simtlab.grader.course` (``simtlab labs release``), and the sandbox, journal
and gradebook writer they use. See ``grader/README.md``.
"""

from .checks import CheckFailure, CheckResult, check_kernel, default_launch, explain_mismatch, run_check, tricky_sizes
from .compiles import check_compiles, run_compiles
from .gates import GraderSetupError, MetricResult, check_metrics, run_metrics, sector_bytes
from .rubric import Rubric

__all__ = ["CheckFailure", "CheckResult", "check_kernel", "run_check", "default_launch", "explain_mismatch",
           "tricky_sizes", "GraderSetupError", "MetricResult", "check_metrics", "run_metrics", "Rubric",
           "sector_bytes", "check_compiles", "run_compiles"]
