"""Markers for the kernel API (``cuda.threadIdx.x``, ``cuda.syncthreads`` ...).

The objects students reach through ``cuda`` are markers: the compiler recognises them by
identity when it resolves a kernel's names and turns each into vectorised code. Called from
ordinary host Python they raise an error that says they only work inside a kernel.
"""

from __future__ import annotations

from .errors import SimtError


class Intrinsic:
    """A kernel-only function or value of the numba.cuda API."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args, **kwargs):
        raise SimtError(f"cuda.{self.name} can only be used inside a @cuda.jit kernel or device function",
                        fix="call it from kernel code, not from the host")

    def __repr__(self) -> str:
        return f"<simtlab kernel intrinsic cuda.{self.name}>"


class Namespace:
    """A group of intrinsics (``cuda.atomic``, ``cuda.fp16``, ``cuda.threadIdx`` ...)."""

    def __init__(self, prefix: str, names: list[str]) -> None:
        self._prefix = prefix
        for n in names:
            setattr(self, n.rstrip("_") if n.endswith("__") else n, Intrinsic(f"{prefix}.{n}"))

    def __repr__(self) -> str:
        return f"<simtlab kernel namespace cuda.{self._prefix}>"


DIM3 = ["x", "y", "z"]
threadIdx = Namespace("threadIdx", DIM3)
blockIdx = Namespace("blockIdx", DIM3)
blockDim = Namespace("blockDim", DIM3)
gridDim = Namespace("gridDim", DIM3)

ATOMIC_OPS = ["add", "sub", "max", "min", "nanmax", "nanmin", "and_", "or_", "xor", "exch", "inc", "dec",
              "cas", "compare_and_swap"]
atomic = Namespace("atomic", ATOMIC_OPS)

FP16_OPS = ["hadd", "hsub", "hmul", "hdiv", "hfma", "hneg", "habs", "hsqrt", "hrsqrt", "hrcp", "hexp",
            "hexp2", "hexp10", "hlog", "hlog2", "hlog10", "hsin", "hcos", "hceil", "hfloor", "htrunc", "hrint",
            "heq", "hne", "hgt", "hge", "hlt", "hle", "hmax", "hmin"]
fp16 = Namespace("fp16", FP16_OPS)

shared = Namespace("shared", ["array"])
local = Namespace("local", ["array"])
const = Namespace("const", ["array_like"])
cg = Namespace("cg", ["this_grid"])

FUNCTIONS = ["grid", "gridsize", "syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or",
             "syncwarp", "threadfence", "threadfence_block", "threadfence_system", "shfl_sync",
             "shfl_up_sync", "shfl_down_sync", "shfl_xor_sync", "all_sync", "any_sync", "eq_sync",
             "ballot_sync", "match_any_sync", "match_all_sync", "activemask", "lanemask_lt", "popc", "clz",
             "ffs", "brev", "fma", "cbrt", "laneid", "warpsize"]
FUNC = {n: Intrinsic(n) for n in FUNCTIONS}
