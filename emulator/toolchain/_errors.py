"""The real compiler's complaints, translated into the kernel's source line and a fix.

numba's messages name the line in two forms (``File "k.py", line 12:`` and ``at /path/k.py (12)``);
some typing errors carry no location at all (numba-cuda re-raises them from inside the typing of
one call), and then the location is read from the compiler's own stack: the innermost frame
whose ``loc`` (or ``self.loc``) is in one of the kernel's source files. Errors of the PTX assembler
(static shared memory over 48 KB, too much local memory, too many parameters) name a kernel, not
a line; the kernel's source is scanned for the statement that causes them.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import textwrap
from dataclasses import dataclass

_FILE_LINE = (re.compile(r'File "([^"]+)", line (\d+)'), re.compile(r"\bat (/[^\s()]+|[^\s()]+\.py) \((\d+)\)"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Diagnosis:
    """Why the real compiler rejected a kernel, where, and what to do."""

    stage: str                 # "typing", "lowering", "nvvm", "ptxas", "internal"
    message: str               # the compiler's complaint, shortened to what matters
    filename: str | None = None
    line: int | None = None
    fix: str | None = None
    raw: str = ""              # the compiler's whole message


@dataclass(frozen=True)
class SourceSpan:
    """Where one of the compiled functions (kernel or device function) lives."""

    filename: str
    first: int
    last: int
    name: str


def spans_of(functions: list) -> list[SourceSpan]:
    """Source file and line range of each function (those whose source can be found)."""
    out = []
    for f in functions:
        code = getattr(f, "__code__", None)
        if code is None:
            continue
        try:
            lines, first = inspect.getsourcelines(f)
        except (OSError, TypeError):
            lines, first = [], code.co_firstlineno
        out.append(SourceSpan(code.co_filename, first, first + max(len(lines), 1) - 1, f.__name__))
    return out


def _same_file(a: str, b: str) -> bool:
    return a == b or os.path.basename(a) == os.path.basename(b) and (not os.path.isabs(a) or not os.path.isabs(b))


def _in_spans(filename: str, line: int, spans: list[SourceSpan]) -> SourceSpan | None:
    for s in spans:
        if _same_file(filename, s.filename) and s.first <= line <= s.last:
            return s
    return None


def _located(filename: str, line: int, spans: list[SourceSpan]) -> tuple[str, int] | None:
    s = _in_spans(filename, line, spans)
    return (s.filename, line) if s else None


def _from_text(text: str, spans: list[SourceSpan]) -> tuple[str, int] | None:
    """The first line named in the message that lies in one of the kernel's functions (numba names the
    innermost place first)."""
    hits = []
    for rx in _FILE_LINE:
        for m in rx.finditer(text):
            where = _located(m.group(1), int(m.group(2)), spans)
            if where:
                hits.append((m.start(), where))
    return min(hits)[1] if hits else None


def _from_traceback(exc: BaseException, spans: list[SourceSpan]) -> tuple[str, int] | None:
    """The innermost compiler frame holding a ``loc`` inside the kernel's functions."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        f_locals = tb.tb_frame.f_locals
        for loc in (f_locals.get("loc"), getattr(f_locals.get("self"), "loc", None),
                    getattr(f_locals.get("inst"), "loc", None)):
            line, filename = getattr(loc, "line", None), getattr(loc, "filename", None)
            if isinstance(line, int) and isinstance(filename, str):
                where = _located(filename, line, spans)
                if where:
                    found = where
        tb = tb.tb_next
    return found


_NO_IMPL = re.compile(r"No implementation of function Function\(<(?:built-in )?function ([\w.]+)[^>]*>\) found for "
                      r"signature:\s*>>> ([^\n]+)")


def _summary(text: str) -> str:
    """The compiler's complaint without pipeline chatter, candidate lists and source excerpts."""
    m = _NO_IMPL.search(text)
    if m:   # numba's overload resolution failure: name the call and the argument types it was given
        return f"numba.cuda has no {m.group(1)} for these argument types: {m.group(2).strip()}"
    keep = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            if keep:
                break
            continue
        if s.startswith(("Failed in cuda mode pipeline", "Failed in nopython mode pipeline", "During:")):
            continue
        if s.startswith(("File \"", "There are ", "- Of which")):
            break
        keep.append(s)
    if not text.strip():
        return "no message"
    out = " ".join(keep) or text.strip().splitlines()[0]
    out = re.sub(r" at 0x[0-9a-f]+", "", out)
    return textwrap.shorten(out, 500, placeholder=" ...")


