"""One side of ``simtlab parity``: run the conformance suite or the lab notebooks under one backend.

Run as ``python -m simtlab.cli.parity_worker ...`` in a process of its own, because the backend is
chosen when ``numba.cuda`` (or the conformance suite's ``backend`` module) is first imported:

``probe``
    prints JSON ``{"gpu": bool, "why": str, "device": str}``: whether numba.cuda sees a real NVIDIA GPU
    (numba's simulator, ``NUMBA_ENABLE_CUDASIM=1``, is not one);
``run --backend B --suite conformance|labs --repo DIR --out DIR [--size S] [--seed N] [--only A,B]``
    runs every conformance case (``tests/conformance``, with the same seed on every backend) or every
    lab's source notebook (``labs/source/<lab>/*.ipynb``: its code cells in order, IPython magics
    dropped, unseeded ``np.random.default_rng()`` given a fixed seed) and writes ``outputs.npz`` (each
    output array) and ``meta.json`` (per case or notebook: errors, seconds, tolerances).

Backends: ``simtlab`` (the emulator), ``numba`` (numba.cuda on a GPU), ``numba-sim`` (numba's simulator,
used by the tests to exercise this machinery without a GPU). In a notebook run under numba, ``from
simtlab.emulator import cuda`` gives numba.cuda, so the student's code runs unchanged on the GPU; the
sanitizer and chip selection get do-nothing stand-ins there (so ``check_kernel`` test cells still compare
the kernel with its reference, on the GPU), while cells using simtlab-only tools (profiler, metric gates,
visualizers) fail there and are reported as failing on that side only.
"""

from __future__ import annotations

import argparse
import json
import linecache
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("simtlab", "numba", "numba-sim")
MAX_ARRAY_BYTES = 256 << 20


def probe() -> dict[str, Any]:
    """Whether this process's numba.cuda is a real GPU, and which."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "").strip() not in ("", "0"):
        return {"gpu": False, "device": "", "why": "NUMBA_ENABLE_CUDASIM is set: numba.cuda would be numba's CUDA "
                "simulator, which is not a GPU (unset it to compare with a GPU)"}
    try:
        from numba import cuda
    except Exception as exc:
        return {"gpu": False, "device": "", "why": f"numba-cuda is not usable here ({type(exc).__name__}: {exc})"}
    if cuda.jit.__module__.startswith("numba.cuda.simulator"):
        return {"gpu": False, "device": "", "why": "numba.cuda is numba's CUDA simulator, which is not a GPU"}
    try:
        available = cuda.is_available()
        if available:
            dev = cuda.get_current_device()
            name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
            cc = ".".join(map(str, dev.compute_capability))
            return {"gpu": True, "device": f"{name} (compute capability {cc})", "why": ""}
        why = "numba.cuda.is_available() is False"
        try:
            cuda.get_current_device()
        except Exception as exc:
            why += f" ({' '.join(str(exc).split()).rstrip(': ')})"
        return {"gpu": False, "device": "", "why": f"no NVIDIA GPU visible to numba: {why}"}
    except Exception as exc:
        return {"gpu": False, "device": "", "why": f"no NVIDIA GPU visible to numba ({' '.join(str(exc).split())})"}


def _backend_cuda(backend: str) -> Any:
    """The ``cuda`` module of `backend`; for numba backends also make ``simtlab.emulator.cuda`` point at it."""
    if backend == "simtlab":
        from simtlab.emulator import cuda

        return cuda
    if backend == "numba-sim":
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    from numba import cuda

    if backend == "numba" and cuda.jit.__module__.startswith("numba.cuda.simulator"):
        raise RuntimeError("backend numba needs a GPU, but numba.cuda is the simulator (NUMBA_ENABLE_CUDASIM)")
    import simtlab.emulator as emulator

    _add_extension_stand_ins(cuda)
    emulator.cuda = cuda
    sys.modules["simtlab.emulator.cuda"] = cuda
    return cuda


class _NoFindings:
    """What ``cuda.sanitize()`` yields on a GPU here: a session that found nothing (no sanitizer runs)."""

    findings: list = []

    def errors(self) -> list:
        return []


def _add_extension_stand_ins(cuda: Any) -> None:
    """Give numba.cuda (in this throwaway process only) do-nothing stand-ins for simtlab's sanitizer and chip
    extensions, so that lab cells using them, e.g. the grader's `check_kernel`, which compares the kernel with
    its numpy reference under a sanitizer, still run the student's kernel on the GPU. The profiler is not
    stood in for: metric gates are the emulator's and fail on the GPU side, where they are reported."""
    import contextlib

    stand_ins = {
        "sanitize": lambda *a, **k: contextlib.nullcontext(_NoFindings()),
        "set_default_sanitize": lambda *a, **k: None,
        "default_session": lambda: None,
        "select_chip": lambda *a, **k: None,
        "use_chip": lambda *a, **k: contextlib.nullcontext(),
    }
    for name, value in stand_ins.items():
        if not hasattr(cuda, name):
            setattr(cuda, name, value)


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}"


# -- the conformance suite ------------------------------------------------------------------------------

