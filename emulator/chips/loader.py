"""Reading chips from TOML: presets shipped with simtlab and instructors' own files.

A chip file is checked in two passes. This module checks the *shape* of the file (no unknown
keys, nothing missing, arrays where arrays belong, numbers where numbers belong), because a
typo such as ``shared.per_sm_bytes`` must not silently fall back to a default. `Chip` then
checks the *values* and the rules between them. Either way the error names the file and the
TOML field.

An instructor's file may start with ``extends = "a100"`` (a preset name, or a path relative to
the file) and then give only what differs; it must still set its own ``name`` and
``display_name`` so that reports never show a modified chip under a real product's name.
"""

from __future__ import annotations

import difflib
import functools
import os
import tomllib
from pathlib import Path
from typing import Any

from .spec import (
    LATENCIES,
    PIPES,
    SCHEMA,
    SCHEMA_BY_KEY,
    Chip,
    ChipError,
    FieldSpec,
    TensorSpec,
)

#: Preset names in the order `list_chips` returns them (the teaching chip first).
PRESETS: tuple[str, ...] = ("teaching", "h100", "a100", "g80")

#: Folder holding the preset TOML files (package data of simtlab.emulator.chips).
PRESET_DIR = Path(__file__).resolve().parent

_SECTIONS = frozenset(s.section for s in SCHEMA if s.section) | {"pipes", "latency", "tensor"}
_TOP_LEVEL_EXTRA = frozenset({"schema_version", "extends"})
_TENSOR_KEYS = ("shape", "accumulator", "flops_per_cycle_per_sm")
_MAX_EXTENDS_DEPTH = 8


def valid_names_message() -> str:
    """The sentence every 'unknown chip' error ends with."""
    return f"valid presets are: {', '.join(PRESETS)} (or give the path of a .toml chip file)"


def preset_path(name: str) -> Path:
    """Path of a preset's TOML file (ChipError if `name` is not a preset)."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise ChipError(f"unknown chip {name!r}; {valid_names_message()}")
    return PRESET_DIR / f"{key}.toml"


def list_chips() -> list[Chip]:
    """All presets, in the stable order of `PRESETS`."""
    return [_load_preset(name) for name in PRESETS]


def load_chip(name_or_path: str | os.PathLike[str]) -> Chip:
    """Load a preset by name (case-insensitive) or a chip file by path.

    Presets are parsed once per process; files are re-read on every call so that an instructor
    editing a chip sees the change immediately.
    """
    if isinstance(name_or_path, Chip):  # tolerated: select_chip passes chips through
        return name_or_path
    if isinstance(name_or_path, os.PathLike):
        return load_chip_file(Path(name_or_path))
    if not isinstance(name_or_path, str):
        raise ChipError(f"expected a chip name or path, got {type(name_or_path).__name__}; "
                        f"{valid_names_message()}")
    text = name_or_path.strip()
    if text.lower() in PRESETS:
        return _load_preset(text.lower())
    looks_like_path = text.endswith(".toml") or "/" in text or os.sep in text
    if looks_like_path or Path(text).is_file():
        return load_chip_file(Path(text))
    raise ChipError(f"unknown chip {name_or_path!r}; {valid_names_message()}")


def load_chip_file(path: str | os.PathLike[str]) -> Chip:
    """Load and validate one chip file (following ``extends``)."""
    path = Path(path).expanduser()
    raw = _resolve(path, depth=0)
    return chip_from_dict(raw, source=path.resolve())


def chip_from_toml(text: str, origin: str = "<string>") -> Chip:
    """Parse a chip from TOML text (``extends`` may only name presets here)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChipError(f"{origin}: not valid TOML: {exc}") from None
    base = raw.pop("extends", None)
    if base is not None:
        raw = _merge_base(raw, base, origin, relative_to=None, depth=0)
    return chip_from_dict(raw, source=None, origin=origin)


@functools.cache
def _load_preset(name: str) -> Chip:
    chip = load_chip_file(preset_path(name))
    if chip.name != name:
        raise ChipError(f"{chip.source}: field 'name': a preset's name must match its file name ({name!r})")
    return chip


