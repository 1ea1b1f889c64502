"""What `compile_check` returns, and the errors of the toolchain bridge."""

from __future__ import annotations

import linecache
from dataclasses import dataclass, field

from ..errors import KernelCompileError, SimtError
from ._errors import Diagnosis


class ToolchainError(SimtError):
    """The real compiler could not be asked (not a verdict on the kernel)."""


class ToolchainUnavailable(ToolchainError):
    """numba-cuda's compiler (NVVM) or an assembler (nvJitLink / ptxas) is not installed here."""


class UnsupportedTarget(ToolchainError):
    """The chip's compute capability is one the installed CUDA toolchain cannot compile for."""


class RealCompileError(KernelCompileError):
    """The real CUDA compiler rejects the kernel (raised by `CompileResult.raise_for_error`)."""


@dataclass
class CompileResult:
    """The verdict and the resource figures of one kernel compiled by numba-cuda's real compiler.

    ``compiles`` says whether numba-cuda, NVVM and the PTX assembler accepted the kernel; when not,
    ``diagnosis`` holds the compiler's message translated to the kernel's source line and a fix.
    Registers, spills, stack frame and barriers are the PTX assembler's figures for `arch`; static
    shared memory is what the PTX declares. ``ptx_lines[i]`` / ``sass_lines[i]`` is the (file, line)
    of Python source that PTX/SASS line ``i`` came from.
    """

    kernel: str
    arch: str
    cc: tuple[int, int]
    signature: str
    compiles: bool
    chip: str | None = None
    diagnosis: Diagnosis | None = None
    registers: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    stack_frame: int | None = None
    static_shared: int | None = None
    dynamic_shared: bool = False
    barriers: int | None = None
    ptx: str = ""
    ptx_lines: list[tuple[str, int] | None] = field(default_factory=list)
    sass: str | None = None
    sass_lines: list[tuple[str, int] | None] = field(default_factory=list)
    sass_note: str = ""
    filename: str = ""
    firstline: int = 0
    source: list[str] = field(default_factory=list)
    tools: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cubin: bytes | None = field(default=None, repr=False)

    @property
    def register_source(self) -> str:
        """Where the register figure comes from, e.g. "nvJitLink 13.5 for sm_90"."""
        return f"{self.tools.get('assembler', 'the PTX assembler')} for {self.arch}"

    @property
    def line(self) -> int | None:
        """The source line the compiler's complaint is about (None when it compiles or is not located)."""
        return self.diagnosis.line if self.diagnosis else None

    @property
    def message(self) -> str:
        """The compiler's complaint ("" when the kernel compiles)."""
        return self.diagnosis.message if self.diagnosis else ""

    @property
    def spills(self) -> int:
        """Bytes spilled to local memory (stores + loads; 0 when none or not reported)."""
        return int(self.spill_stores or 0) + int(self.spill_loads or 0)

    def error(self) -> RealCompileError | None:
        """The rejection as a `RealCompileError` (kernel, file, line, fix), or None when the kernel compiles."""
        if self.compiles or self.diagnosis is None:
            return None
        d = self.diagnosis
        return RealCompileError(f"the real CUDA compiler ({self.tools.get('compiler', 'numba-cuda')}, {self.arch}) "
                                f"rejects it: {d.message}", kernel=self.kernel, filename=d.filename, line=d.line,
                                fix=d.fix)

    def raise_for_error(self) -> CompileResult:
        """Raise `RealCompileError` if the kernel does not compile; return self otherwise."""
        err = self.error()
        if err is not None:
            raise err.with_traceback(None)
        return self

    def lines_for(self, line: int, which: str = "ptx") -> list[int]:
        """0-based PTX (or SASS) line numbers generated for Python source line `line` of the kernel's file."""
        where = self.ptx_lines if which == "ptx" else self.sass_lines
        return [i for i, w in enumerate(where) if w is not None and w[1] == line and _same(w[0], self.filename)]

    def summary(self) -> str:
        """One line: verdict and resources."""
        head = f"kernel '{self.kernel}' for {self.arch} ({self.signature})"
        if not self.compiles:
            at = f" at line {self.line}" if self.line else ""
            return f"{head}: does NOT compile{at}: {self.message}"
        parts = [f"{self.registers} registers/thread" if self.registers is not None else "registers unknown",
                 f"{self.static_shared or 0} bytes static shared" + (" (+ dynamic)" if self.dynamic_shared else ""),
                 f"{self.barriers} barrier(s)" if self.barriers is not None else "",
                 f"{self.spill_stores or 0}/{self.spill_loads or 0} bytes spilled (stores/loads)",
                 f"{self.stack_frame} bytes stack" if self.stack_frame else ""]
        return f"{head}: compiles; " + ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        lines = [self.summary()]
        if not self.compiles and self.diagnosis is not None:
            d = self.diagnosis
            if d.filename and d.line:
                lines.append(f"  at {d.filename}:{d.line}:  {linecache.getline(d.filename, d.line).strip()}")
            if d.fix:
                lines.append(f"  fix: {d.fix}")
        lines.append(f"  toolchain: {', '.join(self.tools.values())}; compiled in {self.seconds:.2f} s")
        if self.sass is None and self.sass_note:
            lines.append(f"  {self.sass_note}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<simtlab CompileResult {self.summary()}>"

    def to_dict(self) -> dict:
        """A JSON-able copy (without the PTX/SASS text)."""
        d = self.diagnosis
        return {"kernel": self.kernel, "chip": self.chip, "arch": self.arch, "cc": list(self.cc),
                "signature": self.signature, "compiles": self.compiles, "registers": self.registers,
                "register_source": self.register_source, "spill_stores": self.spill_stores,
                "spill_loads": self.spill_loads, "stack_frame": self.stack_frame, "static_shared": self.static_shared,
                "dynamic_shared": self.dynamic_shared, "barriers": self.barriers, "tools": dict(self.tools),
                "notes": list(self.notes), "seconds": round(self.seconds, 4),
                "error": None if d is None else {"stage": d.stage, "message": d.message, "filename": d.filename,
                                                 "line": d.line, "fix": d.fix}}


def _same(a: str, b: str) -> bool:
    import os

    return a == b or os.path.basename(a) == os.path.basename(b)
