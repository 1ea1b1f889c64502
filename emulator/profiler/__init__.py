"""simtlab's profiler: hardware counters, memory hierarchy, occupancy and the timing model.

``cuda.profile(...)`` (see `api.profile`) attaches a `Profiler` observer; each profiled launch's
`LaunchReport` then holds every counted metric under its Nsight Compute name and a friendly label,
per-line tables, the estimated time (marked as an estimate) and findings that teach.

Modules: `costs` (the op-to-pipe table), `analysis` (types, per-line cost, registers),
`occupancy` (the CUDA occupancy calculator), `collector` (the observer's counting), `_hot` (numba
loops: sectors, bank conflicts, the L1/L2 model), `latency` and `timing` (the timing model),
`metrics` and `findings` (the report). The equations are in ``docs/timing-model.md``.
"""

from .analysis import KernelAnalysis, analyze
from .api import Profiler, ProfileSession, profile
from .costs import PIPE_NAMES, op_cost
from .occupancy import Occupancy, occupancy
from .timing import TimingEstimate

__all__ = ["KernelAnalysis", "Occupancy", "PIPE_NAMES", "ProfileSession", "Profiler", "TimingEstimate", "analyze",
           "occupancy", "op_cost", "profile"]
