"""``simtlab parity``: the same kernels on a real NVIDIA GPU and on the emulator, compared.

``simtlab parity [--suite conformance|labs|all] [--report PATH] [--size full|tiny] [--seed N] [--only A,B]``

On a machine whose numba.cuda sees a GPU, runs the conformance suite (``tests/conformance``: every case
with the same seeded inputs) and the labs' source notebooks (``labs/source/<lab>/*.ipynb``: the
solutions, their code cells in order) once under numba.cuda on the GPU and once on the emulator, each
in a process of its own (`parity_worker`), and compares every output array: integers and booleans
exactly, floats within the case's tolerance against numpy (the GPU contracts ``a * b + c`` into FMA
and types float literals as float64, so the last bits may differ). The report lists what differs, what
failed on one side only, and the largest differences. Exit status 0 when nothing differs (or when
skipped), 1 when something does.

Without a GPU (no driver, or numba's simulator with ``NUMBA_ENABLE_CUDASIM=1``, which is not a GPU) it
prints why and exits 0 without running anything; ``--report`` then records the skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CliError

SUITES = ("conformance", "labs")
WORKER = "simtlab.cli.parity_worker"
#: labs' float outputs: the notebooks' own checks use about this tolerance
LAB_RTOL, LAB_ATOL = 1e-5, 1e-6
WORKER_TIMEOUT_S = 3600


@dataclass
class Item:
    """One compared output (or a failure on one side)."""

    suite: str
    name: str
    status: str               # "same", "differs", "error on <backend>", "only on <backend>"
    detail: str = ""
    max_abs_diff: float | None = None


@dataclass
class ParityReport:
    """What ``simtlab parity`` found."""

    status: str               # "compared" or "skipped"
    reason: str = ""
    device: str = ""
    oracle: str = "numba"
    items: list[Item] = field(default_factory=list)

    @property
    def differences(self) -> list[Item]:
        """Items that are not "same"."""
        return [i for i in self.items if i.status != "same"]

    def to_dict(self) -> dict:
        counts: dict[str, int] = {}
        for i in self.items:
            counts[i.status] = counts.get(i.status, 0) + 1
        return {"status": self.status, "reason": self.reason, "device": self.device, "oracle": self.oracle,
                "counts": counts, "items": [asdict(i) for i in self.items]}

    def text(self) -> str:
        """The report for a terminal."""
        if self.status == "skipped":
            return f"simtlab parity: skipped: {self.reason}"
        lines = [f"simtlab parity: {self.oracle} on {self.device or 'the oracle'} vs the simtlab emulator"]
        for suite in SUITES:
            outputs = [i for i in self.items if i.suite == suite and not i.status.startswith("error")]
            errors = [i for i in self.items if i.suite == suite and i.status.startswith("error")]
            if outputs or errors:
                same = sum(i.status == "same" for i in outputs)
                lines.append(f"  {suite}: {same} of {len(outputs)} output arrays identical within tolerance; "
                             f"{len(errors)} failure(s) on one side")
        for i in self.differences:
            extra = f" (max |diff| {i.max_abs_diff:.3g})" if i.max_abs_diff is not None else ""
            lines.append(f"  [{i.status}] {i.suite}: {i.name}{extra}: {i.detail}")
        if not self.differences:
            lines.append("  no differences")
        return "\n".join(lines)


def repo_root(path: str | None = None) -> Path:
    """The source checkout holding ``tests/conformance`` and ``labs/source`` (default: where simtlab lives)."""
    if path:
        root = Path(path).resolve()
    else:
        import importlib.util

        spec = importlib.util.find_spec("simtlab.emulator")
        locations = list(spec.submodule_search_locations or []) if spec else []
        root = Path(locations[0]).resolve().parent if locations else Path.cwd()
    if not (root / "tests" / "conformance").is_dir():
        raise CliError(f"no conformance suite under {root}/tests/conformance: parity needs a source checkout of "
                       "simtlab (pass --repo DIR)")
    return root


def probe_gpu() -> dict[str, Any]:
    """Ask a fresh process whether numba.cuda sees a real GPU (`parity_worker.probe`)."""
    proc = subprocess.run([sys.executable, "-m", WORKER, "probe"], capture_output=True, text=True, timeout=300)
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"gpu": False, "device": "", "why": f"the GPU probe failed: {(proc.stderr or proc.stdout)[-300:]}"}


def _run_side(backend: str, suite: str, repo: Path, out: Path, size: str, seed: int,
              only: list[str] | None) -> tuple[dict[str, np.ndarray], dict]:
    env = dict(os.environ)
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env["SIMTLAB_CUDA_BACKEND"] = backend
    if backend == "numba-sim":
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    cmd = [sys.executable, "-m", WORKER, "run", "--backend", backend, "--suite", suite, "--repo", str(repo),
           "--out", str(out), "--size", size, "--seed", str(seed)]
    if only:
        cmd += ["--only", ",".join(only)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=WORKER_TIMEOUT_S, cwd=str(repo))
    meta_file = out / "meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    if proc.returncode != 0 or "failed" in meta:
        why = meta.get("failed") or proc.stderr[-2000:] or proc.stdout[-2000:]
        raise CliError(f"the {backend} side of the {suite} suite failed: {why.strip().splitlines()[-1] if why else ''}")
    with np.load(out / "outputs.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, meta.get("items", {})


def compare_arrays(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> tuple[bool, str, float | None]:
    """(same, what differs, max absolute difference) of the emulator's `got` against the oracle's `want`."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return False, f"shape {got.shape} on simtlab, {want.shape} on the oracle", None
    if got.dtype != want.dtype and (got.dtype.kind in "biu?" or want.dtype.kind in "biu?"):
        if got.dtype.kind != want.dtype.kind:
            return False, f"dtype {got.dtype} on simtlab, {want.dtype} on the oracle", None
    if got.size == 0:
        return True, "", 0.0
    if want.dtype.kind in "biu?":
        bad = got != want
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))
    else:
        g, w = got.astype(np.float64), want.astype(np.float64)
        with np.errstate(invalid="ignore"):
            err = np.abs(g - w)
            bad = ~((err <= atol + rtol * np.abs(w)) | (g == w) | (np.isnan(g) & np.isnan(w)))
        finite = np.isfinite(err)
        diff = float(np.max(err[finite])) if finite.any() else 0.0
    n = int(np.count_nonzero(bad))
    if not n:
        return True, "", diff
    first = tuple(int(v) for v in np.argwhere(bad)[0]) if got.ndim else ()
    return False, (f"{n} of {got.size} elements differ (rtol={rtol:g}, atol={atol:g}); first at {first}: "
                   f"simtlab {got[first]}, oracle {want[first]}"), diff


