"""Reading the facts the CUDA linker wrote into a cubin (a 64-bit little-endian ELF file).

A cubin keeps per-kernel resource figures as *attributes* in ``.nv.info`` sections: each is a
format byte, an attribute code byte and a 16-bit field; for format ``EIFMT_SVAL`` (4) the field
is the size of the value that follows, for the other formats the field is the value itself.
``EIATTR_REGCOUNT`` (0x2f, in the global ``.nv.info``) holds (symbol index, registers per thread)
for each function; ``EIATTR_FRAME_SIZE`` (0x11) and ``EIATTR_MAX_STACK_SIZE`` (0x23) hold the
per-thread stack frame. Static shared memory is the size of the kernel's ``.nv.shared.<name>``
section (on sm_90 the linker adds the 1 KB the driver reserves per block to it).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

EIFMT_SVAL = 4
EIATTR_FRAME_SIZE = 0x11
EIATTR_MAX_STACK_SIZE = 0x23
EIATTR_REGCOUNT = 0x2F


class CubinFormatError(ValueError):
    """The bytes are not a cubin this reader understands."""


@dataclass
class Section:
    """One ELF section: name, type, flags, the symbol it refers to (``sh_info``) and its bytes."""

    name: str
    type: int
    flags: int
    info: int
    size: int
    data: bytes


@dataclass
class Cubin:
    """The sections, symbols and per-function attributes of a cubin."""

    sections: list[Section]
    symbols: list[str]
    attributes: dict[str, dict[int, int]] = field(default_factory=dict)   # function -> {attribute: value}

    def registers(self, function: str) -> int | None:
        """Registers per thread the linker allocated for `function` (``EIATTR_REGCOUNT``)."""
        return self.attributes.get(function, {}).get(EIATTR_REGCOUNT)

    def frame_size(self, function: str) -> int | None:
        """Bytes of per-thread stack frame of `function` (local arrays and spills live there)."""
        return self.attributes.get(function, {}).get(EIATTR_FRAME_SIZE)

    def shared_section_bytes(self, function: str) -> int:
        """Size of ``.nv.shared.<function>`` (0 when the kernel has no static shared memory)."""
        for s in self.sections:
            if s.name == f".nv.shared.{function}":
                return s.size
        return 0


def _cstr(blob: bytes, offset: int) -> str:
    end = blob.find(b"\0", offset)
    return blob[offset:end if end >= 0 else len(blob)].decode("utf-8", "replace")


def read_cubin(image: bytes) -> Cubin:
    """Parse the section headers, the symbol table and the ``.nv.info`` attributes of `image`."""
    if image[:4] != b"\x7fELF" or len(image) < 64 or image[4] != 2 or image[5] != 1:
        raise CubinFormatError("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", image, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", image, 0x3A)
    if shoff + shnum * shentsize > len(image) or shstrndx >= shnum:
        raise CubinFormatError("truncated section header table")
    raw = [struct.unpack_from("<IIQQQQIIQQ", image, shoff + i * shentsize) for i in range(shnum)]
    names = image[raw[shstrndx][4]:raw[shstrndx][4] + raw[shstrndx][5]]
    sections = []
    for name, typ, flags, _addr, off, size, _link, info, _align, _entsize in raw:
        data = b"" if typ == 8 else image[off:off + size]   # SHT_NOBITS has no bytes in the file
        sections.append(Section(_cstr(names, name), typ, flags, info, size, data))
    symbols: list[str] = []
    for (_, typ, _, _, off, size, link, _, _, entsize), _s in zip(raw, sections):
        if typ == 2 and entsize:                               # SHT_SYMTAB
            strtab = image[raw[link][4]:raw[link][4] + raw[link][5]]
            symbols = [_cstr(strtab, struct.unpack_from("<I", image, off + k * entsize)[0])
                       for k in range(size // entsize)]
            break
    cubin = Cubin(sections, symbols)
    for s in sections:
        if s.name == ".nv.info" or s.name.startswith(".nv.info."):
            _read_attributes(s.data, cubin)
    return cubin


def _read_attributes(blob: bytes, cubin: Cubin) -> None:
    """The per-function attributes of one ``.nv.info`` section (each names its function by symbol index)."""
    p = 0
    while p + 4 <= len(blob):
        fmt, code, field16 = blob[p], blob[p + 1], struct.unpack_from("<H", blob, p + 2)[0]
        if fmt != EIFMT_SVAL:
            p += 4
            continue
        value = blob[p + 4:p + 4 + field16]
        p += 4 + field16
        if code in (EIATTR_REGCOUNT, EIATTR_FRAME_SIZE, EIATTR_MAX_STACK_SIZE) and len(value) == 8:
            sym, v = struct.unpack("<II", value)
            if sym < len(cubin.symbols):
                cubin.attributes.setdefault(cubin.symbols[sym], {})[code] = v
