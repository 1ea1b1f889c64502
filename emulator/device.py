"""The emulated device: what `cuda.get_current_device()`, `cuda.list_devices()` and
`cuda.detect()` return, built from the active chip.

Students query a device the way they would with numba on a real GPU::

    dev = cuda.get_current_device()
    dev.name, dev.compute_capability, dev.MULTIPROCESSOR_COUNT, dev.MAX_THREADS_PER_BLOCK

numba's `Device` (numba-cuda's ``cudadrv/driver.py``) reads upper-case attributes lazily from
the driver as ``CU_DEVICE_ATTRIBUTE_<NAME>``; `EmulatedDevice` answers the same names from the
chip, with the same units (``CLOCK_RATE`` and ``MEMORY_CLOCK_RATE`` in kHz, sizes in bytes).
Names numba would resolve but the emulator does not model raise AttributeError, as a typo does.

Differences from numba, on purpose:
- ``name`` is a `str` (numba-cuda >= 0.x with cuda.core returns `str`; older numba returned
  `bytes`). It is a `str` subclass that also has ``.decode()``, so old tutorials that call
  ``dev.name.decode()`` keep working.
- The device follows the active chip: after ``select_chip("h100")``, `get_current_device()`
  describes the H100-class chip. A device object keeps the chip it was made for.
- ``detect()`` says clearly that the device is emulated by simtlab, and returns True even for
  chips older than numba supports (the emulator runs them; a real GPU of that age would not).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import lru_cache

from .chips import Chip, get_active_chip

_UUID_NAMESPACE = uuid.UUID("6f1b5a52-3c2e-4d55-9a43-5d9f2a0c7e11")  # fixed: stable per chip name


class DeviceName(str):
    """A device name: a `str` that also answers ``.decode()`` like numba's old `bytes` names."""

    __slots__ = ()

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """Return the name itself (compatibility with code written for `bytes` names)."""
        return str(self)


def _ratio(chip: Chip) -> int:
    fp64 = chip.pipes["fp64"]
    return int(round(chip.pipes["fp32"] / fp64)) if fp64 else 0


#: CUDA driver attribute name (without ``CU_DEVICE_ATTRIBUTE_``) -> value from the chip.
ATTRIBUTES: dict[str, Callable[[Chip], int]] = {
    "MAX_THREADS_PER_BLOCK": lambda c: c.max_threads_per_block,
    "MAX_BLOCK_DIM_X": lambda c: c.max_block_dim[0],
    "MAX_BLOCK_DIM_Y": lambda c: c.max_block_dim[1],
    "MAX_BLOCK_DIM_Z": lambda c: c.max_block_dim[2],
    "MAX_GRID_DIM_X": lambda c: c.max_grid_dim[0],
    "MAX_GRID_DIM_Y": lambda c: c.max_grid_dim[1],
    "MAX_GRID_DIM_Z": lambda c: c.max_grid_dim[2],
    "MAX_SHARED_MEMORY_PER_BLOCK": lambda c: c.shared_mem_per_block,
    "SHARED_MEMORY_PER_BLOCK": lambda c: c.shared_mem_per_block,
    "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN": lambda c: c.shared_mem_per_block_optin,
    "MAX_SHARED_MEMORY_PER_MULTIPROCESSOR": lambda c: c.shared_mem_per_sm,
    "RESERVED_SHARED_MEMORY_PER_BLOCK": lambda c: c.reserved_shared_per_block,
    "TOTAL_CONSTANT_MEMORY": lambda c: c.const_mem_bytes,
    "WARP_SIZE": lambda c: c.warp_size,
    "MAX_REGISTERS_PER_BLOCK": lambda c: c.max_registers_per_block,
    "REGISTERS_PER_BLOCK": lambda c: c.max_registers_per_block,
    "MAX_REGISTERS_PER_MULTIPROCESSOR": lambda c: c.registers_per_sm,
    "CLOCK_RATE": lambda c: int(round(c.clock_mhz * 1000)),  # kHz, as CUDA reports it
    "MULTIPROCESSOR_COUNT": lambda c: c.sm_count,
    "MAX_THREADS_PER_MULTIPROCESSOR": lambda c: c.max_threads_per_sm,
    "MAX_THREADS_PER_MULTI_PROCESSOR": lambda c: c.max_threads_per_sm,  # alias (common misspelling)
    "MAX_BLOCKS_PER_MULTIPROCESSOR": lambda c: c.max_blocks_per_sm,
    "COMPUTE_CAPABILITY_MAJOR": lambda c: c.compute_capability[0],
    "COMPUTE_CAPABILITY_MINOR": lambda c: c.compute_capability[1],
    "L2_CACHE_SIZE": lambda c: c.l2_bytes,
    "MEMORY_CLOCK_RATE": lambda c: int(round(c.dram_clock_mhz * 1000)),  # kHz
    "GLOBAL_MEMORY_BUS_WIDTH": lambda c: c.dram_bus_width_bits,
    "GLOBAL_L1_CACHE_SUPPORTED": lambda c: int(c.has_l1),
    "LOCAL_L1_CACHE_SUPPORTED": lambda c: int(c.has_l1),
    "SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO": _ratio,
    "COOPERATIVE_LAUNCH": lambda c: int(c.supports("grid_sync")),
    "KERNEL_EXEC_TIMEOUT": lambda c: 1,  # the emulator has a watchdog
    "CONCURRENT_KERNELS": lambda c: 0,   # launches run one after another
    "ASYNC_ENGINE_COUNT": lambda c: 0,
    "ECC_ENABLED": lambda c: 0,
    "INTEGRATED": lambda c: 0,
    "TCC_DRIVER": lambda c: 0,
    "COMPUTE_MODE": lambda c: 0,
    "PCI_BUS_ID": lambda c: 0,
    "PCI_DEVICE_ID": lambda c: 0,
    "PCI_DOMAIN_ID": lambda c: 0,
}


