"""Compile every recorded conformance kernel launch with numba's real CUDA compiler, without a GPU.

Usage: ``python tests/conformance/_numba_typing.py --launches launches.json --out result.json``

The contract says that kernel source that runs on the emulator must run unchanged under
``numba.cuda`` on an NVIDIA GPU. Without a GPU we can still run numba's CUDA front end: type
inference and lowering to LLVM IR for compute capability 8.0, for the argument types each kernel
was launched with (recorded by ``_sim_runner.py``). That rejects whatever numba would reject at
launch (unsupported constructs, bad intrinsic argument types, non-constant shared array shapes...).

numba asks the current device for its compute capability when it compiles a device function or an
intrinsic that is implemented in Python; there is no device here, so this script answers for one
(with the toolchain bridge's `target_device`, which also maps the recorded argument descriptions to
numba types: `type_from_descriptor`). If numba's internals have moved, the result says
"unavailable" and the test is skipped.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

CC = (8, 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launches", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    os.environ["SIMTLAB_CUDA_BACKEND"] = "numba"
    os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    try:
        import numba.cuda.dispatcher as dispatcher
        from numba.cuda import types
        from numba.cuda.compiler import compile_cuda

        from simtlab.emulator.toolchain._numba import target_device, type_from_descriptor

        if not hasattr(dispatcher, "get_current_device"):
            raise ImportError("numba.cuda.dispatcher.get_current_device is gone")
    except ImportError as exc:
        args.out.write_text(json.dumps({"unavailable": f"numba's CUDA compiler cannot be driven here: {exc}"}))
        return 0

    results: dict[str, list[dict[str, str]]] = {}
    errors: dict[str, str | None] = {}
    for launch in json.loads(args.launches.read_text()):
        key = json.dumps([launch["module"], launch["name"], launch["args"]])
        entry = {"kernel": f"{launch['module']}.{launch['name']}", "args": json.dumps(launch["args"])}
        if key not in errors:
            errors[key] = None
            try:
                module = importlib.import_module(launch["module"])
                kernel = getattr(module, launch["name"])
                argtypes = tuple(type_from_descriptor(d) for d in launch["args"])
                with target_device(CC):
                    compile_cuda(kernel.py_func, types.void, argtypes, cc=CC)
            except Exception as exc:  # every failure is reported to the test
                errors[key] = f"{type(exc).__name__}: {exc}"
        if errors[key] is not None:
            entry["error"] = errors[key]
        results.setdefault(launch["case"], []).append(entry)
    args.out.write_text(json.dumps({"cases": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
