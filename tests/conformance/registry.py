"""The case registry of the conformance suite, and the helpers every case uses.

A *case* is a function ``fn(cuda, rng, size) -> Result``: it builds random inputs with ``rng``,
launches its kernel(s) with the host API of ``cuda`` and returns what the kernels produced
(``got``) next to what numpy says they must produce from the same inputs (``expected``).

``size`` is ``"full"`` (the conformance run on the emulator: 10^4..10^5 threads, never a multiple of
the block size, so every launch has a partial tail) or ``"tiny"`` (a few hundred threads, for
numba's simulator, which runs about 10^4 threads per second).

Outputs whose raw form is legitimately nondeterministic (for example the order in which atomics
hand out old values) are returned by the case in an order-independent form (sorted, or reduced to
the verdict of a consistency check whose expected value is ``1``), so that ``got`` can be compared
exactly both to ``expected`` and to another backend's ``got``.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

SIZES = ("full", "tiny")


class Result(NamedTuple):
    """What a case returns: kernel outputs and the numpy reference for them, by output name."""

    got: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


CaseFn = Callable[[ModuleType, np.random.Generator, str], Result]


@dataclass(frozen=True)
class Case:
    """One conformance case.

    ``rtol``/``atol`` apply to floating-point outputs when comparing with the numpy reference;
    integer and boolean outputs are always compared exactly. ``key_tol`` overrides the tolerance
    for single outputs. ``parity_rtol``/``parity_atol`` (None: derived from the dtype) apply when
    comparing two backends' outputs with each other. ``sim_ok`` says whether numba's CUDA simulator
    can run the case; ``sim_reason`` says why not.
    """

    name: str
    fn: CaseFn
    tags: tuple[str, ...]
    rtol: float = 1e-6
    atol: float = 0.0
    key_tol: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    sim_ok: bool = True
    sim_reason: str = ""
    parity_rtol: float | None = None
    parity_atol: float | None = None
    doc: str = ""

    def run(self, cuda: ModuleType, rng: np.random.Generator, size: str) -> Result:
        """Run the case and return its outputs and their reference."""
        if size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, not {size!r}")
        result = self.fn(cuda, rng, size)
        if not isinstance(result, Result):
            raise TypeError(f"case {self.name} must return a Result, not {type(result).__name__}")
        got = {k: np.asarray(v) for k, v in result.got.items()}
        expected = {k: np.asarray(v) for k, v in result.expected.items()}
        return Result(got, expected)

    def tolerance(self, key: str) -> tuple[float, float]:
        """The (rtol, atol) used for the floating-point output ``key`` against the reference."""
        return self.key_tol.get(key, (self.rtol, self.atol))


_REGISTRY: dict[str, Case] = {}

# The modules that define cases, in the order their cases are listed.
CASE_MODULES = (
    "cases_basic",
    "cases_numeric",
    "cases_memory",
    "cases_sync",
    "cases_atomic",
    "cases_warp",
)


def case(
    name: str | None = None,
    *,
    tags: Iterable[str],
    rtol: float = 1e-6,
    atol: float = 0.0,
    key_tol: Mapping[str, tuple[float, float]] | None = None,
    sim_ok: bool = True,
    sim_reason: str = "",
    parity_rtol: float | None = None,
    parity_atol: float | None = None,
) -> Callable[[CaseFn], CaseFn]:
    """Register the decorated function as a conformance case (its name defaults to the function's)."""

    def register(fn: CaseFn) -> CaseFn:
        case_name = name or fn.__name__
        if case_name in _REGISTRY:
            raise ValueError(f"duplicate conformance case {case_name!r}")
        if not sim_ok and not sim_reason:
            raise ValueError(f"case {case_name!r}: sim_ok=False needs a sim_reason")
        _REGISTRY[case_name] = Case(
            name=case_name,
            fn=fn,
            tags=tuple(tags),
            rtol=rtol,
            atol=atol,
            key_tol=dict(key_tol or {}),
            sim_ok=sim_ok,
            sim_reason=sim_reason,
            parity_rtol=parity_rtol,
            parity_atol=parity_atol,
            doc=(fn.__doc__ or "").strip(),
        )
        return fn

    return register


def all_cases() -> list[Case]:
    """Import every case module (which registers its cases) and return the cases in order."""
    for module in CASE_MODULES:
        importlib.import_module(f"{__package__}.{module}")
    return list(_REGISTRY.values())


def get_case(name: str) -> Case:
    """Return the registered case called ``name``."""
    all_cases()
    return _REGISTRY[name]


def case_rng(name: str, seed: int = 0) -> np.random.Generator:
    """A generator seeded from the case name and ``seed``: the same inputs in every process."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


# --------------------------------------------------------------------------------------------
# Launch-shape helpers


def pick(size: str, full: Any, tiny: Any) -> Any:
    """Return ``full`` or ``tiny`` according to ``size``."""
    if size == "full":
        return full
    if size == "tiny":
        return tiny
    raise ValueError(f"unknown size {size!r}")


def blocks_for(n: int, tpb: int, *, allow_exact: bool = False) -> int:
    """Number of blocks of ``tpb`` threads covering ``n`` items.

    Conformance sizes must leave a partial last block (that is where guards get tested), so an
    ``n`` that is a multiple of ``tpb`` is refused unless ``allow_exact``.
    """
    if n % tpb == 0 and not allow_exact:
        raise AssertionError(f"case size {n} is a multiple of the block size {tpb}: pick another")
    return (n + tpb - 1) // tpb


# --------------------------------------------------------------------------------------------
# Comparison


def _is_exact_kind(a: np.ndarray) -> bool:
    return a.dtype.kind in "biuUSV?"


def compare_arrays(
    got: np.ndarray, want: np.ndarray, rtol: float, atol: float, *, what: str
) -> str | None:
    """Return a description of the first differences between two arrays, or None if they agree.

    Integer, boolean and byte-string arrays must be equal (and both integral); floats must agree
    within ``rtol``/``atol`` with NaNs in the same places.
    """
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return f"{what}: shape {got.shape} != expected {want.shape}"
    if _is_exact_kind(want) or _is_exact_kind(got):
        if _is_exact_kind(want) != _is_exact_kind(got):
            return f"{what}: dtype {got.dtype} cannot be compared exactly with {want.dtype}"
        bad = got != want
    else:
        g = got.astype(np.float64)
        w = want.astype(np.float64)
        with np.errstate(invalid="ignore"):
            close = np.abs(g - w) <= atol + rtol * np.abs(w)
        close |= (g == w) | (np.isnan(g) & np.isnan(w))
        bad = ~close
    if not np.any(bad):
        return None
    idx = np.argwhere(bad) if got.ndim else np.zeros((1, 0), dtype=int)
    lines = [f"{what}: {int(np.count_nonzero(bad))} of {got.size} elements differ (rtol={rtol}, atol={atol})"]
    for row in idx[:8]:
        pos = tuple(int(v) for v in row)
        lines.append(f"  at {pos}: got {got[pos]!r}, expected {want[pos]!r}")
    return "\n".join(lines)


def compare_outputs(
    got: Mapping[str, np.ndarray],
    want: Mapping[str, np.ndarray],
    tolerance: Callable[[str, np.ndarray], tuple[float, float]],
    *,
    label: str,
) -> list[str]:
    """Compare two dicts of outputs key by key; return the list of problems (empty when equal)."""
    problems = []
    if set(got) != set(want):
        problems.append(f"{label}: outputs {sorted(got)} != expected outputs {sorted(want)}")
    for key in sorted(set(got) & set(want)):
        rtol, atol = tolerance(key, np.asarray(want[key]))
        problem = compare_arrays(got[key], want[key], rtol, atol, what=f"{label}[{key!r}]")
        if problem:
            problems.append(problem)
    return problems


# --------------------------------------------------------------------------------------------
# Consistency of atomics' old values


def serializable(
    init: Any, vals: np.ndarray, olds: np.ndarray, final: Any, op: Callable[[Any, Any], Any]
) -> bool:
    """True if some serial order of the updates ``state = op(state, vals[t])`` starting from
    ``init`` hands each thread ``t`` the old value ``olds[t]`` and ends in ``final``.

    Valid for monotone updates, where no state is ever revisited (add/sub of positive values,
    max/min, setting/clearing/flipping distinct bits, exchanging distinct values): every state is
    then seen by at most one update that changes it, plus any number of updates that leave it as
    it is, so a greedy walk from ``init`` decides the question.
    """
    pool: dict[Any, list[Any]] = {}
    for v, o in zip(np.asarray(vals).tolist(), np.asarray(olds).tolist()):
        pool.setdefault(o, []).append(v)
    state = np.asarray(init).item()
    remaining = len(np.asarray(vals))
    while remaining:
        seen = pool.pop(state, None)
        if not seen:
            return False
        remaining -= len(seen)
        changing = [v for v in seen if op(state, v) != state]
        if len(changing) > 1:
            return False
        if changing:
            state = op(state, changing[0])
        elif remaining:
            return False
    return state == np.asarray(final).item()


def per_target_serializable(
    init: np.ndarray,
    target: np.ndarray,
    vals: np.ndarray,
    olds: np.ndarray,
    final: np.ndarray,
    op: Callable[[Any, Any], Any],
) -> np.ndarray:
    """Apply :func:`serializable` to each target cell; return an int8 verdict per cell (1 = ok)."""
    verdict = np.zeros(len(init), dtype=np.int8)
    order = np.argsort(target, kind="stable")
    bounds = np.searchsorted(target[order], np.arange(len(init) + 1))
    for cell in range(len(init)):
        sel = order[bounds[cell] : bounds[cell + 1]]
        verdict[cell] = serializable(init[cell], vals[sel], olds[sel], final[cell], op)
    return verdict
