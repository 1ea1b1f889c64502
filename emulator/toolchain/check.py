"""``cuda.compile_check``: compile a kernel with numba-cuda's real compiler for a chip's architecture.

Steps (each in its own module): bind the kernel's source to numba.cuda (`_numba.Retargeter`), type
and lower it and let NVVM write PTX with line info (`_numba.compile_ptx`), assemble the PTX for
``sm_XY`` with nvJitLink or the machine's ptxas (`_link`), read registers from the cubin's
``.nv.info`` attributes and spills/barriers from the assembler's report (`_elf`, `_link`), map PTX
and SASS lines to Python lines (`_ptx`, `_sass`). A rejection at any step becomes a `Diagnosis` on
the kernel's source line (`_errors`).

Results are cached per kernel object, argument types, target and options: a kernel's globals are
frozen when it is first compiled, as numba does on a GPU.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import time
import weakref
from typing import Any

from ..chips import Chip, get_active_chip, load_chip
from ..errors import ArgumentError
from ..kernel import DeviceFunction
from . import _link, _numba, _ptx, _sass
from ._elf import CubinFormatError, read_cubin
from ._errors import diagnose_frontend, diagnose_link, spans_of
from .result import CompileResult, ToolchainUnavailable, UnsupportedTarget

LINKERS = ("auto", "nvjitlink", "ptxas")

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_plain_cache: dict = {}


def target_of(chip: Chip | str | None = None,
              cc: tuple[int, int] | None = None) -> tuple[tuple[int, int], str, str | None]:
    """(compute capability, ``sm_XY``, chip name) to compile for: `cc` if given, else the chip's (default: the
    active chip). Raises `UnsupportedTarget` for a compute capability the installed toolchain cannot target."""
    name = None
    if cc is None:
        c = get_active_chip() if chip is None else (chip if isinstance(chip, Chip) else load_chip(chip))
        cc, name = tuple(c.compute_capability), c.name
    cc = (int(cc[0]), int(cc[1]))
    arch = f"sm_{cc[0]}{cc[1]}"
    supported = _numba.supported_ccs()
    lowest = min(supported) if supported else (7, 5)
    if cc < lowest or (supported and cc not in supported and cc > max(supported)):
        what = f"the '{name}' chip is compute capability {cc[0]}.{cc[1]}" if name else f"compute capability {cc}"
        span = f"{lowest[0]}.{lowest[1]} to {max(supported)[0]}.{max(supported)[1]}" if supported else \
            f"{lowest[0]}.{lowest[1]} and newer"
        raise UnsupportedTarget(
            f"{what}, but the installed CUDA toolchain compiles for compute capability {span} only",
            fix="compile for another chip (chip='teaching' is cc 8.0, 'a100' 8.0, 'h100' 9.0) or pass cc=(8, 0); "
                "the emulator still runs the kernel on this chip, with estimated registers")
    return cc, arch, name


def _kernel_parts(kernel: Any) -> tuple[str, Any, dict, Any]:
    """(name, py_func, options, default signature) of a simtlab kernel or a plain Python function."""
    py_func = getattr(kernel, "py_func", None)
    if py_func is None and inspect.isfunction(kernel):
        py_func = kernel
    if py_func is None or not hasattr(py_func, "__code__"):
        raise ArgumentError(f"compile_check takes a @cuda.jit kernel, not {type(kernel).__name__}",
                            fix="pass the kernel object itself (the decorated function)")
    if isinstance(kernel, DeviceFunction):
        raise ArgumentError(f"'{py_func.__name__}' is a device function; compile_check compiles kernels",
                            fix="compile a kernel that calls it: its device functions are compiled with it")
    return py_func.__name__, py_func, dict(getattr(kernel, "options", {}) or {}), getattr(kernel, "signatures", None)


def argument_types(kernel: Any, py_func: Any, name: str, args: tuple, default_sig: Any) -> tuple[Any, ...]:
    """numba argument types from launch-like arguments, a signature, the kernel's own signature or its last launch."""
    params = list(inspect.signature(py_func).parameters)
    if len(args) == 1 and isinstance(args[0], str):
        types_ = _signature(args[0], name)
    elif args:
        try:
            types_ = tuple(_numba.argument_type(a) for a in args)
        except TypeError as exc:
            raise ArgumentError(f"compile_check could not type the arguments of kernel '{name}': {exc}",
                                fix="pass the arguments you launch it with, or a signature string such as "
                                    "'void(float32[:], int64)'") from None
    elif default_sig:
        sig = default_sig[0] if isinstance(default_sig, (list, tuple)) else default_sig
        types_ = _signature(sig, name)
    elif getattr(kernel, "last_launch", None) is not None:
        types_ = tuple(_numba.argument_type(v) for v in kernel.last_launch.args.values())
    else:
        raise ArgumentError(f"compile_check needs the argument types of kernel '{name}'",
                            fix="pass the arguments you launch it with (compile_check(kernel, x, out)), a signature "
                                "string ('void(float32[:], float32[:])'), or launch the kernel once first")
    if len(types_) != len(params):
        raise ArgumentError(f"kernel '{name}' takes {len(params)} argument(s) ({', '.join(params)}) but "
                            f"{len(types_)} type(s) were given", fix="give one argument or type per parameter")
    return types_


