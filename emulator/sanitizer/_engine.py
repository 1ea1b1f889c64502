"""Errors the engine refuses to run past, turned into sanitizer findings.

The engine raises for out-of-bounds and negative indices, misaligned arguments, barrier divergence and
warp masks that name lanes not executing the call. The sanitizer reports each of them as a finding too
(memcheck or synccheck) with the same coordinates, so that a report (and a grader reading it) sees every
problem in one place. For a divergent barrier it also reads the kernel's source to tell "a barrier in
only one branch" from "different barriers in the two branches" and to name the other barrier's line.
"""

from __future__ import annotations

import ast
import linecache

import numpy as np

from ..errors import BarrierDivergenceError, MisalignedAccessError, OutOfBoundsError, SimtError, WarpMaskError
from ..lanes import val
from ..report import Finding

BARRIER_NAMES = {"syncthreads", "syncthreads_count", "syncthreads_and", "syncthreads_or"}

FIX_NEGATIVE = ("indices must be >= 0: a GPU has no negative (from-the-end) indexing; check the arithmetic that "
                "computes the index (e.g. i - 1 for i == 0)")
FIX_OOB = ("guard the access with the array's size (e.g. `if i < a.size:`); the launch usually has more threads than "
           "elements")
FIX_MISALIGNED = "keep every device array view aligned to its element size (slice whole elements of the allocation)"
FIX_DIVERGENT = ("move cuda.syncthreads() out of the if/loop so that every thread of the block reaches it, or make "
                 "the condition the same for the whole block")
FIX_MISMATCHED = ("use one cuda.syncthreads() after the if/else that every thread reaches, instead of one barrier in "
                  "each branch")
FIX_WARP_MASK = ("pass a mask naming exactly the lanes that reach the call together (cuda.activemask(), or a "
                 "ballot of the condition taken before the branch), or call it before the lanes diverge or exit")


def tool_of(error: BaseException) -> str | None:
    """Which sanitizer tool reports this engine error (None: not a sanitizer finding)."""
    if isinstance(error, (OutOfBoundsError, MisalignedAccessError)):
        return "memcheck"
    if isinstance(error, (BarrierDivergenceError, WarpMaskError)):
        return "synccheck"
    return None


def _lane_of(sp, block, thread) -> int | None:
    """Lane number in the chunk of the thread at ``block``/``thread`` (None if not in the chunk)."""
    if block is None or thread is None:
        return None
    z0, y0, x0 = sp.block0
    bz, by, bx = block[2] - z0, block[1] - y0, block[0] - x0
    tz, ty, tx = thread[2], thread[1], thread[0]
    idx = (bz, by, bx, tz, ty, tx)
    if any(i < 0 or i >= n for i, n in zip(idx, sp.shape)):
        return None
    return int(np.ravel_multi_index(idx, sp.shape))


def user_index(ev, lane: int) -> tuple[int, ...]:
    """The index the kernel wrote (implicit block / lane dimensions removed) at one lane of an event."""
    idx = list(ev.indices)
    if ev.space == "shared" and idx:
        idx = idx[1:]
    elif ev.space == "local" and idx:
        idx = idx[:-1]
    out = []
    for e in idx:
        v = val(e)
        if isinstance(v, np.ndarray):
            v = np.broadcast_to(v, ev.sp.shape).reshape(-1)[lane]
        out.append(int(v))
    return tuple(out)


def lane_address(ev, lane: int) -> int:
    """Byte address of one lane's access (for shared memory: offset inside the block's window)."""
    off = np.asarray(ev.byte_offsets).reshape(-1)
    a = int(off[lane])
    return a if ev.space in ("shared", "local") else int(ev.base_address) + a


def finding_from_error(error: SimtError, last_event, filename: str | None) -> Finding | None:
    """The finding that reports an engine error (``last_event``: the memory event just before it)."""
    tool = tool_of(error)
    if tool is None:
        return None
    more = max(0, (error.lanes or 1) - 1)
    common = dict(line=error.line, block=error.block, thread=error.thread, more=more)
    if isinstance(error, OutOfBoundsError):
        array = index = address = None
        negative = "must be >= 0" in (error.fix or "") or ">= 0" in (error.fix or "")
        ev = last_event
        if ev is not None and (error.line is None or ev.line == error.line):
            lane = _lane_of(ev.sp, error.block, error.thread)
            if lane is not None:
                array = ev.array
                index = user_index(ev, lane)
                address = lane_address(ev, lane)
                negative = any(i < 0 for i in index)
        kind = "negative-index" if negative else "out-of-bounds"
        return Finding(tool, kind, error.message, "error", array=array, index=index, address=address,
                       fix=error.fix or (FIX_NEGATIVE if negative else FIX_OOB), **common)
    if isinstance(error, MisalignedAccessError):
        return Finding(tool, "misaligned", error.message, "error", fix=error.fix or FIX_MISALIGNED, **common)
    if isinstance(error, WarpMaskError):
        return Finding(tool, "invalid-warp-mask", error.message, "error", fix=error.fix or FIX_WARP_MASK, **common)
    # barrier divergence: one branch only, or different barriers on the two sides
    other, where = classify_barrier(filename or error.filename, error.line)
    if other is not None:
        msg = (f"{error.message}. The threads of the block wait at different barriers (line {error.line} and "
               f"line {other}): on a GPU this deadlocks or lets each group pass the other's barrier")
        return Finding(tool, "mismatched-barriers", msg, "error", other_line=other, fix=FIX_MISMATCHED, **common)
    inside = f" (the barrier is inside {where} that not every thread of the block takes)" if where else ""
    msg = error.message + inside
    return Finding(tool, "divergent-barrier", msg, "error", fix=FIX_DIVERGENT, **common)


_parsed: dict[str, tuple[int, ast.AST | None]] = {}


def _tree(filename: str) -> ast.AST | None:
    lines = linecache.getlines(filename)
    key = hash(tuple(lines))
    hit = _parsed.get(filename)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        tree = ast.parse("".join(lines)) if lines else None
    except SyntaxError:
        tree = None
    _parsed[filename] = (key, tree)
    return tree


def _is_barrier_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    return name in BARRIER_NAMES


def _barrier_lines(stmts: list[ast.stmt]) -> list[int]:
    return sorted({n.lineno for s in stmts for n in ast.walk(s) if _is_barrier_call(n)})


def classify_barrier(filename: str | None, line: int | None) -> tuple[int | None, str | None]:
    """For a barrier at ``line`` reached by only some threads: (line of a barrier in the other branch of
    the enclosing ``if``, or None; "an if" / "a loop" for the construct that encloses it, or None)."""
    if not filename or not line:
        return None, None
    tree = _tree(filename)
    if tree is None:
        return None, None
    path: list[ast.AST] = []

    def find(node: ast.AST, trail: list[ast.AST]) -> bool:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt) and child.lineno <= line <= (child.end_lineno or child.lineno):
                trail.append(child)
                if child.lineno == line and not any(
                        isinstance(c, ast.stmt) for c in ast.iter_child_nodes(child)):
                    return True
                if find(child, trail):
                    return True
                if child.lineno == line:
                    return True
                trail.pop()
        return False

    if not find(tree, path):
        return None, None
    for i in range(len(path) - 1, 0, -1):
        parent, child = path[i - 1], path[i]
        if isinstance(parent, ast.If):
            if child in parent.body:
                other = _barrier_lines(parent.orelse)
            else:
                other = _barrier_lines(parent.body)
            return (other[0] if other else None), "an if"
        if isinstance(parent, (ast.While, ast.For)):
            return None, "a loop"
    return None, None
