"""From a kernel's Python source to vectorised Python code over the threads of a chunk.

The kernel's AST is checked against the numba.cuda subset and translated into a Python
function whose values are scalars (uniform), :class:`~.lanes.Affine` symbols or numpy arrays
over the lane space. Control flow runs under an active-lane mask held in the generated
function's local ``_s_m``: ``if`` runs each side under its mask (skipping a side no lane takes),
loops iterate while any lane is active, ``break``/``continue``/``return`` move lanes out of the
mask. Names of the numba.cuda API are resolved at compile time from the function's globals, so
``cuda.threadIdx.x`` becomes a field of the chunk state and ``cuda.syncthreads()`` a runtime
call; anything outside the subset is rejected here with the line and what to use instead.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import math
import textwrap
import types
from dataclasses import dataclass, field

import numpy as np

from . import intrinsics as I
from .errors import KernelCompileError, KernelNotImplementedError

PREFIX = "_s_"

# numpy scalar types usable as casts inside kernels
CAST_TYPES = {np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
              np.uint32, np.uint64, np.bool_, np.complex64, np.complex128}

MATH_FUNCS = {getattr(math, n): n for n in (
    "sqrt", "exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "floor", "ceil", "trunc", "fabs", "pow", "copysign",
    "fmod", "hypot", "isnan", "isinf", "isfinite", "erf", "erfc", "gamma", "lgamma", "degrees", "radians",
    "ldexp", "remainder")}
NUMPY_FUNCS = {getattr(np, n): n for n in (
    "sqrt", "exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "arctan2", "sinh", "cosh", "tanh", "floor", "ceil", "trunc", "fabs", "abs", "absolute",
    "isnan", "isinf", "isfinite", "minimum", "maximum", "hypot", "copysign", "power", "sign", "fmod")}
BUILTIN_FUNCS = {builtins.min: "min", builtins.max: "max", builtins.abs: "abs", builtins.int: "int",
                 builtins.float: "float", builtins.bool: "bool", builtins.len: "len", builtins.round: "round",
                 builtins.print: "print", builtins.range: "range", builtins.complex: "complex"}

BINOPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.LShift: "<<",
          ast.RShift: ">>", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^"}
OPNAMES = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow",
           ast.LShift: "shl", ast.RShift: "shr", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
           ast.FloorDiv: "idiv", ast.Mod: "mod"}
CMPOPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}

UNSUPPORTED = {
    ast.List: "lists are not supported in kernels; use a tuple, cuda.local.array or cuda.shared.array",
    ast.ListComp: "comprehensions are not supported in kernels; write a for loop",
    ast.DictComp: "comprehensions are not supported in kernels; write a for loop",
    ast.SetComp: "comprehensions are not supported in kernels; write a for loop",
    ast.GeneratorExp: "generator expressions are not supported in kernels; write a for loop",
    ast.Dict: "dicts are not supported in kernels; use arrays",
    ast.Set: "sets are not supported in kernels; use arrays",
    ast.Lambda: "lambdas are not supported in kernels; write a @cuda.jit(device=True) function",
    ast.JoinedStr: "f-strings are not supported in kernels; print values separated by commas",
    ast.Await: "await is not supported in kernels",
    ast.Yield: "generators are not supported in kernels",
    ast.YieldFrom: "generators are not supported in kernels",
    ast.Starred: "*args unpacking is not supported in kernels",
    ast.NamedExpr: "the walrus operator := is not supported in kernels; assign on its own line",
    ast.MatMult: "the @ operator is not supported in kernels; write the loops (that is the exercise!)",
}
UNSUPPORTED_STMTS = {
    ast.With: "with-blocks are not supported in kernels",
    ast.Try: "try/except is not supported in kernels: GPU code cannot catch exceptions",
    ast.Raise: "raise is not supported in kernels: GPU code cannot raise exceptions",
    ast.Import: "import inside a kernel is not supported; import at module level",
    ast.ImportFrom: "import inside a kernel is not supported; import at module level",
    ast.Global: "global statements are not supported: kernels cannot rebind globals; write to an array",
    ast.Nonlocal: "nonlocal is not supported in kernels",
    ast.ClassDef: "classes cannot be defined inside kernels",
    ast.FunctionDef: "functions cannot be defined inside kernels; define a @cuda.jit(device=True) function",
    ast.AsyncFunctionDef: "async functions are not supported",
    ast.Delete: "del is not supported in kernels",
    ast.Assert: "assert is not supported in emulated kernels; check with an if and write a flag to an array",
}


def _is_not_implemented_stub(st: ast.stmt) -> bool:
    """``raise NotImplementedError`` or ``raise NotImplementedError(...)``: an exercise's unfilled stub."""
    if not isinstance(st, ast.Raise) or st.exc is None:
        return False
    exc = st.exc.func if isinstance(st.exc, ast.Call) else st.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


@dataclass
class SharedDecl:
    """A ``cuda.shared.array`` statement found at compile time."""

    id: int
    shape: tuple[int, ...]
    dtype: np.dtype
    line: int
    key: tuple = ()

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


@dataclass
class LocalDecl:
    id: int
    shape: tuple[int, ...]
    dtype: np.dtype
    line: int


@dataclass
class CompiledFunction:
    """The result of compiling one kernel or device function."""

    name: str
    filename: str
    firstline: int
    source: str                   # generated Python source
    fn: types.FunctionType        # the generated function
    params: list[str]
    shared: list[SharedDecl] = field(default_factory=list)
    locals_: list[LocalDecl] = field(default_factory=list)
    written_params: set[str] = field(default_factory=set)
    uses_grid_sync: bool = False
    device_functions: list = field(default_factory=list)
    nvars: int = 0
    line_ops: dict[int, tuple[str, ...]] = field(default_factory=dict)


def get_source(func) -> tuple[ast.FunctionDef, str, int]:
    """The function's AST, file name and first line, from inspect (works in IPython too)."""
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise KernelCompileError(
            f"cannot read the source code of '{func.__name__}' ({exc})",
            fix="define kernels in a .py file or a notebook cell, not with exec() or in the REPL") from None
    src = textwrap.dedent("".join(lines))
    tree = ast.parse(src)
    fdef = tree.body[0]
    while not isinstance(fdef, ast.FunctionDef):
        raise KernelCompileError(f"'{func.__name__}' is not a plain function definition")
    ast.increment_lineno(tree, first - 1)
    return fdef, func.__code__.co_filename, first