def _signature(sig: Any, name: str) -> tuple[Any, ...]:
    """Argument types of a numba signature, or an `ArgumentError` that says how to write one."""
    try:
        return _numba.signature_types(sig)
    except Exception as exc:
        raise ArgumentError(f"the signature {sig!r} for kernel '{name}' is not a numba signature "
                            f"({type(exc).__name__}: {exc})",
                            fix="write it as numba does, e.g. 'void(float32[:], float32[:, :], int64)'") from None


def _linker(choice: str) -> str:
    if choice not in LINKERS:
        raise ValueError(f"linker must be one of {', '.join(LINKERS)}, not {choice!r}")
    if choice in ("auto", "nvjitlink") and _link.nvjitlink_version() is not None:
        return "nvjitlink"
    if choice == "nvjitlink":
        raise ToolchainUnavailable("nvJitLink cannot be loaded here", fix=_numba.INSTALL_HINT)
    if _link.find_tool("ptxas") is None:
        raise ToolchainUnavailable("no PTX assembler: neither nvJitLink (a wheel) nor ptxas (the CUDA toolkit) is "
                                   "installed", fix=_numba.INSTALL_HINT)
    return "ptxas"


def compile_check(kernel: Any, *args_or_signature: Any, chip: Chip | str | None = None,
                  cc: tuple[int, int] | None = None, linker: str = "auto", sass: bool = True,
                  cache: bool = True) -> CompileResult:
    """Compile `kernel` with numba-cuda's real compiler for `chip`'s architecture (default: the active chip;
    `cc` overrides it), without a GPU, and return a `CompileResult`: whether it compiles (with the compiler's
    message on the kernel's source line), registers per thread, spills, stack, static shared memory, barriers,
    the PTX and, where nvdisasm is installed, the SASS.

    Argument types come from `args_or_signature`: the arguments you launch the kernel with, or one numba
    signature string (``"void(float32[:], int64)"``); with none, the kernel's ``@cuda.jit`` signature or the
    argument types of its last launch. `linker`: "auto" (nvJitLink, else the machine's ptxas), "nvjitlink" or
    "ptxas". Raises `ToolchainUnavailable` without ``simtlab[toolchain]`` and `UnsupportedTarget` for a chip the
    toolchain cannot compile for (e.g. the G80, compute capability 1.0). A kernel that does not compile is a
    result (``compiles`` False), not an exception: `CompileResult.raise_for_error` raises it.
    """
    __tracebackhide__ = True
    name, py_func, options, default_sig = _kernel_parts(kernel)
    try:
        ncuda = _numba.load()
    except _numba.Unavailable as exc:
        raise ToolchainUnavailable(f"cuda.compile_check needs numba-cuda's real compiler: {exc}",
                                   kernel=name, fix="pip install 'simtlab[toolchain]'") from None
    which = _linker(linker)
    target_cc, arch, chip_name = target_of(chip, cc)
    argtypes = argument_types(kernel, py_func, name, tuple(args_or_signature), default_sig)
    key = (tuple(str(t) for t in argtypes), target_cc, which, tuple(sorted((k, repr(v)) for k, v in options.items())))
    store = _store(kernel)
    result = store.get(key) if cache else None
    if result is None:
        result = _compile(ncuda, name, py_func, options, argtypes, target_cc, arch, which)
        result.chip = chip_name
        if cache:
            store[key] = result
    if sass and result.cubin and result.sass is None and not result.sass_note:
        _add_sass(result)
    if result.chip != chip_name:     # another chip of the same architecture: same figures, its own name
        result = dataclasses.replace(result, chip=chip_name)
    return result


