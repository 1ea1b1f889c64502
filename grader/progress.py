"""A dependency-free progress bar for ``simtlab grade`` (a bar on a terminal, one line per item otherwise)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["Progress"]


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """Counts finished submissions; draws ``[#####.....] 12/30 ok 11 failed 1 0:42 eta 1:03``."""

    def __init__(self, total: int, *, enabled: bool = True, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = max(0, total)
        self.done = 0
        self.failed = 0
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_len = 0

    def line(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(round(frac * self.width))
        elapsed = time.monotonic() - self.start
        eta = (elapsed / self.done * (self.total - self.done)) if self.done else 0.0
        rate = self.done / elapsed * 60 if elapsed > 0 and self.done else 0.0
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"ok {self.done - self.failed} failed {self.failed}  {_clock(elapsed)} eta {_clock(eta)} "
                f"({rate:.1f}/min)")

    def update(self, label: str = "", ok: bool = True) -> None:
        """One more submission finished."""
        self.done += 1
        if not ok:
            self.failed += 1
        if not self.enabled:
            return
        text = self.line() + (f"  {label}" if label else "")
        if self.tty:
            pad = max(0, self._last_len - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._last_len = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
