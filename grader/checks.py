"""Correctness checks for lab test cells: a student's kernel against a numpy reference.

`check_kernel` runs the kernel on many seeded random inputs whose sizes are chosen to catch the
usual mistakes (not powers of two, not multiples of the block size, a lone element, one element
past a whole block), each launch under the sanitizer, and compares every output element with
the reference. A failure raises `CheckFailure` (an ``AssertionError``, so nbgrader scores the
cell 0) whose message teaches: which input, which elements differ and by how much, what the
pattern of wrong elements suggests, and what the sanitizer saw. Lockstep execution gives racy
kernels one legal interleaving's answer, often the right one; the sanitizer gate is what turns
such a kernel into a failed check, as a real GPU eventually would.

Nothing here prints to stderr: nbgrader gives a test cell zero points for any stderr output.
"""

from __future__ import annotations

import linecache
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckFailure", "CheckResult", "check_kernel", "run_check", "tricky_sizes", "default_launch",
           "explain_mismatch", "sanitizer_errors", "Size"]

#: a problem size: a number of elements, or a shape (rows, cols[, depth])
Size = int | tuple[int, ...]

#: how many wrong elements a failure message lists
SHOW_ELEMENTS = 5
#: the value integer outputs are filled with before a launch, to tell "never written" from "wrong"
INT_POISON = -1_234_567


#: failure messages are wrapped to this width (notebook outputs and feedback pages do not wrap)
WRAP = 110


def wrap_message(message: str, width: int = WRAP) -> str:
    """Wrap each long line of `message`, continuing it indented under its own first character."""
    import textwrap

    out = []
    for line in message.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = " " * (len(line) - len(line.lstrip()))
        out.extend(textwrap.wrap(line.strip(), width=width, initial_indent=indent,
                                 subsequent_indent=indent + "    ", break_on_hyphens=False,
                                 break_long_words=False))
    return "\n".join(out)


class CheckFailure(AssertionError):
    """A check failed. ``str(exc)`` is the whole teaching message; ``trial`` says which input."""

    def __init__(self, message: str, *, trial: int | None = None, size: Size | None = None) -> None:
        super().__init__(wrap_message(message))
        self.trial = trial
        self.size = size


# -- sizes --------------------------------------------------------------------------------------------------

def _bad_size(n: int, block: int) -> bool:
    """A size that hides tail bugs: a power of two or a multiple of the block size."""
    return n > 2 and ((n & (n - 1)) == 0 or n % block == 0)