def _add_sass(result: CompileResult) -> None:
    """Disassemble the result's cubin (once)."""
    sass = _sass.disassemble(result.cubin or b"")
    if isinstance(sass, str):
        result.sass_note = sass
    else:
        result.sass, result.sass_lines = sass.text, sass.lines
        result.tools["disassembler"] = sass.tool


def _store(kernel: Any) -> dict:
    try:
        return _cache.setdefault(kernel, {})
    except TypeError:     # not weak-referenceable
        return _plain_cache.setdefault(id(kernel), {})


def _compile(ncuda: Any, name: str, py_func: Any, options: dict, argtypes: tuple, cc: tuple[int, int], arch: str,
             which: str) -> CompileResult:
    start = time.perf_counter()
    code = py_func.__code__
    try:
        source, first = inspect.getsourcelines(py_func)
    except (OSError, TypeError):
        source, first = [], code.co_firstlineno
    signature = "(" + ", ".join(str(t) for t in argtypes) + ")"
    result = CompileResult(kernel=name, arch=arch, cc=cc, signature=signature, compiles=False,
                           filename=code.co_filename, firstline=first, source=[s.rstrip("\n") for s in source])
    result.tools["compiler"] = f"numba-cuda {_numba.numba_cuda_version()}".strip()
    retarget = _numba.Retargeter(ncuda)
    fn = retarget.function(py_func)
    try:
        ptx, warned = _numba.compile_ptx(ncuda, fn, argtypes, cc, options)
    except Exception as exc:  # every rejection of numba/NVVM becomes a located diagnosis
        result.diagnosis = diagnose_frontend(exc, _spans(py_func, retarget))
        result.seconds = time.perf_counter() - start
        return result
    result.notes.extend(warned)
    m = re.search(r"Cuda compilation tools, release (\d+\.\d+)", ptx)
    result.tools["NVVM"] = f"NVVM (CUDA {m.group(1)})" if m else "NVVM"
    version = _ptx.ptx_version(ptx)
    if version:
        result.tools["PTX ISA"] = f"PTX ISA {version[0]}.{version[1]}"
    result.ptx = ptx
    result.ptx_lines = _ptx.line_map(ptx)
    shared = _ptx.shared_memory(ptx)
    result.static_shared, result.dynamic_shared = shared.static_bytes, shared.dynamic
    maxreg = options.get("max_registers")
    link = (_link.link_nvjitlink(ptx, arch, maxreg) if which == "nvjitlink"
            else _link.link_ptxas(ptx, arch, maxreg))
    result.tools["assembler"] = link.tool
    result.notes.extend(link.notes)
    if not link.ok:
        result.diagnosis = diagnose_link(link.error, link.tool, _spans(py_func, retarget))
        result.seconds = time.perf_counter() - start
        return result
    result.compiles = True
    entry = _ptx.entry_name(ptx) or ""
    resources = _link.parse_resources(link.log).get(entry)
    try:
        cubin = read_cubin(link.cubin or b"")
        result.registers = cubin.registers(entry)
        frame = cubin.frame_size(entry)
    except CubinFormatError as exc:
        result.notes.append(f"could not read the cubin ({exc}); figures come from the assembler's report")
        frame = None
    if resources is not None:
        if result.registers is None:
            result.registers = resources.registers
        elif resources.registers is not None and resources.registers != result.registers:
            result.notes.append(f"the assembler reported {resources.registers} registers, the cubin "
                                f"{result.registers}; using the cubin's")
        result.barriers = resources.barriers
        result.spill_stores, result.spill_loads = resources.spill_stores, resources.spill_loads
        result.stack_frame = resources.stack_frame
    if result.stack_frame is None:
        result.stack_frame = frame
    result.cubin = link.cubin
    result.seconds = time.perf_counter() - start
    return result


def _spans(py_func: Any, retarget: _numba.Retargeter) -> list:
    """Source spans of the kernel and of the device functions it reached."""
    return spans_of([py_func] + [d.py_func for d in retarget.device_functions])
