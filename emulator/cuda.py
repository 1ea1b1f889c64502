"""``from simtlab.emulator import cuda``: a drop-in for ``from numba import cuda``.

Everything here has the name and signature numba-cuda gives it. Kernel-side names
(``threadIdx``, ``syncthreads``, ``atomic`` ...) are markers the compiler translates; host-side
names (``to_device``, ``device_array``, ``stream`` ...) work on emulated device memory.
Extensions that numba lacks (``select_chip``, ``set_watchdog``, ``observing``, ``compile_check``)
are plain functions here and never needed by code meant to run on a real GPU.
"""

from __future__ import annotations

import contextlib
import time

from . import intrinsics as _I
from .chips import get_active_chip, select_chip, use_chip  # noqa: F401
from .device import detect, get_current_device, list_devices, select_device  # noqa: F401
from .devicearray import (  # noqa: F401
    DeviceNDArray,
    as_cuda_array,
    device_array,
    device_array_like,
    is_cuda_array,
    mapped_array,
    pinned_array,
    pinned_array_like,
    to_device,
)
from .kernel import jit, set_chunk_budget, set_watchdog  # noqa: F401
from .observer import observing  # noqa: F401

threadIdx = _I.threadIdx
blockIdx = _I.blockIdx
blockDim = _I.blockDim
gridDim = _I.gridDim
shared = _I.shared
local = _I.local
const = _I.const
atomic = _I.atomic
fp16 = _I.fp16
cg = _I.cg

grid = _I.FUNC["grid"]
gridsize = _I.FUNC["gridsize"]
laneid = _I.FUNC["laneid"]
warpsize = _I.FUNC["warpsize"]
syncthreads = _I.FUNC["syncthreads"]
syncthreads_count = _I.FUNC["syncthreads_count"]
syncthreads_and = _I.FUNC["syncthreads_and"]
syncthreads_or = _I.FUNC["syncthreads_or"]
syncwarp = _I.FUNC["syncwarp"]
threadfence = _I.FUNC["threadfence"]
threadfence_block = _I.FUNC["threadfence_block"]
threadfence_system = _I.FUNC["threadfence_system"]
shfl_sync = _I.FUNC["shfl_sync"]
shfl_up_sync = _I.FUNC["shfl_up_sync"]
shfl_down_sync = _I.FUNC["shfl_down_sync"]
shfl_xor_sync = _I.FUNC["shfl_xor_sync"]
all_sync = _I.FUNC["all_sync"]
any_sync = _I.FUNC["any_sync"]
eq_sync = _I.FUNC["eq_sync"]
ballot_sync = _I.FUNC["ballot_sync"]
match_any_sync = _I.FUNC["match_any_sync"]
match_all_sync = _I.FUNC["match_all_sync"]
activemask = _I.FUNC["activemask"]
lanemask_lt = _I.FUNC["lanemask_lt"]
popc = _I.FUNC["popc"]
clz = _I.FUNC["clz"]
ffs = _I.FUNC["ffs"]
brev = _I.FUNC["brev"]
fma = _I.FUNC["fma"]
cbrt = _I.FUNC["cbrt"]

devicearray = DeviceNDArray


def is_available() -> bool:
    """The emulated device is always available."""
    return True


def synchronize() -> None:
    """Launches are synchronous in the emulator; nothing to wait for."""


def close() -> None:
    """Nothing to release."""


class Stream:
    """A CUDA stream. Work runs synchronously, so every stream is always idle."""

    def __init__(self, handle: int = 0) -> None:
        self.handle = handle

    def synchronize(self) -> None:
        pass

    @contextlib.contextmanager
    def auto_synchronize(self):
        yield self

    def add_callback(self, callback, arg=None) -> None:
        callback(self, None, arg)

    def __repr__(self) -> str:
        return f"<simtlab stream {self.handle}>"

    def __int__(self) -> int:
        return self.handle


_streams = iter(range(1, 1 << 30))


def stream() -> Stream:
    return Stream(next(_streams))


def default_stream() -> Stream:
    return Stream(0)


legacy_default_stream = default_stream
per_thread_default_stream = default_stream


class Event:
    """A CUDA event. Launches are synchronous; ``elapsed_time`` gives host wall-clock milliseconds
    between records (the emulator's own speed, not a GPU's: use the profiler's estimate for that)."""

    def __init__(self, timing: bool = True) -> None:
        self.timing = timing
        self._t: float | None = None

    def record(self, stream=0) -> None:
        self._t = time.perf_counter()

    def synchronize(self) -> None:
        pass

    def wait(self, stream=0) -> None:
        pass

    def query(self) -> bool:
        return True

    def elapsed_time(self, end: Event) -> float:
        if self._t is None or end._t is None:
            raise RuntimeError("both events must be recorded before elapsed_time()")
        return (end._t - self._t) * 1000.0


def event(timing: bool = True) -> Event:
    return Event(timing)


@contextlib.contextmanager
def pinned(*arylist):
    yield


@contextlib.contextmanager
def mapped(*arylist, **kws):
    yield arylist


@contextlib.contextmanager
def defer_cleanup():
    yield


def current_context(devnum: int = 0):
    return get_current_device()


def get_chip():
    """The active emulated chip (simtlab extension)."""
    return get_active_chip()

from .profiler import profile  # noqa: E402,F401
from .sanitizer import SanitizerError, default_session, sanitize, set_default_sanitize  # noqa: E402,F401
from .toolchain import compile_check  # noqa: E402,F401
