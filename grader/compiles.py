"""The optional check "also compiles for a real GPU", for labs that want it.

`check_compiles` compiles the student's kernel with numba-cuda's real compiler (NVVM and the PTX
assembler, no GPU needed; ``simtlab[toolchain]``) for the lab's chip and fails with a teaching
message when the compiler rejects it: the emulator accepts a few things numba.cuda does not (a
variable that is an array on one path and a number on another, for example), and a lab that
promises "this runs on a GPU" can check that promise.

Where the toolchain is not installed the check cannot be made, and a grader must never give points
for what it did not check: `check_compiles` then raises `GraderSetupError` (the test cell, or the
rubric part, scores 0 and says why, so the instructor notices). A lab that prefers to run without the
toolchain passes ``optional=True``: the check is then skipped with a visible note on stdout, and the
lab author has decided that those points do not depend on it.
"""

from __future__ import annotations

import sys
from typing import Any

from .checks import CheckFailure, _kernel_name, source_line
from .gates import GraderSetupError

__all__ = ["check_compiles", "run_compiles"]


def run_compiles(kernel: Any, *args_or_signature: Any, chip: Any = None, cc: tuple[int, int] | None = None,
                 optional: bool = False, quiet: bool = False) -> Any:
    """`check_compiles` returning the `CompileResult` (None when skipped because ``optional``)."""
    __tracebackhide__ = True
    from simtlab.emulator.toolchain import ToolchainError, compile_check

    name = _kernel_name(kernel)
    try:
        result = compile_check(kernel, *args_or_signature, chip=chip, cc=cc, sass=False)
    except ToolchainError as exc:
        why = exc.message + (f" ({exc.fix})" if exc.fix else "")
        if optional:
            print(f"[note] check_compiles({name}) was not checked: {why}", file=sys.stdout)
            return None
        raise GraderSetupError(f"check_compiles({name}) needs numba-cuda's real compiler, which this grading "
                               f"environment cannot use: {why}. Install simtlab[toolchain] where labs are graded, "
                               "or mark the check optional=True") from None
    if not result.compiles:
        d = result.diagnosis
        where = ""
        if d is not None and d.line:
            where = f"\n  at line {d.line}: {source_line(d.filename, d.line)}"
        fix = f"\n  fix: {d.fix}" if d is not None and d.fix else ""
        raise CheckFailure(f"check_compiles({name}): your kernel runs on the emulator, but the real CUDA compiler "
                           f"(numba-cuda for {result.arch}) rejects it, so it would not run on a GPU:\n  "
                           f"{result.message}{where}{fix}")
    if not quiet:
        print(f"check_compiles({name}): compiles for {result.arch} ({result.registers} registers per thread, "
              f"{result.register_source})", file=sys.stdout)
    return result


def check_compiles(kernel: Any, *args_or_signature: Any, chip: Any = None, cc: tuple[int, int] | None = None,
                   optional: bool = False, quiet: bool = False) -> None:
    """Fail (`CheckFailure`) unless `kernel` compiles with numba-cuda's real compiler for `chip` (default: the
    active chip; `cc` overrides it) with the argument types of `args_or_signature` (launch arguments or one
    signature string). Without the toolchain: `GraderSetupError`, or a note and no check with ``optional=True``.
    Returns None (a value would be read by nbgrader as partial credit)."""
    __tracebackhide__ = True
    run_compiles(kernel, *args_or_signature, chip=chip, cc=cc, optional=optional, quiet=quiet)