class _Scope:
    """Which names in a function are local, and which assignments need no masking."""

    def __init__(self, fdef: ast.FunctionDef) -> None:
        self.params = [a.arg for a in fdef.args.args]
        self.assigned: set[str] = set(self.params)
        self.plain: set[int] = set()        # ids of Name-store nodes that may assign without a mask
        self._occ: dict[str, list[tuple[tuple[int, ...], bool, bool, int]]] = {}
        self._counter = 0
        self._order = 0
        self._walk_block(fdef.body, (0,))
        for p in self.params:
            self._occ.setdefault(p, []).insert(0, ((0,), True, False, -1))
        self._decide()

    def _new_block(self, chain):
        self._counter += 1
        return chain + (self._counter,)

    def _note(self, name, chain, store, toplevel, node_id):
        self._order += 1
        self._occ.setdefault(name, []).append((chain, store, toplevel, node_id))
        if store:
            self.assigned.add(name)

    def _names(self, node, chain, store_top_ids=()):
        for n in ast.walk(node):
            if isinstance(n, ast.Name):
                store = isinstance(n.ctx, ast.Store)
                self._note(n.id, chain, store, id(n) in store_top_ids, id(n))

    def _walk_block(self, body, chain):
        for st in body:
            self._walk_stmt(st, chain)

    def _walk_stmt(self, st, chain):
        if isinstance(st, (ast.Assign, ast.AnnAssign)):
            self._names(st.value, chain) if st.value is not None else None
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            for t in targets:
                tops = set()
                if isinstance(t, ast.Name):
                    tops = {id(t)}
                elif isinstance(t, ast.Tuple):
                    tops = {id(e) for e in t.elts if isinstance(e, ast.Name)}
                self._names(t, chain, tops)
        elif isinstance(st, ast.AugAssign):
            self._names(st.value, chain)
            if isinstance(st.target, ast.Name):
                self._note(st.target.id, chain, False, False, 0)
                self._note(st.target.id, chain, True, False, id(st.target))
            else:
                self._names(st.target, chain)
        elif isinstance(st, ast.If):
            self._names(st.test, chain)
            self._walk_block(st.body, self._new_block(chain))
            self._walk_block(st.orelse, self._new_block(chain))
        elif isinstance(st, ast.While):
            body = self._new_block(chain)
            self._names(st.test, chain)
            self._walk_block(st.body, body)
            self._names(st.test, chain)
        elif isinstance(st, ast.For):
            self._names(st.iter, chain)
            body = self._new_block(chain)
            tops = {id(st.target)} if isinstance(st.target, ast.Name) else set()
            self._names(st.target, body, tops)
            self._walk_block(st.body, body)
        else:
            self._names(st, chain)

    def _decide(self):
        for occ in self._occ.values():
            chains = [c for c, *_ in occ]
            common = chains[0]
            for c in chains[1:]:
                k = 0
                while k < min(len(common), len(c)) and common[k] == c[k]:
                    k += 1
                common = common[:k]
            first_chain, first_store, first_top, _ = occ[0]
            if not (first_store and first_top and first_chain == common):
                continue
            for c, store, top, nid in occ:
                if store and top and c == common:
                    self.plain.add(nid)


class _Liveness:
    """Assignments under a partial mask whose old value no inactive lane can read later.

    Lanes inactive at an assignment either took another branch of an enclosing ``if`` (they run
    its ``else`` part after the ``then`` part, then the statements after the ``if``), stayed in an
    enclosing loop (they may read the variable in a later iteration), or left through
    ``break``/``continue``/``return``. If none of those paths reads the variable, the assignment
    needs no merge with the old value (no ``np.where``), which keeps uniform values scalar.
    """

    def __init__(self, fdef: ast.FunctionDef) -> None:
        self.parent: dict[int, tuple[list, int, ast.stmt | None, str]] = {}
        self._index(fdef.body, None, "body")
        self.safe: set[int] = set()
        for n in ast.walk(fdef):
            if isinstance(n, (ast.Assign, ast.AnnAssign)):
                targets = n.targets if isinstance(n, ast.Assign) else [n.target]
                for t in targets:
                    for e in ([t] if isinstance(t, ast.Name) else t.elts if isinstance(t, ast.Tuple) else []):
                        if isinstance(e, ast.Name) and not self.needs_merge(n, e.id):
                            self.safe.add(id(e))
            elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
                if not self.needs_merge(n, n.target.id):
                    self.safe.add(id(n.target))
            elif isinstance(n, ast.For) and isinstance(n.target, ast.Name):
                if not self.needs_merge(n, n.target.id, head=True):
                    self.safe.add(id(n.target))

    def _index(self, body, owner, part) -> None:
        for k, st in enumerate(body):
            self.parent[id(st)] = (body, k, owner, part)
            if isinstance(st, ast.If):
                self._index(st.body, st, "body")
                self._index(st.orelse, st, "orelse")
            elif isinstance(st, (ast.While, ast.For)):
                self._index(st.body, st, "body")

    @staticmethod
    def reads(node, name: str) -> bool:
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load):
                return True
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
                return True
        return False

    @staticmethod
    def _has_continue(loop) -> bool:
        def walk(nodes):
            for st in nodes:
                if isinstance(st, ast.Continue):
                    return True
                if isinstance(st, ast.If) and (walk(st.body) or walk(st.orelse)):
                    return True
            return False
        return walk(loop.body)

    def needs_merge(self, stmt, name: str, head: bool = False) -> bool:
        x = stmt
        nested = head          # a for-loop's target is assigned at its head: the loop is the construct
        while True:
            body, k, owner, part = self.parent[id(x)]
            if nested and any(self.reads(st, name) for st in body[k + 1:]):
                return True
            if owner is None:
                return False
            if isinstance(owner, ast.If):
                if part == "body" and owner.orelse and any(self.reads(st, name) for st in owner.orelse):
                    return True
            elif nested or self._has_continue(owner):
                test = owner.test if isinstance(owner, ast.While) else owner.iter
                if self.reads(test, name) or any(self.reads(st, name) for st in owner.body):
                    return True
            x = owner
            nested = True


