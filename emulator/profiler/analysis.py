"""Static analysis of a kernel's source for the profiler: value types, per-line instruction mix,
data dependencies and an estimate of registers per thread.

The engine reports *that* a line ran (and with which lanes); what the line costs depends on the
types of its values, which numba decides at compile time. This module repeats the part of
numba's typing that matters for cost, on the kernel's AST and the launch's argument types:

- values: ``cuda.threadIdx.x`` is an int32, Python int literals and ``cuda.grid`` are int64,
  float literals are float64, array elements have the array's dtype, and mixed arithmetic
  promotes as numpy does (float32 with an int or a float literal gives float64);
- per source line: the warp instructions per pipe of one execution (from `costs.op_cost`), the
  variables it reads (as addresses or as values) and writes, and the latency of its arithmetic
  chain, which the timing model's dependency tracking uses;
- registers per thread: the most simultaneously live scalar variables over the kernel (live
  ranges over the statements in program order, stretched over a loop when a value is carried
  around it), 64-bit values counting 2, plus array pointers, thread indices and temporaries.
  This stands in for ptxas' allocation; `cuda.profile(..., registers=N)` or
  ``@cuda.jit(max_registers=N)`` override it.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
from dataclasses import dataclass, field

import numpy as np

from .. import intrinsics as I
from .costs import FLOAT_KINDS, arith_pipe, mix_add, op_cost

_OPNAMES = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow", ast.LShift: "shl",
            ast.RShift: "shr", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor", ast.FloorDiv: "idiv",
            ast.Mod: "mod"}
_MISSING = object()
_MATH_NAMES = {getattr(math, n): n for n in dir(math) if callable(getattr(math, n))}
_NP_NAMES = {}
for _n in ("sqrt", "exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos",
           "arctan", "arctan2", "sinh", "cosh", "tanh", "floor", "ceil", "trunc", "fabs", "abs", "absolute",
           "isnan", "isinf", "isfinite", "minimum", "maximum", "hypot", "copysign", "power", "sign", "fmod"):
    _NP_NAMES[getattr(np, _n)] = _n
_CASTS = {np.float16: "f16", np.float32: "f32", np.float64: "f64", np.int8: "i32", np.int16: "i32",
          np.int32: "i32", np.int64: "i64", np.uint8: "i32", np.uint16: "i32", np.uint32: "i32",
          np.uint64: "i64", np.bool_: "b", builtins.int: "i64", builtins.float: "f64", builtins.bool: "b"}


def dtype_kind(dt) -> str:
    """Value kind of a numpy dtype."""
    dt = np.dtype(dt)
    if dt.kind == "b":
        return "b"
    if dt.kind in "iu":
        return "i64" if dt.itemsize > 4 else "i32"
    if dt.kind == "f":
        return {2: "f16", 4: "f32"}.get(dt.itemsize, "f64")
    if dt.kind == "c":
        return "f64" if dt.itemsize > 8 else "f32"
    return "f32"


def promote(a: str | None, b: str | None) -> str | None:
    """numba's (numpy's) promotion of two value kinds; "il"/"fl" are int/float literals."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    floats = {a, b} & set(FLOAT_KINDS + ("fl",))
    if floats:
        if "f64" in floats or "fl" in floats:
            return "f64"
        other = ({a, b} - floats) or floats
        o = next(iter(other))
        if "f32" in floats:
            return "f64" if o in ("i32", "i64", "il") else "f32"
        return "f32" if o in ("i32", "i64", "il") else "f16"  # f16 with an int
    if "i64" in (a, b) or "il" in (a, b):
        return "i64"
    if "i32" in (a, b):
        return "i32"
    return a


def settle(kind: str | None) -> str:
    """The kind a variable takes when a literal is assigned to it."""
    return {"il": "i64", "fl": "f64", None: "f32"}.get(kind, kind)  # type: ignore[arg-type]


