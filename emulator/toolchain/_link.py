"""PTX to machine code: nvJitLink (the ``nvidia-nvjitlink`` wheel) or the machine's ``ptxas``.

Both run NVIDIA's PTX assembler, which allocates registers. ``-verbose`` / ``-v`` make it print its
resource report, the same lines ``ptxas -v`` prints::

    ptxas info    : Compiling entry function '_ZN...' for 'sm_90'
    ptxas info    : Function properties for _ZN...
        0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
    ptxas info    : Used 32 registers, used 1 barriers, 2048 bytes smem

`parse_resources` reads those lines per function. nvJitLink is preferred: it comes as a wheel with
the NVVM that numba-cuda uses, so their versions match. A machine's ``ptxas`` may be older than the
PTX ISA version NVVM writes; `link_ptxas` then retries with the ISA version that ptxas names in its
error, which works whenever the code uses no newer instruction (ptxas checks that).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from ._ptx import ptx_version, with_version

TOOL_TIMEOUT_S = 120


@dataclass
class FunctionResources:
    """What the PTX assembler reported for one function."""

    registers: int | None = None
    barriers: int | None = None
    stack_frame: int | None = None
    spill_stores: int | None = None
    spill_loads: int | None = None
    shared_bytes: int | None = None


@dataclass
class LinkOutput:
    """The machine code (a cubin) or the assembler's error, its log and which tool produced them."""

    tool: str
    ok: bool
    cubin: bytes | None = None
    log: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)


_ENTRY = re.compile(r"Compiling entry function '([^']+)'")
_PROPS = re.compile(r"Function properties for '?([^'\s:]+)'?")
_STACK = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_USED = re.compile(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:.*?, (\d+) bytes smem)?")


def parse_resources(log: str) -> dict[str, FunctionResources]:
    """Per function, the registers, barriers, stack frame and spills the assembler reported in `log`."""
    out: dict[str, FunctionResources] = {}
    current: str | None = None
    for line in log.splitlines():
        m = _ENTRY.search(line) or (_PROPS.search(line) if "ptxas" in line or line.startswith(" ") else None)
        if m:
            current = m.group(1)
            out.setdefault(current, FunctionResources())
            continue
        if current is None:
            continue
        m = _STACK.search(line)
        if m:
            r = out[current]
            r.stack_frame, r.spill_stores, r.spill_loads = (int(g) for g in m.groups())
            continue
        m = _USED.search(line)
        if m:
            r = out[current]
            r.registers = int(m.group(1))
            r.barriers = int(m.group(2)) if m.group(2) is not None else r.barriers
            r.shared_bytes = int(m.group(3)) if m.group(3) is not None else r.shared_bytes
    return out


# -- nvJitLink ----------------------------------------------------------------------------------------

def nvjitlink_version() -> tuple[int, int] | None:
    """The version of the nvJitLink library that can be loaded here, or None."""
    try:
        from cuda.bindings import nvjitlink

        return tuple(nvjitlink.version())[:2]
    except Exception:
        return None


def _nvjitlink_log(nvjitlink, handle, which: str) -> str:
    size = getattr(nvjitlink, f"get_{which}_log_size")(handle)
    if not size:
        return ""
    buf = bytearray(size)
    getattr(nvjitlink, f"get_{which}_log")(handle, buf)
    return bytes(buf).rstrip(b"\0").decode("utf-8", "replace")


def link_nvjitlink(ptx: str, arch: str, max_registers: int | None = None) -> LinkOutput:
    """Assemble and link `ptx` for `arch` (``"sm_90"``) with nvJitLink."""
    from cuda.bindings import nvjitlink

    version = nvjitlink.version()
    tool = f"nvJitLink {version[0]}.{version[1]}"
    options = [f"-arch={arch}", "-verbose", "-lineinfo"]
    if max_registers:
        options.append(f"-maxrregcount={int(max_registers)}")
    data = ptx.encode()
    handle = nvjitlink.create(len(options), options)
    try:
        try:
            nvjitlink.add_data(handle, nvjitlink.InputType.PTX, data, len(data), "kernel.ptx")
            nvjitlink.complete(handle)
        except Exception as exc:
            error = _nvjitlink_log(nvjitlink, handle, "error") or str(exc)
            return LinkOutput(tool, False, log=_nvjitlink_log(nvjitlink, handle, "info"), error=error)
        size = nvjitlink.get_linked_cubin_size(handle)
        cubin = bytearray(size)
        nvjitlink.get_linked_cubin(handle, cubin)
        return LinkOutput(tool, True, bytes(cubin), log=_nvjitlink_log(nvjitlink, handle, "info"))
    finally:
        nvjitlink.destroy(handle)


# -- ptxas --------------------------------------------------------------------------------------------

def find_tool(name: str) -> str | None:
    """Path of a CUDA command-line tool (``ptxas``, ``nvdisasm``): where cuda-pathfinder finds it (wheels,
    CUDA_HOME, the system toolkit), else on PATH."""
    try:
        from cuda.pathfinder import find_nvidia_binary_utility

        found = find_nvidia_binary_utility(name)
        if found:
            return str(found)
    except Exception:
        pass
    found = shutil.which(name)
    if found:
        return found
    for base in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if base and os.access(os.path.join(base, "bin", name), os.X_OK):
            return os.path.join(base, "bin", name)
    return None


def tool_version(path: str) -> tuple[int, int] | None:
    """The CUDA release of a tool (``ptxas --version`` -> "release 13.0" -> (13, 0))."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"release (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


_UNSUPPORTED_VERSION = re.compile(r"Unsupported \.version (\d+\.\d+); current version is '(\d+)\.(\d+)'")


def link_ptxas(ptx: str, arch: str, max_registers: int | None = None, path: str | None = None) -> LinkOutput:
    """Assemble `ptx` for `arch` with the machine's ``ptxas -v`` (retrying with an older PTX ISA version
    when this ptxas does not know the one NVVM wrote)."""
    path = path or find_tool("ptxas")
    if path is None:
        raise FileNotFoundError("ptxas is not installed on this machine")
    version = tool_version(path)
    tool = "ptxas" + (f" {version[0]}.{version[1]}" if version else "")
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="simtlab-ptxas-") as tmp:
        src, out = os.path.join(tmp, "kernel.ptx"), os.path.join(tmp, "kernel.cubin")
        for _attempt in range(2):
            with open(src, "w") as f:
                f.write(ptx)
            cmd = [path, f"-arch={arch}", "-v", "-lineinfo", src, "-o", out]
            if max_registers:
                cmd.insert(3, f"-maxrregcount={int(max_registers)}")
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
            log = proc.stdout + proc.stderr
            m = _UNSUPPORTED_VERSION.search(log)
            if proc.returncode != 0 and m and not notes:
                older = (int(m.group(2)), int(m.group(3)))
                notes.append(f"PTX ISA {m.group(1)} written by NVVM was declared as {older[0]}.{older[1]} for {tool}")
                ptx = with_version(ptx, older)
                continue
            if proc.returncode != 0:
                return LinkOutput(tool, False, log=log, error=log, notes=notes)
            with open(out, "rb") as f:
                return LinkOutput(tool, True, f.read(), log=log, notes=notes)
    return LinkOutput(tool, False, error=f"{tool} refused PTX ISA {ptx_version(ptx)}", notes=notes)
