"""Driving numba-cuda's real compiler (type inference, lowering, NVVM) without a GPU.

A simtlab kernel's ``py_func`` is the student's plain function, but its globals name simtlab's
``cuda`` facade, its intrinsics and its device functions. `retarget` rebuilds the function with
the same code object over a small globals dict in which those are replaced by numba.cuda's own
objects (device functions recursively, as ``numba.cuda.jit(device=True)`` dispatchers), so numba
compiles exactly the source that would run on a GPU.

numba asks the *current device* for its compute capability when it compiles a device function
called from a kernel; there is no device here, so `target_device` answers for the chip being
compiled for, only while numba's compiler lock is held by this compile.

`argument_type` turns launch arguments (numpy arrays, simtlab device arrays, numbers, tuples) into
the numba types numba.cuda's dispatcher would infer for them; `type_from_descriptor` does the same
for the JSON descriptions the conformance suite records.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types as pytypes
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

#: numba.cuda.jit options that change the generated code and that compile_ptx accepts
CODEGEN_OPTIONS = ("fastmath", "opt", "launch_bounds")


class Unavailable(Exception):
    """numba-cuda's compiler cannot be used in this process; the message says why and what to install."""


INSTALL_HINT = "pip install 'simtlab[toolchain]' (numba-cuda with the NVVM and nvJitLink wheels)"


def load() -> Any:
    """numba.cuda, checked to be the real CUDA target with a loadable NVVM; raises `Unavailable`."""
    try:
        from numba import cuda as ncuda
    except ImportError as exc:
        raise Unavailable(f"numba-cuda is not installed ({exc}); {INSTALL_HINT}") from None
    except Exception as exc:  # numba's CUDA target failed to initialise
        raise Unavailable(f"numba.cuda could not be imported ({type(exc).__name__}: {exc})") from None
    if ncuda.jit.__module__.startswith("numba.cuda.simulator"):
        raise Unavailable("numba.cuda is numba's CUDA simulator in this process (NUMBA_ENABLE_CUDASIM=1 was set "
                          "before numba.cuda was imported); the simulator has no compiler. Start Python without "
                          "NUMBA_ENABLE_CUDASIM to use the real compiler")
    if not hasattr(ncuda, "compile_ptx"):
        raise Unavailable("this numba.cuda has no compile_ptx; " + INSTALL_HINT)
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        NVVM()
    except Exception as exc:
        raise Unavailable(f"NVVM (the CUDA compiler library) cannot be loaded: {exc}. {INSTALL_HINT}") from None
    return ncuda


def nvvm_version() -> tuple[int, int] | None:
    """NVVM's version as numba-cuda loads it, or None."""
    try:
        from numba.cuda.cudadrv.nvvm import NVVM

        return tuple(NVVM().get_version())[:2]
    except Exception:
        return None


def numba_cuda_version() -> str:
    """The installed numba-cuda distribution's version (empty when unknown)."""
    try:
        from importlib.metadata import version

        return version("numba-cuda")
    except Exception:
        return ""


def supported_ccs() -> list[tuple[int, int]] | None:
    """Compute capabilities this CUDA toolchain compiles for (from NVRTC's list), or None if unknown."""
    try:
        from numba.cuda.cudadrv import nvrtc

        return [tuple(cc) for cc in nvrtc.get_supported_ccs()]
    except Exception:
        return None


class _Device:
    """What numba asks of the current device while compiling: its compute capability."""

    def __init__(self, cc: tuple[int, int]) -> None:
        self.compute_capability = cc


@contextlib.contextmanager
def target_device(cc: tuple[int, int]) -> Iterator[None]:
    """Answer numba's "current device" questions with `cc`, under numba's compiler lock."""
    import numba.cuda.dispatcher as dispatcher
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        original = getattr(dispatcher, "get_current_device", None)
        if original is not None:
            dispatcher.get_current_device = lambda: _Device(cc)
        try:
            yield
        finally:
            if original is not None:
                dispatcher.get_current_device = original


# -- the kernel's function, bound to numba.cuda ---------------------------------------------------------

def _code_names(code: pytypes.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, pytypes.CodeType):
            names |= _code_names(const)
    return names


