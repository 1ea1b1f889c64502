"""Device memory: one emulated global address space and numba-compatible device arrays.

Each allocation is a contiguous block of bytes with a base address aligned to 256 bytes (as
``cudaMalloc`` aligns), so every access a kernel makes has a byte address for the memory
model. :class:`DeviceNDArray` mirrors numba's device array host API (``copy_to_host``,
slicing, ``__cuda_array_interface__`` ...). Fresh device memory is filled with 0xFF bytes
(NaN for floats, -1 for signed integers) so that code which reads memory it never wrote does
not silently see zeros.
"""

from __future__ import annotations

import itertools
import weakref

import numpy as np

from .errors import ArgumentError

ALIGNMENT = 256
POISON_BYTE = 0xFF
_SUPPORTED_KINDS = "biuf"     # bool, signed, unsigned, float (complex is listed separately)


class Allocation:
    """One block of emulated device memory."""

    __slots__ = ("id", "base", "nbytes", "root", "space", "freed", "init", "__weakref__")

    def __init__(self, nbytes: int, space: str = "global", base: int = 0, poison: bool = True) -> None:
        self.id = next(_ids)
        self.nbytes = int(nbytes)
        self.space = space
        self.base = base
        self.freed = False
        # initcheck's record of which bytes were ever written (by the host or by a sanitized launch):
        # None means every byte is initialised; otherwise one uint8 flag per byte (0 = never written)
        self.init: np.ndarray | None = None
        self.root = np.empty(max(self.nbytes, 1), dtype=np.uint8)
        if poison:
            self.root.fill(POISON_BYTE)


_ids = itertools.count(1)


