"""Facts read from PTX text: its ISA version, the entry's name, static shared memory, and which
Python source line each PTX line came from.

numba compiles with ``lineinfo=True`` here, so NVVM writes ``.loc FILE LINE COL`` directives
before the instructions of each source line and a ``.file N "path"`` table; an instruction
belongs to the last ``.loc`` above it. Shared arrays (``cuda.shared.array``) are module-level
``.shared`` variables; dynamic shared memory is an ``.extern .shared`` array of unknown size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VERSION = re.compile(r"^\s*\.version\s+(\d+)\.(\d+)", re.M)
_ENTRY = re.compile(r"^\s*(?:\.visible\s+|\.weak\s+)?\.entry\s+([A-Za-z_$][\w$]*)", re.M)
_SHARED = re.compile(r"^\s*(?:\.visible\s+|\.global\s+)?(\.extern\s+)?\.shared\s+(?:\.align\s+(\d+)\s+)?"
                     r"\.(?:b|u|s|f)(\d+)\s+[\w$]+(?:\[(\d*)\])?", re.M)
_LOC = re.compile(r"^\s*\.loc\s+(\d+)\s+(\d+)\s+(\d+)")
_FILE = re.compile(r'^\s*\.file\s+(\d+)\s+"((?:[^"\\]|\\.)*)"')


def ptx_version(ptx: str) -> tuple[int, int] | None:
    """The PTX ISA version the text declares (``.version 9.5`` -> (9, 5)), or None."""
    m = _VERSION.search(ptx)
    return (int(m.group(1)), int(m.group(2))) if m else None


def with_version(ptx: str, version: tuple[int, int]) -> str:
    """The same PTX declaring another ISA version (for an older ptxas; only valid when the code uses no
    instruction newer than that version, which is what ptxas then checks)."""
    return _VERSION.sub(f".version {version[0]}.{version[1]}", ptx, count=1)


def entry_name(ptx: str) -> str | None:
    """The mangled name of the (first) kernel entry in the PTX."""
    m = _ENTRY.search(ptx)
    return m.group(1) if m else None


@dataclass(frozen=True)
class SharedMemory:
    """Static shared memory declared by the PTX, laid out with each variable's alignment."""

    static_bytes: int
    arrays: int
    dynamic: bool     # an ``.extern .shared`` array: the kernel uses dynamic shared memory


def shared_memory(ptx: str) -> SharedMemory:
    """Static shared bytes (each array aligned as declared, in declaration order), how many arrays, and
    whether the kernel declares dynamic shared memory."""
    offset = 0
    count = 0
    dynamic = False
    for m in _SHARED.finditer(ptx):
        extern, align, bits, length = m.group(1), m.group(2), int(m.group(3)), m.group(4)
        if extern or length == "":
            dynamic = True
            continue
        size = (bits // 8) * (int(length) if length is not None else 1)
        a = int(align) if align else max(1, bits // 8)
        offset = -(-offset // a) * a + size
        count += 1
    return SharedMemory(offset, count, dynamic)


def file_table(ptx: str) -> dict[int, str]:
    """``.file`` numbers to paths."""
    files = {}
    for line in ptx.splitlines():
        m = _FILE.match(line)
        if m:
            files[int(m.group(1))] = m.group(2).replace('\\"', '"').replace("\\\\", "\\")
    return files


def line_map(ptx: str) -> list[tuple[str, int] | None]:
    """For each PTX line (0-based), the (source file, line) its instruction came from, or None for
    directives, labels, declarations and lines outside a function body. Line 0 (NVVM's "no line")
    counts as None."""
    files = file_table(ptx)
    out: list[tuple[str, int] | None] = []
    current: tuple[str, int] | None = None
    depth = 0
    for text in ptx.splitlines():
        stripped = text.strip()
        m = _LOC.match(text)
        if m:
            f, ln = int(m.group(1)), int(m.group(2))
            current = (files.get(f, f"file {f}"), ln) if ln > 0 else None
            out.append(None)
            continue
        depth += stripped.count("{") - stripped.count("}")
        if depth <= 0:
            current = None if stripped == "}" else current
        is_code = (depth > 0 and stripped and not stripped.startswith(("//", ".", "{", "}", "$"))
                   and not stripped.endswith(":"))
        out.append(current if is_code else None)
    return out