#: (pattern, fix) for each family of compiler errors; the first pattern found in the message gives its fix
#: (``{0}`` in a fix is the pattern's first group)
_FIXES: list[tuple[str, str]] = [
    (r"Function\(<function (?:shared|local)\.array|array\(float64, class\(",
     "a shared or local array's shape must be a compile-time constant (a literal, or a global int constant): numba "
     "sizes it when it compiles, not at launch. For a size known only at launch use dynamic shared memory: "
     "cuda.shared.array(0, dtype) and kernel[blocks, threads, 0, nbytes]"),
    (r"Cannot unify",
     "numba gives every variable one type for the whole kernel: this variable holds values of different types on "
     "different paths (e.g. an array on one branch and a number on the other); use a separate variable for each"),
    (r"Untyped global name '(\w+)': Cannot determine Numba type of <class 'type'>",
     "numba.cuda knows '{0}' only as an attribute of the cuda module: write cuda.{0} (from ... import cuda), not "
     "the name imported on its own"),
    (r"(?s)(?=.*Untyped global name).*function",
     "only @cuda.jit(device=True) functions (and the math/cuda functions numba knows) can be called from a kernel: "
     "decorate the helper with @cuda.jit(device=True)"),
    (r"Untyped global name",
     "a kernel can only use global constants numba can type (numbers, tuples, numpy arrays): pass it as an argument"),
    (r"NameError", "the name is not defined when the kernel is compiled: define it before the kernel is compiled"),
    (r"NRT required|build_list|reflected list",
     "lists, dicts and other Python objects do not exist on the GPU: use a tuple or cuda.local.array"),
    (r"must have void return type", "a kernel cannot return a value: write the result into an output array argument"),
    (r"Unsupported array index type float", "array indices must be integers: convert with int(...)"),
    (r"getitem\((?:Uni)?Tuple\(",
     "a tuple whose items have different types can only be indexed with a constant; make the items one type, or use "
     "a cuda.local.array"),
    (r"too much shared data",
     "static shared memory is limited to 48 KB per block: use smaller tiles, or dynamic shared memory "
     "(cuda.shared.array(0, dtype) and kernel[blocks, threads, 0, nbytes]), which may go above 48 KB"),
    (r"too much local data|stack frame",
     "each thread's local arrays are too big: make cuda.local.array smaller or move data to shared memory"),
    (r"Formal parameter space overflowed",
     "the kernel has too many or too large parameters: pass fewer arrays, or pack scalars into an array"),
    (r"Unknown attribute",
     "the attribute does not exist on that value in numba.cuda (check the spelling and the value's type)"),
    (r"Use of unsupported|Unsupported",
     "this construct is outside what numba.cuda compiles: see numba's CUDA Python reference for the subset"),
]


def _fix_for(text: str) -> str | None:
    """The usual fix for a family of compiler errors (`_FIXES`), or None."""
    for pattern, fix in _FIXES:
        m = re.search(pattern, text)
        if m:
            return fix.format(*m.groups())
    return None


def diagnose_frontend(exc: BaseException, spans: list[SourceSpan]) -> Diagnosis:
    """A numba / NVVM exception as a `Diagnosis` located in the kernel's source."""
    raw = _ANSI.sub("", str(exc))
    name = type(exc).__name__
    stage = {"TypingError": "typing", "LoweringError": "lowering", "NumbaRuntimeError": "lowering",
             "UnsupportedError": "typing", "NvvmError": "nvvm", "NvvmSupportError": "nvvm"}.get(name, "typing")
    where = _from_text(raw, spans) or _from_traceback(exc, spans)
    message = _summary(raw)
    if name not in ("TypingError", "LoweringError", "NumbaRuntimeError", "UnsupportedError", "TypeError"):
        if not name.startswith(("Numba", "Nvvm", "Cuda")):
            stage = "internal"
            message = f"numba-cuda's compiler failed ({name}: {message}); a GPU would fail the same way"
        else:
            message = f"{name}: {message}"
    if where is None and re.search(r"Function\(<function (shared|local)\.array", raw):
        where = _shape_line(spans, "shared" if "shared.array" in raw else "local")
    d = Diagnosis(stage, message, fix=_fix_for(raw), raw=raw)
    if where:
        d.filename, d.line = where
    return d


def diagnose_link(error_log: str, tool: str, spans: list[SourceSpan]) -> Diagnosis:
    """An assembler/linker failure as a `Diagnosis` (the statement that causes it, when one can be found)."""
    raw = _ANSI.sub("", error_log).strip()
    errors = [ln.split(":", 2)[-1].strip() for ln in raw.splitlines() if "error" in ln.lower()]
    message = f"{tool}: " + ("; ".join(dict.fromkeys(errors)) if errors else (raw.splitlines() or ["failed"])[0])
    message = re.sub(r"Entry function '[^']+'", "the kernel", message)
    where = None
    if "shared data" in raw:
        where = _largest_array_line(spans, "shared")
    elif "local data" in raw or "stack" in raw:
        where = _largest_array_line(spans, "local")
    d = Diagnosis("ptxas", textwrap.shorten(message, 500, placeholder=" ..."), fix=_fix_for(raw), raw=raw)
    if where:
        d.filename, d.line = where
    return d


# -- scanning the kernel's source --------------------------------------------------------------------------

def _array_calls(spans: list[SourceSpan], space: str) -> list[tuple[str, int, ast.Call]]:
    """``cuda.<space>.array(...)`` calls in the kernel's functions, with file and line."""
    import linecache

    calls = []
    for s in spans:
        lines = [linecache.getline(s.filename, n) for n in range(s.first, s.last + 1)]
        try:
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "array"
                    and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == space):
                calls.append((s.filename, s.first + node.lineno - 1, node))
    return calls


def _shape_line(spans: list[SourceSpan], space: str) -> tuple[str, int] | None:
    """The first ``cuda.<space>.array`` whose shape is not a literal (the likely non-constant shape)."""
    calls = _array_calls(spans, space)
    for filename, line, call in calls:
        shape = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "shape"), None)
        literal = isinstance(shape, ast.Constant) or (
            isinstance(shape, ast.Tuple) and all(isinstance(e, ast.Constant) for e in shape.elts))
        if not literal:
            return filename, line
    return (calls[0][0], calls[0][1]) if calls else None


def _largest_array_line(spans: list[SourceSpan], space: str) -> tuple[str, int] | None:
    """The ``cuda.<space>.array`` with the most literal elements (else the first one)."""
    best, best_n = None, -1
    for filename, line, call in _array_calls(spans, space):
        shape = call.args[0] if call.args else None
        dims = shape.elts if isinstance(shape, ast.Tuple) else [shape]
        n = 1
        for e in dims:
            n *= e.value if isinstance(e, ast.Constant) and isinstance(e.value, int) else 1
        if n > best_n:
            best, best_n = (filename, line), n
    return best
