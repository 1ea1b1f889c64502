"""Running one submission's grading process in a sandbox, with limits and a wall-clock kill.

Layers, strongest first; each is used where the machine allows and the grading log says which:

* **bubblewrap** (``bwrap``): a read-only view of ``/``; a fresh size-limited tmpfs over ``/tmp``
  (the work folder lives there, so a submission writes nothing to the host's disk); tmpfs over the
  course's private folders (sources with hidden tests, other submissions, earlier results) and over
  the home folder (with the interpreter, simtlab and the kernelspec bound back read-only); the
  gradebook replaced by an empty file; no network (``--unshare-net``: connections fail with
  "network unreachable"), its own PID namespace, IPC and hostname; capabilities dropped, no new
  user namespaces, a new session, and it dies with the process that started it.
* **unshare** (util-linux) where bwrap is missing and the user may create namespaces: no network,
  own PID namespace, and (as root) its own mount namespace in which the grading process puts empty
  tmpfs over the course's private folders and an empty file over the gradebook, then gives up the
  right to undo that (CAP_SYS_ADMIN leaves the bounding set) before any submission code runs. The
  rest of the file system stays readable and writable: the log says so.
* **resource limits**, always, set in the child before it starts: CPU seconds, address space,
  file size, no core files, and (when not root, where the kernel enforces it) processes.
* **cgroups** where a pids (and memory) controller is writable: a hard cap on processes and
  threads (a fork bomb stops there) and on the memory of the whole sandbox.
* **a monitor** in the parent: wall clock, and the number and memory of the sandbox's processes
  (for machines without cgroups); it kills the whole sandbox when one is exceeded.

The child talks to the parent only through stdin (the job) and one private pipe (the result),
which it makes non-inheritable before any submission code runs, so student code cannot forge it.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Limits", "SandboxMode", "SandboxOutcome", "Sandbox", "detect_mode", "make_undumpable", "kill_active",
           "WORKDIR"]

#: where the submission's work folder is inside the sandbox (bwrap); a host temp folder otherwise
WORKDIR = "/tmp/simtlab-work"
#: where a read-only warm numba cache is visible inside the sandbox (copied into the work folder)
NUMBA_CACHE_MOUNT = "/tmp/simtlab-numba-cache"


@dataclass
class Limits:
    """What one submission may use. Sizes in bytes, times in seconds."""

    cpu_seconds: int = 900            # per process (RLIMIT_CPU)
    memory_bytes: int = 4 << 30       # address space per process (RLIMIT_AS); also the sandbox's memory cap
    processes: int = 256              # processes + threads in the sandbox (cgroup pids.max / monitor)
    wall_seconds: float = 1800.0      # the whole submission, from start to result
    file_bytes: int = 256 << 20       # largest file it may write (RLIMIT_FSIZE)
    disk_bytes: int = 512 << 20       # size of its tmpfs (bwrap)
    result_bytes: int = 64 << 20      # most bytes of result the parent reads
    log_bytes: int = 64 << 10         # tail of the grading process's own log kept

    def describe(self) -> str:
        return (f"cpu {self.cpu_seconds} s/process, memory {self.memory_bytes >> 20} MiB, {self.processes} tasks, "
                f"wall {self.wall_seconds:g} s, files {self.file_bytes >> 20} MiB, disk {self.disk_bytes >> 20} MiB")


@dataclass
class SandboxMode:
    """What isolation this machine gives (found once per process by `detect_mode`)."""

    kind: str                              # "bwrap", "unshare" or "none"
    bwrap_flags: list[str] = field(default_factory=list)
    unshare_mount: bool = False            # unshare can also give a private mount namespace (root)
    cgroup_pids: str | None = None         # parent folder where per-submission pids cgroups are made
    cgroup_memory: str | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        what = {"bwrap": "bubblewrap sandbox (read-only root, private /tmp, course files hidden, no network, "
                         "own PID namespace)",
                "unshare": ("unshare (no network, own PID namespace" + (
                    ", the course's private folders and gradebook hidden in a private mount namespace) but "
                    "WITHOUT a read-only file system: submissions can read and write other files the grading "
                    "user can" if self.unshare_mount else
                    ") WITHOUT filesystem isolation: submissions can read files the grading user can read, "
                    "including the course's sources and gradebook") +
                    "; install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"),
                "none": "NO sandbox (bwrap and unshare are unavailable): submissions run with resource limits "
                        "only, with network access and read access to the grading user's files; install "
                        "bubblewrap (Debian/Ubuntu: apt-get install bubblewrap)"}[self.kind]
        cg = []
        if self.cgroup_pids:
            cg.append("pids")
        if self.cgroup_memory:
            cg.append("memory")
        extra = f"; cgroups: {', '.join(cg)}" if cg else "; no writable cgroups (process and memory caps are " \
                                                           "enforced by the monitor)"
        return what + extra + "".join(f"; {n}" for n in self.notes)


_mode: SandboxMode | None = None
_mode_lock = threading.Lock()


def _try(argv: Sequence[str], timeout: float = 20) -> bool:
    try:
        r = subprocess.run(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0


def _own_cgroup(controller: str) -> str | None:
    """The folder of this process's cgroup for `controller` if we may create children there."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1 = v2 = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if controller in parts[1].split(","):
            v1 = parts[2]
        if parts[0] == "0" and parts[1] == "":
            v2 = parts[2]
    candidates = []
    if v1 is not None:
        candidates.append(Path("/sys/fs/cgroup") / controller / v1.lstrip("/"))
    if v2 is not None:
        root = Path("/sys/fs/cgroup")
        try:
            if controller in (root / "cgroup.subtree_control").read_text().split():
                candidates.append(root / v2.lstrip("/"))
        except OSError:
            pass
    knob = "pids.max" if controller == "pids" else ("memory.limit_in_bytes" if v1 is not None else "memory.max")
    for base in candidates:
        probe = base / f"simtlab-probe-{os.getpid()}"
        try:
            probe.mkdir()
        except OSError:
            continue
        try:
            ok = (probe / knob).exists() or (probe / "memory.max").exists()
        finally:
            with contextlib.suppress(OSError):
                probe.rmdir()
        if ok:
            return str(base)
    return None