class CodeGen:
    """Translates one function definition into vectorised Python source."""

    def __init__(self, func, fdef: ast.FunctionDef, filename: str, firstline: int, *, device: bool,
                 instrument: bool, compile_device) -> None:
        self.func = func
        self.fdef = fdef
        self.filename = filename
        self.firstline = firstline
        self.device = device
        self.instrument = instrument
        self.compile_device = compile_device
        self.name = fdef.name
        self.scope = _Scope(fdef)
        self.scope.plain |= _Liveness(fdef).safe
        self.bool_names = self._bool_names(fdef)
        self.lines: list[str] = []
        self.indent = 1
        self.tmp = 0
        self.consts: dict[str, object] = {}
        self.shared: list[SharedDecl] = []
        self.locals_: list[LocalDecl] = []
        self.written: set[str] = set()
        self.alias_edges: list[tuple[str, str]] = []
        self.uses_grid_sync = False
        self.device_functions: list = []
        self.loop_stack: list[tuple[str, str]] = []   # (break mask var, continue mask var)
        self.line_ops: dict[int, tuple[str, ...]] = {}
        cv = inspect.getclosurevars(func)
        self.env = {**cv.builtins, **func.__globals__, **cv.nonlocals}
        for name in self.scope.assigned:
            if name.startswith(PREFIX):
                raise self.err(fdef, f"names starting with '{PREFIX}' are reserved by simtlab; rename '{name}'")

    def _boolish(self, node) -> bool:
        """Statically a boolean: comparisons, and/or/not, bool(), True/False, names only assigned those."""
        if isinstance(node, (ast.Compare, ast.BoolOp)):
            return True
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "bool":
            return True
        return isinstance(node, ast.Name) and node.id in getattr(self, "bool_names", ())

    def _maybe_bool(self, node, code: str) -> str:
        """Wrap an operand that may hold booleans (statically so, or unknown: a name, load or call)."""
        if self._boolish(node) or isinstance(node, (ast.Name, ast.Subscript, ast.Call, ast.Attribute)):
            if isinstance(node, ast.Name) and node.id not in self.scope.assigned:
                return code           # a global constant
            return f"{PREFIX}rt.bool_to_int({code})"
        return code

    def _bool_names(self, fdef) -> set[str]:
        verdict: dict[str, bool] = {}
        for n in ast.walk(fdef):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        verdict[t.id] = verdict.get(t.id, True) and self._boolish(n.value)
            elif isinstance(n, (ast.AugAssign, ast.For)) and isinstance(n.target, ast.Name):
                verdict[n.target.id] = False
            elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name):
                verdict[n.target.id] = False
        return {k for k, v in verdict.items() if v and k not in self.scope.params}

    # -- utilities ------------------------------------------------------------------------------
    def err(self, node, msg: str, fix: str | None = None) -> KernelCompileError:
        return KernelCompileError(msg, kernel=self.name, filename=self.filename,
                                  line=getattr(node, "lineno", self.firstline), fix=fix)

    def emit(self, s: str) -> None:
        self.lines.append("    " * self.indent + s)

    def new(self, base: str = "t") -> str:
        self.tmp += 1
        return f"{PREFIX}{base}{self.tmp}"

    def const(self, value) -> str:
        name = f"{PREFIX}K{len(self.consts)}"
        self.consts[name] = value
        return name

    # -- compile-time name resolution -------------------------------------------------------
    _MISSING = object()

    def resolve(self, node):
        """The compile-time object an expression names, or _MISSING if it is a runtime value."""
        if isinstance(node, ast.Name):
            if node.id in self.scope.assigned:
                return self._MISSING
            if node.id in self.env:
                return self.env[node.id]
            raise self.err(node, f"name '{node.id}' is not defined")
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            if base is self._MISSING:
                return self._MISSING
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise self.err(node, f"'{ast.unparse(node.value)}' has no attribute '{node.attr}'") from None
        return self._MISSING

    def const_value(self, node, what: str):
        """Evaluate a compile-time constant expression (shapes, dtypes, gridDim arguments)."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(self.const_value(e, what) for e in node.elts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self.const_value(node.operand, what)
        if isinstance(node, ast.BinOp):
            raise self.err(node, f"{what} must be a literal or a module-level constant; numba does not accept an "
                                 f"expression like '{ast.unparse(node)}' here",
                           fix="define the value as a module-level constant first, e.g. TILE2 = TILE * 2")
        obj = self.resolve(node)
        if obj is self._MISSING:
            raise self.err(node, f"{what} must be a compile-time constant, but '{ast.unparse(node)}' "
                                 "is a runtime value",
                           fix="use a literal or a module-level constant (numba needs the size when it compiles)")
        return obj

    # -- statements -----------------------------------------------------------------------------
    def gen(self) -> str:
        params = self.scope.params
        head = f"def {PREFIX}fn({PREFIX}st, {PREFIX}m, {', '.join(params)}):" if self.device else \
            f"def {PREFIX}fn({PREFIX}st, {', '.join(params)}):"
        a = self.fdef.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs:
            raise self.err(self.fdef, "kernels take plain positional parameters only "
                                      "(no *args, **kwargs, keyword-only parameters or defaults)")
        if not self.device:
            self.emit(f"{PREFIX}m = None")
        else:
            self.emit(f"{PREFIX}rv = {PREFIX}rt.NO_VALUE")
        for n in sorted(self.scope.assigned - set(params)):
            self.emit(f"{n} = {PREFIX}rt.Undefined({n!r})")
        self.block(self.fdef.body)
        if self.device:
            self.emit(f"return None if {PREFIX}rv is {PREFIX}rt.NO_VALUE else {PREFIX}rv")
        return head + "\n" + "\n".join(self.lines) + "\n"

    def block(self, body: list[ast.stmt]) -> None:
        """Statements in order; after one that may remove lanes, the rest runs only if lanes remain."""
        opened = 0
        start = len(self.lines)
        for i, st in enumerate(body):
            if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
                continue  # docstring
            self.stmt(st)
            if isinstance(st, (ast.Return, ast.Break, ast.Continue)):
                break
            if i + 1 < len(body) and self._may_exit(st):
                self.emit(f"if {PREFIX}m is not False:")
                self.indent += 1
                opened += 1
        if opened or len(self.lines) == start:
            self.emit("pass")
        self.indent -= opened

    @staticmethod
    def _may_exit(st) -> bool:
        for n in ast.walk(st):
            if isinstance(n, (ast.Return, ast.Break, ast.Continue)):
                return True
        return False

    def set_line(self, node) -> None:
        self.emit(f"{PREFIX}st.line = {node.lineno}")

    def observe_stmt(self, node, mask: str = PREFIX + "m") -> None:
        if self.instrument:
            ops = self.ops_of(node)
            self.line_ops.setdefault(node.lineno, ops)
            self.emit(f"{PREFIX}st.stmt_event({node.lineno}, {mask}, {ops!r}, locals())")

    def ops_of(self, node) -> tuple[str, ...]:
        ops = []
        nodes = [node] if not isinstance(node, (ast.If, ast.While, ast.For)) else \
            [node.test] if not isinstance(node, ast.For) else [node.iter]
        for root in nodes:
            for n in ast.walk(root):
                if isinstance(n, ast.BinOp):
                    ops.append(OPNAMES.get(type(n.op), "alu"))
                elif isinstance(n, ast.AugAssign):
                    ops.append(OPNAMES.get(type(n.op), "alu"))
                elif isinstance(n, ast.Compare):
                    ops.extend("cmp" for _ in n.ops)
                elif isinstance(n, ast.Call):
                    obj = self.resolve(n.func)
                    if isinstance(obj, I.Intrinsic):
                        ops.append(obj.name)
                    elif obj in MATH_FUNCS:
                        ops.append("math." + MATH_FUNCS[obj])
                    elif obj in CAST_TYPES or obj in (builtins.int, builtins.float):
                        ops.append("cvt")
                    else:
                        ops.append("call")
        if isinstance(node, (ast.If, ast.While, ast.For)):
            ops.append("branch")
        return tuple(ops)

    def stmt(self, st: ast.stmt) -> None:
        if _is_not_implemented_stub(st):
            raise KernelNotImplementedError(
                "not implemented yet: this is still the exercise's stub", kernel=self.name, filename=self.filename,
                line=st.lineno, fix="replace `raise NotImplementedError()` (and the '# YOUR CODE HERE' line) with "
                "your code, run this cell again, then the test cell")
        for bad, msg in UNSUPPORTED_STMTS.items():
            if isinstance(st, bad):
                raise self.err(st, msg)
        if isinstance(st, ast.Pass):
            return
        self.set_line(st)
        if isinstance(st, (ast.Assign, ast.AnnAssign)):
            if st.value is None:
                return
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            special = self.special_assign(st, targets)
            if not special:
                v = self.expr(st.value)
                if len(targets) > 1:
                    tv = self.new()
                    self.emit(f"{tv} = {v}")
                    v = tv
                for t in targets:
                    self.assign(t, v, st)
            self.observe_stmt(st)
        elif isinstance(st, ast.AugAssign):
            self.augassign(st)
            self.observe_stmt(st)
        elif isinstance(st, ast.Expr):
            v = self.expr(st.value, discard=True)
            if v != "None":
                self.emit(v)
            self.observe_stmt(st)
        elif isinstance(st, ast.If):
            self.if_(st)
        elif isinstance(st, ast.While):
            self.while_(st)
        elif isinstance(st, ast.For):
            self.for_(st)
        elif isinstance(st, ast.Break):
            if not self.loop_stack:
                raise self.err(st, "break outside a loop")
            b, _ = self.loop_stack[-1]
            self.emit(f"{b} = {PREFIX}rt.mor({b}, {PREFIX}m)")
            self.emit(f"{PREFIX}m = False")
        elif isinstance(st, ast.Continue):
            if not self.loop_stack:
                raise self.err(st, "continue outside a loop")
            _, k = self.loop_stack[-1]
            self.emit(f"{k} = {PREFIX}rt.mor({k}, {PREFIX}m)")
            self.emit(f"{PREFIX}m = False")
        elif isinstance(st, ast.Return):
            self.observe_stmt(st)
            if self.device:
                if st.value is not None:
                    v = self.expr(st.value)
                    self.emit(f"{PREFIX}rv = {PREFIX}rt.asg({PREFIX}m, {v}, {PREFIX}rv)")
            else:
                if st.value is not None and not (isinstance(st.value, ast.Constant) and st.value.value is None):
                    raise self.err(st, "kernels cannot return a value",
                                   fix="write the result into an output array")
                self.emit(f"{PREFIX}st.exit_lanes({PREFIX}m)")
            self.emit(f"{PREFIX}m = False")
        else:
            raise self.err(st, f"{type(st).__name__} statements are not supported in kernels")

    def special_assign(self, st, targets) -> bool:
        """``x = cuda.shared.array(...)`` and friends, which need compile-time shapes."""
        if not isinstance(st.value, ast.Call):
            return False
        obj = self.resolve(st.value.func)
        if obj is I.shared.array or obj is I.local.array:
            call = st.value
            args = list(call.args)
            kw = {k.arg: k.value for k in call.keywords}
            shape_node = args[0] if args else kw.get("shape")
            dtype_node = args[1] if len(args) > 1 else kw.get("dtype")
            if shape_node is None or dtype_node is None:
                raise self.err(call, "cuda.shared.array / cuda.local.array need a shape and a dtype",
                               fix="e.g. cuda.shared.array((16, 16), numba.float32) or dtype=np.float32")
            shape = self.const_value(shape_node, "the shape of a shared/local array")
            if isinstance(shape, (int, np.integer)):
                shape = (int(shape),)
            if not (isinstance(shape, tuple) and all(isinstance(s, (int, np.integer)) for s in shape)):
                raise self.err(call, f"array shape must be an int or a tuple of ints, got {shape!r}")
            shape = tuple(int(s) for s in shape)
            dtype = self.dtype_of(dtype_node)
            if obj is I.shared.array:
                d = SharedDecl(len(self.shared), shape, dtype, st.lineno)
                if any(s < 0 for s in shape):
                    raise self.err(call, "negative shared array dimension")
                self.shared.append(d)
                key = self.const((self.name, id(self.func), "shared", d.id))
                d.key = (self.name, id(self.func), "shared", d.id)
                code = f"{PREFIX}st.shared_array({key}, {shape!r}, {self.const(dtype)}, {st.lineno})"
            else:
                if any(s <= 0 for s in shape):
                    raise self.err(call, "local arrays need a positive size")
                d = LocalDecl(len(self.locals_), shape, dtype, st.lineno)
                self.locals_.append(d)
                key = self.const((self.name, id(self.func), "local", d.id))
                code = f"{PREFIX}st.local_array({key}, {shape!r}, {self.const(dtype)}, {self.device})"
            for t in targets:
                if not isinstance(t, ast.Name):
                    raise self.err(st, "assign the array to a plain name")
                self.emit(f"{t.id} = {code}")
            return True
        return False

    def dtype_of(self, node) -> np.dtype:
        obj = self.const_value(node, "a dtype")
        try:
            if isinstance(obj, str):
                return np.dtype(obj)
            if hasattr(obj, "bitwidth") or type(obj).__module__.startswith("numba"):
                return np.dtype(str(obj))
            return np.dtype(obj)
        except TypeError:
            raise self.err(node, f"'{ast.unparse(node)}' is not a dtype",
                           fix="use e.g. np.float32 or numba.float32") from None

    def assign(self, target, v: str, st) -> None:
        if isinstance(target, ast.Name):
            if id(target) in self.scope.plain:
                self.emit(f"{target.id} = {v}")
            else:
                self.emit(f"{target.id} = {PREFIX}rt.asg({PREFIX}m, {v}, {target.id})")
            for n in ast.walk(st.value):
                if isinstance(n, ast.Name):
                    self.alias_edges.append((target.id, n.id))
        elif isinstance(target, ast.Tuple):
            tv = self.new()
            self.emit(f"{tv} = {PREFIX}rt.unpack({v}, {len(target.elts)})")
            for i, e in enumerate(target.elts):
                self.assign(e, f"{tv}[{i}]", st)
        elif isinstance(target, ast.Subscript):
            arr = self.expr(target.value)
            idx = self.index(target.slice)
            name = ast.unparse(target.value)
            self._note_write(target.value)
            self.emit(f"{PREFIX}rt.store({PREFIX}st, {arr}, {idx}, {v}, {PREFIX}m, {name!r})")
        else:
            raise self.err(target, f"cannot assign to {ast.unparse(target)} in a kernel")

    def _note_write(self, node) -> None:
        while isinstance(node, (ast.Subscript, ast.Attribute)):
            node = node.value
        if isinstance(node, ast.Name):
            self.written.add(node.id)

    def augassign(self, st: ast.AugAssign) -> None:
        t = st.target
        if isinstance(t, ast.Name):
            cur = t.id
            rhs = self.expr(st.value)
            v = self.binop_code(st.op, cur, rhs, st)
            if id(t) in self.scope.plain:
                self.emit(f"{t.id} = {v}")
            else:
                self.emit(f"{t.id} = {PREFIX}rt.asg({PREFIX}m, {v}, {t.id})")
        elif isinstance(t, ast.Subscript):
            arr = self.new()
            self.emit(f"{arr} = {self.expr(t.value)}")
            idx = self.new()
            self.emit(f"{idx} = {self.index(t.slice)}")
            name = ast.unparse(t.value)
            cur = f"{PREFIX}rt.load({PREFIX}st, {arr}, {idx}, {PREFIX}m, {name!r})"
            rhs = self.expr(st.value)
            v = self.binop_code(st.op, cur, rhs, st)
            self._note_write(t.value)
            self.emit(f"{PREFIX}rt.store({PREFIX}st, {arr}, {idx}, {v}, {PREFIX}m, {name!r})")
        else:
            raise self.err(st, f"cannot assign to {ast.unparse(t)} in a kernel")

    def if_(self, st: ast.If) -> None:
        c = self.new("c")
        self.emit(f"{c} = {PREFIX}rt.truth({self.expr(st.test)})")
        self.observe_stmt(st)
        s = self.new("s")
        t = self.new("tm")
        self.emit(f"{s} = {PREFIX}m")
        self.emit(f"{PREFIX}m = {PREFIX}rt.mand({s}, {c})")
        if self.instrument:
            self.emit(f"{PREFIX}st.branch_event({st.lineno}, {s}, {c})")
        self.emit(f"if {PREFIX}m is not False:")
        self.indent += 1
        self.block(st.body)
        self.indent -= 1
        self.emit(f"{t} = {PREFIX}m")
        if st.orelse:
            self.emit(f"{PREFIX}m = {PREFIX}rt.mandnot({s}, {c})")
            self.emit(f"if {PREFIX}m is not False:")
            self.indent += 1
            self.block(st.orelse)
            self.indent -= 1
            self.emit(f"{PREFIX}m = {PREFIX}rt.mor({t}, {PREFIX}m)")
        else:
            self.emit(f"{PREFIX}m = {PREFIX}rt.mor({t}, {PREFIX}rt.mandnot({s}, {c}))")

    def _loop(self, st, cond_code_fn, before_body=None, after_body=None) -> None:
        if st.orelse:
            raise self.err(st, "else-clauses on loops are not supported in kernels; use a flag variable")
        x = self.new("x")   # lanes that left through the condition
        b = self.new("b")   # lanes that broke out
        k = self.new("k")   # lanes that continued this iteration
        self.emit(f"{x} = False")
        self.emit(f"{b} = False")
        self.emit(f"{k} = False")
        self.emit("while True:")
        self.indent += 1
        self.emit(f"{PREFIX}st.steps += 1")
        self.emit(f"if {PREFIX}st.steps > {PREFIX}st.budget: {PREFIX}st.watchdog({st.lineno}, {PREFIX}m)")
        self.emit(f"{PREFIX}m = {PREFIX}rt.mor({PREFIX}m, {k})")
        self.set_line(st)
        c = self.new("c")
        self.emit(f"{c} = {cond_code_fn()}")
        self.observe_stmt(st)
        if self.instrument:
            self.emit(f"{PREFIX}st.branch_event({st.lineno}, {PREFIX}m, {c})")
        self.emit(f"{x} = {PREFIX}rt.mor({x}, {PREFIX}rt.mandnot({PREFIX}m, {c}))")
        self.emit(f"{PREFIX}m = {PREFIX}rt.mand({PREFIX}m, {c})")
        self.emit(f"if {PREFIX}m is False: break")
        self.emit(f"{k} = False")
        if before_body:
            before_body()
        self.loop_stack.append((b, k))
        self.block(st.body)
        self.loop_stack.pop()
        if after_body:
            after_body()
        self.indent -= 1
        self.emit(f"{PREFIX}m = {PREFIX}rt.mor({x}, {b})")

    def while_(self, st: ast.While) -> None:
        self._loop(st, lambda: f"{PREFIX}rt.truth({self.expr(st.test)})")

    def for_(self, st: ast.For) -> None:
        it = st.iter
        obj = self.resolve(it.func) if isinstance(it, ast.Call) else None
        if obj is not builtins.range and isinstance(st.target, ast.Name) and (
                isinstance(it, ast.Tuple) or (isinstance(it, ast.Name) and it.id in self.scope.assigned)):
            self.for_tuple(st)
            return
        if obj is not builtins.range:
            raise self.err(st, f"kernels can only loop over range(...), not '{ast.unparse(it)}'",
                           fix="write `for k in range(n):` and index the array inside the loop")
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.err(st, "range() takes 1 to 3 positional arguments")
        if not isinstance(st.target, ast.Name):
            raise self.err(st, "the loop variable must be a plain name")
        args = [self.expr(a) for a in it.args]
        if len(args) == 1:
            args = ["0"] + args + ["1"]
        elif len(args) == 2:
            args = args + ["1"]
        cur, stop, step = self.new("i"), self.new("e"), self.new("p")
        self.emit(f"{cur}, {stop}, {step} = {PREFIX}rt.range_args({args[0]}, {args[1]}, {args[2]})")
        tgt = st.target

        def before():
            if id(tgt) in self.scope.plain:
                self.emit(f"{tgt.id} = {cur}")
            else:
                self.emit(f"{tgt.id} = {PREFIX}rt.asg({PREFIX}m, {cur}, {tgt.id})")

        # the increment runs at the loop head, so lanes that `continue`d advance too
        def cond():
            return f"{PREFIX}rt.range_cond({cur}, {stop}, {step})"

        self._for_loop(st, cond, before, cur, step)

    def for_tuple(self, st: ast.For) -> None:
        """``for v in (a, b, c):`` (numba unrolls loops over tuples): an index loop over the tuple."""
        tup, cur = self.new("tu"), self.new("i")
        self.emit(f"{tup} = {PREFIX}rt.as_tuple({self.expr(st.iter)})")
        tgt = st.target

        def before():
            v = f"{tup}[{cur}]"
            if id(tgt) in self.scope.plain:
                self.emit(f"{tgt.id} = {v}")
            else:
                self.emit(f"{tgt.id} = {PREFIX}rt.asg({PREFIX}m, {v}, {tgt.id})")
        self.emit(f"{cur} = 0")
        self._for_loop(st, lambda: f"({cur} < len({tup}))", before, cur, "1")

    def _for_loop(self, st, cond, before, cur, step) -> None:
        first = self.new("f")
        self.emit(f"{first} = True")

        def cond_with_step():
            self.emit(f"if {first}: {first} = False")
            self.emit(f"else: {cur} = {cur} + {step}")
            return cond()
        self._loop(st, cond_with_step, before)

    # -- expressions ----------------------------------------------------------------------------
    def index(self, node) -> str:
        if isinstance(node, ast.Tuple):
            parts = [self.index_elt(e) for e in node.elts]
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        return self.index_elt(node)

    def index_elt(self, node) -> str:
        if isinstance(node, ast.Slice):
            lo = self.expr(node.lower) if node.lower else "None"
            hi = self.expr(node.upper) if node.upper else "None"
            step = self.expr(node.step) if node.step else "None"
            return f"{PREFIX}rt.mkslice({lo}, {hi}, {step})"
        return self.expr(node)

    def expr(self, node, mask: str = PREFIX + "m", discard: bool = False) -> str:
        for bad, msg in UNSUPPORTED.items():
            if isinstance(node, bad):
                raise self.err(node, msg)
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, int) and not isinstance(v, bool) and not -(2 ** 31) <= v < 2 ** 31:
                return self.const(np.int64(v))    # no narrower integer holds it: int64, as numba types it
            if isinstance(v, (bool, int, float, complex)) or v is None:
                return repr(v)
            if isinstance(v, str):
                return repr(v)
            raise self.err(node, f"constant {v!r} is not supported in kernels")
        if isinstance(node, ast.Name):
            if node.id in self.scope.assigned:
                return node.id
            return self.global_value(node, self.resolve(node))
        if isinstance(node, ast.Attribute):
            obj = self.resolve(node)
            if obj is not self._MISSING:
                return self.global_value(node, obj)
            base = self.expr(node.value, mask)
            if node.attr not in ("shape", "size", "ndim", "dtype", "x", "y", "z", "real", "imag", "sync"):
                raise self.err(node, f"attribute '.{node.attr}' is not supported inside kernels")
            return f"{PREFIX}rt.getattr_({base}, {node.attr!r})"
        if isinstance(node, ast.Subscript):
            arr = self.expr(node.value, mask)
            idx = self.index(node.slice)
            name = ast.unparse(node.value)
            return f"{PREFIX}rt.load({PREFIX}st, {arr}, {idx}, {mask}, {name!r})"
        if isinstance(node, ast.BinOp):
            folded = self._fold(node)
            if folded is not None:
                return self.expr(ast.copy_location(ast.Constant(folded), node), mask)
            left = self.expr(node.left, mask)
            right = self.expr(node.right, mask)
            if isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow)):
                # Python and numba do arithmetic on booleans as integers (True + True == 2); numpy would not
                left = self._maybe_bool(node.left, left)
                right = self._maybe_bool(node.right, right)
            return self.binop_code(node.op, left, right, node, mask)
        if isinstance(node, ast.UnaryOp):
            v = self.expr(node.operand, mask)
            if isinstance(node.op, ast.Not):
                return f"{PREFIX}rt.not_({v})"
            return {ast.USub: f"(-{v})", ast.UAdd: f"(+{v})", ast.Invert: f"{PREFIX}rt.invert({v})"}[type(node.op)]
        if isinstance(node, ast.Compare):
            return self.compare(node, mask)
        if isinstance(node, ast.BoolOp):
            return self.boolop(node, mask)
        if isinstance(node, ast.IfExp):
            return self.ifexp(node, mask)
        if isinstance(node, ast.Tuple):
            parts = [self.expr(e, mask) for e in node.elts]
            return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        if isinstance(node, ast.Call):
            return self.call(node, mask, discard)
        raise self.err(node, f"{type(node).__name__} expressions are not supported in kernels")

    _FOLD = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
             ast.Pow: lambda a, b: a ** b if b >= 0 else None, ast.LShift: lambda a, b: a << b if b >= 0 else None,
             ast.BitOr: lambda a, b: a | b, ast.BitAnd: lambda a, b: a & b, ast.BitXor: lambda a, b: a ^ b}

    def _fold(self, node):
        """Integer constant expressions (``2**40``, ``1 << 31``) folded at compile time, as numba does."""
        if isinstance(node, ast.Constant):
            v = node.value
            return v if isinstance(v, int) and not isinstance(v, bool) else None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            v = self._fold(node.operand)
            return -v if v is not None else None
        if isinstance(node, ast.BinOp) and type(node.op) in self._FOLD:
            a, b = self._fold(node.left), self._fold(node.right)
            if a is None or b is None or abs(b) > 4096:
                return None
            return self._FOLD[type(node.op)](a, b)
        return None

    def binop_code(self, op, left: str, right: str, node, mask: str = PREFIX + "m") -> str:
        if isinstance(op, ast.FloorDiv):
            return f"{PREFIX}rt.floordiv({PREFIX}st, {left}, {right}, {mask})"
        if isinstance(op, ast.Mod):
            return f"{PREFIX}rt.mod({PREFIX}st, {left}, {right}, {mask})"
        if isinstance(op, ast.Div):
            return f"{PREFIX}rt.truediv({left}, {right})"
        if isinstance(op, ast.Pow):
            return f"{PREFIX}rt.power({left}, {right})"
        if type(op) in BINOPS:
            return f"({left} {BINOPS[type(op)]} {right})"
        raise self.err(node, f"operator {type(op).__name__} is not supported in kernels")

    def compare(self, node: ast.Compare, mask: str) -> str:
        for op in node.ops:
            if type(op) not in CMPOPS:
                raise self.err(node, f"comparison '{type(op).__name__}' is not supported in kernels "
                                     "(use ==, !=, <, <=, >, >=)")
        if len(node.ops) == 1:
            return f"({self.expr(node.left, mask)} {CMPOPS[type(node.ops[0])]} {self.expr(node.comparators[0], mask)})"
        # a < b < c  ==  (a < b) and (b < c), with b evaluated once
        vals = [self.expr(node.left, mask)]
        for c in node.comparators:
            t = self.new()
            self.emit(f"{t} = {self.expr(c, mask)}")
            vals.append(t)
        parts = [f"({vals[i]} {CMPOPS[type(op)]} {vals[i + 1]})" for i, op in enumerate(node.ops)]
        return f"{PREFIX}rt.land_all({', '.join(parts)})"

    def boolop(self, node: ast.BoolOp, mask: str) -> str:
        res = self.new("r")
        self.emit(f"{res} = {PREFIX}rt.truth({self.expr(node.values[0], mask)})")
        is_and = isinstance(node.op, ast.And)
        for v in node.values[1:]:
            sub = self.new("bm")
            self.emit(f"{sub} = {PREFIX}rt.{'mand' if is_and else 'mandnot'}({mask}, {res})")
            self.emit(f"if {sub} is not False:")
            self.indent += 1
            rhs = self.expr(v, sub)
            self.emit(f"{res} = {PREFIX}rt.{'land' if is_and else 'lor'}({res}, {PREFIX}rt.truth({rhs}))")
            self.indent -= 1
        return res

    def ifexp(self, node: ast.IfExp, mask: str) -> str:
        c = self.new("c")
        self.emit(f"{c} = {PREFIX}rt.truth({self.expr(node.test, mask)})")
        m1, m2, r1, r2 = self.new("m"), self.new("m"), self.new("v"), self.new("v")
        self.emit(f"{m1} = {PREFIX}rt.mand({mask}, {c})")
        self.emit(f"{m2} = {PREFIX}rt.mandnot({mask}, {c})")
        self.emit(f"{r1} = {r2} = None")
        self.emit(f"if {m1} is not False:")
        self.indent += 1
        self.emit(f"{r1} = {self.expr(node.body, m1)}")
        self.indent -= 1
        self.emit(f"if {m2} is not False:")
        self.indent += 1
        self.emit(f"{r2} = {self.expr(node.orelse, m2)}")
        self.indent -= 1
        return f"{PREFIX}rt.select({c}, {r1}, {r2}, {m1}, {m2})"

    def global_value(self, node, obj) -> str:
        """Code for a compile-time object used as a value."""
        if isinstance(obj, bool):
            return repr(obj)
        if isinstance(obj, int) or (isinstance(obj, float) and math.isfinite(obj)):
            return repr(obj)
        if isinstance(obj, float):
            return self.const(obj)
        if isinstance(obj, (np.generic, complex)):
            return self.const(obj)
        if isinstance(obj, tuple) and all(isinstance(e, (int, float, bool, np.generic)) for e in obj):
            return self.const(obj)
        if isinstance(obj, np.ndarray):
            return self.const(("__constarray__", obj, ast.unparse(node)))
        if isinstance(obj, I.Intrinsic):
            return self.intrinsic_value(node, obj)
        if isinstance(obj, type) and obj in CAST_TYPES or isinstance(obj, np.dtype):
            return self.const(obj)
        if hasattr(obj, "bitwidth") and type(obj).__module__.startswith("numba"):
            return self.const(np.dtype(str(obj)))
        raise self.err(node, f"'{ast.unparse(node)}' ({type(obj).__name__}) cannot be used as a value in a kernel",
                       fix="kernels may use numbers, arrays passed as arguments and module-level constants")

    def intrinsic_value(self, node, obj: I.Intrinsic) -> str:
        n = obj.name
        dims = {"x": 0, "y": 1, "z": 2}
        if n.startswith(("threadIdx.", "blockIdx.", "blockDim.", "gridDim.")):
            group, d = n.split(".")
            field = {"threadIdx": "tid", "blockIdx": "bid", "blockDim": "bdim", "gridDim": "gdim"}[group]
            return f"{PREFIX}st.{field}[{dims[d]}]"
        if n == "laneid":
            return f"{PREFIX}st.laneid()"
        if n == "warpsize":
            return f"{PREFIX}st.warp_size"
        raise self.err(node, f"cuda.{n} is a function: call it")

    def call(self, node: ast.Call, mask: str, discard: bool) -> str:
        obj = self.resolve(node.func)
        if node.keywords and not (isinstance(obj, I.Intrinsic) or obj is builtins.print):
            raise self.err(node, "keyword arguments are not supported here")
        if obj is self._MISSING:
            if isinstance(node.func, ast.Attribute) and node.func.attr == "sync":
                base = self.expr(node.func.value, mask)
                self.uses_grid_sync = True
                return f"{PREFIX}rt.group_sync({PREFIX}st, {mask}, {base})"
            raise self.err(node, f"'{ast.unparse(node.func)}' is not a function kernels can call")
        args = [self.expr(a, mask) for a in node.args]
        kwargs = {k.arg: self.expr(k.value, mask) for k in node.keywords}
        if isinstance(obj, I.Intrinsic):
            return self.call_intrinsic(node, obj, args, kwargs, mask, discard)
        if obj in MATH_FUNCS:
            return f"{PREFIX}rt.math_{MATH_FUNCS[obj]}({', '.join(args)})"
        if obj in NUMPY_FUNCS and obj not in CAST_TYPES:
            return f"{PREFIX}rt.np_{NUMPY_FUNCS[obj]}({', '.join(args)})"
        if (isinstance(obj, type) and obj in CAST_TYPES):
            if len(args) != 1:
                raise self.err(node, f"{obj.__name__}() takes exactly one argument here")
            return f"{PREFIX}rt.cast({args[0]}, {self.const(np.dtype(obj))})"
        if hasattr(obj, "bitwidth") and type(obj).__module__.startswith("numba") and callable(obj):
            return f"{PREFIX}rt.cast({args[0]}, {self.const(np.dtype(str(obj)))})"
        if obj in BUILTIN_FUNCS:
            name = BUILTIN_FUNCS[obj]
            if name == "range":
                raise self.err(node, "range() can only be used in a for statement")
            if name == "print":
                return f"{PREFIX}rt.print_({PREFIX}st, {mask}, ({', '.join(args)}{',' if args else ''}))"
            return f"{PREFIX}rt.builtin_{name}({', '.join(args)})"
        from .kernel import DeviceFunction, Kernel
        if isinstance(obj, DeviceFunction):
            ref = self.const(obj)
            self.device_functions.append(obj)
            self.written.update(a.id for a in node.args if isinstance(a, ast.Name))
            return f"{ref}.run({PREFIX}st, {mask}, ({', '.join(args)}{',' if args else ''}))"
        if isinstance(obj, Kernel):
            raise self.err(node, f"'{ast.unparse(node.func)}' is a kernel; kernels cannot launch kernels",
                           fix="make it a device function with @cuda.jit(device=True)")
        if callable(obj):
            raise self.err(node, f"'{ast.unparse(node.func)}' is a plain Python function and cannot run on the GPU",
                           fix="decorate it with @cuda.jit(device=True)")
        raise self.err(node, f"'{ast.unparse(node.func)}' is not callable")

    def call_intrinsic(self, node, obj: I.Intrinsic, args, kwargs, mask: str, discard: bool) -> str:
        n = obj.name
        st = f"{PREFIX}st"
        if n in ("grid", "gridsize"):
            if len(node.args) != 1:
                raise self.err(node, f"cuda.{n}() takes the number of dimensions (1, 2 or 3)")
            nd = self.const_value(node.args[0], f"the argument of cuda.{n}")
            if nd not in (1, 2, 3):
                raise self.err(node, f"cuda.{n}({nd}): the number of dimensions must be 1, 2 or 3")
            return f"{st}.{n}{nd}"
        if n == "shared.array" or n == "local.array":
            raise self.err(node, f"cuda.{n}(...) must be assigned directly to a name: arr = cuda.{n}(shape, dtype)")
        if n == "const.array_like":
            if len(node.args) != 1:
                raise self.err(node, "cuda.const.array_like takes one module-level numpy array")
            arr = self.resolve(node.args[0])
            if not isinstance(arr, np.ndarray):
                raise self.err(node, "cuda.const.array_like needs a module-level (global) numpy array",
                               fix="define the array at module level, before the kernel is compiled")
            return self.const(("__constarray__", arr, ast.unparse(node.args[0])))
        if n == "cg.this_grid":
            self.uses_grid_sync = True
            return f"{PREFIX}rt.GRID_GROUP"
        if n.startswith("atomic."):
            op = n.split(".", 1)[1]
            name = ast.unparse(node.args[0]) if node.args else "?"
            self._note_write(node.args[0]) if node.args else None
            want = "False" if discard else "True"
            if op == "compare_and_swap":
                if len(args) != 3:
                    raise self.err(node, "cuda.atomic.compare_and_swap(ary, old, val) takes 3 arguments")
                return f"{PREFIX}rt.atomic({st}, 'cas', {args[0]}, 0, ({args[1]}, {args[2]}), {mask}, {name!r}, {want})"
            if op == "cas":
                if len(args) != 4:
                    raise self.err(node, "cuda.atomic.cas(ary, idx, old, val) takes 4 arguments")
                return (f"{PREFIX}rt.atomic({st}, 'cas', {args[0]}, {args[1]}, ({args[2]}, {args[3]}), "
                        f"{mask}, {name!r}, {want})")
            if len(args) != 3:
                raise self.err(node, f"cuda.atomic.{op}(ary, idx, val) takes 3 arguments")
            return (f"{PREFIX}rt.atomic({st}, {op.rstrip('_')!r}, {args[0]}, {args[1]}, {args[2]}, {mask}, "
                    f"{name!r}, {want})")
        if n.startswith("fp16."):
            return f"{PREFIX}rt.fp16_{n[5:]}({', '.join(args)})"
        if n in ("syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or"):
            pred = args[0] if args else "True"
            return f"{PREFIX}rt.{n}({st}, {mask}, {pred})"
        if n == "syncwarp":
            m = args[0] if args else kwargs.get("mask", "0xFFFFFFFF")
            return f"{PREFIX}rt.syncwarp({st}, {mask}, {m})"
        if n.startswith("threadfence"):
            return f"{PREFIX}rt.threadfence({st}, {mask}, {n!r})"
        if n in ("activemask", "lanemask_lt"):
            return f"{PREFIX}rt.{n}({st}, {mask})"
        if n.endswith("_sync"):
            return f"{PREFIX}rt.{n}({st}, {mask}, {', '.join(args)})"
        if n in ("popc", "clz", "ffs", "brev", "fma", "cbrt"):
            return f"{PREFIX}rt.{n}({', '.join(args)})"
        if n == "laneid":
            return f"{st}.laneid()"
        raise self.err(node, f"cuda.{n} is not supported by simtlab yet")


def compile_function(func, *, device: bool, instrument: bool, compile_device=None) -> CompiledFunction:
    """Compile a kernel or device function into its vectorised form."""
    from . import runtime
    fdef, filename, first = get_source(func)
    cg = CodeGen(func, fdef, filename, first, device=device, instrument=instrument,
                 compile_device=compile_device)
    src = cg.gen()
    ns: dict[str, object] = {f"{PREFIX}rt": runtime, "np": np}
    for name, value in cg.consts.items():
        ns[name] = runtime.materialize_const(value)
    code = compile(src, f"<simtlab:{fdef.name}>", "exec")
    exec(code, ns)
    # which parameters may be written (directly, through aliases, or by device functions)
    written = set(cg.written)
    changed = True
    while changed:
        changed = False
        for dst, srcn in cg.alias_edges:
            if dst in written and srcn not in written:
                written.add(srcn)
                changed = True
    return CompiledFunction(name=fdef.name, filename=filename, firstline=first, source=src, fn=ns[f"{PREFIX}fn"],
                            params=cg.scope.params, shared=cg.shared, locals_=cg.locals_,
                            written_params=written & set(cg.scope.params), uses_grid_sync=cg.uses_grid_sync,
                            device_functions=cg.device_functions, nvars=len(cg.scope.assigned),
                            line_ops=cg.line_ops)
