"""The op-to-pipe/cost table: what one kernel operation costs in warp instructions, on which pipe.

This is the single place where the profiler decides what a source-level operation turns into on
the hardware. Each entry gives the warp instructions an operation issues, per pipe, and the
latency class of its result. The figures follow the SASS that nvcc/numba emit for the operation
(CUDA C++ Programming Guide, "Arithmetic Instructions" and its throughput table; the CUDA Binary
Utilities instruction list): an fp32 add is one FADD on the fp32 pipe; an fp32 division without
fast-math is a reciprocal on the special-function unit (MUFU.RCP) plus a Newton-Raphson
refinement on the fp32 pipe; an integer division or modulo by a run-time value is a reciprocal,
conversions and a handful of integer multiply-adds, while by a constant power of two it is a
shift. Counts of multi-instruction sequences are approximate (they vary by compiler version);
they are documented here and in ``docs/timing-model.md``.

Pipes (rates per SM per cycle come from the chip's ``[pipes]`` table):
``fp32``, ``fp64``, ``fp16``, ``int``, ``imul`` (32-bit integer multiply: the ``int`` pipe, at
``issue.int_mul_per_cycle`` when the chip sets it), ``sfu`` (transcendentals, reciprocals),
``conversion``, ``lsu`` (memory instructions and shuffles), ``control`` (branches, barriers),
``tensor``.

Latency classes (cycles from the chip's ``[latency]`` table): ``alu``, ``fp64``, ``sfu``,
``shared`` (shuffles go through the same crossbar), ``none``.

Simplifications, all deliberate: integer arithmetic is costed as 32-bit (as in the C versions of
the classic exercises, although numba computes Python ints in 64 bits); an operation whose type
cannot be inferred is costed as fp32.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Internal pipe names, in the order used for per-block arrays.
PIPE_NAMES: tuple[str, ...] = ("fp32", "fp64", "fp16", "int", "imul", "sfu", "conversion", "lsu", "control",
                               "tensor")
PIPE_INDEX: dict[str, int] = {p: i for i, p in enumerate(PIPE_NAMES)}

#: Value kinds the analysis infers: bool, 32/64-bit ints, fp16/32/64, and "int"/"float" literals
#: (typed as int64/float64 by numba, which matters when they meet a float32).
FLOAT_KINDS = ("f16", "f32", "f64")
INT_KINDS = ("b", "i32", "i64", "il")

Cost = tuple[tuple[str, float], ...]


def arith_pipe(kind: str) -> str:
    """The pipe an add/compare/min/max of values of `kind` runs on."""
    if kind == "f64":
        return "fp64"
    if kind == "f16":
        return "fp16"
    if kind in ("f32", "fl"):
        return "fp32"
    return "int"


def latency_class(pipe: str) -> str:
    """Latency class of a result produced on `pipe`."""
    return {"fp64": "fp64", "sfu": "sfu", "lsu": "shared"}.get(pipe, "alu")


# Special functions: (sfu instructions, instructions on the value's own pipe) for fp32; for fp64
# these are software sequences on the fp64 pipe (the SFU is single precision).
_MATH_FP32: dict[str, tuple[int, int]] = {
    "sqrt": (1, 3), "rsqrt": (1, 0), "exp": (1, 2), "exp2": (1, 0), "expm1": (1, 4), "log": (1, 2),
    "log2": (1, 0), "log10": (1, 2), "log1p": (1, 4), "sin": (1, 8), "cos": (1, 8), "tan": (2, 10),
    "asin": (1, 12), "acos": (1, 12), "atan": (1, 12), "atan2": (2, 14), "sinh": (2, 6), "cosh": (2, 6),
    "tanh": (1, 6), "asinh": (2, 8), "acosh": (2, 8), "atanh": (2, 8), "erf": (1, 12), "erfc": (1, 14),
    "gamma": (3, 30), "lgamma": (3, 30), "pow": (2, 6), "hypot": (1, 6), "cbrt": (2, 6), "fmod": (1, 8),
    "remainder": (1, 8),
}
_MATH_FP64: dict[str, int] = {"sqrt": 8, "rsqrt": 8, "exp": 20, "exp2": 20, "log": 20, "log2": 20, "sin": 30,
                              "cos": 30, "tanh": 25, "pow": 40}
_MATH_SIMPLE = frozenset({"fabs", "abs", "absolute", "floor", "ceil", "trunc", "copysign", "degrees", "radians",
                          "isnan", "isinf", "isfinite", "sign", "minimum", "maximum", "min", "max", "round"})

_WARP_INT = frozenset({"all_sync", "any_sync", "eq_sync", "ballot_sync", "activemask", "lanemask_lt", "laneid",
                       "warpsize"})
_WARP_LSU = frozenset({"shfl_sync", "shfl_up_sync", "shfl_down_sync", "shfl_xor_sync", "match_any_sync",
                       "match_all_sync"})
_BITS = frozenset({"popc", "clz", "ffs", "brev"})
_CONTROL = frozenset({"syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or", "syncwarp",
                      "threadfence", "threadfence_block", "threadfence_system", "branch"})
_FREE = frozenset({"shared.array", "local.array", "const.array_like", "call", "cg.this_grid", "print", "range",
                   "len", "bool"})


def op_cost(op: str, kind: str = "f32", pow2: bool = False) -> tuple[Cost, str]:
    """Warp instructions per pipe and latency class of one operation.

    `op` is an op-kind name as the engine reports it ('add', 'mul', 'div', 'mod', 'idiv', 'cmp',
    'math.sqrt', 'cvt', 'shfl_down_sync', 'atomic.add', 'branch', ...); `kind` the value kind of the
    result (or of the operands, for a comparison); `pow2` says that the divisor of an integer 'mod' or
    'idiv' is a compile-time power of two (then it is a shift or a mask).
    """
    pipe = arith_pipe(kind)
    if op in ("add", "sub", "neg", "cmp", "min", "max", "abs", "fma", "not", "usub", "uadd"):
        return ((pipe, 1),), latency_class(pipe)
    if op == "mul":
        if pipe == "int":
            return (("imul", 1),), "alu"
        return ((pipe, 1),), latency_class(pipe)
    if op in ("and", "or", "xor", "shl", "shr", "invert"):
        return (("int", 1),), "alu"
    if op in ("mod", "idiv"):
        if pipe == "int":
            if pow2:
                return (("int", 1),), "alu"  # Python floor semantics: exactly a shift or a mask
            # int32 division by a run-time value: I2F, MUFU.RCP, F2I, 3 IMAD, ~6 IADD/ISETP/SEL
            return (("conversion", 2), ("sfu", 1), ("imul", 3), ("int", 6)), "sfu"
        if pipe == "fp64":
            return (("sfu", 1), ("fp64", 10)), "fp64"
        return (("sfu", 1), (pipe, 8)), "sfu"
    if op == "div":
        if pipe == "fp64":
            return (("sfu", 1), ("fp64", 8)), "fp64"
        if pipe == "int":  # true division of ints gives a float64 in numba
            return (("conversion", 2), ("sfu", 1), ("fp64", 8)), "fp64"
        return (("sfu", 1), (pipe, 6)), "sfu"
    if op == "pow":
        return op_cost("math.pow", kind)
    if op.startswith("math.") or op.startswith("np."):
        name = op.split(".", 1)[1]
        if name in _MATH_SIMPLE:
            return ((pipe if pipe != "int" else "fp32", 1),), "alu"
        if pipe == "fp64":
            return (("fp64", _MATH_FP64.get(name, 24)),), "fp64"
        sfu, own = _MATH_FP32.get(name, (1, 8))
        cost = (("sfu", sfu),) + ((("fp32" if pipe == "int" else pipe), own),) if own else (("sfu", sfu),)
        return cost, "sfu"
    if op in ("min", "max", "abs", "round", "minimum", "maximum"):
        return ((pipe, 1),), latency_class(pipe)
    if op in ("cvt", "int", "float", "complex"):
        return (("conversion", 1),), "alu"
    if op in _WARP_LSU:
        return (("lsu", 1),), "shared"
    if op in _WARP_INT:
        return (("int", 1),), "alu"
    if op in _BITS:
        return (("conversion", 1),), "alu"  # POPC/FLO/BREV: 16/clk/SM on cc >= 7.0, like conversions
    if op in _CONTROL:
        return (("control", 1),), "none"
    if op in ("grid", "gridsize"):
        return (("imul", 1), ("int", 1)), "alu"
    if op == "cbrt":
        return op_cost("math.cbrt", kind)
    if op.startswith("fp16."):
        name = op[5:]
        if name in ("hdiv", "hsqrt", "hrsqrt", "hrcp", "hexp", "hexp2", "hexp10", "hlog", "hlog2", "hlog10",
                    "hsin", "hcos"):
            return (("sfu", 1), ("fp16", 2)), "sfu"
        return (("fp16", 1),), "alu"
    if "mma" in op:
        return (("tensor", 1),), "tensor"
    if op.startswith("atomic.") or op in _FREE:
        return (), "none"
    return (("int", 1),), "alu"


def mix_add(mix: dict[str, float], cost: Cost, times: float = 1.0) -> None:
    """Add `times` x `cost` into a per-pipe instruction mix."""
    for pipe, n in cost:
        mix[pipe] = mix.get(pipe, 0.0) + n * times


def fallback_mix(ops: tuple[str, ...]) -> tuple[dict[str, float], str]:
    """Instruction mix of a statement known only by its op names (types unknown: fp32 assumed for
    arithmetic, int for comparisons and loop bookkeeping)."""
    mix: dict[str, float] = {}
    lat = "none"
    for op in ops:
        kind = "i32" if op in ("cmp", "and", "or", "xor", "shl", "shr", "mod", "idiv") else "f32"
        cost, cls = op_cost(op, kind)
        mix_add(mix, cost)
        if cls != "none":
            lat = cls
    return mix, lat


def pipe_rate(chip, pipe: str) -> float:
    """Results per cycle per SM of one of `PIPE_NAMES` on `chip` (0 when the chip lacks the unit)."""
    pipes: Mapping[str, float] = chip.pipes
    if pipe == "imul":
        return float(getattr(chip, "int_mul_per_cycle", 0) or pipes["int"])
    return float(pipes.get(pipe, 0.0))
