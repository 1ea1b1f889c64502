"""Exceptions a student sees, and how their messages are put together.

Every error raised while compiling or running a kernel is a subclass of :class:`SimtError`.
Its message names the kernel, the source file and line (with the line's text), the block and
thread of the first offending lanes and how many lanes offended, the array and index involved,
and the usual fix, so that a student can act on it without reading an engine traceback.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field


class SimtError(Exception):
    """Base class of every error the emulator reports about a student's kernel or launch."""

    def __init__(self, message: str, *, kernel: str | None = None, filename: str | None = None,
                 line: int | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kernel = kernel
        self.filename = filename
        self.line = line
        self.fix = fix
        self.where: str | None = None     # "first offending thread" text, filled by the runtime
        self.lanes: int | None = None     # how many lanes offended
        self.block: tuple[int, int, int] | None = None
        self.thread: tuple[int, int, int] | None = None

    def locate(self, *, kernel: str | None = None, filename: str | None = None,
               line: int | None = None) -> SimtError:
        """Fill in where the error happened, keeping anything already known."""
        self.kernel = self.kernel or kernel
        self.filename = self.filename or filename
        self.line = self.line or line
        return self

    def __str__(self) -> str:
        parts = []
        head = self.message
        if self.kernel:
            head = f"in kernel '{self.kernel}': {head}"
        parts.append(head)
        if self.filename and self.line:
            text = linecache.getline(self.filename, self.line).strip()
            parts.append(f"  at {self.filename}:{self.line}:  {text}" if text
                         else f"  at {self.filename}:{self.line}")
        if self.block is not None and self.thread is not None:
            more = ""
            if self.lanes and self.lanes > 1:
                more = f" ({self.lanes} threads in all)"
            parts.append(f"  first offending thread: blockIdx={self.block}, threadIdx={self.thread}{more}")
        if self.fix:
            parts.append(f"  fix: {self.fix}")
        return "\n".join(parts)


class KernelCompileError(SimtError):
    """The kernel uses a construct outside the numba.cuda subset (raised when it is compiled)."""


class KernelNotImplementedError(KernelCompileError, NotImplementedError):
    """The kernel still holds an exercise's stub (``raise NotImplementedError()``): nothing to run yet.

    A `NotImplementedError`, so lab checks pass it through unchanged: the student reads "implement
    this", not a launch failure.
    """


class KernelTypeError(SimtError):
    """A value has a type the operation cannot take (e.g. a float used as an array index)."""


class LaunchConfigError(SimtError):
    """The launch configuration exceeds the active chip's limits or is malformed."""


class ArgumentError(SimtError):
    """A kernel argument (host or device array, scalar) is of an unsupported kind, dtype or layout."""


class OutOfBoundsError(SimtError, IndexError):
    """A thread indexed an array outside its bounds (negative indices included)."""


class MisalignedAccessError(SimtError):
    """An access whose byte address is not a multiple of its size."""


class BarrierDivergenceError(SimtError):
    """A barrier was reached by only some of the live threads of a block (or of the grid)."""


class WarpMaskError(SimtError):
    """A warp intrinsic's mask names lanes that are not executing it."""


class KernelZeroDivisionError(SimtError, ZeroDivisionError):
    """Integer division or modulo by zero inside a kernel."""


class WatchdogTimeout(SimtError):
    """The launch ran past its step budget: most likely a loop that never ends."""


class ReadOnlyError(SimtError):
    """A store into memory that kernels may not write (constant memory)."""


class InternalError(SimtError):
    """A bug in simtlab itself; the message says which kernel and line were running."""


@dataclass
class LaneLocation:
    """Coordinates of the first offending lane and how many lanes offended."""

    block: tuple[int, int, int]
    thread: tuple[int, int, int]
    count: int
    extra: dict = field(default_factory=dict)


def with_lanes(err: SimtError, loc: LaneLocation | None) -> SimtError:
    """Attach the offending lanes' coordinates to an error."""
    if loc is not None:
        err.block, err.thread, err.lanes = loc.block, loc.thread, loc.count
    return err
