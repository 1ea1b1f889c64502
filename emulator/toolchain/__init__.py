"""The real-toolchain bridge: the same kernel compiled by numba-cuda's real compiler, no GPU needed.

With the optional extra ``simtlab[toolchain]`` (numba-cuda with the NVVM, nvJitLink and nvdisasm
wheels), `compile_check` compiles a kernel exactly as numba.cuda would on a GPU of the chip's
architecture and reports whether it compiles (the compiler's message on the kernel's source line),
registers per thread, spills, static shared memory, barriers, the PTX and the SASS. The profiler
uses the real register count for occupancy and the timing model (`launch_registers`); without the
extra, or where the compiler cannot target the chip, the emulator's estimate stays and the report
says which figure it used. See ``docs/toolchain.md``.

Nothing here imports numba.cuda until it is needed, and numba.cuda is never required by the rest of
the emulator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ._errors import Diagnosis
from .check import LINKERS, compile_check, target_of
from .result import CompileResult, RealCompileError, ToolchainError, ToolchainUnavailable, UnsupportedTarget

__all__ = ["CompileResult", "Diagnosis", "LINKERS", "RealCompileError", "RegisterFigure", "ToolchainError",
           "ToolchainUnavailable", "UnsupportedTarget", "available", "compile_check", "launch_registers",
           "profiler_uses_compiler", "status", "target_of"]

#: ``SIMTLAB_TOOLCHAIN=off`` keeps the profiler on the register estimate even where the extra is installed
ENV = "SIMTLAB_TOOLCHAIN"

_status: dict[str, Any] | None = None


def status(refresh: bool = False) -> dict[str, Any]:
    """What the bridge can use here: ``available`` (bool), ``reason`` (why not), and versions of numba-cuda,
    NVVM, nvJitLink, ptxas and nvdisasm. Cached; the first call imports numba.cuda (about a second)."""
    global _status
    if _status is not None and not refresh:
        return dict(_status)
    from . import _link, _numba

    info: dict[str, Any] = {"available": False, "reason": "", "numba-cuda": _numba.numba_cuda_version()}
    try:
        _numba.load()
        nv = _numba.nvvm_version()
        info["NVVM"] = f"{nv[0]}.{nv[1]}" if nv else "?"
        jl = _link.nvjitlink_version()
        info["nvJitLink"] = f"{jl[0]}.{jl[1]}" if jl else None
        ptxas = _link.find_tool("ptxas")
        info["ptxas"] = ptxas
        info["nvdisasm"] = _link.find_tool("nvdisasm")
        if jl is None and ptxas is None:
            raise _numba.Unavailable("no PTX assembler: neither nvJitLink (a wheel) nor ptxas is installed; "
                                     + _numba.INSTALL_HINT)
        info["available"] = True
    except _numba.Unavailable as exc:
        info["reason"] = str(exc)
    _status = info
    return dict(info)


def available() -> bool:
    """Whether `compile_check` can run here (numba-cuda with NVVM, and nvJitLink or ptxas)."""
    return bool(status()["available"])


def profiler_uses_compiler() -> bool:
    """Whether the profiler asks the real compiler for registers: the extra is installed and
    ``SIMTLAB_TOOLCHAIN`` is not ``off``/``0``/``false``."""
    if os.environ.get(ENV, "").strip().lower() in ("off", "0", "false", "no", "estimate"):
        return False
    return available()


@dataclass
class RegisterFigure:
    """Registers per thread from the real compiler for one launch, or why there is no such figure."""

    registers: int | None
    note: str
    result: CompileResult | None = None


def launch_registers(kernel: Any, launch: Any) -> RegisterFigure:
    """The real compiler's registers per thread for `launch` (a `LaunchInfo`) of `kernel`, on the launch's
    chip, compiled once per kernel, argument types and architecture. Never raises: when the compiler cannot
    be used or rejects the kernel, ``registers`` is None and ``note`` says why."""
    if not profiler_uses_compiler():
        why = status()["reason"] if not available() else f"{ENV}=off"
        return RegisterFigure(None, f"the real compiler was not used ({why})")
    try:
        result = compile_check(kernel, *launch.args.values(), chip=launch.chip, sass=False)
    except UnsupportedTarget as exc:
        return RegisterFigure(None, f"no real compiler for this chip ({exc.message})")
    except Exception as exc:  # the bridge is best effort: the estimate stays
        return RegisterFigure(None, f"the real compiler could not be asked ({type(exc).__name__}: {exc})")
    if not result.compiles:
        at = f" at line {result.line}" if result.line else ""
        return RegisterFigure(None, f"the real compiler rejects this kernel{at}: {result.message}", result)
    if result.registers is None:
        return RegisterFigure(None, f"{result.register_source} reported no register count", result)
    return RegisterFigure(result.registers, f"counted by the real compiler: {result.register_source} "
                                            f"({result.tools.get('compiler', 'numba-cuda')})", result)
