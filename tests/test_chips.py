"""Chips as data: presets load and match their published figures; bad files fail clearly."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from simtlab.emulator.chips import (
    PRESETS,
    SCHEMA,
    Chip,
    ChipError,
    chip_from_toml,
    get_active_chip,
    list_chips,
    load_chip,
    select_chip,
    use_chip,
)

CHIPS_DIR = Path(load_chip("teaching").source).parent


@pytest.fixture(autouse=True)
def _restore_active_chip():
    previous = get_active_chip()
    yield
    select_chip(previous)


# ---------------------------------------------------------------------------------------------
# Presets


def test_presets_in_stable_order_teaching_first():
    assert [c.name for c in list_chips()] == ["teaching", "h100", "a100", "g80"]
    assert list(PRESETS) == ["teaching", "h100", "a100", "g80"]


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_loads_validates_and_is_hashable(name):
    chip = load_chip(name)
    assert isinstance(chip, Chip)
    assert chip.name == name
    assert chip.source == CHIPS_DIR / f"{name}.toml"
    assert load_chip(name.upper()) is chip  # presets are parsed once; names are case-insensitive
    assert load_chip(str(chip.source)) == chip  # same chip when loaded by path
    assert hash(load_chip(str(chip.source))) == hash(chip)
    assert {c.name: c for c in list_chips()}[name] == chip
    # Re-running the validation on a copy must accept every preset.
    assert dataclasses.replace(chip) == chip
    assert set(chip.pipes) == {"fp16", "fp32", "fp64", "int", "sfu", "conversion", "lsu", "control", "tensor"}


@pytest.mark.parametrize("name", PRESETS)
def test_every_figure_in_a_preset_file_names_a_source_or_says_estimate(name):
    """Numbers without a comment must sit under a section comment naming the source."""
    text = (CHIPS_DIR / f"{name}.toml").read_text()
    assert "Sources" in text or "source" in text.lower()
    section_commented = False
    for line in text.splitlines():
        if line.startswith("["):
            section_commented = "#" in line
        elif (re.match(r"^[a-z_0-9]+ = [-\d\[]", line) and "#" not in line
              and not line.startswith("schema_version")):
            assert section_commented, f"{name}.toml: figure without a source: {line!r}"


# Published figures, written here independently of the TOML files.
PUBLISHED = [
    # H100 SXM5: H100 whitepaper / datasheet, Programming Guide cc 9.0
    ("h100", "compute_capability", (9, 0)),
    ("h100", "sm_count", 132),
    ("h100", "shared_mem_per_sm", 228 * 1024),
    ("h100", "shared_mem_per_block_optin", 227 * 1024),
    ("h100", "l2_bytes", 50 * 1024 * 1024),
    ("h100", "dram_bandwidth_gbps", 3350),
    ("h100", "max_threads_per_sm", 2048),
    ("h100", "reserved_shared_per_block", 1024),
    # A100 SXM4 40GB: A100 whitepaper / datasheet, Programming Guide cc 8.0
    ("a100", "compute_capability", (8, 0)),
    ("a100", "sm_count", 108),
    ("a100", "clock_mhz", 1410),
    ("a100", "shared_mem_per_sm", 164 * 1024),
    ("a100", "shared_mem_per_block_optin", 163 * 1024),
    ("a100", "shared_mem_per_block", 48 * 1024),
    ("a100", "l2_bytes", 40 * 1024 * 1024),
    ("a100", "dram_bandwidth_gbps", 1555),
    ("a100", "max_blocks_per_sm", 32),
    ("a100", "registers_per_sm", 65536),
    ("a100", "max_registers_per_thread", 255),
    ("a100", "max_grid_dim", (2**31 - 1, 65535, 65535)),
    # G80 / GeForce 8800 GTX: Programming Guide 2.x cc 1.0, 8800 GTX technical brief
    ("g80", "compute_capability", (1, 0)),
    ("g80", "sm_count", 16),
    ("g80", "max_threads_per_sm", 768),
    ("g80", "max_warps_per_sm", 24),
    ("g80", "max_blocks_per_sm", 8),
    ("g80", "registers_per_sm", 8192),
    ("g80", "shared_mem_per_sm", 16 * 1024),
    ("g80", "shared_banks", 16),
    ("g80", "shared_phase_threads", 16),
    ("g80", "max_threads_per_block", 512),
    ("g80", "max_block_dim", (512, 512, 64)),
    ("g80", "max_grid_dim", (65535, 65535, 1)),
    ("g80", "l1_bytes_per_sm", 0),
    ("g80", "l2_bytes", 0),
    ("g80", "dram_bandwidth_gbps", 86.4),
    ("g80", "reserved_shared_per_block", 0),
    # common to all modern presets
    ("teaching", "sm_count", 4),
    ("teaching", "compute_capability", (8, 0)),
    ("teaching", "const_mem_bytes", 65536),
    ("teaching", "cache_line_bytes", 128),
    ("teaching", "sector_bytes", 32),
    ("teaching", "shared_alloc_unit", 128),
    ("teaching", "register_alloc_unit", 256),
    ("teaching", "schedulers_per_sm", 4),
    ("teaching", "bank_width_bytes", 4),
]


@pytest.mark.parametrize(("name", "attr", "expected"), PUBLISHED)
def test_published_figures(name, attr, expected):
    assert getattr(load_chip(name), attr) == expected


@pytest.mark.parametrize(
    ("name", "peak", "tflops"),
    [
        ("a100", "fp32", 19.5),      # A100 datasheet
        ("h100", "fp32", 67.0),      # H100 SXM datasheet
        ("a100", "float16", 312.0),  # A100 datasheet, dense tensor
        ("a100", "float64", 19.5),   # A100 datasheet, FP64 tensor
        ("h100", "float64", 67.0),   # H100 SXM datasheet, FP64 tensor
    ],
)
def test_clock_pipes_and_tensor_rates_reproduce_datasheet_peaks(name, peak, tflops):
    chip = load_chip(name)
    if peak == "fp32":
        value = chip.peak_fp32_flops
    else:
        value = chip.tensor_flops_per_cycle_per_sm[peak] * chip.sm_count * chip.clock_hz
    assert value / 1e12 == pytest.approx(tflops, rel=0.01)


def test_teaching_chip_has_a100_per_sm_figures_but_4_sms():
    teaching, a100 = load_chip("teaching"), load_chip("a100")
    per_sm_sections = {"limits", "registers", "shared", "constant", "issue", "global"}
    for spec in SCHEMA:
        if spec.section in per_sm_sections:
            assert getattr(teaching, spec.attr) == getattr(a100, spec.attr), spec.key
    assert teaching.pipes == a100.pipes
    assert teaching.latency == a100.latency
    assert teaching.tensor == a100.tensor
    assert teaching.sm_count == 4 < a100.sm_count


def test_g80_has_no_caches_tensor_engine_or_fp64_and_issues_half_warps():
    g80 = load_chip("g80")
    assert not g80.has_l1 and not g80.has_l2 and not g80.has_tensor_engine
    assert g80.tensor_shape is None and g80.tensor_dtypes == ()
    assert g80.pipes["fp64"] == 0 and g80.pipes["tensor"] == 0
    assert g80.global_coalescing == "half_warp_segment"
    assert g80.register_alloc_granularity == "block"
    assert not g80.supports("warp_shuffle") and not g80.supports("global_atomics")
    assert load_chip("a100").supports("warp_shuffle")


def test_tensor_section_and_derived_tensor_pipe():
    a100, h100 = load_chip("a100"), load_chip("h100")
    assert a100.tensor_shape == (16, 8, 16)
    assert "float16" in a100.tensor_dtypes and "float8" not in a100.tensor_dtypes
    assert "float8" in h100.tensor_dtypes
    # 2048 FLOP/cycle/SM at 4096 FLOP per m16n8k16 MMA = half a warp-MMA per cycle = 16 lanes
    assert a100.pipes["tensor"] == 16
    assert h100.pipes["tensor"] == 2 * a100.pipes["tensor"]


@pytest.mark.parametrize(
    ("shared", "l1_kib"),
    [(0, 192), (8 * 1024, 184), (50 * 1024, 128), (100 * 1024, 92), (164 * 1024, 28)],
)
def test_l1_left_after_shared_carveout_a100(shared, l1_kib):
    assert load_chip("a100").l1_bytes_for_shared(shared) == l1_kib * 1024


def test_l1_for_shared_rejects_more_than_an_sm_has():
    with pytest.raises(ChipError, match="do not fit"):
        load_chip("a100").l1_bytes_for_shared(200 * 1024)
    assert load_chip("g80").l1_bytes_for_shared(16 * 1024) == 0


def test_unknown_feature_name_is_an_error():
    with pytest.raises(ChipError, match="warp_shuffle"):
        load_chip("a100").supports("warp_shufle")


# ---------------------------------------------------------------------------------------------
# Errors


def test_unknown_name_lists_valid_presets():
    with pytest.raises(ChipError) as info:
        load_chip("b200")
    message = str(info.value)
    assert "'b200'" in message
    for name in PRESETS:
        assert name in message
    assert isinstance(info.value, ValueError)


def test_missing_file_is_a_chip_error(tmp_path):
    with pytest.raises(ChipError, match="not found"):
        load_chip(tmp_path / "nope.toml")
    with pytest.raises(ChipError, match="not found"):
        load_chip(str(tmp_path / "nope.toml"))




def _teaching_text() -> str:
    return (CHIPS_DIR / "teaching.toml").read_text()


BROKEN = [
    # (old text, new text, field named in the error, words in the error)
    ("banks = 32", "banks = 33", "shared.banks", "power of two"),
    ("sm_count = 4 ", "# sm_count removed ", "sm_count", "missing"),
    ("per_sm = 167936", "per_sm_bytes = 167936", "shared.per_sm_bytes", "did you mean 'shared.per_sm'"),
    ("bandwidth_gbps = 40 ", "bandwidth_gbps = 400 ", "dram.bandwidth_gbps", "disagrees"),
    ("clock_mhz = 1000 ", 'clock_mhz = "fast" ', "clock_mhz", "expected a number"),
    ("max_warps_per_sm = 64", "max_warps_per_sm = 63", "limits.max_warps_per_sm", "max_threads_per_sm"),
    ("max_block_dim = [1024, 1024, 64]", "max_block_dim = [1024, 1024]", "limits.max_block_dim",
     "3 integers"),
    ("per_block = 49152 ", "per_block = 200000 ", "shared.per_block", "per_block_optin"),
    ('alloc_granularity = "warp"', 'alloc_granularity = "thread"', "registers.alloc_granularity",
     "'warp'"),
    ("control = 32 ", "control = 32\ntensor = 16 ", "pipes.tensor", "derived"),
    ("sfu = 16\n", "sfu = 0\n", "pipes.sfu", "greater than 0"),
    ("dram = 290\n", "dram = -1\n", "latency.dram", "non-negative"),
    ("l1_hit = 33\n", "l1_hit = 0\n", "latency.l1_hit", "no L1"),
    ("float16 = 2048", "float17 = 2048", "tensor.flops_per_cycle_per_sm.float17", "unknown input type"),
    ("warp_size = 32", "warp_size = 64", "warp_size", "only 32"),
    ('name = "teaching"', 'name = "My Chip"', "name", "lower-case"),
]


@pytest.mark.parametrize(("old", "new", "field", "words"), BROKEN, ids=[b[2] for b in BROKEN])
def test_broken_chip_file_names_file_and_field(tmp_path, old, new, field, words):
    text = _teaching_text()
    assert old in text, "test out of date with teaching.toml"
    path = tmp_path / "broken.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ChipError) as info:
        load_chip(path)
    message = str(info.value)
    assert str(path) in message
    assert f"field '{field}'" in message
    assert words in message


def test_invalid_toml_syntax(tmp_path):
    path = tmp_path / "syntax.toml"
    path.write_text(_teaching_text() + "\n[[[\n")
    with pytest.raises(ChipError, match=r"not valid TOML.*line"):
        load_chip(path)


def test_unmodified_copy_of_template_loads(tmp_path):
    path = tmp_path / "copy.toml"
    path.write_text(_teaching_text().replace('name = "teaching"', 'name = "copy"'))
    chip = load_chip(str(path))
    assert chip.name == "copy" and chip.source == path.resolve()


def test_extends_a_preset(tmp_path):
    path = tmp_path / "a100_8sm.toml"
    path.write_text('extends = "a100"\nname = "a100-8sm"\ndisplay_name = "A100 with 8 SMs"\n'
                    "sm_count = 8\n[cache]\nl2_bytes = 4194304\n")
    chip = load_chip(path)
    a100 = load_chip("a100")
    assert (chip.name, chip.sm_count, chip.l2_bytes) == ("a100-8sm", 8, 4 * 1024 * 1024)
    assert chip.shared_mem_per_sm == a100.shared_mem_per_sm and chip.pipes == a100.pipes
    assert chip.description == ""  # the base's description is not inherited

    child = tmp_path / "child.toml"  # extends a file, relative to the extending file
    child.write_text('extends = "a100_8sm.toml"\nname = "child"\ndisplay_name = "c"\nsm_count = 2\n')
    assert (load_chip(child).sm_count, load_chip(child).l2_bytes) == (2, 4 * 1024 * 1024)


def test_extends_requires_own_name_and_detects_cycles(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('extends = "h100"\nsm_count = 8\n')
    with pytest.raises(ChipError, match="field 'name'"):
        load_chip(path)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\nname = "loop"\ndisplay_name = "l"\n')
    with pytest.raises(ChipError, match="cycle"):
        load_chip(loop)


def test_chip_from_toml_text():
    chip = chip_from_toml('extends = "g80"\nname = "g80-32"\ndisplay_name = "G80, 32 SMs"\nsm_count = 32\n')
    assert chip.sm_count == 32 and chip.shared_banks == 16 and chip.source is None
    with pytest.raises(ChipError, match="<string>"):
        chip_from_toml('extends = "g80"\nname = "x"\ndisplay_name = "x"\nsm_count = 0\n')


def test_chips_built_in_code_are_validated_too():
    a100 = load_chip("a100")
    with pytest.raises(ChipError, match="shared.per_block"):
        dataclasses.replace(a100, shared_mem_per_block=10**6)
    bigger = dataclasses.replace(a100, name="a100-big", sm_count=216)
    assert bigger.sm_count == 216 and bigger.pipes == a100.pipes


# ---------------------------------------------------------------------------------------------
# The active chip


def test_default_is_teaching_and_select_switches():
    with use_chip("teaching"):  # whatever earlier tests did, start from the default
        assert get_active_chip().name == "teaching"
        assert select_chip("a100") is load_chip("a100")
        assert get_active_chip().name == "a100"
        custom = dataclasses.replace(load_chip("g80"), name="g80-custom")
        assert select_chip(custom) is custom and get_active_chip() is custom


def test_select_invalid_leaves_active_chip_unchanged():
    select_chip("h100")
    with pytest.raises(ChipError):
        select_chip("nope")
    assert get_active_chip().name == "h100"


def test_use_chip_restores_previous_even_on_error():
    select_chip("a100")
    with use_chip("h100") as chip:
        assert chip.name == "h100" and get_active_chip() is chip
        with use_chip("g80"):
            assert get_active_chip().name == "g80"
        assert get_active_chip().name == "h100"
    assert get_active_chip().name == "a100"
    with pytest.raises(RuntimeError), use_chip("g80"):
        raise RuntimeError("boom")
    assert get_active_chip().name == "a100"


def test_fresh_process_default_is_teaching():
    import subprocess
    import sys

    code = "from simtlab.emulator.chips import get_active_chip; print(get_active_chip().name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "teaching"
