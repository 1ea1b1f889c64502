"""How students, labs and the grader turn the sanitizer on: ``cuda.sanitize``, sessions and the default.

Three ways, all giving :class:`~simtlab.emulator.report.LaunchReport` objects whose ``findings`` hold
what the tools found (also kept on the kernel as ``kernel.last_report``):

* a block of code: ``with cuda.sanitize() as s: ...`` sanitizes every launch inside; ``s.reports``,
  ``s.findings``, ``s.clean``;
* one launch: ``cuda.sanitize(kernel)[blocks, threads](args)`` runs that launch sanitized and returns
  its report (numba's launch syntax has no keyword arguments, so the option wraps the kernel);
* everything: ``set_default_sanitize(True)`` (or ``SIMTLAB_SANITIZE=1`` / ``=raise`` in the environment
  before ``simtlab.emulator`` is imported) sanitizes every launch of the process; labs and the grader
  turn it on. ``default_session()`` gives the reports.

``mode="report"`` collects findings; ``mode="raise"`` raises :class:`SanitizerError` at the first one.
Errors the engine refuses to run past (out-of-bounds, divergent barriers, bad warp masks, misaligned
arrays) are raised in both modes, as without the sanitizer; the sanitizer adds their finding to the
report (and to the exception, as ``exc.sanitizer_finding``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType

from ..errors import SimtError
from ..observer import attach, detach
from ..report import Finding, LaunchReport
from ._engine import finding_from_error, tool_of
from .checker import TOOLS, Sanitizer, SanitizerError

ENV_VAR = "SIMTLAB_SANITIZE"

_stack: list[Sanitizer] = []          # sanitizers attached by sessions, innermost last
_default: SanitizerSession | None = None


class SanitizerSession:
    """A sanitized stretch of code (a context manager); collects the reports of its launches.

    While it is active it is the only sanitizer attached: an enclosing session (or the process-wide
    default) is suspended and resumes when it ends, so no launch is checked twice.
    """

    def __init__(self, tools: Iterable[str] | str = TOOLS, mode: str = "report", echo: bool = False) -> None:
        self.sanitizer = Sanitizer(tools=tools, mode=mode, echo=echo)
        self.sanitizer.on_refused = self.note_error
        self._extra: list[LaunchReport] = []
        self.active = False

    # -- what it found ----------------------------------------------------------------------------------
    @property
    def reports(self) -> list[LaunchReport]:
        """Reports of the launches sanitized in this session, in launch order."""
        return self.sanitizer.reports + self._extra

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every launch of the session."""
        return [f for r in self.reports for f in r.findings]

    def errors(self) -> list[Finding]:
        """Findings of severity "error" (warnings, e.g. two threads writing the same value, left out)."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def clean(self) -> bool:
        """True when no launch of the session had any finding."""
        return not self.findings

    def clear(self) -> None:
        """Forget the reports collected so far."""
        self.sanitizer.reports.clear()
        self._extra.clear()

    def __str__(self) -> str:
        n = len(self.reports)
        if self.clean:
            return f"sanitizer: {n} launch(es), no findings"
        lines = [f"sanitizer: {n} launch(es), {len(self.findings)} finding(s)"]
        lines.extend("  " + str(f).replace("\n", "\n  ") for f in self.findings)
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle: bool) -> None:      # IPython
        p.text(str(self))

    # -- context manager -------------------------------------------------------------------------------
    def start(self) -> SanitizerSession:
        """Attach this session's sanitizer (suspending the one attached before, if any)."""
        if self.active:
            return self
        if _stack:
            detach(_stack[-1])
        _stack.append(self.sanitizer)
        attach(self.sanitizer)
        self.active = True
        return self

    def stop(self) -> None:
        """Detach this session's sanitizer and resume the one it suspended."""
        if not self.active:
            return
        self.active = False
        detach(self.sanitizer)
        if self.sanitizer in _stack:
            top = _stack[-1] is self.sanitizer
            _stack.remove(self.sanitizer)
            if top and _stack:
                attach(_stack[-1])

    def __enter__(self) -> SanitizerSession:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if isinstance(exc, SimtError):
            self.note_error(exc)

    def note_error(self, exc: SimtError) -> None:
        """Record an engine error raised before any observer saw the launch (e.g. a misaligned argument,
        refused while the launch was being set up) as a finding of a report of its own."""
        if getattr(exc, "sanitizer_finding", None) is not None or isinstance(exc, SanitizerError):
            return
        tool = tool_of(exc)
        if tool is None or tool not in self.sanitizer.tools:
            return
        f = finding_from_error(exc, None, exc.filename)
        if f is None:
            return
        exc.sanitizer_finding = f
        r = LaunchReport(kernel=exc.kernel or "?", grid=(), block=(), chip="", filename=exc.filename or "")
        r.add_finding(f)
        r.notes.append("the launch was refused before it started")
        self._extra.append(r)


