"""Keep nbformat's import fast in grading processes.

nbformat imports jsonschema, whose optional "iri" format checker imports ``rfc3987_syntax``; that
package builds a parser grammar at import time (about 2-4 s here). Notebooks never use the "iri"
format, and every sandboxed grading process imports nbformat once, so blocking that one optional
import saves seconds per submission. jsonschema imports it under ``suppress(ImportError)`` and
simply goes without the checker.
"""

from __future__ import annotations

import sys


def speed_up_imports() -> None:
    """Make ``import rfc3987_syntax`` fail fast in this process (if it was not imported already)."""
    if "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