def run_conformance(repo: Path, backend: str, size: str, seed: int, only: set[str] | None) -> tuple[dict, dict]:
    """Outputs (``"<case>/<output>"``) and per-case metadata of every conformance case on `backend`."""
    os.environ["SIMTLAB_CUDA_BACKEND"] = backend
    if backend == "numba-sim":
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    sys.path.insert(0, str(repo / "tests"))
    from conformance.backend import cuda
    from conformance.registry import all_cases, case_rng

    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for case in all_cases():
        if only and case.name not in only:
            continue
        info: dict[str, Any] = {"rtol": case.rtol, "atol": case.atol,
                                "key_tol": {k: list(v) for k, v in case.key_tol.items()}}
        start = time.perf_counter()
        try:
            result = case.run(cuda, case_rng(case.name, seed), size)
        except Exception as exc:
            info["error"] = _first_line(exc)
        else:
            for key, value in result.got.items():
                arrays[f"{case.name}/{key}"] = np.asarray(value)
        info["seconds"] = round(time.perf_counter() - start, 4)
        meta[case.name] = info
    return arrays, meta


# -- the lab notebooks ------------------------------------------------------------------------------------

def lab_notebooks(repo: Path, only: set[str] | None = None) -> list[Path]:
    """``labs/source/<lab>/*.ipynb`` of every lab whose name does not start with ``_`` (or those in `only`)."""
    source = repo / "labs" / "source"
    out = []
    for lab in sorted(p for p in source.iterdir() if p.is_dir()) if source.is_dir() else []:
        if (only and lab.name not in only) or (not only and lab.name.startswith(("_", "."))):
            continue
        out.extend(sorted(p for p in lab.glob("*.ipynb") if not p.name.startswith(".")))
    return out


def cell_code(source: str) -> str:
    """A code cell's Python: IPython line magics and shell lines dropped, a cell magic's body kept."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln for ln in lines)


def _fixed_default_rng() -> None:
    """``np.random.default_rng()`` without a seed gets a fixed one, so both backends see the same inputs."""
    original = np.random.default_rng
    counter = iter(range(1 << 30))

    def default_rng(seed: Any = None) -> np.random.Generator:
        return original(seed if seed is not None else [20240611, next(counter)])

    np.random.default_rng = default_rng
    np.random.seed(20240611)


def run_notebook(path: Path, cuda: Any) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Execute `path`'s code cells in one namespace; return its arrays at the end and what failed."""
    nb = json.loads(path.read_text())
    ns: dict[str, Any] = {"__name__": "__main__", "np": np, "cuda": cuda}
    errors = []
    start = time.perf_counter()
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        code = cell_code("".join(src) if isinstance(src, list) else src)
        if not code.strip():
            continue
        filename = f"<{path.parent.name}/{path.name} cell {i}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            exec(compile(code, filename, "exec"), ns)  # noqa: S102 - running the lab's own notebook is the point
        except BaseException as exc:  # a cell's failure is a result; the notebook goes on, as "run all" would
            if isinstance(exc, KeyboardInterrupt):
                raise
            errors.append({"cell": i, "error": _first_line(exc)})
    arrays = {}
    for name, value in ns.items():
        if name.startswith("_"):
            continue
        if hasattr(value, "copy_to_host") and hasattr(value, "__cuda_array_interface__"):
            try:
                value = value.copy_to_host()
            except Exception:
                continue
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf?" and value.nbytes <= MAX_ARRAY_BYTES:
            arrays[name] = np.array(value)
    return arrays, {"errors": errors, "seconds": round(time.perf_counter() - start, 3)}


def run_labs(repo: Path, backend: str, only: set[str] | None) -> tuple[dict, dict]:
    """Outputs (``"<lab>/<notebook>/<variable>"``) and per-notebook metadata of every lab notebook."""
    cuda = _backend_cuda(backend)
    _fixed_default_rng()
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {}
    for path in lab_notebooks(repo, only):
        key = f"{path.parent.name}/{path.stem}"
        cwd = os.getcwd()
        os.chdir(path.parent)          # notebooks open their assets relative to their folder
        try:
            got, info = run_notebook(path, cuda)
        finally:
            os.chdir(cwd)
        for name, value in got.items():
            arrays[f"{key}/{name}"] = value
        meta[key] = info
    return arrays, meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simtlab.cli.parity_worker", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("probe")
    run = sub.add_parser("run")
    run.add_argument("--backend", choices=BACKENDS, required=True)
    run.add_argument("--suite", choices=("conformance", "labs"), required=True)
    run.add_argument("--repo", type=Path, required=True)
    run.add_argument("--out", type=Path, required=True)
    run.add_argument("--size", choices=("full", "tiny"), default="full")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--only", default="")
    args = parser.parse_args(argv)
    if args.command == "probe":
        print(json.dumps(probe()))
        return 0
    only = {s for s in args.only.split(",") if s} or None
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        if args.suite == "conformance":
            arrays, meta = run_conformance(args.repo, args.backend, args.size, args.seed, only)
        else:
            arrays, meta = run_labs(args.repo, args.backend, only)
    except Exception:
        (args.out / "meta.json").write_text(json.dumps({"failed": traceback.format_exc()}))
        return 1
    np.savez(args.out / "outputs.npz", **arrays)
    (args.out / "meta.json").write_text(json.dumps({"items": meta}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
