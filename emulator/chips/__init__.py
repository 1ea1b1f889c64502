"""Chips as data: the emulated accelerators simtlab can run kernels on.

A chip is a validated, frozen `Chip` read from a TOML file. Presets (`list_chips()`, in this
order): ``teaching`` (4 SMs, Ampere-like limits, small enough that every picture is readable;
the default), ``h100`` (H100 SXM5-class), ``a100`` (A100 SXM4 40GB-class) and ``g80``
(GeForce 8800 GTX-class: 16 banks, half-warp issue, no data caches). Each figure in a preset
file names its public source; figures that are estimates say so.

Instructors add their own chips as TOML files, either complete or starting with
``extends = "a100"`` and overriding a few fields; `load_chip("path/to/chip.toml")` and
``simtlab chips show path/to/chip.toml`` validate them. ``teaching.toml`` is the annotated
template; `SCHEMA`, `PIPES` and `LATENCIES` (in `spec.py`) list every field with its unit.

Public API (imported by the engine): `Chip`, `ChipError`, `list_chips`, `load_chip`,
`get_active_chip`, `select_chip`, `use_chip`.
"""

from .active import DEFAULT_CHIP, get_active_chip, select_chip, use_chip
from .loader import PRESETS, chip_from_toml, list_chips, load_chip, load_chip_file
from .spec import (
    FEATURES_MIN_CC,
    LATENCIES,
    PIPES,
    SCHEMA,
    Chip,
    ChipError,
    FieldSpec,
    FrozenMap,
    TensorSpec,
)

__all__ = [
    "Chip",
    "ChipError",
    "DEFAULT_CHIP",
    "FEATURES_MIN_CC",
    "FieldSpec",
    "FrozenMap",
    "LATENCIES",
    "PIPES",
    "PRESETS",
    "SCHEMA",
    "TensorSpec",
    "chip_from_toml",
    "get_active_chip",
    "list_chips",
    "load_chip",
    "load_chip_file",
    "select_chip",
    "use_chip",
]
