"""``python -m simtlab.grader.warmup [NOTEBOOK_DIR]``: compile the emulator's numba loops into NUMBA_CACHE_DIR.

Run by `simtlab.grader.worker.warm_numba_cache` (outside any sandbox) so that sandboxed grading
processes start from a copy of a warm cache. It launches a few small kernels the way lab checks
do (sanitized, and profiled, with the common dtypes), then executes the instructor's source
notebooks found in NOTEBOOK_DIR (trusted code: solutions and tests) on the simtlab kernel, which
compiles exactly the specialisations the lab's tests need.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import numpy as np


def run() -> int:
    """Launch the warm-up kernels; 0 on success."""
    from simtlab.emulator import cuda

    @cuda.jit
    def axpy(a, x, y, out):
        i = cuda.grid(1)
        if i < out.size:
            out[i] = a * x[i] + y[i]

    @cuda.jit
    def tile_sum(x, out):
        tile = cuda.shared.array(64, np.float32)
        t = cuda.threadIdx.x
        i = cuda.grid(1)
        tile[t] = 0.0
        if i < x.size:
            tile[t] = x[i]
        cuda.syncthreads()
        s = 32
        while s > 0:
            if t < s:
                tile[t] += tile[t + s]
            cuda.syncthreads()
            s //= 2
        if t == 0:
            cuda.atomic.add(out, 0, tile[0])

    @cuda.jit
    def add2d(a, b, out):
        c, r = cuda.grid(2)
        if r < out.shape[0] and c < out.shape[1]:
            out[r, c] = a[r, c] + b[r, c]

    def launches() -> None:
        for dt in (np.float32, np.float64, np.int32, np.int64):
            x = np.arange(100, dtype=dt)
            out = np.zeros(100, dtype=dt)
            axpy[2, 64](dt(2), x, x, out)
        x = np.ones(200, np.float32)
        out = np.zeros(1, np.float32)
        tile_sum[4, 64](x, out)
        a = np.ones((19, 37), np.float32)
        add2d[(2, 3), (32, 8)](a, a, np.zeros_like(a))

    with cuda.sanitize(mode="report", echo=False):
        launches()
    profile = getattr(cuda, "profile", None)
    if profile is not None:
        with contextlib.suppress(Exception), profile():
            launches()
    launches()
    return 0


def run_notebooks(folder: str) -> None:
    """Execute every notebook in `folder` (errors allowed) on the simtlab kernel, in that folder."""
    from ._fastimport import speed_up_imports

    speed_up_imports()
    import nbformat
    from nbclient import NotebookClient

    for path in sorted(Path(folder).glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(nb, kernel_name="simtlab", timeout=600, allow_errors=True,
                                resources={"metadata": {"path": folder}})
        with contextlib.suppress(Exception):
            client.execute()


if __name__ == "__main__":
    code = run()
    if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]):
        run_notebooks(sys.argv[1])
    sys.exit(code)
