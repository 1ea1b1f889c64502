"""Kernels and device functions: ``cuda.jit``, launch configurations and the launch itself.

``kernel[grid, block](args)`` compiles the kernel once per argument types (and once more with
observer calls when an observer wants statements), validates the launch against the active
chip, turns the arguments into kernel-side arrays (host arrays are copied in and back, as
numba does), and runs the grid in chunks of whole blocks under a memory budget.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from .chips import get_active_chip
from .compiler import CompiledFunction, compile_function
from .devicearray import DeviceNDArray, check_host_array
from .errors import ArgumentError, InternalError, KernelTypeError, LaunchConfigError, MisalignedAccessError, SimtError
from .lanes import LaneSpace
from .memory import KArray
from .observer import LaunchInfo, active_observers
from .report import LaunchReport
from .state import SHARED_ALIGN, ChunkState, LaunchContext

DEFAULT_WATCHDOG_STEPS = int(os.environ.get("SIMTLAB_WATCHDOG_STEPS", 1_000_000))
DEFAULT_WATCHDOG_SECONDS = float(os.environ.get("SIMTLAB_WATCHDOG_SECONDS", 20.0))
DEFAULT_CHUNK_BUDGET = int(os.environ.get("SIMTLAB_CHUNK_BYTES", 1 << 30))
MAX_CHUNK_LANES = int(os.environ.get("SIMTLAB_MAX_CHUNK_LANES", 1 << 18))

_settings = {"watchdog_steps": DEFAULT_WATCHDOG_STEPS, "watchdog_seconds": DEFAULT_WATCHDOG_SECONDS,
             "chunk_bytes": DEFAULT_CHUNK_BUDGET,
             "max_chunk_lanes": MAX_CHUNK_LANES}


def set_watchdog(steps: int | None = None, seconds: float | None = None) -> None:
    """Set the per-launch budget: loop iterations (summed over all loops and chunks; deterministic)
    and, as a safety net, seconds of emulation. Whichever runs out first stops the launch."""
    if steps is not None:
        if steps <= 0:
            raise ValueError("the watchdog step budget must be positive")
        _settings["watchdog_steps"] = int(steps)
    if seconds is not None:
        if seconds <= 0:
            raise ValueError("the watchdog time budget must be positive")
        _settings["watchdog_seconds"] = float(seconds)


def set_chunk_budget(nbytes: int | None = None, max_lanes: int | None = None) -> None:
    """Memory budget of one chunk of blocks (default 1 GiB) and the most lanes a chunk may hold."""
    if nbytes is not None:
        _settings["chunk_bytes"] = int(nbytes)
    if max_lanes is not None:
        _settings["max_chunk_lanes"] = int(max_lanes)


def _dim3(v, what: str) -> tuple[int, int, int]:
    if isinstance(v, (int, np.integer)):
        v = (int(v),)
    if not isinstance(v, (tuple, list)) or not 1 <= len(v) <= 3 or \
            not all(isinstance(e, (int, np.integer)) for e in v):
        raise LaunchConfigError(f"the {what} dimensions must be an int or a tuple of 1 to 3 ints, got {v!r}",
                                fix="launch as kernel[blocks, threads](...), e.g. kernel[(n + 255) // 256, 256]")
    t = tuple(int(e) for e in v) + (1,) * (3 - len(v))
    if any(e <= 0 for e in t):
        raise LaunchConfigError(f"the {what} dimensions must be positive, got {t[:len(v)]}",
                                fix="a grid with zero blocks launches nothing; check the arithmetic that "
                                    "computes the number of blocks (round up: (n + tpb - 1) // tpb)")
    return t


def validate_launch(chip, grid, block, shared_static: int, dynshared: int, name: str) -> None:
    """Refuse launches over the chip's limits, naming the limit and the fix."""
    nthreads = block[0] * block[1] * block[2]
    if nthreads > chip.max_threads_per_block:
        raise LaunchConfigError(
            f"{nthreads} threads per block ({block[0]}x{block[1]}x{block[2]}) exceeds the "
            f"{chip.max_threads_per_block}-thread limit of the '{chip.name}' chip",
            fix=f"use at most {chip.max_threads_per_block} threads per block and more blocks", kernel=name)
    for d, (b, mx) in enumerate(zip(block, chip.max_block_dim)):
        if b > mx:
            raise LaunchConfigError(f"blockDim.{'xyz'[d]} = {b} exceeds the chip's limit of {mx}", kernel=name)
    for d, (g, mx) in enumerate(zip(grid, chip.max_grid_dim)):
        if g > mx:
            raise LaunchConfigError(f"gridDim.{'xyz'[d]} = {g} exceeds the chip's limit of {mx}",
                                    fix="use fewer, larger blocks or a grid-stride loop", kernel=name)
    if shared_static > chip.shared_mem_per_block:
        raise LaunchConfigError(
            f"the kernel declares {shared_static} bytes of static shared memory; the limit per block is "
            f"{chip.shared_mem_per_block}", fix="use smaller tiles, or dynamic shared memory", kernel=name)
    if shared_static + dynshared > chip.shared_mem_per_block_optin:
        raise LaunchConfigError(
            f"{shared_static} bytes of static plus {dynshared} bytes of dynamic shared memory exceed the "
            f"{chip.shared_mem_per_block_optin}-byte limit per block of the '{chip.name}' chip",
            fix="use smaller tiles or fewer threads per block", kernel=name)
    if dynshared < 0:
        raise LaunchConfigError("dynamic shared memory size must not be negative", kernel=name)


