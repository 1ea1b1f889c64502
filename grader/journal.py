"""The grading journal: an append-only, fsync'd JSON-lines file that makes a run resumable.

One line per event, keyed by (submission id, content digest):

* ``started``   a submission was handed to a worker (``attempt`` counts how often);
* ``result``    its grading finished: the scores, comments and status, everything needed to write
  the gradebook again without re-running it (feedback files are written before this line);
* ``committed`` the gradebook holds that result.

A run that is killed at any point resumes from the journal: committed submissions are skipped,
a result that was journaled but not committed is written to the gradebook from the journal (it is
not graded again), and submissions that were started but have no result are graded once more. The
gradebook write is an update of the same rows, so a result committed twice leaves it unchanged:
every submission ends up in the gradebook exactly once. A line cut short by a kill (the last one)
is ignored when reading.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Journal", "JournalState", "Entry"]


@dataclass
class Entry:
    """What the journal knows about one (submission, digest)."""

    submission: str
    digest: str
    attempts: int = 0
    result: dict[str, Any] | None = None
    committed: bool = False
    results_seen: int = 0


@dataclass
class JournalState:
    """The journal replayed: one `Entry` per (submission, digest), and the lines that could not be read."""

    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    bad_lines: int = 0
    runs: int = 0

    def get(self, submission: str, digest: str) -> Entry:
        key = (submission, digest)
        if key not in self.entries:
            self.entries[key] = Entry(submission, digest)
        return self.entries[key]


class Journal:
    """Append-only journal file; one writer (the pipeline's parent process), thread-safe appends."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._counts: dict[str, int] = {}

    def read(self) -> JournalState:
        """Replay the journal (missing file: empty state)."""
        state = JournalState()
        if not self.path.exists():
            return state
        with open(self.path, "rb") as f:
            for raw in f:
                try:
                    ev = json.loads(raw)
                    kind = ev["event"]
                except (ValueError, KeyError, TypeError):
                    state.bad_lines += 1
                    continue
                if kind == "run":
                    state.runs += 1
                    continue
                e = state.get(ev["id"], ev["digest"])
                if kind == "started":
                    e.attempts += 1
                elif kind == "result":       # a later result (--retry-errors) replaces the earlier one
                    e.results_seen += 1
                    e.result = ev.get("result")
                    e.committed = False
                elif kind == "committed":
                    e.committed = True
        return state

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # a previous run killed mid-line leaves a partial last line: end it, so ours start clean
            size = os.fstat(self._fd).st_size
            if size:
                with open(self.path, "rb") as f:
                    f.seek(size - 1)
                    if f.read(1) != b"\n":
                        os.write(self._fd, b"\n")
        return self._fd

    def append(self, event: str, **fields: Any) -> None:
        """Write one event line and fsync it before returning."""
        line = json.dumps({"event": event, "time": round(time.time(), 3), **fields}, sort_keys=True) + "\n"
        with self._lock:
            fd = self._open()
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
            self._crash_point(event)

    def _crash_point(self, event: str) -> None:
        """Test hook: ``SIMTLAB_GRADER_CRASH=EVENT:N`` ends the process abruptly right after the N-th EVENT
        line (e.g. ``result:5``: the result is journaled, the gradebook not yet written)."""
        spec = os.environ.get("SIMTLAB_GRADER_CRASH", "")
        if not spec or ":" not in spec:
            return
        want, n = spec.rsplit(":", 1)
        if want != event:
            return
        self._counts[event] = self._counts.get(event, 0) + 1
        if str(self._counts[event]) == n:
            os._exit(99)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def rotate(self) -> Path | None:
        """Move the journal aside (for a fresh run); returns where it went."""
        self.close()
        if not self.path.exists():
            return None
        dest = self.path.with_name(f"{self.path.stem}.{time.strftime('%Y%m%d-%H%M%S')}{self.path.suffix}")
        n = 1
        while dest.exists():
            dest = self.path.with_name(f"{self.path.stem}.{time.strftime('%Y%m%d-%H%M%S')}-{n}{self.path.suffix}")
            n += 1
        self.path.rename(dest)
        return dest
