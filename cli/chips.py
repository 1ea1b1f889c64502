"""``simtlab chips`` (table of presets) and ``simtlab chips show NAME|PATH`` (one chip in full)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from simtlab.emulator.chips import (
    FEATURES_MIN_CC,
    LATENCIES,
    PIPES,
    SCHEMA,
    Chip,
    get_active_chip,
    list_chips,
    load_chip,
)

_KIB = 1024
_MIB = 1024 * 1024
_GIB = 1024 * 1024 * 1024


def fmt_bytes(n: float) -> str:
    """Binary-prefixed size: 167936 -> '164 KiB', 1572864 -> '1.5 MiB', 0 -> 'none'."""
    if n == 0:
        return "none"
    for unit, size in (("GiB", _GIB), ("MiB", _MIB), ("KiB", _KIB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n:g} B"


def _num(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _table(rows: list[list[str]], right: Iterable[int] = ()) -> str:
    right = set(right)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_table(chips: list[Chip], active: Chip) -> str:
    """The ``simtlab chips`` table; the active chip is marked with '*'."""
    rows = [["", "NAME", "CHIP", "CC", "SMs", "CLOCK", "SHARED/SM", "L2", "DRAM BW"]]
    for c in chips:
        rows.append([
            "*" if c.name == active.name else "",
            c.name,
            c.display_name,
            c.cc_string,
            str(c.sm_count),
            f"{_num(c.clock_mhz)} MHz",
            fmt_bytes(c.shared_mem_per_sm),
            fmt_bytes(c.l2_bytes),
            f"{_num(c.dram_bandwidth_gbps)} GB/s",
        ])
    note = (f"* active chip ('{active.name}'; switch with select_chip(\"NAME\") in Python). "
            f"Details: simtlab chips show NAME")
    return _table(rows, right=(4,)) + "\n\n" + note


def _value(chip: Chip, attr: str, unit: str) -> str:
    v = getattr(chip, attr)
    if attr == "compute_capability":
        return chip.cc_string
    if isinstance(v, tuple):
        return (" x ".join(map(str, v)) if attr != "shared_carveouts_kib"
                else ", ".join(map(str, v)) or "-") + (f" {unit}" if unit and v else "")
    if isinstance(v, str):
        return v or "-"
    text = f"{_num(v)} {unit}".rstrip()
    if unit == "bytes" and v >= _KIB:
        text += f" ({fmt_bytes(v)})"
    return text


def render_chip(chip: Chip) -> str:
    """Every field of `chip` with its TOML key, value, unit and meaning, then derived figures."""
    out = [f"{chip.name}: {chip.display_name}"]
    if chip.description:
        out.append(f"  {chip.description}")
    out.append(f"  source: {chip.source or 'built in code'}")

    sections: dict[str, list[list[str]]] = {}
    for spec in SCHEMA:
        sections.setdefault(spec.section or "chip", []).append(
            [spec.key, _value(chip, spec.attr, spec.unit), spec.doc])
    for key, rate in chip.pipes.items():
        doc = PIPES.get(key, "tensor engine, derived from [tensor] (warp MMAs per cycle x 32)")
        sections.setdefault("pipes (results per cycle per SM)", []).append(
            [f"pipes.{key}", _num(rate), doc])
    for key, value in chip.latency.items():
        unit = "us" if key.endswith("_us") else "cycles"
        sections.setdefault("latency", []).append([f"latency.{key}", f"{_num(value)} {unit}", LATENCIES[key]])
    tensor_rows: list[list[str]] = []
    if chip.tensor is None:
        tensor_rows.append(["tensor", "none", "this chip has no tensor engine"])
    else:
        t = chip.tensor
        tensor_rows.append(["tensor.shape", f"m{t.m} n{t.n} k{t.k}", "one warp-level MMA"])
        tensor_rows.append(["tensor.accumulator", t.accumulator, "accumulator type"])
        for dtype, rate in t.flops_per_cycle_per_sm.items():
            tensor_rows.append([f"tensor.flops_per_cycle_per_sm.{dtype}", f"{_num(rate)} FLOP/cycle/SM",
                                f"dense {dtype} input"])
    sections["tensor"] = tensor_rows

    peak_tensor = chip.tensor_flops_per_cycle_per_sm.get("float16", 0) * chip.sm_count * chip.clock_hz
    derived = [
        ["peak FP32", f"{chip.peak_fp32_flops / 1e12:.3g} TFLOP/s", "2 x pipes.fp32 x sm_count x clock"],
        ["peak FP16 tensor", f"{peak_tensor / 1e12:.3g} TFLOP/s" if peak_tensor else "none",
         "dense, from [tensor]"],
        ["DRAM per cycle", f"{chip.dram_bytes_per_cycle:.1f} bytes/cycle", "whole chip, at the SM clock"],
        ["ridge point", f"{chip.peak_fp32_flops / (chip.dram_bandwidth_gbps * 1e9):.1f} FLOP/byte",
         "FP32 roofline: arithmetic intensity where compute and DRAM limits meet"],
        ["hardware features", ", ".join(f for f in [*FEATURES_MIN_CC, "tensor_cores"] if chip.supports(f))
         or "-", "by compute capability (the emulator may run more)"],
    ]
    sections["derived"] = derived

    for title, rows in sections.items():
        out.append("")
        out.append(f"[{title}]")
        out.append(_indent(_table(rows)))
    return "\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def run(args: argparse.Namespace) -> int:
    """Entry point of ``simtlab chips [list | show NAME|PATH]``."""
    if getattr(args, "action", None) == "show":
        print(render_chip(load_chip(args.chip)))
    else:
        print(render_table(list_chips(), get_active_chip()))
    return 0
