"""The sandboxed grading process: ``python -m simtlab.grader.child --result-fd N --workdir DIR``.

Reads one job (JSON) on stdin: the submission's notebooks, already sanitized by the parent (hidden
tests injected), its other files, and the execution settings. Before anything of the student's runs
it makes itself undumpable (the student's kernel, same user, cannot read this process's memory or
descriptors) and its result pipe non-inheritable. It then executes and grades each notebook
(`simtlab.grader.execution`) and writes one JSON result to the result pipe: scores, comments,
feedback HTML and the executed notebooks with hidden tests removed. Nothing is ever written to the
result pipe by student code, and nothing but the result leaves the sandbox.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path, PurePosixPath
from typing import Any

from ._fastimport import speed_up_imports
from .sandbox import hide_in_mount_namespace, make_undumpable

PROTOCOL = 1


def safe_relpath(rel: str) -> str | None:
    """`rel` as a relative path inside the work folder, or None if it tries to leave it."""
    p = PurePosixPath(rel.replace("\\", "/"))
    if p.is_absolute() or not p.parts or any(part in ("..", "") for part in p.parts):
        return None
    return str(p)


def _write_files(workdir: Path, files: dict[str, str]) -> list[str]:
    skipped = []
    for rel, data in files.items():
        safe = safe_relpath(rel)
        if safe is None:
            skipped.append(rel)
            continue
        dest = workdir / safe
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(base64.b64decode(data))
    return skipped


def _seed_numba_cache(workdir: Path) -> None:
    seed = os.environ.pop("SIMTLAB_GRADER_NUMBA_SEED", "")
    if seed and os.path.isdir(seed):
        try:
            shutil.copytree(seed, workdir / ".numba_cache", dirs_exist_ok=True)
        except OSError:
            pass


def _phase(name: str, t0: list[float]) -> None:
    """With SIMTLAB_GRADER_TIMING=1, print how long each phase took to the grading log."""
    if os.environ.get("SIMTLAB_GRADER_TIMING") == "1":
        now = time.perf_counter()
        print(f"[child] {name}: {now - t0[0]:.3f} s", file=sys.stderr, flush=True)
        t0[0] = now


def run_job(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Grade every notebook of `job` in `workdir`; the result as a JSON-able dict."""
    t0 = [time.perf_counter()]
    speed_up_imports()
    import nbformat

    from .course import ExecutionSettings
    from .execution import execute_and_grade

    _phase("imports", t0)

    settings = ExecutionSettings(**job["settings"])
    skipped = _write_files(workdir, job.get("files", {}))
    out: dict[str, Any] = {"protocol": PROTOCOL, "status": "ok", "notebooks": {}, "notes": []}
    if skipped:
        out["notes"].append(f"skipped {len(skipped)} file(s) with unsafe paths")
    for name, text in job["notebooks"].items():
        nb = nbformat.reads(text, as_version=4)
        res = execute_and_grade(nb, name, settings, str(workdir), render=job.get("render", True))
        out["notebooks"][name] = res.to_json()
        if res.error:      # the notebook could not be executed at all (no kernel): not the student's doing
            out["status"] = "error"
            out["error"] = f"{name}: {res.error}"
        _phase(f"notebook {name}", t0)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point inside the sandbox."""
    parser = argparse.ArgumentParser(prog="simtlab.grader.child")
    parser.add_argument("--result-fd", type=int, required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args(argv)
    hide = os.environ.pop("SIMTLAB_GRADER_HIDE", "")
    empty = os.environ.pop("SIMTLAB_GRADER_EMPTY", "")
    if hide:      # unshare fallback: hide the course's private files in our own mount namespace
        failed = hide_in_mount_namespace(json.loads(hide), empty)
        if failed:
            print(f"[child] could not hide {len(failed)} path(s): {failed}", file=sys.stderr, flush=True)
    make_undumpable()
    os.set_inheritable(args.result_fd, False)
    result_fd = args.result_fd
    try:
        job = json.loads(sys.stdin.buffer.read())
        sys.stdin.close()
        os.close(0)
        os.open(os.devnull, os.O_RDONLY)     # fd 0 for the kernel: nothing to read
        workdir = Path(args.workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        os.chdir(workdir)
        _seed_numba_cache(workdir)
        result = run_job(job, workdir)
    except Exception as exc:
        result = {"protocol": PROTOCOL, "status": "error", "error": f"{type(exc).__name__}: {exc}",
                  "notebooks": {}}
        traceback.print_exc()
    data = json.dumps(result).encode("utf-8")
    with os.fdopen(result_fd, "wb") as f:
        f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
