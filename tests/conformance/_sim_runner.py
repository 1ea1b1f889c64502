"""Run conformance cases under numba's CUDA simulator in a process of their own.

Usage: ``python tests/conformance/_sim_runner.py --out DIR [--seed S] [--size tiny]``

numba's simulator has to be switched on (``NUMBA_ENABLE_CUDASIM=1``) before ``numba.cuda`` is
first imported, so it cannot share a process with the simtlab backend; the parity tests start this
script once per session. It writes into DIR:

``outputs.npz``
    every output of every case the simulator can run (``sim_ok``), keyed ``"<case>/<output>"``;
``meta.json``
    per case: seconds, threads launched, kernel launches, and the error if it raised;
``launches.json``
    the argument types of every kernel launch of every case, including the cases the simulator
    cannot run (those are started only to record their launches; their outputs are discarded).
    ``_numba_typing.py`` compiles each recorded launch with numba's real CUDA compiler.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


class LaunchRecorder:
    """Wraps the simulator's kernel call to count threads and record argument types per case."""

    def __init__(self) -> None:
        self.case = ""
        self.threads: dict[str, int] = {}
        self.launches: list[dict[str, Any]] = []
        self.enabled = False

    def install(self) -> None:
        """Patch numba's simulated kernel object (a no-op if numba's internals moved)."""
        try:
            from numba.cuda.simulator import kernel as simkernel
            from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
        except ImportError:
            return
        original = simkernel.FakeCUDAKernel.__call__
        recorder = self

        def call(kernel: Any, *args: Any) -> Any:
            if not kernel._device and simkernel._kernel_context is None:
                recorder.record(kernel, args, FakeCUDAArray)
            return original(kernel, *args)

        simkernel.FakeCUDAKernel.__call__ = call
        self.enabled = True

    def record(self, kernel: Any, args: tuple[Any, ...], fake_array: type) -> None:
        grid = int(np.prod(kernel.grid_dim))
        block = int(np.prod(kernel.block_dim))
        self.threads[self.case] = self.threads.get(self.case, 0) + grid * block
        self.launches.append(
            {
                "case": self.case,
                "module": kernel.fn.__module__,
                "name": kernel.fn.__name__,
                "args": [describe_arg(a, fake_array) for a in args],
            }
        )


def describe_arg(arg: Any, fake_array: type) -> list[Any]:
    """A JSON description of a kernel argument, enough to rebuild its numba type."""
    if isinstance(arg, fake_array):
        arg = arg._ary
    if isinstance(arg, np.ndarray):
        layout = "C" if arg.flags.c_contiguous else ("F" if arg.flags.f_contiguous else "A")
        return ["array", arg.dtype.str, arg.ndim, layout]
    if isinstance(arg, bool | np.bool_):
        return ["scalar", "?"]
    if isinstance(arg, int):
        return ["scalar", "<i8"]
    if isinstance(arg, float):
        return ["scalar", "<f8"]
    if isinstance(arg, np.generic):
        return ["scalar", arg.dtype.str]
    return ["unknown", type(arg).__name__]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", default="tiny", choices=("tiny", "full"))
    parser.add_argument("--no-record-unsupported", action="store_true")
    args = parser.parse_args(argv)

    os.environ["SIMTLAB_CUDA_BACKEND"] = "numba-sim"
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    recorder = LaunchRecorder()
    recorder.install()
    from conformance.backend import IS_NUMBA_SIM, cuda
    from conformance.registry import all_cases, case_rng

    assert IS_NUMBA_SIM
    args.out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"seed": args.seed, "size": args.size, "recorder": recorder.enabled, "cases": {}}
    sim_seconds = 0.0
    for case in all_cases():
        if not case.sim_ok and args.no_record_unsupported:
            continue
        recorder.case = case.name
        info: dict[str, Any] = {"sim_ok": case.sim_ok}
        start = time.perf_counter()
        try:
            result = case.run(cuda, case_rng(case.name, args.seed), args.size)
        except Exception:
            if case.sim_ok:
                info["error"] = traceback.format_exc()
        else:
            if case.sim_ok:
                for key, value in result.got.items():
                    arrays[f"{case.name}/{key}"] = np.asarray(value)
        elapsed = time.perf_counter() - start
        if case.sim_ok:
            info["seconds"] = round(elapsed, 4)
            info["threads"] = recorder.threads.get(case.name, 0)
            sim_seconds += elapsed
        meta["cases"][case.name] = info
    meta["sim_seconds"] = round(sim_seconds, 3)
    np.savez(args.out / "outputs.npz", **arrays)
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1))
    (args.out / "launches.json").write_text(json.dumps(recorder.launches, indent=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
