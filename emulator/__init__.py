"""simtlab.emulator: an emulated SIMT accelerator that runs numba.cuda kernels.

``from simtlab.emulator import cuda`` gives the numba.cuda API; kernels written against it run
here on any machine and unchanged under numba on an NVIDIA GPU. See ``docs/architecture.md``.
"""

from . import cuda
from .chips import Chip, get_active_chip, list_chips, load_chip, select_chip, use_chip
from .errors import (
                     ArgumentError,
                     BarrierDivergenceError,
                     InternalError,
                     KernelCompileError,
                     KernelNotImplementedError,
                     KernelTypeError,
                     KernelZeroDivisionError,
                     LaunchConfigError,
                     MisalignedAccessError,
                     OutOfBoundsError,
                     ReadOnlyError,
                     SimtError,
                     WarpMaskError,
                     WatchdogTimeout,
)
from .kernel import DeviceFunction, Kernel, set_chunk_budget, set_watchdog
from .observer import (
                     BarrierEvent,
                     BranchEvent,
                     LaunchInfo,
                     MemoryEvent,
                     Observer,
                     StatementEvent,
                     attach,
                     detach,
                     observing,
)

__all__ = [
    "cuda", "Chip", "get_active_chip", "list_chips", "load_chip", "select_chip", "use_chip",
    "ArgumentError", "BarrierDivergenceError", "InternalError", "KernelCompileError",
    "KernelNotImplementedError", "KernelTypeError", "KernelZeroDivisionError",
    "LaunchConfigError", "MisalignedAccessError", "OutOfBoundsError",
    "ReadOnlyError", "SimtError", "WarpMaskError", "WatchdogTimeout", "DeviceFunction", "Kernel",
    "set_chunk_budget", "set_watchdog", "BarrierEvent", "BranchEvent", "LaunchInfo", "MemoryEvent",
    "Observer", "StatementEvent", "attach", "detach", "observing",
]

from .sanitizer import (  # noqa: E402,F401
    SanitizerError,
    SanitizerSession,
    default_session,
    sanitize,
    set_default_sanitize,
)

__all__ += ["SanitizerError", "SanitizerSession", "default_session", "sanitize", "set_default_sanitize"]

from .profiler import Occupancy, Profiler, ProfileSession, occupancy, profile  # noqa: E402,F401