def plan_chunks(grid, blocks_per_chunk: int):
    """Boxes of whole blocks in linear block order: (box extents (z, y, x), first block (z, y, x))."""
    gx, gy, gz = grid
    if blocks_per_chunk >= gx * gy * gz:
        yield (gz, gy, gx), (0, 0, 0)
    elif blocks_per_chunk >= gx * gy:
        nz = blocks_per_chunk // (gx * gy)
        for z0 in range(0, gz, nz):
            yield (min(nz, gz - z0), gy, gx), (z0, 0, 0)
    elif blocks_per_chunk >= gx:
        ny = blocks_per_chunk // gx
        for z0 in range(gz):
            for y0 in range(0, gy, ny):
                yield (1, min(ny, gy - y0), gx), (z0, y0, 0)
    else:
        for z0 in range(gz):
            for y0 in range(gy):
                for x0 in range(0, gx, blocks_per_chunk):
                    yield (1, 1, min(blocks_per_chunk, gx - x0)), (z0, y0, x0)


def _scalar_arg(v):
    """Scalars are typed as numba types them: Python int -> int64, float -> float64."""
    if isinstance(v, (bool, np.bool_)):
        return np.bool_(v)
    if isinstance(v, int):
        return np.int64(v)
    if isinstance(v, float):
        return np.float64(v)
    if isinstance(v, complex):
        return np.complex128(v)
    if isinstance(v, np.generic):
        return v
    return None


class _Args:
    """Kernel arguments turned into what the generated code takes."""

    def __init__(self, params: list[str], args: tuple, name: str) -> None:
        if len(args) != len(params):
            raise ArgumentError(f"kernel '{name}' takes {len(params)} argument(s) ({', '.join(params)}) "
                                f"but was launched with {len(args)}")
        self.values = []
        self.copy_back: list[tuple[np.ndarray, DeviceNDArray]] = []
        self.arrays: dict[str, KArray] = {}
        for p, a in zip(params, args):
            self.values.append(self._convert(p, a, name))

    def _convert(self, p, a, name):
        if isinstance(a, DeviceNDArray):
            if a.address % a.dtype.itemsize:
                raise MisalignedAccessError(
                    f"argument '{p}' of kernel '{name}' starts at address 0x{a.address:x}, which is not a "
                    f"multiple of its element size ({a.dtype.itemsize} bytes): every access to it would be "
                    "misaligned", fix="slice and view device arrays so that each element stays aligned to its "
                                      "size (e.g. view the whole allocation, then slice)")
            k = KArray(a._ary, a._alloc.root, "global", alloc=a._alloc, name=p)
            self.arrays[p] = k
            return k
        if isinstance(a, np.ndarray):
            check_host_array(a, f"argument '{p}' of kernel '{name}'")
            d = DeviceNDArray.from_host(a, p)
            self.copy_back.append((a, d))
            k = KArray(d._ary, d._alloc.root, "global", alloc=d._alloc, name=p)
            self.arrays[p] = k
            return k
        s = _scalar_arg(a)
        if s is not None:
            return s
        if isinstance(a, tuple):
            return tuple(self._convert(f"{p}[{i}]", e, name) for i, e in enumerate(a))
        if hasattr(a, "__cuda_array_interface__"):
            raise ArgumentError(f"argument '{p}' of kernel '{name}' is a {type(a).__name__} from another CUDA "
                                "library; simtlab kernels take numpy arrays or simtlab device arrays",
                                fix="convert it to a numpy array first")
        raise ArgumentError(f"argument '{p}' of kernel '{name}' has type {type(a).__name__}, which kernels "
                            "cannot take", fix="pass numpy arrays, device arrays, numbers or tuples of them")

    def freeze_read_only(self, written: set[str]) -> None:
        """Arrays no thread writes in this launch may be read through views instead of copies."""
        w_roots = [self.arrays[p].root for p in written if p in self.arrays]
        w_all = any(p not in self.arrays for p in written)
        for p, k in self.arrays.items():
            if p in written or w_all:
                continue
            if any(np.shares_memory(k.root, r) for r in w_roots):
                continue
            k.frozen = True

    def detach_outputs(self) -> None:
        """Run on scratch copies: a sampled (profiling-only) launch must not write partial results."""
        for k in self.arrays.values():
            if not k.frozen:
                root = k.root.copy()
                k.data = np.ndarray(k.data.shape, k.dtype, buffer=root, offset=k.off0, strides=k.data.strides)
                k.root = root
        self.copy_back = []

    def finish(self) -> None:
        for host, dev in self.copy_back:
            if host.flags.writeable:
                host[...] = dev._ary