def compare_sides(suite: str, mine: tuple[dict, dict], theirs: tuple[dict, dict], oracle: str,
                  rtol: float | None = None) -> list[Item]:
    """Items for every output of one suite: emulator (`mine`) against the oracle (`theirs`)."""
    got, meta = mine
    want, their_meta = theirs
    items: list[Item] = []
    for name in sorted(set(meta) | set(their_meta)):
        m, t = meta.get(name, {}), their_meta.get(name, {})
        for side, info in (("simtlab", m), (oracle, t)):
            if info.get("error"):
                items.append(Item(suite, name, f"error on {side}", info["error"]))
            for e in info.get("errors", []):
                other = t if side == "simtlab" else m
                if not any(o.get("cell") == e["cell"] for o in other.get("errors", [])):
                    items.append(Item(suite, f"{name} cell {e['cell']}", f"error on {side} only", e["error"]))
    for key in sorted(set(got) | set(want)):
        owner = key.rsplit("/", 1)[0]
        if key not in got or key not in want:
            side = "simtlab" if key in got else oracle
            items.append(Item(suite, key, f"only on {side}", "the other side produced no such output"))
            continue
        info = meta.get(owner, {})
        out_name = key.rsplit("/", 1)[1]
        if suite == "conformance":
            r, a = info.get("key_tol", {}).get(out_name, (info.get("rtol", 1e-6), info.get("atol", 0.0)))
        else:
            r, a = LAB_RTOL, LAB_ATOL
        same, detail, diff = compare_arrays(got[key], want[key], rtol if rtol is not None else r, a)
        items.append(Item(suite, key, "same" if same else "differs", detail, diff))
    return items


def run_parity(suites: list[str], *, repo: Path, oracle: str = "numba", size: str = "full", seed: int = 0,
               only: list[str] | None = None, rtol: float | None = None, device: str = "",
               workdir: Path | None = None) -> ParityReport:
    """Run `suites` on the oracle backend and on the emulator and compare them (no GPU check: see `run`)."""
    report = ParityReport("compared", device=device, oracle=oracle)
    with tempfile.TemporaryDirectory(prefix="simtlab-parity-") as tmp:
        base = Path(workdir or tmp)
        for suite in suites:
            theirs = _run_side(oracle, suite, repo, base / suite / oracle, size, seed, only)
            mine = _run_side("simtlab", suite, repo, base / suite / "simtlab", size, seed, only)
            report.items.extend(compare_sides(suite, mine, theirs, oracle, rtol))
    return report


def run(args: Any) -> int:
    """``simtlab parity``: skip cleanly without a GPU, else compare and report."""
    suites = list(SUITES) if args.suite == "all" else [args.suite]
    repo = repo_root(args.repo)
    gpu = probe_gpu()
    if not gpu.get("gpu"):
        report = ParityReport("skipped", reason=gpu.get("why") or "no GPU")
    else:
        only = [s for s in (args.only or "").split(",") if s] or None
        report = run_parity(suites, repo=repo, size=args.size, seed=args.seed, only=only, rtol=args.rtol,
                            device=gpu.get("device", ""))
    print(report.text())
    if args.report:
        Path(args.report).write_text(json.dumps(report.to_dict(), indent=1))
        print(f"report written to {args.report}")
    return 1 if report.differences else 0
