"""What a grading worker does with one job: run the sandboxed child and read back its result.

`grade_job` is the unit of work, the same on a local worker thread and on a Dask worker (it is a
plain module-level function of a JSON-able dict, so Dask can ship it). It never touches the
gradebook or the course folder: the job carries everything the child needs, and the result
carries only scores, comments, feedback and the executed notebooks without hidden tests.

It also keeps, per worker machine, a warm numba cache for the emulator's own compiled loops (the
sanitizer's and profiler's): a fresh sandbox would otherwise spend seconds compiling them for every
submission. The cache is built by `simtlab.grader.warmup` outside the sandbox (no student code runs
there) and each sandbox gets a private copy, so one submission can never change what the next loads.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ._fastimport import speed_up_imports
from .sandbox import Limits, Sandbox, detect_mode

__all__ = ["grade_job", "warm_numba_cache", "sandbox_description"]

_warm_lock = threading.Lock()
_warm_dirs: dict[str, str | None] = {}


def _emulator_key() -> str:
    """A key that changes when the emulator's sources or the interpreter change."""
    import simtlab.emulator as emu

    root = Path(emu.__file__).resolve().parent
    h = hashlib.sha256(sys.executable.encode() + sys.version.encode())
    for p in sorted(root.rglob("*.py")):
        st = p.stat()
        h.update(f"{p}:{st.st_mtime_ns}:{st.st_size}".encode())
    return h.hexdigest()[:16]


def warm_numba_cache(warmup: dict[str, Any] | None = None) -> str | None:
    """A folder with the emulator's compiled numba loops for this machine (built once), or None.

    `warmup` (from the job): ``key`` and the instructor's source ``notebooks`` ({name: JSON}) and
    ``files`` ({path: base64}) of the lab, executed once to compile what the lab's tests need.
    """
    if os.environ.get("SIMTLAB_GRADER_NO_WARM_CACHE") == "1":
        return None
    key = _emulator_key() + "-" + str((warmup or {}).get("key", "generic"))[:16]
    with _warm_lock:
        if key in _warm_dirs:
            return _warm_dirs[key]
        base = Path(tempfile.gettempdir()) / f"simtlab-grader-numba-{os.getuid()}"
        base.mkdir(mode=0o700, exist_ok=True)
        target = base / key
        with open(base / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)      # one warm-up per machine, even with several processes
            if not (target / ".ready").exists():
                tmp = Path(tempfile.mkdtemp(prefix="build-", dir=base))
                nbdir = Path(tempfile.mkdtemp(prefix="nb-", dir=base))
                argv = [sys.executable, "-m", "simtlab.grader.warmup"]
                if warmup and warmup.get("notebooks"):
                    for rel, data in (warmup.get("files") or {}).items():
                        dest = nbdir / rel
                        if ".." in Path(rel).parts or Path(rel).is_absolute():
                            continue
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        dest.write_bytes(base64.b64decode(data))
                    for name, text in warmup["notebooks"].items():
                        (nbdir / f"{name}.ipynb").write_text(text, encoding="utf-8")
                    argv.append(str(nbdir))
                env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp), PYTHONWARNINGS="ignore")
                try:
                    r = subprocess.run(argv, env=env, cwd=str(nbdir), stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
                    ok = r.returncode == 0
                except (OSError, subprocess.SubprocessError):
                    ok = False
                finally:
                    shutil.rmtree(nbdir, ignore_errors=True)
                if not ok:
                    shutil.rmtree(tmp, ignore_errors=True)
                    _warm_dirs[key] = None
                    return None
                (tmp / ".ready").touch()
                shutil.rmtree(target, ignore_errors=True)
                tmp.rename(target)
                _prune(base, keep=8)
        _warm_dirs[key] = str(target)
        return _warm_dirs[key]


def _prune(base: Path, keep: int) -> None:
    """Delete all but the `keep` most recently built caches (the emulator's sources changed since)."""
    built = sorted((p for p in base.iterdir() if (p / ".ready").exists()),
                   key=lambda p: (p / ".ready").stat().st_mtime, reverse=True)
    for old in built[keep:]:
        shutil.rmtree(old, ignore_errors=True)


def sandbox_description(force: str | None = None) -> str:
    """One line on the isolation grading gets on this machine (for the grading log)."""
    return detect_mode(force).describe()


def _failure(job: dict[str, Any], status: str, error: str, **extra: Any) -> dict[str, Any]:
    return {"id": job["id"], "digest": job["digest"], "status": status, "error": error, "notebooks": {}, **extra}


def grade_job(job: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission in a sandbox; returns a JSON-able result (never raises for student errors).

    ``job``: id, digest, student, notebooks ({name: sanitized notebook JSON}), files ({path: base64}),
    settings (ExecutionSettings as a dict), limits (Limits as a dict), hide (host paths the sandbox
    must not show), sandbox ("auto", "bwrap", "unshare" or "none").
    """
    speed_up_imports()
    limits = Limits(**job.get("limits", {}))
    force = job.get("sandbox") or None
    mode = detect_mode(None if force in (None, "auto") else force)
    cache = warm_numba_cache(job.get("warmup")) if job.get("warm_cache", True) else None
    sandbox = Sandbox(limits, hide=job.get("hide", []), mode=mode, numba_cache=cache)
    settings = job["settings"]
    timeout = float(settings.get("timeout") or 120)
    watchdog = settings.get("watchdog_seconds") or max(1.0, min(20.0, timeout / 3.0))
    payload = json.dumps({"notebooks": job["notebooks"], "files": job.get("files", {}), "settings": settings,
                          "render": job.get("render", True)}).encode("utf-8")
    try:
        outcome = sandbox.run("simtlab.grader.child", payload,
                              extra_env={"SIMTLAB_WATCHDOG_SECONDS": f"{watchdog:g}"})
    except Exception as exc:   # the sandbox itself failed to start
        return _failure(job, "error", f"the sandbox could not start: {type(exc).__name__}: {exc}",
                        sandbox=mode.kind)
    base = {"id": job["id"], "digest": job["digest"], "sandbox": mode.kind,
            "wall_seconds": round(outcome.wall_seconds, 3), "log_tail": outcome.log_tail[-4000:]}
    if outcome.killed:
        return {**base, **_failure(job, "killed", f"grading was stopped: {outcome.killed}")}
    if outcome.result_truncated:
        return {**base, **_failure(job, "error", "the grading result was larger than the limit")}
    try:
        data = json.loads(outcome.result.decode("utf-8")) if outcome.result else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "notebooks" not in data:
        why = f"exit status {outcome.returncode}"
        if outcome.returncode is not None and outcome.returncode < 0:
            why = f"killed by signal {-outcome.returncode}"
        return {**base, **_failure(job, "error", f"the grading process ended without a result ({why})")}
    if data.get("status") != "ok":
        return {**base, **_failure(job, "error", str(data.get("error") or "grading failed"))}
    return {**base, "status": "ok", "error": None, "notebooks": data["notebooks"], "notes": data.get("notes", [])}


def _selftest() -> None:   # pragma: no cover - manual aid: python -m simtlab.grader.worker
    with contextlib.suppress(Exception):
        print(sandbox_description())
        print(warm_numba_cache())


if __name__ == "__main__":   # pragma: no cover
    _selftest()