def tricky_sizes(count: int, *, block: int | Sequence[int] = 128, low: int = 1, high: int = 5000,
                 seed: int = 0, ndim: int = 1) -> list[Size]:
    """Sizes that catch the usual indexing mistakes, deterministically from `seed`.

    1-D (``ndim=1``): 1, one past a whole block, a partial first block, then random sizes in
    [low, high] that are neither powers of two nor multiples of `block`. 2-D: shapes whose rows and
    columns are both awkward (``block`` is (threads in x, threads in y); x runs along columns).
    """
    rng = np.random.default_rng([seed, 0x5171])
    if ndim == 1:
        b = int(block if isinstance(block, int) else block[0])
        fixed = [n for n in (b + 1, max(2, b // 2 + 3), 3 * b - 5, 1) if low <= n <= high]
        out: list[Size] = []
        for n in fixed:
            if n not in out:
                out.append(n)
        while len(out) < count:
            n = int(rng.integers(low, high + 1))
            if not _bad_size(n, b) and n not in out:
                out.append(n)
        return out[:count]
    bx, by = (block, block) if isinstance(block, int) else (int(block[0]), int(block[1]))
    side_hi = max(3, int(round(high ** (1.0 / ndim))))
    shapes: list[Size] = [(1, 1)] if ndim == 2 else [(1,) * ndim]
    if ndim == 2:
        shapes.append((by + 1, bx + 1))
        shapes.append((3, 2 * bx + 3))
    while len(shapes) < count:
        shape = tuple(int(rng.integers(1, side_hi + 1)) for _ in range(ndim))
        if ndim == 2 and (_bad_size(shape[0], by) or _bad_size(shape[1], bx)):
            continue
        if shape not in shapes:
            shapes.append(shape)
    return shapes[:count]


# -- launching ----------------------------------------------------------------------------------------------

def default_launch(threads: int | Sequence[int]) -> Callable[[Any, tuple, Size], tuple]:
    """The launch most exercises use: one thread per element, blocks of `threads`, enough blocks.

    For an int size: ``kernel[ceil(n / threads), threads](*args)``. For a shape (rows, cols):
    blocks of (tx, ty) threads with x along the columns (consecutive threads, consecutive
    addresses), ``grid = (ceil(cols / tx), ceil(rows / ty))``. Returns the (grid, block) it used.
    """
    def launch(kernel, args: tuple, size: Size) -> tuple:
        if isinstance(size, int):
            t = int(threads if isinstance(threads, int) else threads[0])
            grid, block = (max(1, -(-size // t)),), (t,)
        else:
            t = (threads, 1, 1) if isinstance(threads, int) else tuple(threads) + (1,) * (3 - len(threads))
            dims = tuple(reversed(size))          # x along the last axis
            grid = tuple(max(1, -(-d // tt)) for d, tt in zip(dims, t))
            block = tuple(t[:len(grid)])
        kernel[grid if len(grid) > 1 else grid[0], block if len(block) > 1 else block[0]](*args)
        return grid, block
    return launch


def _describe_launch(used: Any) -> str:
    if isinstance(used, tuple) and len(used) == 2:
        g, b = used
        return f"grid={g}, block={b}"
    return ""


def _kernel_name(kernel: Any) -> str:
    return getattr(kernel, "__name__", None) or type(kernel).__name__


# -- comparing ----------------------------------------------------------------------------------------------

def _poison(a: np.ndarray) -> None:
    if a.dtype.kind in "fc":
        a[...] = np.nan
    elif a.dtype.kind in "iu":
        info = np.iinfo(a.dtype)
        a[...] = INT_POISON if info.min <= INT_POISON else info.max
    # bool arrays: nothing tells "never written" from False


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating):
        if math.isnan(v):
            return "nan"
        return f"{float(v):.7g}"
    return str(v.item() if hasattr(v, "item") else v)


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _wrong_mask(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    if got.dtype.kind in "fc" or want.dtype.kind in "fc":
        g = got.astype(np.result_type(got.dtype, np.float64), copy=False)
        w = want.astype(np.result_type(want.dtype, np.float64), copy=False)
        return ~np.isclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    return got != want


def _unwritten(got: np.ndarray) -> np.ndarray:
    if got.dtype.kind in "fc":
        return np.isnan(got)
    if got.dtype.kind in "iu":
        info = np.iinfo(got.dtype)
        return got == (INT_POISON if info.min <= INT_POISON else info.max)
    return np.zeros(got.shape, bool)


def explain_mismatch(name: str, got: np.ndarray, want: np.ndarray, *, rtol: float = 1e-5, atol: float = 1e-8,
                     block: Any = None, poisoned: bool = True) -> str | None:
    """Describe how `got` differs from `want` (None if they agree within the tolerance).

    Lists the first wrong elements with got / expected / difference, then a hint read from the
    pattern of the wrong elements: never written (NaN or the integer poison value) at the end
    (grid too small or guard too strict), only the last partial block, only some columns or rows
    of a 2-D output, small relative errors (precision), or wrong everywhere (the formula).
    """
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return (f"  {name}: has shape {got.shape} but the reference gives shape {want.shape}; "
                "check which arrays you pass and how you index them")
    wrong = _wrong_mask(got, want, rtol, atol)
    nwrong = int(wrong.sum())
    if not nwrong:
        return None
    total = got.size
    idx = np.argwhere(wrong) if got.ndim else np.zeros((1, 0), int)
    tol = f"rtol={rtol:g}, atol={atol:g}" if got.dtype.kind in "fc" else "exact"
    lines = [f"  {name}: {nwrong} of {total} elements differ ({tol})"]
    width = max(8, max(len(_index(tuple(i))) for i in idx[:SHOW_ELEMENTS]))
    lines.append(f"    {'index':<{width}}  {'got':>14}  {'expected':>14}  {'difference':>12}")
    for i in idx[:SHOW_ELEMENTS]:
        t = tuple(i)
        g, w = got[t], want[t]
        if got.dtype.kind in "fciu" and want.dtype.kind in "fciu":
            d = "-" if (isinstance(g, float | np.floating) and math.isnan(g)) else _fmt(np.float64(g) - np.float64(w))
        else:
            d = "-"
        lines.append(f"    {_index(t):<{width}}  {_fmt(g):>14}  {_fmt(w):>14}  {d:>12}")
    if nwrong > SHOW_ELEMENTS:
        lines.append(f"    ... and {nwrong - SHOW_ELEMENTS} more")
    hint = _hint(got, want, wrong, idx, block, poisoned)
    if hint:
        lines.append(f"  what to look at: {hint}")
    return "\n".join(lines)


def _hint(got: np.ndarray, want: np.ndarray, wrong: np.ndarray, idx: np.ndarray, block: Any,
          poisoned: bool) -> str:
    nwrong = int(wrong.sum())
    unwritten = _unwritten(got) & wrong if poisoned else np.zeros(got.shape, bool)
    all_unwritten = bool(unwritten.sum() == nwrong)
    flat = np.flatnonzero(wrong.ravel())
    tail = got.ndim == 1 and bool(flat[0] > 0 and np.array_equal(flat, np.arange(flat[0], got.size)))
    t = None
    if block is not None:
        b = block if isinstance(block, int) else (block[0] if len(block) else None)
        t = int(b) if b else None
    if got.ndim == 1 and all_unwritten and tail:
        return (f"elements {flat[0]}..{got.size - 1} at the end were never written (they still hold the "
                "poison value the check filled the output with): the grid has too few blocks or the guard is too "
                "strict. Round the number of blocks up, (n + threads - 1) // threads, and guard with `if i < n:`")
    if all_unwritten:
        if got.ndim == 2:
            cols = np.unique(idx[:, 1])
            rows = np.unique(idx[:, 0])
            if len(rows) == got.shape[0] and cols[0] > 0 and cols[-1] == got.shape[1] - 1:
                return (f"columns {cols[0]}..{got.shape[1] - 1} were never written: too few threads along x "
                        "(x should run along the columns: the grid's x size is ceil(cols / blockDim.x))")
            if len(cols) == got.shape[1] and rows[0] > 0 and rows[-1] == got.shape[0] - 1:
                return (f"rows {rows[0]}..{got.shape[0] - 1} were never written: too few threads along y "
                        "(the grid's y size is ceil(rows / blockDim.y))")
        return (f"{nwrong} element(s) were never written (they still hold the poison value the check filled the "
                "output with): make sure every output element is computed by exactly one thread")
    if t and got.ndim == 1 and got.size > t and got.size % t and flat[0] >= (got.size // t) * t:
        return (f"only the last, partial block (elements {(got.size // t) * t}..{got.size - 1}) is wrong: "
                "threads past the end must not read or write, and the ones inside must not use elements past n")
    if got.dtype.kind in "fc":
        with np.errstate(all="ignore"):
            g = got[wrong].astype(np.float64)
            w = want[wrong].astype(np.float64)
            rel = np.abs(g - w) / np.maximum(np.abs(w), 1e-30)
        if np.all(np.isfinite(rel)) and float(np.max(rel)) < 1e-2:
            return ("the values are close but not within the tolerance: accumulate in the precision the "
                    "reference uses (e.g. float32 with np.float32(...) constants) and in the same order")
    if nwrong == got.size and got.size > 1:
        return "every element is wrong: check the formula and which input array each term reads"
    return "compare your kernel's formula and indexing with the exercise for the elements listed above"


# -- the sanitizer ------------------------------------------------------------------------------------------

def sanitizer_errors(session: Any) -> list[Any]:
    """The error-severity findings of a sanitizer session (warnings, e.g. equal-value writes, left out)."""
    if session is None:
        return []
    errs = getattr(session, "errors", None)
    if callable(errs):
        return list(errs())
    return [f for f in getattr(session, "findings", []) if getattr(f, "severity", "error") == "error"]


def _findings_text(findings: Sequence[Any], limit: int = 4) -> str:
    out = []
    for f in findings[:limit]:
        out.append("    " + str(f).replace("\n", "\n    "))
    if len(findings) > limit:
        out.append(f"    ... and {len(findings) - limit} more finding(s)")
    return "\n".join(out)


def _open_sanitizer(tools: Any) -> Any:
    from simtlab.emulator import cuda

    return cuda.sanitize(tools=tools, mode="report", echo=False)


# -- the check ----------------------------------------------------------------------------------------------

@dataclass
class CheckResult:
    """What a passing `check_kernel` ran (for callers that want the details)."""

    kernel: str
    sizes: list[Size] = field(default_factory=list)
    sanitized: int = 0
    warnings: list[str] = field(default_factory=list)


def _as_tuple(v: Any) -> tuple:
    return tuple(v) if isinstance(v, tuple | list) else (v,)


def _size_text(size: Size) -> str:
    return f"n={size}" if isinstance(size, int) else "shape=" + "x".join(map(str, size))


def check_kernel(kernel: Any, reference: Callable[..., Any], inputs: Callable[[np.random.Generator, Size], tuple],
                 *, sizes: Sequence[Size] | None = None, trials: int = 8, seed: int = 0,
                 threads: int | Sequence[int] = 128, launch: Callable[[Any, tuple, Size], Any] | None = None,
                 outputs: Sequence[int] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
                 sanitize: bool | int = True, tools: Any = "all", poison: bool = True, name: str | None = None,
                 quiet: bool = False, show: bool | None = None) -> None:
    """Check `kernel` against `reference` on many random inputs; raise `CheckFailure` on the first problem.

    Parameters
    ----------
    kernel: the student's ``@cuda.jit`` kernel.
    reference: ``reference(*args)`` computes the expected outputs from (copies of) the kernel's
        arguments, with numpy: an array, a tuple of arrays (one per output), or None after
        filling the output arguments in place.
    inputs: ``inputs(rng, size)`` returns the kernel's arguments for one trial (inputs drawn
        from `rng`, outputs allocated).
    sizes: the sizes to try; default `tricky_sizes(trials, block=threads, seed=seed)` (1-D).
    threads, launch: how to launch. Default: `default_launch(threads)`. A custom
        ``launch(kernel, args, size)`` may return (grid, block) for the messages.
    outputs: indices of the output arguments (default: the last argument).
    rtol, atol: tolerance for floating-point outputs (integers must match exactly).
    sanitize: run the launches under the sanitizer (True: all; an int k: the first k trials);
        any error finding (race, uninitialised read, out-of-bounds) fails the check.
    poison: fill outputs with NaN (or an integer poison value) before each launch so that
        elements the kernel never writes are found. Turn off for kernels that accumulate into
        their outputs (atomics into a zeroed histogram).
    quiet: do not print the one-line summary when the check passes.
    show: on a wrong result, also display the output as the kernel left it next to what was expected,
        beside the launch's memory access map (default: only in an interactive notebook, never while
        nbgrader executes one).

    Everything is deterministic in `seed`. Returns None, so that a test cell ending with the call
    shows no value (nbgrader reads a cell's value as partial credit); `run_check` returns the details.
    """
    __tracebackhide__ = True
    run_check(kernel, reference, inputs, sizes=sizes, trials=trials, seed=seed, threads=threads, launch=launch,
              outputs=outputs, rtol=rtol, atol=atol, sanitize=sanitize, tools=tools, poison=poison, name=name,
              quiet=quiet, show=show)


def run_check(kernel: Any, reference: Callable[..., Any], inputs: Callable[[np.random.Generator, Size], tuple],
              *, sizes: Sequence[Size] | None = None, trials: int = 8, seed: int = 0,
              threads: int | Sequence[int] = 128, launch: Callable[[Any, tuple, Size], Any] | None = None,
              outputs: Sequence[int] | None = None, rtol: float = 1e-5, atol: float = 1e-6,
              sanitize: bool | int = True, tools: Any = "all", poison: bool = True, name: str | None = None,
              quiet: bool = False, show: bool | None = None) -> CheckResult:
    """`check_kernel` returning a `CheckResult` (sizes tried, launches sanitized) when it passes."""
    __tracebackhide__ = True
    kname = name or _kernel_name(kernel)
    if sizes is None:
        sizes = tricky_sizes(trials, block=threads, seed=seed)
    sizes = list(sizes)
    if not sizes:
        raise ValueError("check_kernel needs at least one size")
    launcher = launch or default_launch(threads)
    result = CheckResult(kname)
    nsan = len(sizes) if sanitize is True else int(sanitize or 0)
    for trial, size in enumerate(sizes):
        rng = np.random.default_rng([seed, trial])
        args = _as_tuple(inputs(rng, size))
        outs = list(outputs) if outputs is not None else [len(args) - 1]
        ref_args = tuple(np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args)
        expected = reference(*ref_args)
        if expected is None:
            expected = tuple(ref_args[i] for i in outs)
        expected = _as_tuple(expected)
        if len(expected) != len(outs):
            raise ValueError(f"the reference returned {len(expected)} array(s) for {len(outs)} output argument(s)")
        if poison:
            for i in outs:
                if isinstance(args[i], np.ndarray):
                    _poison(args[i])
        where = f"input {trial + 1} of {len(sizes)} ({_size_text(size)}, seed={seed})"
        session = _open_sanitizer(tools) if trial < nsan else None
        used = None
        try:
            if session is not None:
                with session:
                    used = launcher(kernel, args, size)
            else:
                used = launcher(kernel, args, size)
        except NotImplementedError:
            raise  # an exercise's stub: "implement this" says it best
        except Exception as exc:  # a SimtError explains itself; anything else is reported as what it is
            cfg = _describe_launch(used)
            msg = [f"check_kernel({kname}) failed on {where}{f' [{cfg}]' if cfg else ''}:",
                   f"  the launch raised {type(exc).__name__}: " + str(exc).replace("\n", "\n  ")]
            if isinstance(size, int) and isinstance(threads, int) and size % threads:
                msg.append(f"  note: n={size} is not a multiple of the block size ({threads}); the last block has "
                           f"{size % threads} threads with work and {threads - size % threads} without")
            raise CheckFailure("\n".join(msg), trial=trial, size=size) from None
        block = used[1] if isinstance(used, tuple) and len(used) == 2 else threads
        problems = []
        for k, i in enumerate(outs):
            label = f"output argument {i}"
            text = explain_mismatch(label, np.asarray(_host(args[i])), np.asarray(expected[k]), rtol=rtol,
                                    atol=atol, block=block, poisoned=poison)
            if text:
                problems.append(text)
        findings = sanitizer_errors(session)
        cfg = _describe_launch(used)
        if problems:
            if _showing(show):
                _show_failure(kernel, launcher, inputs, [seed, trial], size, outs, expected, rtol, atol, poison)
            msg = [f"check_kernel({kname}) failed on {where}{f' [{cfg}]' if cfg else ''}: wrong result", *problems]
            if findings:
                msg.append("  the sanitizer also reports problems that may explain it:")
                msg.append(_findings_text(findings))
            raise CheckFailure("\n".join(msg), trial=trial, size=size)
        if findings:
            msg = [f"check_kernel({kname}) failed on {where}{f' [{cfg}]' if cfg else ''}: the results are right, "
                   "but only because the emulator runs threads in lockstep; the sanitizer reports "
                   "problems that make a real GPU give wrong or random results:",
                   _findings_text(findings),
                   "  what to look at: the lines and threads named above (a missing cuda.syncthreads() between "
                   "writes and reads of shared memory is the usual cause)"]
            raise CheckFailure("\n".join(msg), trial=trial, size=size)
        result.sizes.append(size)
        if session is not None:
            result.sanitized += 1
    if not quiet:
        shown = ", ".join(_size_text(s).split("=", 1)[1] for s in result.sizes[:6])
        more = ", ..." if len(result.sizes) > 6 else ""
        san = f"; sanitizer clean on {result.sanitized}" if result.sanitized else ""
        print(f"check_kernel({kname}): passed on {len(result.sizes)} random inputs (sizes {shown}{more}){san}")
    return result


def _showing(show: bool | None) -> bool:
    """Whether a failed check should also display pictures: asked for, or an interactive notebook not being graded."""
    if show is not None:
        return bool(show)
    if os.environ.get("NBGRADER_EXECUTION") or "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _show_failure(kernel: Any, launcher: Callable[..., Any], inputs: Callable[..., tuple], rng_seed: list[int],
                  size: Size, outs: list[int], expected: tuple, rtol: float, atol: float, poison: bool) -> None:
    """Run the failing trial again with the access recorder and display, per wrong output, what the kernel wrote
    next to what was expected beside the memory access map. Showing must never hide the failure itself: any problem
    here (no Jupyter side installed, a launch that raises) only means fewer pictures."""
    try:
        from simtlab.jupyter.failure import show_check_failure
        from simtlab.jupyter.recorder import recording
    except ImportError:
        return
    try:
        args = _as_tuple(inputs(np.random.default_rng(rng_seed), size))
        if poison:
            for i in outs:
                if isinstance(args[i], np.ndarray):
                    _poison(args[i])
        recs: list[Any] = []
        try:  # a quiet sanitizer session of its own keeps the kernel's default one from echoing findings again
            with _open_sanitizer("all"), recording() as recs:
                launcher(kernel, args, size)
        except Exception:  # noqa: BLE001 - a launch error was reported by the check; show what was recorded
            pass
        rec = recs[-1] if recs else None
        for k, i in enumerate(outs):
            got = np.asarray(_host(args[i]))
            want = np.asarray(expected[k])
            if got.shape != want.shape:
                continue
            wrong = _wrong_mask(got, want, rtol, atol)
            if wrong.any():
                unwritten = _unwritten(got) & ~_unwritten(want) if poison else None
                show_check_failure(kernel, i, got, want, wrong, unwritten, rec=rec,
                                   title=f"check failed on {_size_text(size)}: what your kernel wrote, and what "
                                         "was expected")
    except Exception:  # noqa: BLE001
        return


def _host(a: Any) -> Any:
    """A device array's host copy; anything else as it is."""
    f = getattr(a, "copy_to_host", None)
    return f() if callable(f) else a


def source_line(filename: str | None, line: int | None) -> str:
    """The text of `line` in `filename` (notebook cells included, through linecache), stripped."""
    if not filename or not line:
        return ""
    return linecache.getline(filename, int(line)).strip()
