"""SASS (the GPU's own instructions) from a cubin, with the Python line of each instruction.

``nvdisasm -g -c`` prints the code sections of a cubin with ``//## File "path", line N`` comments
(from the line table that ``-lineinfo`` keeps); an instruction belongs to the last such comment
above it. nvdisasm comes with the CUDA toolkit or as the ``nvidia-cuda-nvdisasm`` wheel (part of
``simtlab[toolchain]``); without it there is no SASS, and the result says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass

from ._link import TOOL_TIMEOUT_S, find_tool, tool_version

_LINE = re.compile(r'^\s*//## File "((?:[^"\\]|\\.)*)", line (\d+)')
_INSTRUCTION = re.compile(r"^\s*/\*[0-9a-f]{4,}\*/\s")


@dataclass
class Sass:
    """Disassembled code: its lines, each line's (file, line) or None, and the disassembler used."""

    text: str
    lines: list[tuple[str, int] | None]
    tool: str


def disassemble(cubin: bytes) -> Sass | str:
    """The SASS of `cubin`, or a sentence saying why there is none."""
    path = find_tool("nvdisasm")
    if path is None:
        return ("no SASS: nvdisasm is not installed (it comes with the CUDA toolkit or as the "
                "nvidia-cuda-nvdisasm wheel in simtlab[toolchain])")
    version = tool_version(path)
    tool = "nvdisasm" + (f" {version[0]}.{version[1]}" if version else "")
    with tempfile.TemporaryDirectory(prefix="simtlab-sass-") as tmp:
        f = os.path.join(tmp, "kernel.cubin")
        with open(f, "wb") as out:
            out.write(cubin)
        try:
            proc = subprocess.run([path, "-g", "-c", f], capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"no SASS: {tool} failed ({exc})"
    if proc.returncode != 0:
        return f"no SASS: {tool} failed ({(proc.stderr or proc.stdout).strip()[:300]})"
    kept: list[str] = []
    where: list[tuple[str, int] | None] = []
    current: tuple[str, int] | None = None
    for text in proc.stdout.splitlines():
        m = _LINE.match(text)
        if m:
            current = (m.group(1), int(m.group(2)))
            continue
        if not text.strip():
            continue
        kept.append(text.rstrip())
        where.append(current if _INSTRUCTION.match(text) else None)
    return Sass("\n".join(kept), where, tool)