class DeviceFunction:
    """A ``@cuda.jit(device=True)`` function: callable from kernels only."""

    def __init__(self, py_func, **options) -> None:
        self.py_func = py_func
        self.__name__ = py_func.__name__
        self.__doc__ = py_func.__doc__
        self.options = options
        self._compiled: dict[bool, CompiledFunction] = {}

    def compiled(self, instrument: bool) -> CompiledFunction:
        c = self._compiled.get(instrument)
        if c is None:
            c = compile_function(self.py_func, device=True, instrument=instrument)
            self._compiled[instrument] = c
        return c

    def run(self, st, m, args: tuple):
        return self.compiled(st.instrumented).fn(st, m, *args)

    def __call__(self, *args, **kwargs):
        raise SimtError(f"device function '{self.__name__}' can only be called from a kernel or another "
                        "device function", fix="call it inside a @cuda.jit kernel")

    def __repr__(self) -> str:
        return f"<simtlab device function {self.__name__}>"


def _collect_shared(c: CompiledFunction, instrument: bool, seen: set) -> list:
    out = list(c.shared)
    for d in c.device_functions:
        if id(d) in seen:
            continue
        seen.add(id(d))
        out.extend(_collect_shared(d.compiled(instrument), instrument, seen))
    return out


class Kernel:
    """A ``@cuda.jit`` kernel (numba's ``Dispatcher`` for CUDA)."""

    def __init__(self, py_func, signatures=None, **options) -> None:
        self.py_func = py_func
        self.__name__ = py_func.__name__
        self.__qualname__ = getattr(py_func, "__qualname__", py_func.__name__)
        self.__doc__ = py_func.__doc__
        self.__module__ = getattr(py_func, "__module__", None)
        self.signatures = signatures
        self.options = options
        self._compiled: dict[tuple, CompiledFunction] = {}
        self.last_launch: LaunchInfo | None = None
        self.last_report: LaunchReport | None = None

    def compiled(self, argtypes: tuple = (), instrument: bool = False) -> CompiledFunction:
        key = (instrument, argtypes)
        c = self._compiled.get(key)
        if c is None:
            same = next((v for (ins, _), v in self._compiled.items() if ins == instrument), None)
            c = same if same is not None else compile_function(self.py_func, device=False, instrument=instrument)
            self._compiled[key] = c
        return c

    def __getitem__(self, config) -> _Configured:
        if not isinstance(config, tuple) or not 2 <= len(config) <= 4:
            raise LaunchConfigError(f"kernel '{self.__name__}' must be configured as kernel[blocks, threads] "
                                    "(optionally [blocks, threads, stream, dynamic_shared_bytes])")
        grid, block = config[0], config[1]
        stream = config[2] if len(config) > 2 else 0
        dyn = config[3] if len(config) > 3 else 0
        return _Configured(self, grid, block, stream, dyn)

    def __call__(self, *args):
        raise LaunchConfigError(f"kernel '{self.__name__}' was called without a launch configuration",
                                fix=f"launch it as {self.__name__}[blocks, threads](...)")

    def forall(self, ntasks: int, tpb: int = 0, stream=0, sharedmem: int = 0) -> _Configured:
        """A 1-D launch with one thread per task (numba's ``kernel.forall``)."""
        tpb = int(tpb) or min(256, get_active_chip().max_threads_per_block)
        return _Configured(self, max(1, -(-int(ntasks) // tpb)), tpb, stream, sharedmem)

    def __repr__(self) -> str:
        return f"<simtlab kernel {self.__name__}>"

    # -- the launch -----------------------------------------------------------------------------------
    def launch(self, griddim, blockdim, stream, dynshared, args) -> None:
        __tracebackhide__ = True
        try:
            self._launch(griddim, blockdim, stream, dynshared, args)
        except SimtError as err:
            err.kernel = err.kernel or self.__name__
            if not getattr(err, "_observed", False):
                for o in active_observers():
                    o.launch_refused(self.__name__, err)
            raise err.with_traceback(None) from None

    def _launch(self, griddim, blockdim, stream, dynshared, args) -> None:
        chip = get_active_chip()
        grid = _dim3(griddim, "grid")
        block = _dim3(blockdim, "block")
        dynshared = int(dynshared or 0)
        observers = active_observers()
        instrument = any(getattr(o, "wants_statements", False) for o in observers)
        c = self.compiled((), instrument)
        kargs = _Args(c.params, tuple(args), self.__name__)
        shared = _collect_shared(c, instrument, set())
        layout, off = {}, 0
        for d in shared:
            if d.nbytes == 0 or d.key in layout:
                continue
            off = -(-off // SHARED_ALIGN) * SHARED_ALIGN
            layout[d.key] = off
            off += d.nbytes
        static = -(-off // SHARED_ALIGN) * SHARED_ALIGN
        validate_launch(chip, grid, block, static, dynshared, self.__name__)
        maxreg = self.options.get("max_registers")
        nthr = block[0] * block[1] * block[2]
        if maxreg and int(maxreg) * nthr > chip.max_registers_per_block:
            raise LaunchConfigError(
                f"{nthr} threads x {maxreg} registers (max_registers) = {int(maxreg) * nthr} registers per block "
                f"exceeds the {chip.max_registers_per_block} of the '{chip.name}' chip "
                "(CUDA reports 'too many resources requested for launch')",
                fix="use fewer threads per block or a lower max_registers", kernel=self.__name__)
        kargs.freeze_read_only(c.written_params)
        ctx = LaunchContext(kernel=self.__name__, filename=c.filename, chip=chip, grid=grid, block=block,
                            dynshared=dynshared, shared_layout=layout, shared_window=max(static + dynshared, 16),
                            observers=observers, budget=_settings["watchdog_steps"],
                            seconds=_settings["watchdog_seconds"])
        info = LaunchInfo(kernel=self.__name__, filename=c.filename, firstline=c.firstline, grid=grid,
                          block=block, dynshared=dynshared, static_shared=static, chip=chip,
                          args=dict(zip(c.params, kargs.values)), line_ops=c.line_ops)
        report = LaunchReport(kernel=self.__name__, grid=grid, block=block, chip=chip.name, filename=c.filename,
                              dynshared=dynshared, total_blocks=grid[0] * grid[1] * grid[2])
        info.report = report
        info.kernel_object = self
        self.last_launch = info
        self.last_report = report
        nthreads = block[0] * block[1] * block[2]
        local_bytes = sum(int(np.prod(d.shape)) * d.dtype.itemsize for d in c.locals_)
        per_lane = 8 * (c.nvars + 24) + local_bytes
        lanes = max(nthreads, min(_settings["max_chunk_lanes"], _settings["chunk_bytes"] // per_lane))
        bpc = max(1, lanes // nthreads)
        nblocks = grid[0] * grid[1] * grid[2]
        if c.uses_grid_sync:
            limit = chip.sm_count * min(chip.max_blocks_per_sm, chip.max_threads_per_sm // nthreads)
            if nblocks > limit:
                raise LaunchConfigError(
                    f"a kernel that uses cuda.cg.this_grid().sync() needs all its {nblocks} blocks resident at "
                    f"once, but the '{chip.name}' chip holds at most {limit} blocks of {nthreads} threads",
                    fix="launch fewer blocks (e.g. one per SM) and loop inside the kernel", kernel=self.__name__)
            bpc = nblocks
        for o in observers:
            o.launch_begin(info)
        chunks = list(plan_chunks(grid, bpc))
        if info.only_blocks is not None and not c.uses_grid_sync:
            chunks = [_block_chunk(grid, int(b)) for b in sorted(set(info.only_blocks)) if 0 <= int(b) < nblocks]
            report.sampled_blocks = len(chunks)
            kargs.detach_outputs()
        elif info.sample_blocks is not None and not c.uses_grid_sync and info.sample_blocks < nblocks:
            chunks, sampled = _sample_chunks(grid, info.sample_blocks)
            report.sampled_blocks = sampled
            kargs.detach_outputs()
        error = None
        st = None
        try:
            with np.errstate(all="ignore"):
                for box, first in chunks:
                    sp = LaneSpace(box, first, grid, block)
                    st = ChunkState(ctx, sp)
                    st.instrumented = instrument
                    for o in observers:
                        o.chunk_begin(sp)
                    c.fn(st, *kargs.values)
                    ctx.steps = st.steps
        except SimtError as err:
            error = err
            err._observed = True
            err.locate(kernel=self.__name__, filename=c.filename, line=st.line if st else None)
            raise
        except OverflowError as exc:
            error = KernelTypeError(
                f"an integer constant does not fit the array's integer type ({exc})", kernel=self.__name__,
                filename=c.filename, line=st.line if st else None,
                fix="convert the array value first, e.g. int(x[i]) * 300, or use a wider dtype")
            error._observed = True
            raise error from None
        except RecursionError:
            error = SimtError("device functions recursed too deeply (more than Python's recursion limit)",
                              kernel=self.__name__, filename=c.filename, line=st.line if st else None,
                              fix="check the recursion's base case")
            error._observed = True
            raise error from None
        except Exception as exc:  # an engine bug: say where the kernel was, never a bare traceback
            error = InternalError(
                f"simtlab failed while running this kernel ({type(exc).__name__}: {exc}). This is a bug in "
                "simtlab; please report it with the kernel's source", kernel=self.__name__, filename=c.filename,
                line=st.line if st else None)
            error.__cause__ = exc
            error._observed = True
            if os.environ.get("SIMTLAB_DEBUG"):
                raise
            raise error from None
        finally:
            late = None
            for o in observers:
                try:
                    o.launch_end(info, error)
                except SimtError as exc:     # e.g. a sanitizer in raise mode, on the launch's last access
                    late = late or exc
            kargs.finish()
            if ctx.print_suppressed:
                print(f"... {ctx.print_suppressed} more lines of kernel print() output suppressed "
                      "(a GPU's printf buffer is limited too)", file=sys.stdout)
            if late is not None and error is None:
                late._observed = True
                raise late.locate(kernel=self.__name__, filename=c.filename)


def _sample_chunks(grid, nsample: int):
    """Evenly spaced single blocks (one chunk each): a sample of the grid for profiling."""
    gx, gy, gz = grid
    total = gx * gy * gz
    nsample = max(1, min(nsample, total))
    picks = sorted({int(round(k * (total - 1) / max(nsample - 1, 1))) for k in range(nsample)})
    return [_block_chunk(grid, b) for b in picks], len(picks)


def _block_chunk(grid, b: int):
    """The one-block chunk of linear block id ``b``."""
    gx, gy, _ = grid
    z, rem = divmod(b, gx * gy)
    y, x = divmod(rem, gx)
    return (1, 1, 1), (z, y, x)


class _Configured:
    """``kernel[grid, block, stream, dynshared]``: callable with the kernel's arguments."""

    def __init__(self, kernel: Kernel, grid, block, stream, dynshared) -> None:
        self.kernel = kernel
        self.griddim = grid
        self.blockdim = block
        self.stream = stream
        self.sharedmem = dynshared

    def __call__(self, *args) -> None:
        __tracebackhide__ = True
        self.kernel.launch(self.griddim, self.blockdim, self.stream, self.sharedmem, args)


def jit(func_or_sig=None, device: bool = False, **options):
    """``@cuda.jit`` in all of numba's forms: bare, with options, with signature(s), device=True."""
    def wrap(f, sigs=None):
        if device:
            return DeviceFunction(f, **options)
        return Kernel(f, sigs, **options)

    if callable(func_or_sig) and not isinstance(func_or_sig, (str, list, tuple)):
        return wrap(func_or_sig)
    sigs = func_or_sig

    def deco(f):
        return wrap(f, sigs)
    return deco