def detect_mode(force: str | None = None) -> SandboxMode:
    """Probe (once per process) which isolation works here; `force` picks "bwrap", "unshare" or "none"."""
    global _mode
    with _mode_lock:
        if _mode is not None and force is None:
            return _mode
        mode = SandboxMode("none")
        bwrap = shutil.which("bwrap")
        if force in (None, "bwrap") and bwrap:
            base = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-net",
                    "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent", "--new-session"]
            for flags in (["--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns", "--cap-drop", "ALL"],
                          ["--unshare-user", "--disable-userns", "--cap-drop", "ALL"],
                          ["--cap-drop", "ALL"], []):
                if _try(base + flags + ["true"]):
                    mode = SandboxMode("bwrap", bwrap_flags=flags)
                    break
            if mode.kind != "bwrap":
                mode.notes.append("bwrap is installed but cannot create namespaces here")
        elif force in (None, "bwrap"):
            mode.notes.append("bwrap not found")
        if mode.kind == "none" and force in (None, "bwrap", "unshare"):
            unshare = shutil.which("unshare")
            if unshare and _try([unshare, "--net", "--pid", "--fork", "--kill-child", "true"]):
                mode.kind = "unshare"
                mode.unshare_mount = os.geteuid() == 0 and _try(
                    [unshare, "--mount", "--propagation", "private", "--mount-proc", "--net", "--pid", "--fork",
                     "--kill-child", "true"])
        if os.environ.get("SIMTLAB_GRADER_NO_CGROUPS") != "1":
            mode.cgroup_pids = _own_cgroup("pids")
            mode.cgroup_memory = _own_cgroup("memory")
        if force is None:
            _mode = mode
        return mode


@dataclass
class SandboxOutcome:
    """How a sandboxed run ended."""

    returncode: int | None
    result: bytes
    log_tail: str
    killed: str | None = None         # why the parent killed it (wall clock, processes, memory)
    wall_seconds: float = 0.0
    result_truncated: bool = False


_counter = itertools.count()
_active: set[subprocess.Popen] = set()
_active_lock = threading.Lock()


def kill_active() -> int:
    """Kill every sandbox this process is running (an interrupted ``simtlab grade``); returns how many."""
    with _active_lock:
        procs = list(_active)
    for proc in procs:
        Sandbox._kill(proc, [])
    return len(procs)


class _Cgroup:
    """One per-submission cgroup (v1 or v2) under `base`."""

    def __init__(self, base: str, controller: str, limit: int) -> None:
        self.path = Path(base) / f"simtlab-grade-{os.getpid()}-{next(_counter)}"
        self.path.mkdir()
        if controller == "pids":
            (self.path / "pids.max").write_text(str(int(limit)))
        else:
            knob = self.path / "memory.limit_in_bytes"
            if not knob.exists():
                knob = self.path / "memory.max"
            knob.write_text(str(int(limit)))
        self.procs = str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in Path(self.procs).read_text().split()]
        except OSError:
            return []

    def destroy(self) -> None:
        for _ in range(50):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.05)


