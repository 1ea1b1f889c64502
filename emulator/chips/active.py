"""The process-wide active chip: what launches, reports and `cuda.get_current_device()` use.

One chip is active at a time for the whole process (like one current device in CUDA), so that
a notebook's `%chip a100` or a grader's ``use_chip("h100")`` changes every later launch without
threading a chip argument through student code. The default is the small teaching chip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .loader import load_chip
from .spec import Chip

#: The chip a fresh process starts with.
DEFAULT_CHIP = "teaching"

_lock = threading.RLock()
_active: Chip | None = None


def get_active_chip() -> Chip:
    """The chip launches run on now (the teaching chip until `select_chip` is called)."""
    global _active
    with _lock:
        if _active is None:
            _active = load_chip(DEFAULT_CHIP)
        return _active


def select_chip(chip: str | os.PathLike[str] | Chip) -> Chip:
    """Make `chip` (a `Chip`, a preset name or a chip file path) the active chip and return it.

    An invalid name or file raises ChipError and leaves the active chip unchanged.
    """
    global _active
    new = chip if isinstance(chip, Chip) else load_chip(chip)
    with _lock:
        _active = new
    return new


@contextmanager
def use_chip(chip: str | os.PathLike[str] | Chip) -> Iterator[Chip]:
    """Run a block on another chip, then restore the previous one (even on error)::

        with use_chip("h100") as h100:
            kernel[blocks, threads](x)
    """
    with _lock:
        previous = get_active_chip()
        new = select_chip(chip)
    try:
        yield new
    finally:
        select_chip(previous)