def width(kind: str | None) -> int:
    """32-bit registers a value of `kind` occupies."""
    return 2 if kind in ("i64", "f64", "il", "fl") else 1


@dataclass
class LineInfo:
    """What one execution of one source line costs and touches."""

    line: int
    mix: dict[str, float] = field(default_factory=dict)   # warp instructions per pipe
    reads: frozenset[str] = frozenset()                   # variables read as values
    addr_reads: frozenset[str] = frozenset()              # variables read to form addresses
    writes: frozenset[str] = frozenset()
    exec_latency: float = 0.0                             # cycles of the arithmetic above the loads
    lat_class: str = "alu"                                # what its results wait on ("alu", "sfu", ...)
    div_pow2: bool = True                                 # every integer divisor is a constant 2**k
    flops: float = 0.0                                    # per lane: fadd + fmul + 2 x ffma (any precision)
    unroll: int = 1                                       # > 1 inside a loop the compiler unrolls (no barrier)

    @property
    def n_inst(self) -> float:
        """Warp instructions issued per execution (memory instructions are counted separately)."""
        return float(sum(self.mix.values()))


@dataclass
class KernelAnalysis:
    """The result of `analyze`: per-line costs, variable kinds and the register estimate."""

    name: str
    lines: dict[int, LineInfo]
    kinds: dict[str, str]
    registers: int
    register_note: str
    array_dtypes: dict[str, np.dtype]