def _kernel_data_dir() -> str | None:
    """The Jupyter data folder holding the 'simtlab' kernelspec (None if it is not installed)."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        spec_dir = KernelSpecManager().find_kernel_specs().get("simtlab")
    except Exception:
        return None
    return os.path.dirname(os.path.dirname(spec_dir)) if spec_dir else None


_empty: str | None = None


def _empty_file() -> str:
    """An empty read-only file of this process, bound over private files (device nodes such as /dev/null
    cannot be opened from a bind mount with nodev)."""
    global _empty
    if _empty is None or not os.path.exists(_empty):
        import atexit
        import tempfile

        fd, path = tempfile.mkstemp(prefix="simtlab-empty-")
        os.close(fd)
        os.chmod(path, 0o444)
        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
        _empty = path
    return _empty


def _descendants(root: int) -> list[int]:
    """Every live process below `root` (by parent pid), `root` included."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) > 1:
            children.setdefault(int(rest[1]), []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _pss_bytes(pids: Iterable[int]) -> int:
    """Proportional set size of the processes (pages shared after fork() are counted once in all)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            pass
    return total


def _task_count(pids: Iterable[int]) -> int:
    n = 0
    for pid in pids:
        try:
            n += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return n


class Sandbox:
    """Runs ``python -m simtlab.grader.child`` for one submission under the best available isolation."""

    def __init__(self, limits: Limits, hide: Iterable[str | os.PathLike[str]] = (), *, mode: SandboxMode | None = None,
                 numba_cache: str | None = None, keep: Iterable[str | os.PathLike[str]] = ()) -> None:
        self.limits = limits
        self.mode = mode or detect_mode()
        self.hide = [str(Path(p).resolve()) for p in hide]
        self.keep = [str(Path(p).resolve()) for p in keep]
        self.numba_cache = numba_cache

    # -- what the child sees ------------------------------------------------------------------------------
    def _needed_paths(self) -> list[str]:
        """Paths the grading process needs to read: interpreter, environment, simtlab, kernelspec."""
        paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
        for mod in ("simtlab.emulator", "simtlab.grader", "simtlab.jupyter"):
            m = sys.modules.get(mod)
            f = getattr(m, "__file__", None) if m else None
            if f:
                paths.add(os.path.dirname(os.path.dirname(os.path.realpath(f))))
        for p in list(sys.path):
            if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p):
                paths.add(os.path.realpath(p))
        paths.update(self.keep)
        data_dir = _kernel_data_dir()
        if data_dir:
            paths.add(os.path.realpath(data_dir))
        return sorted(p for p in paths if p and os.path.exists(p))

    def env(self, workdir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The child's whole environment (nothing of the instructor's is inherited but SIMTLAB_/NUMBA_ settings)."""
        env = {k: v for k, v in os.environ.items() if k.startswith(("SIMTLAB_", "NUMBA_"))}
        env.pop("SIMTLAB_DEBUG", None)
        env.update({
            "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": workdir, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TMPDIR": workdir,
            "JUPYTER_RUNTIME_DIR": f"{workdir}/.rt", "JUPYTER_CONFIG_DIR": f"{workdir}/.jupyter",
            "IPYTHONDIR": f"{workdir}/.ipython", "MPLCONFIGDIR": f"{workdir}/.matplotlib",
            "XDG_CACHE_HOME": f"{workdir}/.cache", "XDG_CONFIG_HOME": f"{workdir}/.config",
            "NUMBA_CACHE_DIR": f"{workdir}/.numba_cache",
            "NBGRADER_EXECUTION": "autograde",
            "PYTHONWARNINGS": "ignore", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
        })
        data_dir = _kernel_data_dir()
        if data_dir:     # the data folder that holds kernels/simtlab (HOME changes, so say where it is)
            env["JUPYTER_PATH"] = data_dir
        env.update(extra or {})
        return env

    def _bwrap_argv(self, env: dict[str, str], child: list[str], hide_home: bool) -> list[str]:
        lim = self.limits
        argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                "--size", str(int(lim.disk_bytes)), "--tmpfs", "/tmp"]
        needed = self._needed_paths()
        home = os.path.realpath(os.path.expanduser("~"))
        if hide_home and home not in ("/", "") and os.path.isdir(home):
            argv += ["--tmpfs", home]
        rebound = []
        for p in needed:     # bring back what the grading process needs, read-only
            if p.startswith("/tmp/") or p == "/tmp" or (hide_home and (p == home or p.startswith(home + "/"))):
                argv += ["--ro-bind", p, p]
                rebound.append(p)
        for p in sorted(set(self.hide), key=len):
            if not os.path.lexists(p) or p == "/tmp":
                continue
            under_tmpfs = p.startswith("/tmp/") or (hide_home and p.startswith(home + "/"))
            if under_tmpfs and not any(p == r or p.startswith(r + "/") for r in rebound):
                continue     # already invisible: the sandbox has its own empty /tmp (and home)
            if any(p == n or n.startswith(p + "/") for n in needed):
                continue     # never hide the interpreter or simtlab itself
            if os.path.isdir(p):
                argv += ["--tmpfs", p]
            else:            # a file (the gradebook): an empty one in its place
                argv += ["--ro-bind", _empty_file(), p]
        if self.numba_cache and os.path.isdir(self.numba_cache):
            argv += ["--ro-bind", self.numba_cache, NUMBA_CACHE_MOUNT]
        argv += ["--dir", WORKDIR, "--chdir", WORKDIR,
                 "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "grader",
                 "--die-with-parent", "--new-session", *self.mode.bwrap_flags, "--clearenv"]
        for k, v in sorted(env.items()):
            argv += ["--setenv", k, v]
        argv[0] = shutil.which("bwrap") or "bwrap"
        return argv + child

    # -- running ------------------------------------------------------------------------------------------
    def run(self, module: str, job: bytes, *, extra_env: dict[str, str] | None = None,
            hide_home: bool = True) -> SandboxOutcome:
        """Run ``python -m <module> --result-fd N --workdir W`` in the sandbox, feed it `job` on stdin,
        and return its result pipe's bytes and how it ended."""
        lim = self.limits
        host_tmp = None
        if self.mode.kind == "bwrap":
            workdir = WORKDIR
        else:
            import tempfile

            host_tmp = tempfile.mkdtemp(prefix="simtlab-grade-")
            workdir = host_tmp
        env = self.env(workdir, extra_env)
        if self.numba_cache and os.path.isdir(self.numba_cache):
            env["SIMTLAB_GRADER_NUMBA_SEED"] = NUMBA_CACHE_MOUNT if self.mode.kind == "bwrap" else self.numba_cache
        rfd, wfd = os.pipe()
        child = [sys.executable, "-m", module, "--result-fd", str(wfd), "--workdir", workdir]
        if self.mode.kind == "bwrap":
            argv = self._bwrap_argv(env, child, hide_home)
            popen_env = {"PATH": env["PATH"], "LANG": "C.UTF-8"}
        elif self.mode.kind == "unshare":
            argv = [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--kill-child"]
            if self.mode.unshare_mount:
                argv[1:1] = ["--mount", "--propagation", "private", "--mount-proc"]   # no /proc/1/root
                env["SIMTLAB_GRADER_HIDE"] = json.dumps(
                    [p for p in self.hide if os.path.lexists(p)
                     and not any(p == n or n.startswith(p + "/") for n in self._needed_paths())])
                env["SIMTLAB_GRADER_EMPTY"] = _empty_file()
            argv += child
            popen_env = env
        else:
            argv = child
            popen_env = env
        cgroups: list[_Cgroup] = []
        try:
            if self.mode.cgroup_pids:
                cgroups.append(_Cgroup(self.mode.cgroup_pids, "pids", lim.processes))
            if self.mode.cgroup_memory:
                cgroups.append(_Cgroup(self.mode.cgroup_memory, "memory", int(lim.memory_bytes * 1.5)))
        except OSError:
            pass
        procs_files = [c.procs for c in cgroups]
        nproc_limit = None
        if os.geteuid() != 0:    # RLIMIT_NPROC counts all of the user's processes; allow for those running now
            nproc_limit = lim.processes + _count_user_tasks()

        def preexec() -> None:   # runs in the child between fork and exec: only async-signal-safe-ish calls
            for path in procs_files:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, str(os.getpid()).encode())
                finally:
                    os.close(fd)
            resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 5))
            resource.setrlimit(resource.RLIMIT_AS, (lim.memory_bytes, lim.memory_bytes))
            resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_bytes, lim.file_bytes))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if nproc_limit is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (nproc_limit, nproc_limit))
            _set_pdeathsig()

        start = time.monotonic()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    pass_fds=(wfd,), start_new_session=True, preexec_fn=preexec, env=popen_env,
                                    cwd=workdir if host_tmp else "/")
        except Exception:
            os.close(rfd)
            os.close(wfd)
            for c in cgroups:
                c.destroy()
            if host_tmp:
                shutil.rmtree(host_tmp, ignore_errors=True)
            raise
        os.close(wfd)
        with _active_lock:
            _active.add(proc)
        result = bytearray()
        truncated = [False]
        log = bytearray()

        def feed() -> None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(job)
                proc.stdin.close()
            except (BrokenPipeError, OSError, ValueError):
                pass

        def read_result() -> None:
            with os.fdopen(rfd, "rb", buffering=0) as f:
                while True:
                    chunk = f.read(1 << 16)
                    if not chunk:
                        return
                    if len(result) + len(chunk) > lim.result_bytes:
                        truncated[0] = True
                        continue
                    result.extend(chunk)

        def read_log() -> None:
            assert proc.stdout is not None
            while True:
                chunk = proc.stdout.read1(1 << 14) if hasattr(proc.stdout, "read1") else proc.stdout.read(1 << 14)
                if not chunk:
                    return
                log.extend(chunk)
                if len(log) > 2 * lim.log_bytes:
                    del log[: len(log) - lim.log_bytes]

        threads = [threading.Thread(target=t, daemon=True) for t in (feed, read_result, read_log)]
        for t in threads:
            t.start()
        killed = None
        mem_cap = int(lim.memory_bytes * 1.5)
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - start
                if elapsed > lim.wall_seconds:
                    killed = f"wall-clock limit of {lim.wall_seconds:g} s reached"
                    break
                pids = []
                for c in cgroups:
                    pids = c.pids()
                    if pids:
                        break
                if not pids:
                    pids = _descendants(proc.pid)
                if _task_count(pids) > lim.processes + 8 and not self.mode.cgroup_pids:
                    killed = f"more than {lim.processes} processes/threads (a fork bomb?)"
                    break
                if not self.mode.cgroup_memory and _pss_bytes(pids) > mem_cap:
                    killed = f"more than {mem_cap >> 20} MiB of memory in all"
                    break
                time.sleep(0.1 if elapsed < 5 else 0.25)
        finally:
            if proc.poll() is None:
                self._kill(proc, cgroups)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._kill(proc, cgroups)
                proc.wait(timeout=30)
            with _active_lock:
                _active.discard(proc)
            for c in cgroups:
                c.destroy()
            for t in threads:
                t.join(timeout=10)
            if host_tmp:
                shutil.rmtree(host_tmp, ignore_errors=True)
        text = log.decode("utf-8", "replace")[-lim.log_bytes:]
        return SandboxOutcome(proc.returncode, bytes(result), text, killed, time.monotonic() - start, truncated[0])

    @staticmethod
    def _kill(proc: subprocess.Popen, cgroups: list[_Cgroup]) -> None:
        victims = set(_descendants(proc.pid))
        for c in cgroups:
            victims.update(c.pids())
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in victims:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _count_user_tasks() -> int:
    uid = os.getuid()
    n = 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    n += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                pass
    return n