class Retargeter:
    """Rebuilds simtlab kernel/device functions over numba.cuda (one per compile; memoises device functions)."""

    def __init__(self, ncuda: Any) -> None:
        from simtlab.emulator import cuda as facade
        from simtlab.emulator import intrinsics
        from simtlab.emulator.kernel import DeviceFunction, Kernel

        self.ncuda = ncuda
        self._facade = facade
        self._intrinsics = intrinsics
        self._device_cls = DeviceFunction
        self._kernel_cls = Kernel
        self._devices: dict[int, Any] = {}
        self.device_functions: list[Any] = []    # the simtlab DeviceFunctions reached, in order

    def value(self, v: Any) -> Any:
        """The numba.cuda counterpart of one global or closure value (itself when it has none)."""
        if v is self._facade:
            return self.ncuda
        if isinstance(v, pytypes.ModuleType) and v.__name__ == "simtlab.emulator":
            stand_in = pytypes.ModuleType("simtlab.emulator")   # `import simtlab.emulator as se; se.cuda.grid(1)`
            stand_in.cuda = self.ncuda
            return stand_in
        if isinstance(v, self._intrinsics.Intrinsic):
            return self._resolve(v.name, v)
        if isinstance(v, self._intrinsics.Namespace):
            return self._resolve(v._prefix, v)
        if isinstance(v, self._device_cls):
            return self.device(v)
        return v

    def _resolve(self, dotted: str, original: Any) -> Any:
        obj = self.ncuda
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                return original   # numba's compiler then reports the name it cannot type
        return obj

    def device(self, dev: Any) -> Any:
        """A ``numba.cuda.jit(device=True)`` dispatcher for a simtlab `DeviceFunction` (memoised, so
        recursion and shared helpers resolve to one dispatcher)."""
        key = id(dev)
        if key in self._devices:
            return self._devices[key]
        self.device_functions.append(dev)
        fn, fill = self._shell(dev.py_func)
        options = {k: v for k, v in dev.options.items() if k in ("fastmath", "opt", "inline", "forceinline")}
        dispatcher = self.ncuda.jit(device=True, **options)(fn)
        self._devices[key] = dispatcher
        fill()
        return dispatcher

    def function(self, py_func: Any) -> pytypes.FunctionType:
        """`py_func` with numba.cuda's objects in place of simtlab's."""
        fn, fill = self._shell(py_func)
        fill()
        return fn

    def _shell(self, py_func: Any) -> tuple[pytypes.FunctionType, Any]:
        """A copy of `py_func` over an empty globals dict, and a function that fills that dict (filled
        afterwards so that a device function calling itself finds its own dispatcher)."""
        code = py_func.__code__
        src_globals = py_func.__globals__
        g: dict[str, Any] = {"__builtins__": src_globals.get("__builtins__", __builtins__),
                             "__name__": src_globals.get("__name__", "__main__")}
        if "__file__" in src_globals:
            g["__file__"] = src_globals["__file__"]
        closure = None
        if py_func.__closure__:
            closure = tuple(pytypes.CellType(self.value(c.cell_contents)) if _filled(c) else pytypes.CellType()
                            for c in py_func.__closure__)
        fn = pytypes.FunctionType(code, g, py_func.__name__, py_func.__defaults__, closure)
        fn.__qualname__ = py_func.__qualname__
        fn.__module__ = getattr(py_func, "__module__", g["__name__"])
        fn.__kwdefaults__ = py_func.__kwdefaults__

        def fill() -> None:
            for name in _code_names(code):
                if name in src_globals and name not in g:
                    g[name] = self.value(src_globals[name])

        return fn, fill


def _filled(cell: Any) -> bool:
    try:
        _ = cell.cell_contents
    except ValueError:
        return False
    return True


# -- argument types ---------------------------------------------------------------------------------------

def _host_view(v: Any) -> Any:
    """The numpy array behind a simtlab device array or kernel-side array, or `v` itself."""
    if isinstance(v, np.ndarray):
        return v
    ary = getattr(v, "_ary", None)       # simtlab DeviceNDArray
    if isinstance(ary, np.ndarray):
        return ary
    data = getattr(v, "data", None)      # simtlab KArray (a launch's argument)
    if isinstance(data, np.ndarray) and hasattr(v, "space"):
        return data
    return v


def argument_type(v: Any) -> Any:
    """The numba type numba.cuda's dispatcher infers for the launch argument `v`."""
    import numba
    from numba.core import types

    if isinstance(v, types.Type):
        return v
    if isinstance(v, tuple):
        return types.BaseTuple.from_types(tuple(argument_type(e) for e in v))
    h = _host_view(v)
    if isinstance(h, np.ndarray):
        t = numba.typeof(h)
        return t.copy(readonly=False) if getattr(t, "readonly", False) else t
    if hasattr(v, "__cuda_array_interface__") and hasattr(v, "dtype"):
        raise TypeError(f"cannot type a {type(v).__name__} without its data; pass a numpy array of the same "
                        "dtype and shape, or a signature string")
    try:
        return numba.typeof(v)
    except Exception as exc:
        raise TypeError(f"numba cannot type an argument of type {type(v).__name__} ({exc})") from None


def type_from_descriptor(desc: list[Any]) -> Any:
    """A numba type from a JSON argument description: ``["array", dtype_str, ndim, layout]`` or
    ``["scalar", dtype_str]`` (``"?"`` is bool), as the conformance suite records launches."""
    from numba.core import types
    from numba.np.numpy_support import from_dtype

    kind = desc[0]
    if kind == "array":
        return types.Array(from_dtype(np.dtype(desc[1])), desc[2], desc[3])
    if kind == "scalar":
        return types.boolean if desc[1] == "?" else from_dtype(np.dtype(desc[1]))
    raise TypeError(f"cannot type argument {desc}")


def signature_types(sig: Any) -> tuple[Any, ...]:
    """Argument types of a numba signature string or object (``"void(float32[:], int32)"``)."""
    from numba.core import sigutils

    args, _ret = sigutils.normalize_signature(sig)
    return tuple(args)


def compile_ptx(ncuda: Any, fn: Any, argtypes: tuple[Any, ...], cc: tuple[int, int],
                options: dict) -> tuple[str, list[str]]:
    """PTX of kernel `fn` for `argtypes` at compute capability `cc`, with line info, and numba's warnings (kept
    off stderr: nbgrader scores a test cell 0 for any stderr output). Raises numba's errors."""
    kwargs = {k: options[k] for k in CODEGEN_OPTIONS if k in options}
    accepted = inspect.signature(ncuda.compile_ptx).parameters
    kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    with target_device(cc), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ptx, _resty = ncuda.compile_ptx(fn, argtypes, cc=cc, lineinfo=True, **kwargs)
    notes = list(dict.fromkeys(f"numba: {' '.join(str(w.message).split())}" for w in caught))
    return ptx, notes


def imported() -> bool:
    """Whether numba.cuda is already imported in this process (then using it costs no import time)."""
    return "numba.cuda" in sys.modules
