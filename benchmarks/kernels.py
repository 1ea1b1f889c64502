"""The standard benchmark set: each kernel of ``kernel_source.py`` with its sizes, seeded inputs, host-side
launch code, the numpy expression computing the same result, and a correctness check.

One ``Benchmark`` describes everything the harness (``run.py``), the simulator worker (``sim_worker.py``)
and the tests need, independent of the backend: kernels are obtained per backend with
``make_kernels(cuda)``, so the same source runs on simtlab's emulator in one process and on numba's CUDA
simulator in another.

Sizes are tuples of ints. Each benchmark has a full size (the issue's), a quick size (for ``--quick``), a
test size (small, not a multiple of the block or tile sizes, so every guard is exercised) and a rule that
reduces any size to one numba's simulator runs in about a second *while keeping the work per thread the
same* (rows of a matmul are dropped, never the K loop), so that scaling its time by the thread ratio is
fair.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

Size = tuple[int, ...]
Inputs = dict[str, np.ndarray]
Dims = int | tuple[int, ...]

_SOURCE = Path(__file__).with_name("kernel_source.py")
_kernel_modules: dict[int, tuple[Any, ModuleType]] = {}
_kernel_lock = threading.Lock()


def make_kernels(cuda: Any) -> ModuleType:
    """Return the benchmark kernels compiled with the given ``cuda`` module (``simtlab.emulator.cuda`` or
    ``numba.cuda``, possibly its simulator).

    ``kernel_source.py`` is executed as a fresh module whose global ``cuda`` is bound to the given module
    before its body runs, so its ``@cuda.jit`` decorators and the ``cuda.*`` calls inside the kernels refer
    to that backend through a module global, as in a student's code (numba's simulator only swaps a
    global named ``cuda``; a closure over ``cuda`` would not run there). One module per backend, cached.
    """
    with _kernel_lock:
        cached = _kernel_modules.get(id(cuda))
        if cached is not None and cached[0] is cuda:
            return cached[1]
        name = f"benchmarks._kernels_{len(_kernel_modules)}"
        spec = importlib.util.spec_from_file_location(name, _SOURCE)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        module.cuda = cuda  # type: ignore[attr-defined]
        sys.modules[name] = module  # some compilers look kernels' modules up by name
        spec.loader.exec_module(module)
        _kernel_modules[id(cuda)] = (cuda, module)
        return module


class Runner:
    """A backend as the launch code sees it: the ``cuda`` module, its compiled kernels, and a tally of the
    threads launched (grid size times block size, summed over launches), which is the thread count the
    harness reports and scales by."""

    def __init__(self, cuda: Any) -> None:
        self.cuda = cuda
        self.k = make_kernels(cuda)
        self.threads = 0
        self.launches = 0

    def launch(self, kernel: Any, grid: Dims, block: Dims, *args: Any) -> None:
        """Launch ``kernel[grid, block](*args)`` and count its threads."""
        self.threads += math.prod(_dims(grid)) * math.prod(_dims(block))
        self.launches += 1
        kernel[grid, block](*args)


def _dims(d: Dims) -> tuple[int, ...]:
    return (d,) if isinstance(d, int) else tuple(d)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Benchmark:
    """One standard benchmark: a kernel (or a few launches) and everything needed to time and check it."""

    name: str
    description: str
    full: Size
    quick: Size
    test: Size
    sim_size: Callable[[Size], Size]  # reduced size for numba's simulator, same work per thread
    make_inputs: Callable[[Size, np.random.Generator], Inputs]
    prepare: Callable[[Any, Inputs], dict[str, Any]]  # (cuda, inputs) -> device arrays, outputs allocated
    run: Callable[[Runner, dict[str, Any]], Any]  # launches the kernels; returns the result's device array
    numpy_expr: Callable[[Inputs], np.ndarray]  # the numpy expression computing the same result
    rtol: float = 0.0  # 0 with atol 0: results must be exactly equal
    atol: float = 0.0
    elementwise: bool = False  # target: within 10x of the numpy expression

    def inputs(self, size: Size, seed: int = 0) -> Inputs:
        """Seeded inputs at the given size."""
        return self.make_inputs(size, np.random.default_rng(seed))

    def fetch(self, device_result: Any) -> np.ndarray:
        """Copy a result returned by ``run`` back to the host."""
        return np.asarray(device_result.copy_to_host())

    def launch(self, cuda: Any, inputs: Inputs) -> np.ndarray:
        """Run the benchmark once on the given ``cuda`` module: copy in, launch, copy the result out."""
        runner = Runner(cuda)
        state = self.prepare(cuda, inputs)
        result = self.run(runner, state)
        cuda.synchronize()
        return self.fetch(result)

    def check(self, got: np.ndarray, expected: np.ndarray) -> tuple[bool, str]:
        """Compare a result with the numpy expression's; returns (ok, a short reason when not ok)."""
        expected = np.asarray(expected)
        got = np.asarray(got)
        if got.size != expected.size:
            return False, f"shape {got.shape}, expected {expected.shape}"
        got = got.reshape(expected.shape)
        if self.rtol == 0.0 and self.atol == 0.0:
            bad = got != expected
        else:
            bad = ~np.isclose(got, expected, rtol=self.rtol, atol=self.atol)
        n_bad = int(np.count_nonzero(bad))
        if n_bad == 0:
            return True, ""
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
        where = f"[{', '.join(map(str, first))}]" if first else ""
        example = f"result{where} = {got[first].item()!r}, numpy gives {expected[first].item()!r}"
        return False, f"{n_bad} of {bad.size} wrong, e.g. {example}"

    def size_label(self, size: Size) -> str:
        """A human label for a size: powers of two as 2^k, shapes joined by 'x'."""
        return "x".join(_pow2_label(n) if len(size) == 1 else str(n) for n in size)


