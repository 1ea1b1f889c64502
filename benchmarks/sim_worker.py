"""Runs benchmarks on numba's CUDA simulator, in its own process (``python -m benchmarks.sim_worker``).

The simulator must be chosen before ``numba.cuda`` is first imported (``NUMBA_ENABLE_CUDASIM=1``), which is
why it runs apart from simtlab. Argument: JSON ``{"jobs": [[name, size], ...], "runs": n}``. For each job,
the worker builds the inputs, copies them in, times the kernel launches only (not the import, not the
copies) ``n`` times and keeps the best time (after one small untimed launch, since the first launch of a
process is noticeably slower; other work on the machine only ever adds time), checks the result against
the numpy expression, and prints one JSON object per line:
``{"name", "size", "threads", "seconds", "times", "ok", "detail", "error"}``.

numba's simulator has no warp shuffles (``shfl_*_sync``); ``install_shuffle_shim`` adds
``shfl_down_sync`` to it (the simulator runs one OS thread per CUDA thread, so a shuffle is a barrier
over the warp's threads, like its own ``syncthreads``), so that the warp reduction runs the same source.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
import traceback
from typing import Any

_SHIM_LOCK = threading.Lock()


def install_shuffle_shim() -> bool:
    """Give numba's simulator a ``shfl_down_sync`` if it lacks one; returns True when the shim was added.

    Exact for warps whose lanes all take part (the only use in the benchmarks): each lane posts its value,
    waits on a barrier of the warp's lanes, reads lane ``laneid + delta`` (its own value past the end of
    the warp, as on hardware), and waits again before the slots are reused.
    """
    from numba.cuda.simulator import kernelapi

    fake = kernelapi.FakeCUDAModule
    if hasattr(fake, "shfl_down_sync"):
        return False

    def warp_exchange() -> tuple[threading.Barrier, list[Any], int]:
        thread = threading.current_thread()
        manager = thread._manager  # type: ignore[attr-defined]  # the simulator's BlockManager
        warp, lane = divmod(thread.thread_id, 32)  # type: ignore[attr-defined]
        with _SHIM_LOCK:
            warps = manager.__dict__.setdefault("_simtlab_warps", {})
            if warp not in warps:
                lanes = min(32, math.prod(manager._block_dim) - 32 * warp)
                warps[warp] = (threading.Barrier(lanes, timeout=120), [None] * lanes)
            barrier, slots = warps[warp]
        return barrier, slots, lane

    def shfl_down_sync(self: Any, mask: int, value: Any, delta: int) -> Any:
        barrier, slots, lane = warp_exchange()
        slots[lane] = value
        barrier.wait()
        src = lane + delta
        result = slots[src] if src < len(slots) else value
        barrier.wait()
        return result

    fake.shfl_down_sync = shfl_down_sync
    return True


def run_one(cuda: Any, name: str, size: tuple[int, ...], runs: int = 1, seed: int = 0) -> dict[str, Any]:
    """Time one benchmark at one size on the given (simulator) ``cuda`` module (best of ``runs``) and
    check its result."""
    from benchmarks.kernels import BY_NAME, Runner

    bench = BY_NAME[name]
    record: dict[str, Any] = {"name": name, "size": list(size), "threads": None, "seconds": None,
                              "times": [], "ok": False, "detail": "", "error": None}
    try:
        inputs = bench.inputs(size, seed)
        expected = bench.numpy_expr(inputs)
        state = bench.prepare(cuda, inputs)
        for _ in range(max(1, runs)):
            runner = Runner(cuda)
            t0 = time.perf_counter()
            result = bench.run(runner, state)
            cuda.synchronize()
            record["times"].append(time.perf_counter() - t0)
            record["threads"] = runner.threads
            ok, detail = bench.check(bench.fetch(result), expected)
            if not ok:
                record["detail"] = detail
                break
        else:
            record["ok"] = True
        record["seconds"] = min(record["times"])
    except Exception as exc:  # reported in the table, never hidden
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["detail"] = traceback.format_exc(limit=-3)
    return record


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process; see the module docstring."""
    args = sys.argv[1:] if argv is None else argv
    if os.environ.get("NUMBA_ENABLE_CUDASIM") != "1" or "numba.cuda" in sys.modules:
        print("sim_worker: set NUMBA_ENABLE_CUDASIM=1 before numba.cuda is imported", file=sys.stderr)
        return 2
    from numba import cuda

    install_shuffle_shim()
    run_one(cuda, "vector_add", (256,))  # untimed: the first launch of a process pays one-off costs
    request = json.loads(args[0])
    for name, size in request["jobs"]:
        print(json.dumps(run_one(cuda, name, tuple(size), request.get("runs", 1))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
