"""Partial credit in one nbgrader test cell.

nbgrader scores a test cell by its outputs: an error (or anything on stderr) gives 0, a last
expression whose plain-text value is a number between 0 and the cell's points gives that many
points, anything else gives full points. `Rubric` splits a cell's points into parts, runs each
part's checks, prints what passed and what failed (with the check's teaching message) on stdout,
and `score()` returns the points earned, so a cell reads::

    rubric = Rubric(points=3)
    with rubric.part(1, "right values on random inputs"):
        check_kernel(...)
    with rubric.part(2, "coalesced global accesses"):
        check_metrics(...)
    rubric.score()
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Rubric"]


@dataclass
class _Part:
    points: float
    what: str
    passed: bool | None = None
    message: str = ""
    requires: tuple[str, ...] = ()


class Rubric:
    """The parts of one test cell's points; `score()` is the cell's value for nbgrader's partial credit."""

    def __init__(self, points: float, name: str = "") -> None:
        if points <= 0:
            raise ValueError("a rubric needs a positive number of points")
        self.points = float(points)
        self.name = name
        self.parts: list[_Part] = []

    @contextlib.contextmanager
    def part(self, points: float, what: str, requires: bool | str | Sequence[str] = False) -> Iterator[_Part]:
        """A part worth `points`: earned when the block finishes without an exception.

        A failed check (or any ordinary exception, e.g. a student's function that is not defined)
        is reported on stdout and the block's points are not earned; KeyboardInterrupt and other
        non-``Exception`` errors (a cell timeout) still stop the cell.

        `requires`: parts (by their `what`, or True for every earlier part) that must have passed for
        this one to count: e.g. performance points only for a kernel that computes the right values.
        The block still runs, so the student sees both results.
        """
        if requires is True:
            needs = tuple(x.what for x in self.parts)
        elif isinstance(requires, str):
            needs = (requires,)
        else:
            needs = tuple(requires or ())
        unknown = [n for n in needs if n not in {x.what for x in self.parts}]
        if unknown:
            raise ValueError(f"the rubric has no earlier part {unknown[0]!r}")
        p = _Part(float(points), what, requires=needs)
        self.parts.append(p)
        if sum(x.points for x in self.parts) > self.points + 1e-9:
            raise ValueError(f"the rubric's parts add up to more than its {self.points:g} points")
        try:
            yield p
        except Exception as exc:  # noqa: BLE001 - a failed part must not fail the other parts
            p.passed = False
            text = str(exc) if type(exc).__name__ == "CheckFailure" else f"{type(exc).__name__}: {exc}"
            if isinstance(exc, NotImplementedError) and any(x.message == text for x in self.parts[:-1]):
                p.message = text
                print(f"[ ] {what} (0/{p.points:g}): not implemented yet (see above)", file=sys.stdout)
                return
            p.message = text
            print(f"[ ] {what} (0/{p.points:g}):\n    " + text.replace("\n", "\n    "), file=sys.stdout)
            return
        missing = [x.what for x in self.parts if x.what in needs and not x.passed]
        if missing:
            p.passed = False
            p.message = f"passed, but it counts only once this passes too: {'; '.join(missing)}"
            print(f"[ ] {what} (0/{p.points:g}): {p.message}", file=sys.stdout)
        else:
            p.passed = True
            print(f"[x] {what} ({p.points:g}/{p.points:g})", file=sys.stdout)

    def check(self, points: float, what: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        """Run ``func(*args, **kwargs)`` as a part; True when it passed."""
        with self.part(points, what) as p:
            func(*args, **kwargs)
        return bool(p.passed)

    @property
    def earned(self) -> float:
        """Points of the parts that passed so far."""
        return sum(p.points for p in self.parts if p.passed)

    def score(self) -> float:
        """The points earned, as a plain float (make it the cell's last expression).

        Raises ValueError if the parts do not add up to the rubric's points (a mistake in the lab).
        """
        total = sum(p.points for p in self.parts)
        if abs(total - self.points) > 1e-9:
            raise ValueError(f"the rubric's parts add up to {total:g}, not its {self.points:g} points")
        return float(round(self.earned, 6))

    def __repr__(self) -> str:
        return f"Rubric({self.earned:g}/{self.points:g} points{', ' + self.name if self.name else ''})"