try:    # loaded here, not between fork and exec
    _libc: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
    _prctl = _libc.prctl
except (OSError, AttributeError):
    _libc = None
    _prctl = None


def _set_pdeathsig() -> None:
    """Ask the kernel to SIGKILL this process when the thread that started it dies (Linux)."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG


def make_undumpable() -> None:
    """Forbid other processes of the same user (the student's kernel) to ptrace this one or read its
    memory and file descriptors through /proc (PR_SET_DUMPABLE = 0)."""
    if _prctl is not None:
        _prctl(4, 0, 0, 0, 0)


CAP_SYS_ADMIN = 21
_MS_NOSUID, _MS_NODEV, _MS_RDONLY, _MS_REMOUNT, _MS_BIND = 2, 4, 1, 32, 4096


def hide_in_mount_namespace(paths: Iterable[str], empty_file: str) -> list[str]:
    """Inside a private mount namespace (``unshare --mount``, as root): an empty read-only tmpfs over each
    folder, an empty read-only file over each file, then drop CAP_SYS_ADMIN from the bounding set so that
    the programs started from here on (the student's kernel) cannot unmount them. Returns what failed."""
    if _libc is None:
        return list(paths)
    mount = _libc.mount
    mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    failed = []
    for p in paths:
        target = p.encode()
        if os.path.isdir(p):
            ok = mount(b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_RDONLY, b"size=4k,mode=0555") == 0
        else:
            ok = (mount(empty_file.encode(), target, None, _MS_BIND, None) == 0 and
                  mount(None, target, None, _MS_REMOUNT | _MS_BIND | _MS_RDONLY, None) == 0)
        if not ok:
            failed.append(p)
    if _prctl is not None:
        _prctl(24, CAP_SYS_ADMIN, 0, 0, 0)    # PR_CAPBSET_DROP
    return failed
