"""The emulated device: numba-like attributes from the active chip, and `detect()`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simtlab.emulator.chips import PRESETS, get_active_chip, load_chip, select_chip, use_chip
from simtlab.emulator.device import (
    ATTRIBUTES,
    EmulatedDevice,
    detect,
    get_current_device,
    list_devices,
    select_device,
)


@pytest.fixture(autouse=True)
def _restore_active_chip():
    previous = get_active_chip()
    yield
    select_chip(previous)


@pytest.mark.parametrize("name", PRESETS)
def test_attributes_come_from_the_chip(name):
    chip = load_chip(name)
    dev = EmulatedDevice(chip)
    assert dev.chip is chip and dev.id == 0
    assert dev.compute_capability == chip.compute_capability
    assert dev.MULTIPROCESSOR_COUNT == chip.sm_count
    assert dev.MAX_THREADS_PER_BLOCK == chip.max_threads_per_block
    assert (dev.MAX_BLOCK_DIM_X, dev.MAX_BLOCK_DIM_Y, dev.MAX_BLOCK_DIM_Z) == chip.max_block_dim
    assert (dev.MAX_GRID_DIM_X, dev.MAX_GRID_DIM_Y, dev.MAX_GRID_DIM_Z) == chip.max_grid_dim
    assert dev.MAX_SHARED_MEMORY_PER_BLOCK == chip.shared_mem_per_block
    assert dev.WARP_SIZE == 32
    assert dev.MAX_REGISTERS_PER_BLOCK == chip.max_registers_per_block
    assert dev.TOTAL_CONSTANT_MEMORY == 65536
    assert dev.MAX_THREADS_PER_MULTIPROCESSOR == chip.max_threads_per_sm
    assert dev.MAX_THREADS_PER_MULTI_PROCESSOR == chip.max_threads_per_sm
    assert dev.CLOCK_RATE == chip.clock_mhz * 1000  # kHz, as CUDA reports it
    assert dev.attributes()["L2_CACHE_SIZE"] == chip.l2_bytes


def test_known_values_for_a100_and_g80():
    a100 = EmulatedDevice(load_chip("a100"))
    assert a100.CLOCK_RATE == 1410000
    assert a100.MAX_SHARED_MEMORY_PER_BLOCK == 48 * 1024
    assert a100.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN == 163 * 1024
    assert a100.MEMORY_CLOCK_RATE == 1215000 and a100.GLOBAL_MEMORY_BUS_WIDTH == 5120
    assert a100.SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO == 2
    assert a100.supports_bfloat16 and a100.supports_float16 and not a100.supports_fp8
    g80 = EmulatedDevice(load_chip("g80"))
    assert (g80.MAX_THREADS_PER_BLOCK, g80.MAX_GRID_DIM_Z, g80.MULTIPROCESSOR_COUNT) == (512, 1, 16)
    assert g80.SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO == 0 and not g80.supports_float16


def test_attribute_names_are_real_cuda_driver_attributes():
    """Every name (except the documented alias) exists as CU_DEVICE_ATTRIBUTE_<NAME>."""
    driver = pytest.importorskip("cuda.bindings.driver")
    real = {n.removeprefix("CU_DEVICE_ATTRIBUTE_") for n in dir(driver.CUdevice_attribute)}
    unknown = set(ATTRIBUTES) - real - {"MAX_THREADS_PER_MULTI_PROCESSOR"}
    assert not unknown


def test_name_is_str_that_also_decodes_and_says_emulated():
    dev = EmulatedDevice(load_chip("h100"))
    assert isinstance(dev.name, str)
    assert dev.name.decode() == dev.name == "NVIDIA H100 SXM5-class (simtlab emulated)"
    assert "emulated" in EmulatedDevice(load_chip("teaching")).name
    assert "'h100'" in repr(dev) and "cc 9.0" in repr(dev) and "132 SMs" in repr(dev)


def test_unknown_attribute_raises_attribute_error():
    dev = EmulatedDevice(load_chip("a100"))
    with pytest.raises(AttributeError, match="not modelled"):
        dev.MAX_TEXTURE2D_WIDTH  # noqa: B018
    with pytest.raises(AttributeError):
        dev.no_such_thing  # noqa: B018
    assert "MULTIPROCESSOR_COUNT" in dir(dev)  # tab completion in notebooks


def test_current_device_follows_the_active_chip():
    select_chip("a100")
    first = get_current_device()
    assert first.chip.name == "a100" and get_current_device() is first
    assert list_devices() == [first] and select_device(0) is first
    with use_chip("g80"):
        assert get_current_device().MULTIPROCESSOR_COUNT == 16
    assert get_current_device() is first
    with pytest.raises(ValueError, match="one device"):
        select_device(1)


def test_device_equality_and_uuid_stable_per_chip():
    a, b = EmulatedDevice(load_chip("a100")), EmulatedDevice(load_chip("a100"))
    assert a == b and hash(a) == hash(b) and a.uuid == b.uuid
    assert a != EmulatedDevice(load_chip("h100")) and a.uuid != EmulatedDevice(load_chip("h100")).uuid
    assert a.uuid.startswith("GPU-")


def test_detect_prints_emulated_summary_and_returns_true(capsys):
    with use_chip("h100"):
        assert detect() is True
    out = capsys.readouterr().out
    assert "Found 1 CUDA devices" in out
    assert "emulated" in out and "'h100'" in out
    assert "Compute Capability: 9.0" in out
    assert "1/1 devices are supported" in out


def test_detect_on_g80_notes_numba_would_not_support_it(capsys):
    with use_chip("g80"):
        assert detect() is True
    out = capsys.readouterr().out
    assert "cc >= 3.5" in out and "no FP64 hardware" in out


def test_chips_and_device_do_not_import_jupyter():
    code = (
        "import sys; import simtlab.emulator.chips, simtlab.emulator.device; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('IPython', 'ipykernel', 'jupyter_client', 'ipywidgets', 'traitlets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