class EmulatedDevice:
    """A numba-`Device`-like description of an emulated chip (attributes as in numba-cuda)."""

    def __init__(self, chip: Chip | None = None, id: int = 0) -> None:
        self.chip: Chip = chip if chip is not None else get_active_chip()
        self.id: int = id
        label = self.chip.display_name
        suffix = "(emulated)" if label.lower().startswith("simtlab") else "(simtlab emulated)"
        label = f"{label} {suffix}"
        self.name: DeviceName = DeviceName(label)
        self.compute_capability: tuple[int, int] = tuple(self.chip.compute_capability)  # type: ignore[assignment]
        self.uuid: str = f"GPU-{uuid.uuid5(_UUID_NAMESPACE, self.chip.name)}"
        self.emulated: bool = True

    def __getattr__(self, attr: str) -> int:
        # Only called for names not set in __init__: the upper-case driver attributes.
        getter = ATTRIBUTES.get(attr)
        if getter is None:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {attr!r}"
                + (" (this device attribute is not modelled by the emulator)" if attr.isupper() else "")
            )
        return getter(self.__dict__["chip"])

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *ATTRIBUTES})

    def attributes(self) -> dict[str, int]:
        """Every modelled driver attribute and its value (what deviceQuery would print)."""
        return {name: getter(self.chip) for name, getter in ATTRIBUTES.items()}

    @property
    def supports_float16(self) -> bool:
        """As numba: cc >= 5.3."""
        return self.compute_capability >= (5, 3)

    @property
    def supports_bfloat16(self) -> bool:
        """As numba: cc >= 8.0."""
        return self.compute_capability >= (8, 0)

    @property
    def supports_fp8(self) -> bool:
        """As numba: cc >= 8.9."""
        return self.compute_capability >= (8, 9)

    def reset(self) -> None:
        """No-op (numba's resets the device's context; the emulator keeps none per device)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmulatedDevice) and (self.id, self.chip) == (other.id, other.chip)

    def __hash__(self) -> int:
        return hash((self.id, self.chip))

    def __repr__(self) -> str:
        return (f"<CUDA device {self.id} '{self.name}': simtlab chip '{self.chip.name}', "
                f"cc {self.chip.cc_string}, {self.chip.sm_count} SMs>")


@lru_cache(maxsize=32)
def _device_for(chip: Chip) -> EmulatedDevice:
    return EmulatedDevice(chip, 0)


def get_current_device() -> EmulatedDevice:
    """The device for the active chip (the same object while the chip does not change)."""
    return _device_for(get_active_chip())


def list_devices() -> list[EmulatedDevice]:
    """All devices: the emulator has exactly one, the active chip."""
    return [get_current_device()]


def select_device(device_id: int = 0) -> EmulatedDevice:
    """Select device `device_id` (only 0 exists) and return it, like `cuda.select_device`."""
    if device_id != 0:
        raise ValueError(f"the emulator has one device (id 0); device {device_id} does not exist")
    return get_current_device()


def detect() -> bool:
    """Print a numba-style summary of the emulated device and return True.

    The layout follows numba's `cuda.detect()`, with lines saying that the device is emulated
    by simtlab and which chip it is.
    """
    dev = get_current_device()
    chip = dev.chip
    print(f"simtlab: no GPU is used; kernels run on an emulated chip, '{chip.name}' ({chip.display_name}).")
    print("Found 1 CUDA devices")
    print(f"id {dev.id:d}    {dev.name:>20} {'[SUPPORTED (emulated)]':>40}")
    ratio = dev.SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO
    rows = [
        ("Emulated by", f"simtlab, chip '{chip.name}'"),
        ("Compute Capability", chip.cc_string),
        ("Multiprocessors", chip.sm_count),
        ("Clock", f"{chip.clock_mhz:g} MHz"),
        ("PCI Device ID", dev.PCI_DEVICE_ID),
        ("PCI Bus ID", dev.PCI_BUS_ID),
        ("UUID", dev.uuid),
        ("Watchdog", "Enabled"),
        ("FP32/FP64 Performance Ratio", ratio if ratio else "no FP64 hardware"),
        ("FP16 Support", "Yes" if dev.supports_float16 else "No"),
        ("BF16 Support", "Yes" if dev.supports_bfloat16 else "No"),
        ("FP8 Support", "Yes" if dev.supports_fp8 else "No"),
    ]
    for key, val in rows:
        print(f"{key:>40}: {val}")
    if chip.compute_capability < (3, 5):
        print(f"{'Note':>40}: numba on a real GPU needs cc >= 3.5; this chip exists only emulated")
    print("Summary:")
    print("\t1/1 devices are supported")
    return True