class _Analyzer:
    def __init__(self, func, args: dict, chip, fdef: ast.FunctionDef | None = None) -> None:
        from ..compiler import get_source
        if fdef is None:
            fdef, _, _ = get_source(func)
        self.fdef = fdef
        self.func = func
        cv = inspect.getclosurevars(func)
        self.env = {**cv.builtins, **func.__globals__, **cv.nonlocals}
        self.chip = chip
        self.params = [a.arg for a in fdef.args.args]
        self.assigned: set[str] = set()
        for n in ast.walk(fdef):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                self.assigned.add(n.id)
        self.kinds: dict[str, str] = {}
        self.arrays: dict[str, np.dtype] = {}
        self.array_ndim: dict[str, int] = {}
        self.tuples: dict[str, str] = {}
        for p in self.params:
            a = args.get(p)
            if a is None:
                continue
            dt = getattr(a, "dtype", None)
            if hasattr(a, "data") and dt is not None and hasattr(a, "space"):
                self.arrays[p] = np.dtype(dt)
                self.array_ndim[p] = int(getattr(a.data, "ndim", 1))
            elif isinstance(a, np.generic):
                self.kinds[p] = dtype_kind(a.dtype)
            elif isinstance(a, tuple):
                self.tuples[p] = "i64"
        lat = chip.latency
        self.lat = {"alu": float(lat["alu"]), "fp64": float(lat["fp64"] or lat["alu"] * 8),
                    "sfu": float(lat["sfu"]), "shared": float(lat["shared"]), "tensor": float(lat["tensor"]),
                    "none": 0.0}

    # -- name resolution ------------------------------------------------------------------------
    def resolve(self, node):
        if isinstance(node, ast.Name):
            if node.id in self.assigned or node.id in self.params:
                return _MISSING
            return self.env.get(node.id, _MISSING)
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base is _MISSING:
                return _MISSING
            return getattr(base, node.attr, _MISSING)
        return _MISSING

    def const_int(self, node) -> int | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
            return node.value
        obj = self.resolve(node)
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, bool):
            return int(obj)
        if isinstance(node, ast.BinOp) and type(node.op) in (ast.Mult, ast.Add, ast.Sub, ast.FloorDiv):
            a, b = self.const_int(node.left), self.const_int(node.right)
            if a is not None and b is not None:
                try:
                    return {ast.Mult: a * b, ast.Add: a + b, ast.Sub: a - b, ast.FloorDiv: a // b}[type(node.op)]
                except ZeroDivisionError:
                    return None
        return None

    # -- typing ---------------------------------------------------------------------------------
    def kind(self, node) -> str | None:  # noqa: C901 - one dispatch over expression types
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool):
                return "b"
            if isinstance(v, int):
                return "il"
            if isinstance(v, float):
                return "fl"
            return None
        if isinstance(node, ast.Name):
            if node.id in self.kinds:
                return self.kinds[node.id]
            obj = self.resolve(node)
            if isinstance(obj, bool):
                return "b"
            if isinstance(obj, (int, np.integer)):
                return "il" if isinstance(obj, int) else dtype_kind(np.asarray(obj).dtype)
            if isinstance(obj, (float, np.floating)):
                return "fl" if isinstance(obj, float) else dtype_kind(np.asarray(obj).dtype)
            return None
        if isinstance(node, ast.Attribute):
            obj = self.resolve(node)
            if isinstance(obj, I.Intrinsic):
                return "i32"  # threadIdx.x, blockDim.x ...: int32 special registers
            if node.attr in ("size", "ndim"):
                return "i64"
            return None
        if isinstance(node, ast.Subscript):
            base = node.value
            if isinstance(base, ast.Attribute) and base.attr in ("shape", "strides"):
                return "i64"
            if isinstance(base, ast.Name):
                if base.id in self.arrays:
                    return dtype_kind(self.arrays[base.id])
                if base.id in self.tuples:
                    return self.tuples[base.id]
            return None
        if isinstance(node, ast.BinOp):
            a, b = self.kind(node.left), self.kind(node.right)
            k = promote(a, b)
            if isinstance(node.op, ast.Div) and k in ("i32", "i64", "il", "b"):
                return "f64"
            return k
        if isinstance(node, ast.UnaryOp):
            return "b" if isinstance(node.op, ast.Not) else self.kind(node.operand)
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return "b"
        if isinstance(node, ast.IfExp):
            return promote(self.kind(node.body), self.kind(node.orelse))
        if isinstance(node, ast.Call):
            f = self.resolve(node.func)
            if f in _CASTS:
                return _CASTS[f]
            if f in _MATH_NAMES or f in _NP_NAMES:
                name = _MATH_NAMES.get(f) or _NP_NAMES.get(f)
                if name in ("floor", "ceil", "trunc") and f in _MATH_NAMES:
                    return "i64"
                if name in ("isnan", "isinf", "isfinite"):
                    return "b"
                k = None
                for a in node.args:
                    k = promote(k, self.kind(a))
                return "f32" if k in ("f32", "f16") else "f64"
            if f in (builtins.min, builtins.max, builtins.abs):
                k = None
                for a in node.args:
                    k = promote(k, self.kind(a))
                return k
            if f is builtins.round:
                return "i64"
            if isinstance(f, I.Intrinsic):
                n = f.name
                if n in ("grid", "gridsize"):
                    return "i64"
                if n.startswith("shfl") and len(node.args) >= 2:
                    return self.kind(node.args[1])
                if n.startswith("atomic.") and node.args and isinstance(node.args[0], ast.Name):
                    dt = self.arrays.get(node.args[0].id)
                    return dtype_kind(dt) if dt is not None else None
                if n == "fma" and node.args:
                    return self.kind(node.args[0])
                if n in ("cbrt",) and node.args:
                    return self.kind(node.args[0])
                if n.startswith("fp16."):
                    return "f16"
                if n in ("ballot_sync", "activemask", "lanemask_lt", "popc", "clz", "ffs", "brev", "laneid",
                         "warpsize", "syncthreads_count", "match_any_sync", "match_all_sync"):
                    return "i32"
                if n in ("all_sync", "any_sync", "eq_sync", "syncthreads_and", "syncthreads_or"):
                    return "i32"
            return None
        if isinstance(node, ast.Tuple):
            return None
        return None

    def note_array(self, target: ast.expr, value: ast.expr) -> bool:
        """Record `x = cuda.shared.array(shape, dtype)` (and local/const arrays); True if it was one."""
        if not (isinstance(target, ast.Name) and isinstance(value, ast.Call)):
            return False
        f = self.resolve(value.func)
        if not isinstance(f, I.Intrinsic) or f.name not in ("shared.array", "local.array", "const.array_like"):
            return False
        dt = np.float32
        if f.name == "const.array_like" and value.args:
            obj = self.resolve(value.args[0])
            dt = getattr(obj, "dtype", dt)
        else:
            dnode = value.args[1] if len(value.args) > 1 else next(
                (k.value for k in value.keywords if k.arg == "dtype"), None)
            if dnode is not None:
                obj = self.resolve(dnode)
                if obj is not _MISSING:
                    try:
                        dt = np.dtype(obj)
                    except TypeError:
                        pass
            snode = value.args[0] if value.args else None
            if isinstance(snode, ast.Tuple):
                self.array_ndim[target.id] = len(snode.elts)
            else:
                self.array_ndim[target.id] = 1
        self.arrays[target.id] = np.dtype(dt)
        return True

    def infer(self) -> None:
        """Fixpoint of variable kinds over all assignments (numba unifies a variable's types)."""
        for _ in range(4):
            changed = False
            for st in ast.walk(self.fdef):
                pairs = []
                if isinstance(st, ast.Assign):
                    for t in st.targets:
                        if self.note_array(t, st.value):
                            continue
                        if isinstance(t, ast.Name):
                            pairs.append((t.id, self.kind(st.value)))
                        elif isinstance(t, ast.Tuple):
                            if isinstance(st.value, ast.Tuple):
                                for e, v in zip(t.elts, st.value.elts):
                                    if isinstance(e, ast.Name):
                                        pairs.append((e.id, self.kind(v)))
                            else:
                                k = self.kind(st.value)
                                if isinstance(st.value, ast.Call) and isinstance(self.resolve(st.value.func),
                                                                                 I.Intrinsic):
                                    k = "i64"
                                for e in t.elts:
                                    if isinstance(e, ast.Name):
                                        pairs.append((e.id, k))
                elif isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name) and st.value is not None:
                    pairs.append((st.target.id, self.kind(st.value)))
                elif isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
                    pairs.append((st.target.id, promote(self.kinds.get(st.target.id), self.kind(st.value))))
                elif isinstance(st, ast.For) and isinstance(st.target, ast.Name):
                    k = None
                    if isinstance(st.iter, ast.Call):
                        for a in st.iter.args:
                            k = promote(k, self.kind(a))
                    pairs.append((st.target.id, "i64" if k in (None, "il", "i32", "b") else k))
                for name, k in pairs:
                    if name in self.arrays or k is None:
                        continue
                    new = settle(promote(self.kinds.get(name), k))
                    if self.kinds.get(name) != new:
                        self.kinds[name] = new
                        changed = True
            if not changed:
                break
        for name in self.assigned:
            if name not in self.kinds and name not in self.arrays:
                self.kinds[name] = "f32"  # unknown (a device function's result): costed as fp32

    # -- per-line cost --------------------------------------------------------------------------
    def expr(self, node, mix: dict[str, float], info: dict) -> float:
        """Add the instructions of `node` to `mix`; returns its latency above the loads (cycles)."""
        if isinstance(node, ast.BinOp):
            k = promote(self.kind(node.left), self.kind(node.right))
            if isinstance(node.op, (ast.Add, ast.Sub)) and k in FLOAT_KINDS:
                for side, other in ((node.left, node.right), (node.right, node.left)):
                    if self._is_fmul(side, k):  # contracted into one fused multiply-add
                        a = max(self.expr(side.left, mix, info), self.expr(side.right, mix, info))
                        b = self.expr(other, mix, info)
                        cost, cls = op_cost("fma", k)
                        mix_add(mix, cost)
                        info["flops"] = info.get("flops", 0.0) + 2
                        info.setdefault("classes", []).append(cls)
                        return max(a, b) + self._lat(cost, cls)
            a = self.expr(node.left, mix, info)
            b = self.expr(node.right, mix, info)
            if isinstance(node.op, ast.Div) and k in ("i32", "i64", "il", "b"):
                k = "i64"
            op = _OPNAMES.get(type(node.op), "add")
            pow2 = False
            if op == "mul" and k in ("i32", "i64", "il", "b"):
                for side in (node.left, node.right):
                    c = self.const_int(side)
                    if c is not None and c > 0 and c & (c - 1) == 0:
                        op = "shl"  # strength-reduced to a shift by the compiler
            if op in ("mod", "idiv"):
                d = self.const_int(node.right)
                pow2 = d is not None and d > 0 and d & (d - 1) == 0
                if not pow2 and k in ("i32", "i64", "il", "b"):
                    info["div_pow2"] = False
            if k in ("il",) and self.const_int(node) is not None:
                return max(a, b)  # folded by the compiler
            cost, cls = op_cost(op, k or "f32", pow2)
            mix_add(mix, cost)
            if k in FLOAT_KINDS and op in ("add", "sub", "mul"):
                info["flops"] = info.get("flops", 0.0) + 1
            info.setdefault("classes", []).append(cls)
            return max(a, b) + self._lat(cost, cls)
        if isinstance(node, ast.UnaryOp):
            a = self.expr(node.operand, mix, info)
            if isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
                return a
            op = {ast.USub: "neg", ast.Not: "not", ast.Invert: "invert", ast.UAdd: "uadd"}[type(node.op)]
            if op == "uadd":
                return a
            cost, cls = op_cost(op, self.kind(node.operand) or "f32")
            mix_add(mix, cost)
            return a + self._lat(cost, cls)
        if isinstance(node, ast.Compare):
            lat = self.expr(node.left, mix, info)
            prev = node.left
            for _op, comp in zip(node.ops, node.comparators):
                lat = max(lat, self.expr(comp, mix, info))
                k = promote(self.kind(prev), self.kind(comp))
                cost, cls = op_cost("cmp", k or "i32")
                mix_add(mix, cost)
                prev = comp
            return lat + self.lat["alu"]
        if isinstance(node, ast.BoolOp):
            lat = 0.0
            for v in node.values:
                lat = max(lat, self.expr(v, mix, info))
            mix_add(mix, (("int", len(node.values) - 1),))
            return lat + self.lat["alu"]
        if isinstance(node, ast.IfExp):
            lat = max(self.expr(node.test, mix, info), self.expr(node.body, mix, info),
                      self.expr(node.orelse, mix, info))
            mix_add(mix, (("int", 1),))
            return lat + self.lat["alu"]
        if isinstance(node, ast.Subscript):
            self.expr_index(node.slice, mix, info)
            if not isinstance(node.value, ast.Name):
                self.expr(node.value, mix, info)
            return 0.0
        if isinstance(node, ast.Call):
            lat = 0.0
            for a in node.args:
                lat = max(lat, self.expr(a, mix, info))
            f = self.resolve(node.func)
            k = None
            for a in node.args:
                k = promote(k, self.kind(a))
            if f in _CASTS:
                kk = _CASTS[f]
                if not node.args or k is None or settle(k) == kk or isinstance(node.args[0], ast.Constant):
                    return lat  # no conversion needed (or folded at compile time)
                cost, cls = op_cost("cvt", kk)
            elif f in _MATH_NAMES or f in _NP_NAMES:
                name = _MATH_NAMES.get(f) or _NP_NAMES.get(f)
                kk = "f32" if k in ("f32", "f16") else "f64"
                cost, cls = op_cost("math." + name, kk)
            elif f in (builtins.min, builtins.max, builtins.abs):
                cost, cls = op_cost("max", k or "f32")
                cost = tuple((p, n * max(1, len(node.args) - 1)) for p, n in cost)
            elif isinstance(f, I.Intrinsic):
                cost, cls = op_cost(f.name, k or "f32")
            else:
                return lat  # device function or unknown: its own lines report themselves
            mix_add(mix, cost)
            info.setdefault("classes", []).append(cls)
            return lat + self._lat(cost, cls)
        if isinstance(node, ast.Tuple):
            lat = 0.0
            for e in node.elts:
                lat = max(lat, self.expr(e, mix, info))
            return lat
        return 0.0

    def expr_index(self, node, mix, info) -> None:
        if isinstance(node, ast.Tuple):
            for e in node.elts:
                self.expr(e, mix, info)
        else:
            self.expr(node, mix, info)

    def _lat(self, cost, cls: str) -> float:
        base = self.lat.get(cls, self.lat["alu"])
        if cls == "sfu":
            # a sequence: the SFU op plus its dependent fixups on the value's own pipe
            extra = sum(n for p, n in cost if p not in ("sfu",))
            return base + min(extra, 6) * self.lat["alu"]
        if cls == "fp64":
            n = sum(n for p, n in cost if p == "fp64")
            return base * max(1.0, min(n, 8) / 2)
        return base

    # -- names ------------------------------------------------------------------------------------
    def scalar(self, name: str) -> bool:
        return name in self.assigned and name not in self.arrays

    def names(self, node) -> tuple[set[str], set[str]]:
        """(value reads, address reads) of local scalars in an expression."""
        vals: set[str] = set()
        addrs: set[str] = set()

        def walk(n, in_index: bool) -> None:
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if self.scalar(n.id) or n.id in self.params and n.id not in self.arrays:
                    (addrs if in_index else vals).add(n.id)
                return
            if isinstance(n, ast.Subscript):
                walk(n.value, in_index)
                walk(n.slice, True)
                return
            for c in ast.iter_child_nodes(n):
                walk(c, in_index)
        walk(node, False)
        return vals, addrs

    def line_info(self, st) -> LineInfo:
        mix: dict[str, float] = {}
        info: dict = {}
        writes: set[str] = set()
        vals: set[str] = set()
        addrs: set[str] = set()
        lat = 0.0
        if isinstance(st, (ast.If, ast.While)):
            lat = self.expr(st.test, mix, info)
            vals, addrs = self.names(st.test)
            if isinstance(st, ast.While) or not _predicated(st):
                mix_add(mix, (("control", 1),))
        elif isinstance(st, ast.For):
            for a in (st.iter.args if isinstance(st.iter, ast.Call) else []):
                v, ad = self.names(a)
                vals |= v
                addrs |= ad
            if isinstance(st.target, ast.Name):
                writes.add(st.target.id)
                vals.add(st.target.id)
            mix_add(mix, (("int", 2), ("control", 1)))  # increment, compare, branch
            lat = 2 * self.lat["alu"]
        elif isinstance(st, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            value = st.value
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            if isinstance(st, ast.Assign) and any(self.note_array(t, value) for t in targets):
                return LineInfo(st.lineno)
            if value is not None:
                lat = self.expr(value, mix, info)
                vals, addrs = self.names(value)
            for t in targets:
                if isinstance(t, ast.Name):
                    writes.add(t.id)
                elif isinstance(t, ast.Tuple):
                    writes.update(e.id for e in t.elts if isinstance(e, ast.Name))
                elif isinstance(t, ast.Subscript):
                    v, ad = self.names(t)
                    addrs |= ad | v
                    self.expr_index(t.slice, mix, info)
            if isinstance(st, ast.AugAssign):
                k = promote(self.kind(st.target), self.kind(st.value))
                op = _OPNAMES.get(type(st.op), "add")
                pow2 = False
                if op == "mul" and k in ("i32", "i64", "il", "b"):
                    c = self.const_int(st.value)
                    if c is not None and c > 0 and c & (c - 1) == 0:
                        op = "shl"
                if op in ("mod", "idiv"):
                    d = self.const_int(st.value)
                    pow2 = d is not None and d > 0 and d & (d - 1) == 0
                    if not pow2:
                        info["div_pow2"] = False
                cost, cls = op_cost(op, k or "f32", pow2)
                mix_add(mix, cost)
                lat += self._lat(cost, cls)
                info.setdefault("classes", []).append(cls)
                if k in FLOAT_KINDS and op in ("add", "sub", "mul"):
                    info["flops"] = info.get("flops", 0.0) + 1
                    if op in ("add", "sub") and self._is_fmul(st.value, k):
                        # acc += a * b: the multiply and the add are one fused multiply-add
                        pipe = arith_pipe(k)
                        mix[pipe] = mix.get(pipe, 0.0) - 1
                        lat -= self.lat["alu"] if pipe != "fp64" else self.lat["fp64"]
                if isinstance(st.target, ast.Name):
                    vals.add(st.target.id)
        elif isinstance(st, ast.Expr):
            lat = self.expr(st.value, mix, info)
            vals, addrs = self.names(st.value)
        elif isinstance(st, ast.Return) and st.value is not None:
            lat = self.expr(st.value, mix, info)
            vals, addrs = self.names(st.value)
        classes = info.get("classes", [])
        lat_class = "sfu" if "sfu" in classes else "fp64" if "fp64" in classes else "alu"
        writes = {w for w in writes if w not in self.arrays}
        return LineInfo(st.lineno, mix, frozenset(vals), frozenset(addrs), frozenset(writes), lat, lat_class,
                        info.get("div_pow2", True), info.get("flops", 0.0))

    def _is_fmul(self, node, k: str) -> bool:
        """Whether `node` is a floating-point multiply of kind `k` (which the compiler contracts into an FMA)."""
        return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult) and \
            promote(self.kind(node.left), self.kind(node.right)) == k

    # -- statements in program order ------------------------------------------------------------
    def statements(self):
        """(index, stmt, loop stack) in program order; compound statements give their header."""
        out = []
        loops: list[tuple[int, int]] = []

        def block(body, stack):
            for st in body:
                if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                    continue
                idx = len(out)
                out.append((st, stack))
                if isinstance(st, ast.If):
                    block(st.body, stack)
                    block(st.orelse, stack)
                elif isinstance(st, (ast.For, ast.While)):
                    n = len(loops)
                    loops.append((idx, -1))
                    block(st.body, stack + (n,))
                    loops[n] = (idx, len(out) - 1)
        block(self.fdef.body, ())
        return out, loops

    def has_barrier(self, loop) -> bool:
        """Whether a loop's body synchronises the block (then its iterations cannot overlap)."""
        for n in ast.walk(loop):
            if isinstance(n, ast.Call):
                f = self.resolve(n.func)
                if isinstance(f, I.Intrinsic) and (f.name.startswith("syncthreads") or f.name == "this_grid"):
                    return True
                if isinstance(n.func, ast.Attribute) and n.func.attr == "sync":
                    return True
        return False

    def registers(self, infos: list[tuple[LineInfo, tuple]], loops) -> tuple[int, str]:
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        touched_loops: dict[str, set[int]] = {}
        for i, (li, stack) in enumerate(infos):
            for n in li.reads | li.addr_reads | li.writes:
                if n in self.params:
                    continue
                first.setdefault(n, i)
                last[n] = i
                touched_loops.setdefault(n, set()).update(stack)
        for n in first:
            for lp in touched_loops.get(n, ()):
                start, end = loops[lp]
                if first[n] < start or self._used_before_def_in(n, infos, start, end):
                    first[n] = min(first[n], start)
                    last[n] = max(last[n], end)
        pressure = [0] * max(1, len(infos))
        for n in first:
            w = width(self.kinds.get(n))
            for i in range(first[n], last[n] + 1):
                pressure[i] += w
        peak = max(pressure)
        used_params = set()
        for li, _ in infos:
            used_params |= (li.reads | li.addr_reads) & set(self.params)
        for n in ast.walk(self.fdef):
            if isinstance(n, ast.Name) and n.id in self.arrays and n.id in self.params:
                used_params.add(n.id)
        param_regs = 0
        for p in used_params:
            if p in self.arrays:
                param_regs += 2 + max(0, self.array_ndim.get(p, 1) - 1)
            else:
                param_regs += width(self.kinds.get(p))
        temps = 2
        total = peak + param_regs + temps + 4  # + thread/block indices and the stack/frame registers
        total = max(8, min(int(total), int(self.chip.max_registers_per_thread)))
        note = (f"estimated: {peak} for live scalars, {param_regs} for parameters, {temps + 4} for indices and "
                "temporaries")
        return total, note

    @staticmethod
    def _used_before_def_in(name, infos, start, end) -> bool:
        for i in range(start, end + 1):
            li = infos[i][0]
            if name in li.reads or name in li.addr_reads:
                return True
            if name in li.writes:
                return False
        return False