def _pow2_label(n: int) -> str:
    return f"2^{n.bit_length() - 1}" if n > 0 and n & (n - 1) == 0 else str(n)


def _to_device(cuda: Any, inputs: Inputs) -> dict[str, Any]:
    return {name: cuda.to_device(arr) for name, arr in inputs.items()}


def _f32(rng: np.random.Generator, shape: tuple[int, ...], lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


# --- elementwise -------------------------------------------------------------------------------------


def _vector_add_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    (n,) = size
    return {"a": _f32(rng, (n,)), "b": _f32(rng, (n,))}


def _vector_add_run(r: Runner, dev: dict[str, Any]) -> Any:
    n = dev["out"].size
    r.launch(r.k.vector_add, _cdiv(n, r.k.BLOCK), r.k.BLOCK, dev["a"], dev["b"], dev["out"])
    return dev["out"]


def _map_2d_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    return {"a": _f32(rng, size), "b": _f32(rng, size)}


def _map_2d_run(r: Runner, dev: dict[str, Any]) -> Any:
    rows, cols = dev["out"].shape
    grid = (_cdiv(cols, 16), _cdiv(rows, 16))
    r.launch(r.k.map_2d, grid, (16, 16), dev["a"], dev["b"], dev["out"])
    return dev["out"]


# --- matmul ------------------------------------------------------------------------------------------


def _matmul_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    m, n, k = size
    return {"a": _f32(rng, (m, k)), "b": _f32(rng, (k, n))}


def _matmul_prepare(cuda: Any, inputs: Inputs) -> dict[str, Any]:
    dev = _to_device(cuda, inputs)
    m, n = inputs["a"].shape[0], inputs["b"].shape[1]
    dev["c"] = cuda.device_array((m, n), np.float32)
    return dev


def _matmul_runner(kernel_name: str) -> Callable[[Runner, dict[str, Any]], Any]:
    def run(r: Runner, dev: dict[str, Any]) -> Any:
        tile = r.k.TILE
        m, n = dev["c"].shape
        grid = (_cdiv(n, tile), _cdiv(m, tile))
        r.launch(getattr(r.k, kernel_name), grid, (tile, tile), dev["a"], dev["b"], dev["c"])
        return dev["c"]

    return run


def _matmul_sim_size(size: Size) -> Size:
    # keep K (the per-thread loop) and full 16x16 blocks; drop rows and columns
    m, n, k = size
    return (min(m, 16), min(n, 16), k)


# --- reductions --------------------------------------------------------------------------------------


def _reduce_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    (n,) = size
    return {"x": _f32(rng, (n,), 0.0, 1.0)}


def _reduce_runner(kernel_name: str) -> Callable[[Runner, dict[str, Any]], Any]:
    def run(r: Runner, dev: dict[str, Any]) -> Any:
        """Launch the block reduction on its own partial sums until one value is left."""
        kernel = getattr(r.k, kernel_name)
        data = dev["x"]
        while True:
            blocks = _cdiv(data.size, r.k.BLOCK)
            partial = r.cuda.device_array(blocks, np.float32)
            r.launch(kernel, blocks, r.k.BLOCK, data, partial)
            if blocks == 1:
                return partial
            data = partial

    return run


# --- histogram ---------------------------------------------------------------------------------------


def _histogram_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    (n,) = size
    # a skewed distribution (rounded normal), so that some bins are hot, as in an image histogram
    values = np.clip(np.rint(rng.normal(128.0, 40.0, size=n)), 0, 255)
    return {"data": values.astype(np.uint8)}


def _histogram_run(r: Runner, dev: dict[str, Any]) -> Any:
    k = r.k
    bins = r.cuda.to_device(np.zeros(k.NBINS, np.int32))  # zeroed for every run: the kernel accumulates
    blocks = max(1, _cdiv(dev["data"].size, k.BLOCK * k.HIST_ITEMS))
    r.launch(k.histogram, blocks, k.BLOCK, dev["data"], bins)
    return bins


def _histogram_sim_size(size: Size) -> Size:
    (n,) = size
    return (min(n, 2 * 256 * 16),)  # 2 blocks, same HIST_ITEMS elements per thread


# --- transpose ---------------------------------------------------------------------------------------


def _transpose_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    return {"a": _f32(rng, size)}


def _transpose_prepare(cuda: Any, inputs: Inputs) -> dict[str, Any]:
    dev = _to_device(cuda, inputs)
    rows, cols = inputs["a"].shape
    dev["out"] = cuda.device_array((cols, rows), np.float32)
    return dev


def _transpose_runner(kernel_name: str) -> Callable[[Runner, dict[str, Any]], Any]:
    def run(r: Runner, dev: dict[str, Any]) -> Any:
        k = r.k
        rows, cols = dev["a"].shape
        grid = (_cdiv(cols, k.TR_TILE), _cdiv(rows, k.TR_TILE))
        r.launch(getattr(k, kernel_name), grid, (k.TR_TILE, k.TR_ROWS), dev["a"], dev["out"])
        return dev["out"]

    return run


def _transpose_sim_size(size: Size) -> Size:
    rows, cols = size
    return (min(rows, 32), min(cols, 128))  # 1 x 4 blocks of full 32x32 tiles


# --- scan --------------------------------------------------------------------------------------------


def _scan_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    (n,) = size
    return {"x": rng.integers(0, 10, size=n, dtype=np.int32)}  # sums stay far below 2^31


def _scan_device(r: Runner, data: Any, out: Any) -> None:
    """Inclusive scan of ``data`` into ``out``: scan each 1024-element block, scan the block totals (the
    same way, recursively), then add each block's carry."""
    k = r.k
    blocks = _cdiv(data.size, k.SCAN_BLOCK)
    sums = r.cuda.device_array(blocks, np.int32)
    r.launch(k.scan_blocks, blocks, k.SCAN_THREADS, data, out, sums)
    if blocks > 1:
        scanned = r.cuda.device_array(blocks, np.int32)
        _scan_device(r, sums, scanned)
        r.launch(k.add_block_carry, blocks, k.SCAN_THREADS, out, scanned)


def _scan_run(r: Runner, dev: dict[str, Any]) -> Any:
    _scan_device(r, dev["x"], dev["out"])
    return dev["out"]


# --- softmax -----------------------------------------------------------------------------------------


def _softmax_inputs(size: Size, rng: np.random.Generator) -> Inputs:
    return {"x": _f32(rng, size, -4.0, 4.0)}


def _softmax_run(r: Runner, dev: dict[str, Any]) -> Any:
    rows = dev["x"].shape[0]
    r.launch(r.k.softmax_rows, rows, r.k.BLOCK, dev["x"], dev["out"])
    return dev["out"]


def _softmax_numpy(inputs: Inputs) -> np.ndarray:
    x = inputs["x"]
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _out_like(key: str) -> Callable[[Any, Inputs], dict[str, Any]]:
    def prepare(cuda: Any, inputs: Inputs) -> dict[str, Any]:
        dev = _to_device(cuda, inputs)
        dev["out"] = cuda.device_array_like(inputs[key])
        return dev

    return prepare


def _cap(*limits: int | None) -> Callable[[Size], Size]:
    """A sim-size rule that caps each dimension (None: keep it)."""
    return lambda size: tuple(n if lim is None else min(n, lim) for n, lim in zip(size, limits))


BENCHMARKS: list[Benchmark] = [
    Benchmark(
        name="vector_add",
        description="out = a + b (float32), one thread per element",
        full=(1 << 20,),
        quick=(1 << 16,),
        test=(3001,),
        sim_size=_cap(4096),
        make_inputs=_vector_add_inputs,
        prepare=_out_like("a"),
        run=_vector_add_run,
        numpy_expr=lambda i: i["a"] + i["b"],
        elementwise=True,
    ),
    Benchmark(
        name="map_2d",
        description="out = sqrt(a*a + b*b) over a 2D float32 array, 16x16 blocks",
        full=(1024, 1024),
        quick=(256, 256),
        test=(45, 70),
        sim_size=_cap(16, 128),
        make_inputs=_map_2d_inputs,
        prepare=_out_like("a"),
        run=_map_2d_run,
        numpy_expr=lambda i: np.sqrt(i["a"] * i["a"] + i["b"] * i["b"]),
        rtol=1e-6,
        atol=1e-7,
        elementwise=True,
    ),
    Benchmark(
        name="matmul_naive",
        description="c = a @ b (float32, MxNxK), one thread per output, operands from global memory",
        full=(256, 256, 256),
        quick=(64, 64, 64),
        test=(40, 24, 36),
        sim_size=_matmul_sim_size,
        make_inputs=_matmul_inputs,
        prepare=_matmul_prepare,
        run=_matmul_runner("matmul_naive"),
        numpy_expr=lambda i: i["a"] @ i["b"],
        rtol=1e-4,
        atol=1e-4,
    ),
    Benchmark(
        name="matmul_tiled",
        description="c = a @ b (float32, MxNxK) with 16x16 shared-memory tiles",
        full=(256, 256, 256),
        quick=(64, 64, 64),
        test=(40, 24, 36),
        sim_size=_matmul_sim_size,
        make_inputs=_matmul_inputs,
        prepare=_matmul_prepare,
        run=_matmul_runner("matmul_tiled"),
        numpy_expr=lambda i: i["a"] @ i["b"],
        rtol=1e-4,
        atol=1e-4,
    ),
    Benchmark(
        name="reduce_shared",
        description="sum of float32: shared-memory tree per block, relaunched on the partial sums",
        full=(1 << 22,),
        quick=(1 << 18,),
        test=(3001,),
        sim_size=_cap(1024),
        make_inputs=_reduce_inputs,
        prepare=_to_device,
        run=_reduce_runner("reduce_shared"),
        numpy_expr=lambda i: np.asarray(i["x"].sum()),
        rtol=1e-4,
    ),
    Benchmark(
        name="reduce_warp",
        description="sum of float32: warp shuffles, then warp 0 over the warp sums; relaunched on partials",
        full=(1 << 22,),
        quick=(1 << 18,),
        test=(3001,),
        sim_size=_cap(1024),
        make_inputs=_reduce_inputs,
        prepare=_to_device,
        run=_reduce_runner("reduce_warp"),
        numpy_expr=lambda i: np.asarray(i["x"].sum()),
        rtol=1e-4,
    ),
    Benchmark(
        name="histogram",
        description="256-bin histogram of uint8: shared-memory atomics per block, merged with global atomics",
        full=(1 << 20,),
        quick=(1 << 16,),
        test=(5003,),
        sim_size=_histogram_sim_size,
        make_inputs=_histogram_inputs,
        prepare=_to_device,
        run=_histogram_run,
        numpy_expr=lambda i: np.bincount(i["data"], minlength=256),
    ),
    Benchmark(
        name="transpose_naive",
        description="out = a.T (float32), 32x8 blocks, 4 elements per thread, strided writes",
        full=(1024, 1024),
        quick=(256, 256),
        test=(70, 45),
        sim_size=_transpose_sim_size,
        make_inputs=_transpose_inputs,
        prepare=_transpose_prepare,
        run=_transpose_runner("transpose_naive"),
        numpy_expr=lambda i: np.ascontiguousarray(i["a"].T),
    ),
    Benchmark(
        name="transpose_tiled",
        description="out = a.T (float32) through a 32x33 shared tile, coalesced reads and writes",
        full=(1024, 1024),
        quick=(256, 256),
        test=(70, 45),
        sim_size=_transpose_sim_size,
        make_inputs=_transpose_inputs,
        prepare=_transpose_prepare,
        run=_transpose_runner("transpose_tiled"),
        numpy_expr=lambda i: np.ascontiguousarray(i["a"].T),
    ),
    Benchmark(
        name="block_scan",
        description="inclusive scan of int32: Blelloch scan of 1024-element blocks, block totals, carries",
        full=(1 << 20,),
        quick=(1 << 16,),
        test=(2500,),
        sim_size=_cap(2048),
        make_inputs=_scan_inputs,
        prepare=_out_like("x"),
        run=_scan_run,
        numpy_expr=lambda i: np.cumsum(i["x"], dtype=np.int32),
    ),
    Benchmark(
        name="softmax_rows",
        description="row softmax of float32, one 256-thread block per row, shared max and sum reductions",
        full=(1024, 1024),
        quick=(256, 256),
        test=(5, 300),
        sim_size=_cap(2, None),
        make_inputs=_softmax_inputs,
        prepare=_out_like("x"),
        run=_softmax_run,
        numpy_expr=_softmax_numpy,
        rtol=1e-4,
        atol=1e-7,
    ),
]

BY_NAME: dict[str, Benchmark] = {b.name: b for b in BENCHMARKS}