class SanitizedKernel:
    """A kernel whose launches are sanitized: ``cuda.sanitize(kernel)[blocks, threads](args)``.

    Calling the configured launch returns the launch's :class:`LaunchReport`; the reports of all its
    launches are in :attr:`reports`.
    """

    def __init__(self, kernel, tools: Iterable[str] | str = TOOLS, mode: str = "report", echo: bool = False) -> None:
        if not hasattr(kernel, "__getitem__") or not hasattr(kernel, "py_func"):
            raise TypeError("cuda.sanitize(kernel) takes a @cuda.jit kernel; use `with cuda.sanitize():` "
                            "for a block of code")
        self.kernel = kernel
        self.session = SanitizerSession(tools=tools, mode=mode, echo=echo)
        self.__name__ = getattr(kernel, "__name__", "kernel")

    @property
    def reports(self) -> list[LaunchReport]:
        return self.session.reports

    @property
    def last_report(self) -> LaunchReport | None:
        r = self.session.reports
        return r[-1] if r else None

    def __getitem__(self, config) -> _SanitizedLaunch:
        return _SanitizedLaunch(self, self.kernel[config])

    def forall(self, ntasks: int, tpb: int = 0, stream=0, sharedmem: int = 0) -> _SanitizedLaunch:
        return _SanitizedLaunch(self, self.kernel.forall(ntasks, tpb, stream, sharedmem))

    def __repr__(self) -> str:
        return f"<sanitized {self.kernel!r}>"


class _SanitizedLaunch:
    def __init__(self, owner: SanitizedKernel, configured) -> None:
        self.owner = owner
        self.configured = configured

    def __call__(self, *args) -> LaunchReport | None:
        __tracebackhide__ = True
        s = self.owner.session
        before = len(s.reports)
        with s:
            self.configured(*args)
        return s.reports[-1] if len(s.reports) > before else None


def sanitize(kernel=None, *, tools: Iterable[str] | str = TOOLS, mode: str = "report",
             echo: bool = False) -> SanitizerSession | SanitizedKernel:
    """Run kernels under the sanitizer (simtlab extension; numba has no such call).

    ``with cuda.sanitize(...) as s:`` sanitizes every launch in the block (a :class:`SanitizerSession`);
    ``cuda.sanitize(kernel, ...)[blocks, threads](args)`` sanitizes one launch and returns its report.
    ``tools``: "all" (default) or some of "memcheck", "racecheck", "synccheck", "initcheck".
    ``mode``: "report" collects findings in the reports, "raise" raises ``SanitizerError`` at the first.
    ``echo``: also print each launch's findings to stderr.
    """
    if kernel is None:
        return SanitizerSession(tools=tools, mode=mode, echo=echo)
    return SanitizedKernel(kernel, tools=tools, mode=mode, echo=echo)


def set_default_sanitize(on: bool = True, *, tools: Iterable[str] | str = TOOLS, mode: str = "report",
                         echo: bool = True) -> SanitizerSession | None:
    """Sanitize every launch of this process from now on (``on=False``: stop). Labs and the grader call
    this; ``SIMTLAB_SANITIZE`` does the same from the environment. Returns the default session."""
    global _default
    if _default is not None:
        _default.stop()
        if _default.sanitizer in _stack:
            _stack.remove(_default.sanitizer)
        _default = None
    if not on:
        return None
    s = SanitizerSession(tools=tools, mode=mode, echo=echo)
    # the default sits at the bottom of the stack: sessions opened later suspend it
    if _stack:
        _stack.insert(0, s.sanitizer)
        s.active = True
    else:
        s.start()
    _default = s
    return s


def default_session() -> SanitizerSession | None:
    """The process-wide session set by :func:`set_default_sanitize` (None when it is off)."""
    return _default


def sanitize_from_environment() -> SanitizerSession | None:
    """Apply ``SIMTLAB_SANITIZE``: "1"/"true"/"on"/"report" (report mode) or "raise"; anything else is off."""
    v = os.environ.get(ENV_VAR, "").strip().lower()
    if v in ("1", "true", "yes", "on", "report"):
        return set_default_sanitize(True, mode="report")
    if v == "raise":
        return set_default_sanitize(True, mode="raise")
    return None