#: Loops with a run-time trip count and no barrier are unrolled by this factor (nvcc, and LLVM's NVPTX
#: backend, unroll such loops partially by default), so the loads of that many iterations are in flight
#: together: a load's latency is paid once per UNROLL iterations (when its address does not depend on
#: loaded data).
UNROLL = 4

#: An ``if`` whose sides hold at most this many simple statements is compiled to predicated
#: instructions (no branch instruction), as nvcc and ptxas do for short bodies.
PREDICATE_MAX_STATEMENTS = 3


def _predicated(st: ast.If) -> bool:
    body = list(st.body) + list(st.orelse)
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Pass)
    return len(body) <= PREDICATE_MAX_STATEMENTS and all(isinstance(b, simple) for b in body)


def analyze(func, args: dict, chip, device_functions=()) -> KernelAnalysis:
    """Analyse a kernel (and its device functions) for a launch with these arguments on `chip`."""
    an = _Analyzer(func, args, chip)
    an.infer()
    stmts, loops = an.statements()
    infos = [(an.line_info(st), stack) for st, stack in stmts]
    barrier_free = [not an.has_barrier(stmts[start][0]) for start, _ in loops]
    for li, stack in infos:
        if stack and barrier_free[stack[-1]]:
            li.unroll = UNROLL
    lines: dict[int, LineInfo] = {}
    for li, _ in infos:
        if li.line in lines:  # two statements on one line: add them up
            old = lines[li.line]
            mix = dict(old.mix)
            mix_add(mix, tuple(li.mix.items()))
            li = LineInfo(li.line, mix, old.reads | li.reads, old.addr_reads | li.addr_reads, old.writes | li.writes,
                          max(old.exec_latency, li.exec_latency), li.lat_class, old.div_pow2 and li.div_pow2,
                          old.flops + li.flops, min(old.unroll, li.unroll))
        lines[li.line] = li
    regs, note = an.registers(infos, loops)
    for dev in device_functions:
        try:
            dan = _Analyzer(dev.py_func, {}, chip)
            dan.infer()
            dstmts, _ = dan.statements()
            for st, _ in dstmts:
                li = dan.line_info(st)
                lines.setdefault(li.line, li)
        except Exception:  # a device function we cannot read costs by the engine's op names instead
            continue
    return KernelAnalysis(func.__name__, lines, dict(an.kinds), regs, note, dict(an.arrays))


__all__ = ["KernelAnalysis", "LineInfo", "analyze", "promote", "dtype_kind", "width"]