class AddressSpace:
    """Hands out 256-byte aligned base addresses and remembers what was freed."""

    def __init__(self, start: int = 1 << 32) -> None:
        self._next = start
        self.live: dict[int, weakref.ref] = {}
        self.freed: list[tuple[int, int, int]] = []   # (base, nbytes, allocation id)

    def allocate(self, nbytes: int) -> Allocation:
        a = Allocation(nbytes, "global", self._next)
        self._next += -(-max(nbytes, 1) // ALIGNMENT) * ALIGNMENT
        self.live[a.id] = weakref.ref(a)
        weakref.finalize(a, self._release, a.id, a.base, a.nbytes)
        return a

    def _release(self, aid: int, base: int, nbytes: int) -> None:
        self.live.pop(aid, None)
        self.freed.append((base, nbytes, aid))
        del self.freed[:-1024]


GLOBAL_SPACE = AddressSpace()


def check_host_array(ary: np.ndarray, what: str = "array") -> None:
    """Refuse host arrays the emulator (and numba) cannot hand to a kernel."""
    dt = ary.dtype
    if dt.fields is not None or dt.kind not in _SUPPORTED_KINDS + "c":
        raise ArgumentError(
            f"{what} has dtype {dt}, which kernels cannot use",
            fix="use a numeric dtype such as np.float32, np.float64, np.int32 or np.int64")
    if not dt.isnative:
        raise ArgumentError(f"{what} has non-native byte order ({dt})",
                            fix=f"convert it with ary.astype(np.dtype('{dt.newbyteorder('=')}'))")
    if ary.ndim == 0:
        raise ArgumentError(f"{what} is a 0-dimensional array", fix="pass a 1-element array instead")
    if not (ary.flags.c_contiguous or ary.flags.f_contiguous):
        raise ArgumentError(
            f"{what} is not contiguous (strides {ary.strides} for shape {ary.shape})",
            fix="pass np.ascontiguousarray(...) of it")


class DeviceNDArray:
    """An array in emulated device memory (numba's ``DeviceNDArray``)."""

    __array_priority__ = 10

    def __init__(self, alloc: Allocation, ary: np.ndarray) -> None:
        self._alloc = alloc
        self._ary = ary          # typed view into alloc.root

    # -- construction ------------------------------------------------------------------------
    @classmethod
    def empty(cls, shape, dtype, order: str = "C", poison: bool = True) -> DeviceNDArray:
        dtype = np.dtype(dtype)
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        shape = tuple(int(s) for s in shape)
        if any(s < 0 for s in shape):
            raise ArgumentError(f"negative dimension in shape {shape}")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        alloc = GLOBAL_SPACE.allocate(nbytes)
        if not poison:
            alloc.root.fill(0)
        else:
            alloc.init = np.zeros(max(nbytes, 1), dtype=np.uint8)   # nothing written yet
        flat = alloc.root[:nbytes].view(dtype)
        ary = flat.reshape(shape, order="F" if order == "F" else "C")
        return cls(alloc, ary)

    @classmethod
    def from_host(cls, ary: np.ndarray, what: str = "array") -> DeviceNDArray:
        check_host_array(ary, what)
        order = "F" if (ary.flags.f_contiguous and not ary.flags.c_contiguous) else "C"
        d = cls.empty(ary.shape, ary.dtype, order=order)
        d._ary[...] = ary
        d._alloc.init = None
        return d

    # -- numba's host API ----------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._ary.shape

    @property
    def strides(self) -> tuple[int, ...]:
        return self._ary.strides

    @property
    def dtype(self) -> np.dtype:
        return self._ary.dtype

    @property
    def size(self) -> int:
        return self._ary.size

    @property
    def ndim(self) -> int:
        return self._ary.ndim

    @property
    def nbytes(self) -> int:
        return self._ary.nbytes

    @property
    def alloc_size(self) -> int:
        return self._alloc.nbytes

    @property
    def device_ctypes_pointer(self) -> int:
        return self.address

    @property
    def address(self) -> int:
        """Emulated byte address of element 0."""
        return self._alloc.base + self.byte_offset

    @property
    def byte_offset(self) -> int:
        """Offset of element 0 from the start of its allocation, in bytes."""
        return self._ary.__array_interface__["data"][0] - self._alloc.root.__array_interface__["data"][0]

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "strides": None if self.is_c_contiguous() else self.strides,
                "typestr": self.dtype.str, "data": (self.address, False), "version": 3}

    def copy_to_host(self, ary: np.ndarray | None = None, stream=0) -> np.ndarray:
        """Copy to a new host array, or into ``ary``."""
        if ary is None:
            return np.array(self._ary, order="K", copy=True)
        if ary.shape != self.shape or ary.dtype != self.dtype:
            raise ArgumentError(f"copy_to_host: host array has shape {ary.shape} and dtype {ary.dtype}, "
                                f"the device array {self.shape} and {self.dtype}")
        ary[...] = self._ary
        return ary

    def copy_to_device(self, ary, stream=0) -> None:
        """Copy host data (or another device array) into this array."""
        src = ary._ary if isinstance(ary, DeviceNDArray) else np.asarray(ary)
        if src.shape != self.shape and src.size != self.size:
            raise ArgumentError(f"copy_to_device: source has shape {src.shape}, destination {self.shape}")
        self._ary[...] = src.reshape(self.shape)
        self._mark_written()

    def _mark_written(self, item=None) -> None:
        """Record that the host wrote this array (or ``self[item]``), so that the sanitizer's initcheck
        does not report later kernel reads of these bytes as uninitialised."""
        init = self._alloc.init
        if init is None or self._ary.size == 0:
            return
        a = self._ary
        flags = np.ndarray(a.shape + (a.dtype.itemsize,), np.uint8, buffer=init, offset=self.byte_offset,
                           strides=a.strides + (1,))
        if item is None or item is Ellipsis or (isinstance(item, tuple) and any(e is Ellipsis for e in item)):
            flags[...] = 1
            return
        try:
            flags[item] = 1
        except (IndexError, TypeError, ValueError):
            flags[...] = 1          # an index numpy takes only on the typed array: marking more is safe

    def is_c_contiguous(self) -> bool:
        return bool(self._ary.flags.c_contiguous)

    def is_f_contiguous(self) -> bool:
        return bool(self._ary.flags.f_contiguous)

    def reshape(self, *newshape, order: str = "C") -> DeviceNDArray:
        if len(newshape) == 1 and isinstance(newshape[0], (tuple, list)):
            newshape = tuple(newshape[0])
        r = self._ary.reshape(newshape, order=order)
        if not np.shares_memory(r, self._ary):
            raise ArgumentError("reshape of a non-contiguous device array would need a copy")
        return DeviceNDArray(self._alloc, r)

    def ravel(self, order: str = "C") -> DeviceNDArray:
        return self.reshape(self.size, order=order)

    def view(self, dtype) -> DeviceNDArray:
        return DeviceNDArray(self._alloc, self._ary.view(dtype))

    @property
    def T(self) -> DeviceNDArray:
        return DeviceNDArray(self._alloc, self._ary.T)

    def transpose(self, axes=None) -> DeviceNDArray:
        return DeviceNDArray(self._alloc, self._ary.transpose(axes))

    def split(self, section: int, stream=0) -> list[DeviceNDArray]:
        if self.ndim != 1:
            raise ArgumentError("split() only works on 1-D device arrays")
        return [self[i:i + section] for i in range(0, self.size, section)]

    def __getitem__(self, item):
        r = self._ary[item]
        if isinstance(r, np.ndarray) and np.shares_memory(r, self._ary):
            return DeviceNDArray(self._alloc, r)
        return r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r

    def __setitem__(self, item, value) -> None:
        if isinstance(value, DeviceNDArray):
            value = value._ary
        self._ary[item] = value
        self._mark_written(item)

    def __len__(self) -> int:
        return len(self._ary)

    def __array__(self, dtype=None, copy=None):
        out = self.copy_to_host()
        return out.astype(dtype) if dtype is not None else out

    def __repr__(self) -> str:
        return (f"<simtlab DeviceNDArray shape={self.shape} dtype={self.dtype} "
                f"at 0x{self.address:x}>")

    def get_numpy_view(self) -> np.ndarray:
        """The array's contents as a numpy view (emulator-only convenience, not in numba)."""
        return self._ary


