"""The sanitizer: compute-sanitizer's four tools (memcheck, racecheck, synccheck, initcheck) for simtlab.

Lockstep execution gives a racy kernel the answer of one legal interleaving, often the right one; a GPU
would not. The sanitizer watches a launch through the observer interface and reports what would be
wrong or undefined on a GPU, with the source lines and the threads involved, as ``Finding`` objects in
the launch's ``LaunchReport``::

    from simtlab.emulator import cuda

    with cuda.sanitize() as s:                 # every launch in the block
        kernel[blocks, threads](args)
    print(s)                                   # s.findings, s.reports, s.clean

    report = cuda.sanitize(kernel)[blocks, threads](args)     # one launch; returns its report

    cuda.set_default_sanitize(True)            # every launch of the process (labs, grading)

See :mod:`.session` for the API and :mod:`.checker` for what each tool checks and how.
"""

from .checker import MODES, TOOLS, Sanitizer, SanitizerError
from .session import (
    ENV_VAR,
    SanitizedKernel,
    SanitizerSession,
    default_session,
    sanitize,
    sanitize_from_environment,
    set_default_sanitize,
)

__all__ = ["MODES", "TOOLS", "Sanitizer", "SanitizerError", "ENV_VAR", "SanitizedKernel", "SanitizerSession",
           "default_session", "sanitize", "sanitize_from_environment", "set_default_sanitize"]

sanitize_from_environment()