# ---------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ChipError(f"chip file not found: {path}; {valid_names_message()}") from None
    except IsADirectoryError:
        raise ChipError(f"{path}: is a folder, expected a .toml chip file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ChipError(f"{path}: cannot read chip file: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ChipError(f"{path}: not valid TOML: {exc}") from None


def _resolve(path: Path, depth: int) -> dict[str, Any]:
    raw = _read_toml(path)
    base = raw.pop("extends", None)
    if base is None:
        return raw
    return _merge_base(raw, base, str(path), relative_to=path.parent, depth=depth)


def _merge_base(raw: dict[str, Any], base: Any, origin: str, relative_to: Path | None,
                depth: int) -> dict[str, Any]:
    if not isinstance(base, str) or not base.strip():
        raise ChipError(f"{origin}: field 'extends': expected a preset name or a path, got {base!r}")
    if depth >= _MAX_EXTENDS_DEPTH:
        raise ChipError(f"{origin}: field 'extends': chain longer than {_MAX_EXTENDS_DEPTH} (a cycle?)")
    for key in ("name", "display_name"):
        if key not in raw:
            raise ChipError(f"{origin}: field '{key}': required in a chip that extends another "
                            f"(so a modified chip never carries its base's name)")
    if base.strip().lower() in PRESETS:
        base_raw = _resolve(preset_path(base), depth + 1)
    elif relative_to is not None:
        base_raw = _resolve((relative_to / base).expanduser(), depth + 1)
    else:
        raise ChipError(f"{origin}: field 'extends': unknown preset {base!r}; {valid_names_message()}")
    base_raw.pop("description", None)  # a description belongs to the chip it describes
    return _deep_merge(base_raw, raw)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _unknown(origin: str, key: str, candidates: list[str]) -> ChipError:
    close = difflib.get_close_matches(key, candidates, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ChipError(f"{origin}: field '{key}': unknown field{hint}")


def _typed(origin: str, spec: FieldSpec, value: Any) -> Any:
    """Check the TOML type of one scalar field and convert arrays to tuples."""
    def bad(expected: str) -> ChipError:
        return ChipError(f"{origin}: field '{spec.key}': expected {expected}, got {value!r}")

    if spec.kind in ("str", "choice"):
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if spec.kind in ("int2", "int3", "intlist"):
        if not isinstance(value, list):
            raise bad("an array of integers")
        if any(isinstance(v, bool) or not isinstance(v, int) for v in value):
            raise bad("an array of integers")
        return tuple(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad("a number")
    if spec.kind == "int" and not isinstance(value, int):
        raise bad("an integer")
    return value


def _number_table(origin: str, raw: dict[str, Any], section: str, allowed: dict[str, str]) -> dict[str, Any]:
    table = raw.get(section)
    if table is None:
        raise ChipError(f"{origin}: field '{section}': missing table [{section}]")
    if not isinstance(table, dict):
        raise ChipError(f"{origin}: field '{section}': expected a table [{section}], got {table!r}")
    for key, value in table.items():
        if section == "pipes" and key == "tensor":
            raise ChipError(f"{origin}: field 'pipes.tensor': derived from the [tensor] section; remove it")
        if key not in allowed:
            raise _unknown(origin, f"{section}.{key}", [f"{section}.{k}" for k in allowed])
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ChipError(f"{origin}: field '{section}.{key}': expected a number, got {value!r}")
    return table


def _tensor(origin: str, raw: dict[str, Any]) -> TensorSpec | None:
    table = raw.get("tensor")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ChipError(f"{origin}: field 'tensor': expected a table [tensor], got {table!r}")
    for key in table:
        if key not in _TENSOR_KEYS:
            raise _unknown(origin, f"tensor.{key}", [f"tensor.{k}" for k in _TENSOR_KEYS])
    shape = table.get("shape")
    if (not isinstance(shape, list) or len(shape) != 3
            or any(isinstance(v, bool) or not isinstance(v, int) for v in shape)):
        raise ChipError(f"{origin}: field 'tensor.shape': expected [m, n, k] (3 integers), got {shape!r}")
    rates = table.get("flops_per_cycle_per_sm")
    if not isinstance(rates, dict):
        raise ChipError(f"{origin}: field 'tensor.flops_per_cycle_per_sm': expected a table of "
                        f"input type = FLOPs per cycle per SM, got {rates!r}")
    accumulator = table.get("accumulator", "float32")
    if not isinstance(accumulator, str):
        raise ChipError(f"{origin}: field 'tensor.accumulator': expected a string, got {accumulator!r}")
    return TensorSpec(shape[0], shape[1], shape[2], rates, accumulator)


def chip_from_dict(raw: dict[str, Any], source: Path | None = None, origin: str | None = None) -> Chip:
    """Build a `Chip` from parsed TOML (already merged with its base), checking its shape."""
    origin = origin or (str(source) if source else "<chip>")
    raw = dict(raw)
    version = raw.pop("schema_version", 1)
    if version != 1:
        raise ChipError(f"{origin}: field 'schema_version': this simtlab reads version 1, got {version!r}")
    raw.pop("extends", None)

    top_level = [s.key for s in SCHEMA if not s.section]
    for key, value in raw.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise ChipError(f"{origin}: field '{key}': expected a table [{key}], got {value!r}")
        elif key not in SCHEMA_BY_KEY:
            raise _unknown(origin, key, top_level + sorted(_SECTIONS) + sorted(_TOP_LEVEL_EXTRA))
    for section in _SECTIONS - {"pipes", "latency", "tensor"}:
        for key in raw.get(section, {}):
            dotted = f"{section}.{key}"
            if dotted not in SCHEMA_BY_KEY:
                raise _unknown(origin, dotted, [s.key for s in SCHEMA if s.section == section])

    kwargs: dict[str, Any] = {}
    for spec in SCHEMA:
        section, _, leaf = spec.key.rpartition(".")
        container = raw.get(section, {}) if section else raw
        if leaf not in container:
            if spec.required:
                raise ChipError(f"{origin}: field '{spec.key}': missing ({spec.doc})")
            kwargs[spec.attr] = spec.default
            continue
        kwargs[spec.attr] = _typed(origin, spec, container[leaf])

    kwargs["pipes"] = _number_table(origin, raw, "pipes", PIPES)
    kwargs["latency"] = _number_table(origin, raw, "latency", LATENCIES)
    kwargs["tensor"] = _tensor(origin, raw)
    try:
        chip = Chip(**kwargs, source=source)
    except ChipError as exc:
        if source is None and origin and not str(exc).startswith(origin):
            raise ChipError(f"{origin}: {exc}") from None
        raise
    return chip