def to_device(obj, stream=0, copy: bool = True, to: DeviceNDArray | None = None) -> DeviceNDArray:
    """Copy a host array to device memory (numba's ``cuda.to_device``)."""
    if isinstance(obj, DeviceNDArray):
        if to is not None:
            to.copy_to_device(obj)
            return to
        return obj
    ary = np.asarray(obj)
    if to is not None:
        to.copy_to_device(ary)
        return to
    return DeviceNDArray.from_host(ary, "the array passed to to_device")


def device_array(shape, dtype=np.float64, strides=None, order: str = "C", stream=0) -> DeviceNDArray:
    """Uninitialised device memory (filled with a 0xFF byte pattern)."""
    return DeviceNDArray.empty(shape, dtype, order=order)


def device_array_like(ary, stream=0) -> DeviceNDArray:
    order = "F" if (getattr(ary, "flags", None) is not None and ary.flags.f_contiguous
                    and not ary.flags.c_contiguous) else "C"
    return DeviceNDArray.empty(ary.shape, ary.dtype, order=order)


def pinned_array(shape, dtype=np.float64, strides=None, order: str = "C") -> np.ndarray:
    """Page-locked host memory is ordinary host memory here."""
    return np.empty(shape, dtype=dtype, order=order)


def pinned_array_like(ary) -> np.ndarray:
    return np.empty_like(ary)


def mapped_array(shape, dtype=np.float64, strides=None, order: str = "C", stream=0,
                 portable: bool = False, wc: bool = False) -> np.ndarray:
    """Mapped memory: a host array kernels can use directly (copied in and out per launch)."""
    return np.empty(shape, dtype=dtype, order=order)


def is_cuda_array(obj) -> bool:
    return isinstance(obj, DeviceNDArray) or hasattr(obj, "__cuda_array_interface__")


def as_cuda_array(obj) -> DeviceNDArray:
    if isinstance(obj, DeviceNDArray):
        return obj
    raise ArgumentError(f"{type(obj).__name__} is not a simtlab device array",
                        fix="create it with cuda.to_device(...) or cuda.device_array(...)")
