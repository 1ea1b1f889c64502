"""The chip model: a frozen, validated description of one emulated accelerator.

A chip is *data*. Everything the engine, the memory model, the timing model, the occupancy
calculator and the widgets need to know about the hardware lives in a `Chip`; nothing about a
particular GPU is hard-coded anywhere else. Chips are written as TOML files (see the presets
next to this module, `teaching.toml` is the annotated template) and read by `loader.py`.

The TOML layout is nested by topic (``[limits]``, ``[registers]``, ``[shared]``, ...); the
`Chip` exposes every scalar as a flat attribute (``chip.shared_mem_per_sm``) because that is
what engine code wants to read. `SCHEMA` is the single table that maps one onto the other and
also carries each field's unit and meaning, so validation messages, ``simtlab chips show`` and
the documentation cannot drift apart.

Validation happens in `Chip.__post_init__`, so a chip built in code (or derived with
`dataclasses.replace`) is held to the same rules as one read from a file. Rules that relate two
fields (for example "the opt-in shared memory per block plus the reserved part must fit in an
SM") are checked too: an instructor's typo should fail loudly when the chip is loaded, not as a
strange number in a student's profile.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


class ChipError(ValueError):
    """A chip name, file or value that cannot be used; the message says where and what."""


class FrozenMap(Mapping[str, float]):
    """A read-only, hashable mapping (used for ``pipes``, ``latency`` and tensor rates).

    `types.MappingProxyType` would do, but it is not hashable, and a `Chip` must be hashable
    so that engines can cache per-chip tables with ``functools.lru_cache``.
    """

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[str, float] | None = None) -> None:
        self._data: dict[str, float] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, key: str) -> float:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple(sorted(self._data.items())))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._data) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


# ---------------------------------------------------------------------------------------------
# Schema: one row per scalar field. `key` is the dotted TOML path, `attr` the Chip attribute.
# ---------------------------------------------------------------------------------------------

#: Kinds: "int" (>= 0 unless noted), "num" (int or float), "str", "int2"/"int3" (fixed-length
#: integer arrays), "intlist" (any length), "choice" (one of `choices`).
@dataclass(frozen=True)
class FieldSpec:
    """How one scalar chip field is spelled in TOML, typed, constrained and described."""

    key: str
    attr: str
    kind: str
    unit: str
    doc: str
    positive: bool = True          # must be > 0 (otherwise >= 0 is enough)
    power_of_two: bool = False
    required: bool = True
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def section(self) -> str:
        """The TOML table the field lives in ("" for top-level keys)."""
        return self.key.rpartition(".")[0]


def _f(key: str, attr: str, kind: str, unit: str, doc: str, **kw: Any) -> FieldSpec:
    return FieldSpec(key, attr, kind, unit, doc, **kw)


SCHEMA: tuple[FieldSpec, ...] = (
    # identity
    _f("name", "name", "str", "", "short id used by load_chip/select_chip, e.g. 'teaching'"),
    _f("display_name", "display_name", "str", "", "human-readable name"),
    _f("description", "description", "str", "", "one or two sentences on what the chip is for",
       required=False, default=""),
    _f("compute_capability", "compute_capability", "int2", "", "CUDA compute capability (major, minor)",
       positive=False),
    _f("sm_count", "sm_count", "int", "SMs", "streaming multiprocessors"),
    _f("clock_mhz", "clock_mhz", "num", "MHz", "SM (shader) clock used to turn cycles into time"),
    _f("warp_size", "warp_size", "int", "threads", "threads per warp"),
    # limits
    _f("limits.max_threads_per_block", "max_threads_per_block", "int", "threads",
       "largest block a launch may use"),
    _f("limits.max_block_dim", "max_block_dim", "int3", "threads", "largest blockDim.x, .y, .z"),
    _f("limits.max_grid_dim", "max_grid_dim", "int3", "blocks", "largest gridDim.x, .y, .z"),
    _f("limits.max_threads_per_sm", "max_threads_per_sm", "int", "threads", "resident threads per SM"),
    _f("limits.max_warps_per_sm", "max_warps_per_sm", "int", "warps", "resident warps per SM"),
    _f("limits.max_blocks_per_sm", "max_blocks_per_sm", "int", "blocks", "resident blocks per SM"),
    _f("limits.max_local_bytes_per_thread", "max_local_bytes_per_thread", "int", "bytes",
       "local memory (cuda.local.array) per thread"),
    # registers
    _f("registers.per_sm", "registers_per_sm", "int", "32-bit registers", "register file per SM"),
    _f("registers.max_per_block", "max_registers_per_block", "int", "32-bit registers",
       "registers one block may use"),
    _f("registers.max_per_thread", "max_registers_per_thread", "int", "32-bit registers",
       "registers one thread may use"),
    _f("registers.alloc_unit", "register_alloc_unit", "int", "registers",
       "allocation granularity (per warp or per block, see alloc_granularity)"),
    _f("registers.alloc_granularity", "register_alloc_granularity", "choice", "",
       "whether registers are allocated per 'warp' (cc >= 2.0) or per 'block' (cc 1.x)",
       choices=("warp", "block")),
    _f("registers.warp_alloc_granularity", "warp_alloc_granularity", "int", "warps",
       "warps are allocated in groups of this many (occupancy calculator)"),
    # shared memory
    _f("shared.per_block", "shared_mem_per_block", "int", "bytes",
       "static shared memory per block (the default limit)"),
    _f("shared.per_block_optin", "shared_mem_per_block_optin", "int", "bytes",
       "largest shared memory per block with dynamic opt-in"),
    _f("shared.per_sm", "shared_mem_per_sm", "int", "bytes", "shared memory per SM (largest carveout)"),
    _f("shared.alloc_unit", "shared_alloc_unit", "int", "bytes", "shared memory allocation granularity",
       power_of_two=True),
    _f("shared.reserved_per_block", "reserved_shared_per_block", "int", "bytes",
       "shared memory the system reserves per resident block (1 KiB on cc >= 8.0)", positive=False),
    _f("shared.banks", "shared_banks", "int", "banks", "shared memory banks", power_of_two=True),
    _f("shared.bank_width_bytes", "bank_width_bytes", "int", "bytes", "width of one bank",
       power_of_two=True),
    _f("shared.phase_threads", "shared_phase_threads", "int", "threads",
       "threads whose shared accesses are served together (32; 16 = half-warp issue)",
       power_of_two=True),
    _f("shared.conflict_replay", "shared_conflict_replay", "choice", "",
       "what a bank conflict holds up: 'pipe' (cc >= 5.0: extra wavefronts queue in the shared-memory "
       "pipe while other instructions keep issuing) or 'issue' (cc 1.x-3.x: the instruction is replayed "
       "through the warp scheduler, so the replays take issue slots); used by the timing model",
       required=False, default="pipe", choices=("pipe", "issue")),
    # constant memory
    _f("constant.bytes", "const_mem_bytes", "int", "bytes", "constant memory"),
    # caches
    _f("cache.line_bytes", "cache_line_bytes", "int", "bytes", "L1/L2 cache line", power_of_two=True),
    _f("cache.sector_bytes", "sector_bytes", "int", "bytes", "unit of transfer between levels",
       power_of_two=True),
    _f("cache.l1_bytes_per_sm", "l1_bytes_per_sm", "int", "bytes",
       "largest L1 data cache per SM (kernel using no shared memory); 0 = no L1 data cache",
       positive=False),
    _f("cache.l1_shared_unified_bytes_per_sm", "l1_shared_unified_bytes_per_sm", "int", "bytes",
       "combined L1 + shared storage per SM; 0 = shared memory is a separate array", positive=False),
    _f("cache.shared_carveouts_kib", "shared_carveouts_kib", "intlist", "KiB",
       "shared memory sizes an SM can be configured to (unified L1/shared only)",
       required=False, default=()),
    _f("cache.l2_bytes", "l2_bytes", "int", "bytes", "L2 cache, whole chip; 0 = no L2", positive=False),
    _f("cache.l2_bandwidth_bytes_per_cycle", "l2_bandwidth_bytes_per_cycle", "num", "bytes/cycle",
       "L2 bandwidth, whole chip (0 when there is no L2)", positive=False),
    # global memory / DRAM
    _f("dram.bytes", "global_mem_bytes", "int", "bytes", "device (global) memory"),
    _f("dram.bandwidth_gbps", "dram_bandwidth_gbps", "num", "GB/s", "peak DRAM bandwidth (1 GB = 1e9 B)"),
    _f("dram.bus_width_bits", "dram_bus_width_bits", "int", "bits", "memory bus width"),
    _f("dram.clock_mhz", "dram_clock_mhz", "num", "MHz",
       "memory clock as CUDA reports it (bandwidth = 2 x clock x bus width / 8)"),
    _f("global.coalescing", "global_coalescing", "choice", "",
       "'sector' (cc >= 6.0: 32-byte sectors per warp request) or 'half_warp_segment' "
       "(cc 1.0/1.1: a half-warp coalesces only when aligned and in order)",
       choices=("sector", "half_warp_segment")),
    _f("global.phase_threads", "global_phase_threads", "int", "threads",
       "threads whose global accesses form one request (32; 16 on cc 1.x)", power_of_two=True),
    _f("global.alloc_alignment", "global_alloc_alignment", "int", "bytes",
       "alignment of every device allocation (cudaMalloc gives 256)", power_of_two=True),
    # issue
    _f("issue.schedulers_per_sm", "schedulers_per_sm", "int", "schedulers",
       "warp schedulers per SM, each issuing up to one warp instruction per cycle"),
    _f("issue.cycles_per_warp_instruction", "cycles_per_warp_instruction", "num", "cycles",
       "cycles a scheduler needs to issue one warp instruction (1 on cc >= 5.0; 4 on cc 1.x, where 8 SPs "
       "take 4 clock cycles per warp); used by the timing model",
       required=False, default=1),
    _f("issue.int_mul_per_cycle", "int_mul_per_cycle", "num", "results/cycle/SM",
       "32-bit integer multiply throughput (Programming Guide throughput table); 0 = the same as pipes.int",
       positive=False, required=False, default=0),
)

SCHEMA_BY_KEY: dict[str, FieldSpec] = {s.key: s for s in SCHEMA}
SCHEMA_BY_ATTR: dict[str, FieldSpec] = {s.attr: s for s in SCHEMA}

#: Pipes, in results (thread-level operations) per cycle per SM, as in the CUDA C++ Programming
#: Guide's "Throughput of Native Arithmetic Instructions" table. `tensor` is derived from the
#: [tensor] section and must not be written in [pipes]. A rate of 0 means "no such hardware".
PIPES: dict[str, str] = {
    "fp16": "16-bit floating-point add, multiply, fma",
    "fp32": "32-bit floating-point add, multiply, fma",
    "fp64": "64-bit floating-point add, multiply, fma (0 = no FP64 hardware)",
    "int": "32-bit integer add, compare, logic, shift, multiply",
    "sfu": "special functions: reciprocal, rsqrt, log2, exp2, sin, cos (and division built on them)",
    "conversion": "type conversions",
    "lsu": "load/store unit: memory instructions and warp shuffles",
    "control": "branches, barriers and other control instructions",
}
PIPES_MAY_BE_ZERO = frozenset({"fp16", "fp64"})

#: Latencies in SM cycles (except `launch_overhead_us`). 0 means the unit does not exist.
LATENCIES: dict[str, str] = {
    "alu": "dependent fp32/int arithmetic",
    "fp64": "dependent fp64 arithmetic (0 = no FP64 hardware)",
    "sfu": "special-function unit",
    "tensor": "one warp-level tensor-engine MMA (0 = no tensor engine)",
    "shared": "shared memory load, no bank conflict",
    "constant": "constant-cache hit",
    "l1_hit": "global load served by L1 (0 = no L1)",
    "l2_hit": "global load served by L2 (0 = no L2)",
    "dram": "global load served by DRAM",
    "atomic": "global atomic, performed at L2 (0 = no global atomics)",
    "barrier": "syncthreads when all warps have arrived",
    "launch_overhead_us": "fixed cost of one kernel launch, in microseconds",
}
LATENCIES_MAY_BE_ZERO = frozenset({"fp64", "tensor", "l1_hit", "l2_hit", "atomic"})

#: Tensor-engine input types the schema accepts (TOML keys of [tensor.flops_per_cycle_per_sm]).
TENSOR_DTYPES = ("float16", "bfloat16", "tf32", "float64", "int8", "float8")

#: Hardware features by minimum compute capability (CUDA C++ Programming Guide, "Feature
#: Availability" and the per-capability sections; cc 1.x from the CUDA 3.x guides).
FEATURES_MIN_CC: dict[str, tuple[int, int]] = {
    "global_atomics": (1, 1),
    "shared_atomics": (1, 2),
    "warp_vote": (1, 2),
    "fp64": (1, 3),
    "float_atomic_add": (2, 0),
    "syncthreads_count": (2, 0),
    "ballot": (2, 0),
    "warp_shuffle": (3, 0),
    "fp16": (5, 3),
    "grid_sync": (6, 0),
    "independent_thread_scheduling": (7, 0),
    "match_sync": (7, 0),
    "bf16": (8, 0),
    "fp8": (8, 9),
}


@dataclass(frozen=True)
class TensorSpec:
    """The tensor engine: one warp-wide MMA computes D[m x n] = A[m x k] @ B[k x n] + C.

    `flops_per_cycle_per_sm` is keyed by input type (see `TENSOR_DTYPES`); a multiply-add counts
    as 2 FLOPs, as in NVIDIA's datasheets (dense, no sparsity).
    """

    m: int
    n: int
    k: int
    flops_per_cycle_per_sm: FrozenMap
    accumulator: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "flops_per_cycle_per_sm", FrozenMap(self.flops_per_cycle_per_sm))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(m, n, k) of one warp-level MMA."""
        return (self.m, self.n, self.k)

    @property
    def dtypes(self) -> tuple[str, ...]:
        """Input types the engine accepts, in file order."""
        return tuple(self.flops_per_cycle_per_sm)

    @property
    def flops_per_mma(self) -> int:
        """FLOPs of one warp-level MMA instruction (2 m n k)."""
        return 2 * self.m * self.n * self.k


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """One emulated chip. Build it with `load_chip` (or in code; the same checks apply).

    Scalar attributes are listed in `SCHEMA` with their TOML key, unit and meaning. Besides
    them: `pipes` (results per cycle per SM, see `PIPES`; `pipes["tensor"]` is derived from the
    tensor engine), `latency` (cycles, see `LATENCIES`), `tensor` (`TensorSpec` or None) and
    `source` (the file it came from, not part of equality).
    """

    name: str
    display_name: str
    compute_capability: tuple[int, int]
    sm_count: int
    clock_mhz: float
    warp_size: int
    max_threads_per_block: int
    max_block_dim: tuple[int, int, int]
    max_grid_dim: tuple[int, int, int]
    max_threads_per_sm: int
    max_warps_per_sm: int
    max_blocks_per_sm: int
    max_local_bytes_per_thread: int
    registers_per_sm: int
    max_registers_per_block: int
    max_registers_per_thread: int
    register_alloc_unit: int
    register_alloc_granularity: str
    warp_alloc_granularity: int
    shared_mem_per_block: int
    shared_mem_per_block_optin: int
    shared_mem_per_sm: int
    shared_alloc_unit: int
    reserved_shared_per_block: int
    shared_banks: int
    bank_width_bytes: int
    shared_phase_threads: int
    const_mem_bytes: int
    cache_line_bytes: int
    sector_bytes: int
    l1_bytes_per_sm: int
    l1_shared_unified_bytes_per_sm: int
    l2_bytes: int
    l2_bandwidth_bytes_per_cycle: float
    global_mem_bytes: int
    dram_bandwidth_gbps: float
    dram_bus_width_bits: int
    dram_clock_mhz: float
    global_coalescing: str
    global_phase_threads: int
    global_alloc_alignment: int
    schedulers_per_sm: int
    pipes: Mapping[str, float]
    latency: Mapping[str, float]
    tensor: TensorSpec | None = None
    description: str = ""
    shared_carveouts_kib: tuple[int, ...] = ()
    shared_conflict_replay: str = "pipe"
    cycles_per_warp_instruction: float = 1
    int_mul_per_cycle: float = 0
    source: Path | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # Normalise containers so that chips built in code compare and hash like loaded ones.
        for attr in ("compute_capability", "max_block_dim", "max_grid_dim", "shared_carveouts_kib"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))
        pipes = dict(self.pipes)
        pipes.pop("tensor", None)  # derived, recomputed below
        object.__setattr__(self, "latency", FrozenMap(self.latency))
        object.__setattr__(self, "pipes", FrozenMap(pipes))
        _validate(self)
        object.__setattr__(self, "pipes", FrozenMap({**pipes, "tensor": self._tensor_pipe_rate()}))

    # -- derived quantities (documented, so engine code does not re-derive them differently) ----

    def _tensor_pipe_rate(self) -> float:
        """Tensor pipe in the same unit as the other pipes (thread-level results per cycle).

        One warp MMA counts as `warp_size` results, so rate = warp_size x MMAs per cycle, with
        MMAs per cycle = FLOPs per cycle / FLOPs per MMA, at the float16 rate (the reference
        type of tensor-core datasheets) or, without float16, the slowest listed type.
        """
        if self.tensor is None:
            return 0.0
        rates = self.tensor.flops_per_cycle_per_sm
        reference = rates.get("float16", min(rates.values()))
        return self.warp_size * reference / self.tensor.flops_per_mma

    @property
    def origin(self) -> str:
        """Where this chip came from, for messages: its file, or the preset/chip name."""
        return str(self.source) if self.source else f"chip '{self.name}'"

    @property
    def cc_string(self) -> str:
        """Compute capability as "8.0"."""
        return f"{self.compute_capability[0]}.{self.compute_capability[1]}"

    @property
    def clock_hz(self) -> float:
        """SM clock in Hz."""
        return self.clock_mhz * 1e6

    @property
    def dram_bytes_per_cycle(self) -> float:
        """Peak DRAM bandwidth in bytes per SM clock cycle (whole chip)."""
        return self.dram_bandwidth_gbps * 1e9 / self.clock_hz

    @property
    def peak_fp32_flops(self) -> float:
        """Peak FP32 FLOP/s (an FMA counts 2), the usual roofline ceiling."""
        return 2.0 * self.pipes["fp32"] * self.sm_count * self.clock_hz

    @property
    def tensor_shape(self) -> tuple[int, int, int] | None:
        """(m, n, k) of one tensor-engine MMA, or None when the chip has no tensor engine."""
        return None if self.tensor is None else self.tensor.shape

    @property
    def tensor_dtypes(self) -> tuple[str, ...]:
        """Input types the tensor engine accepts (empty without a tensor engine)."""
        return () if self.tensor is None else self.tensor.dtypes

    @property
    def tensor_flops_per_cycle_per_sm(self) -> Mapping[str, float]:
        """Dense tensor FLOPs per cycle per SM by input type (empty without a tensor engine)."""
        return FrozenMap() if self.tensor is None else self.tensor.flops_per_cycle_per_sm

    @property
    def has_l1(self) -> bool:
        """Whether global loads can hit in an L1 data cache."""
        return self.l1_bytes_per_sm > 0

    @property
    def has_l2(self) -> bool:
        """Whether the chip has an L2 cache (if not, all global traffic goes to DRAM)."""
        return self.l2_bytes > 0

    @property
    def has_tensor_engine(self) -> bool:
        """Whether the chip has a tensor engine."""
        return self.tensor is not None

    def supports(self, feature: str) -> bool:
        """Whether the real hardware has `feature` (a key of `FEATURES_MIN_CC`, or "tensor_cores").

        The emulator may still run such code on an older chip; this tells it (and students)
        what a real part of this compute capability could do.
        """
        if feature == "tensor_cores":
            return self.has_tensor_engine
        try:
            return self.compute_capability >= FEATURES_MIN_CC[feature]
        except KeyError:
            known = ", ".join([*FEATURES_MIN_CC, "tensor_cores"])
            raise ChipError(f"unknown feature {feature!r}; known features: {known}") from None

    def l1_bytes_for_shared(self, shared_bytes_per_sm: int) -> int:
        """L1 data cache left when resident blocks need `shared_bytes_per_sm` of shared memory.

        On unified L1/shared designs the driver picks the smallest carveout that fits (CUDA C++
        Programming Guide, "Shared Memory" for cc 8.x/9.x); the rest of the storage is L1.
        """
        if shared_bytes_per_sm > self.shared_mem_per_sm:
            raise ChipError(
                f"{shared_bytes_per_sm} bytes of shared memory do not fit in one SM of chip "
                f"'{self.name}' ({self.shared_mem_per_sm} bytes)"
            )
        if self.l1_shared_unified_bytes_per_sm == 0:
            return self.l1_bytes_per_sm
        for kib in self.shared_carveouts_kib:
            if kib * 1024 >= shared_bytes_per_sm:
                return self.l1_shared_unified_bytes_per_sm - kib * 1024
        return self.l1_shared_unified_bytes_per_sm - self.shared_mem_per_sm

    def cycles_to_us(self, cycles: float) -> float:
        """Convert SM cycles to microseconds at this chip's clock."""
        return cycles / self.clock_mhz

    def summary(self) -> str:
        """One line for banners and reprs: "'teaching' (4 SMs, cc 8.0)"."""
        return f"'{self.name}' ({self.sm_count} SMs, cc {self.cc_string})"

    def __repr__(self) -> str:
        return f"<Chip {self.name!r}: {self.display_name}, cc {self.cc_string}, {self.sm_count} SMs>"


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")


def _is_pow2(v: int) -> bool:
    return v > 0 and v & (v - 1) == 0


def _err(chip: Chip, key: str, problem: str) -> ChipError:
    return ChipError(f"{chip.origin}: field '{key}': {problem}")


def _check_scalar(chip: Chip, spec: FieldSpec) -> None:
    value = getattr(chip, spec.attr)
    key = spec.key
    if spec.kind == "str":
        if not isinstance(value, str):
            raise _err(chip, key, f"expected a string, got {value!r}")
        return
    if spec.kind == "choice":
        if value not in spec.choices:
            raise _err(chip, key, f"expected one of {', '.join(map(repr, spec.choices))}, got {value!r}")
        return
    if spec.kind in ("int2", "int3", "intlist"):
        items = value
        n = {"int2": 2, "int3": 3}.get(spec.kind)
        if n is not None and len(items) != n:
            raise _err(chip, key, f"expected {n} integers, got {list(items)!r}")
    else:
        items = (value,)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise _err(chip, key, f"expected a number, got {v!r}")
        if spec.kind != "num" and not isinstance(v, int):
            raise _err(chip, key, f"expected an integer, got {v!r}")
        if not math.isfinite(v) or v < 0:
            raise _err(chip, key, f"must not be negative, got {v!r}")
        if spec.positive and spec.kind not in ("int2", "intlist") and v == 0:
            raise _err(chip, key, "must be greater than 0")
        if spec.power_of_two and not _is_pow2(int(v)):
            raise _err(chip, key, f"must be a power of two, got {v}")


def _validate(chip: Chip) -> None:
    """Check every field and the rules between fields; raise ChipError naming the field."""
    for spec in SCHEMA:
        _check_scalar(chip, spec)

    if not _NAME_RE.match(chip.name):
        raise _err(chip, "name", f"must be lower-case letters, digits, '-' or '_' (start with a letter), "
                   f"got {chip.name!r}")
    if chip.compute_capability[0] < 1:
        raise _err(chip, "compute_capability", f"major version must be >= 1, got {chip.compute_capability}")
    if chip.warp_size != 32:
        raise _err(chip, "warp_size", f"the emulator (like CUDA) supports only 32, got {chip.warp_size}")

    def rule(ok: bool, key: str, problem: str) -> None:
        if not ok:
            raise _err(chip, key, problem)

    rule(chip.max_threads_per_block <= chip.max_threads_per_sm, "limits.max_threads_per_block",
         f"{chip.max_threads_per_block} exceeds limits.max_threads_per_sm ({chip.max_threads_per_sm})")
    rule(chip.max_threads_per_block % chip.warp_size == 0, "limits.max_threads_per_block",
         f"must be a multiple of warp_size ({chip.warp_size})")
    for axis, dim in zip("xyz", chip.max_block_dim):
        rule(dim <= chip.max_threads_per_block, "limits.max_block_dim",
             f"{axis} = {dim} exceeds limits.max_threads_per_block ({chip.max_threads_per_block})")
    rule(chip.max_warps_per_sm * chip.warp_size == chip.max_threads_per_sm, "limits.max_warps_per_sm",
         f"{chip.max_warps_per_sm} warps x {chip.warp_size} threads != limits.max_threads_per_sm "
         f"({chip.max_threads_per_sm})")
    rule(chip.max_registers_per_block <= chip.registers_per_sm, "registers.max_per_block",
         f"{chip.max_registers_per_block} exceeds registers.per_sm ({chip.registers_per_sm})")
    rule(chip.max_registers_per_thread <= chip.max_registers_per_block, "registers.max_per_thread",
         "exceeds registers.max_per_block")
    rule(chip.shared_mem_per_block <= chip.shared_mem_per_block_optin, "shared.per_block",
         f"{chip.shared_mem_per_block} exceeds shared.per_block_optin ({chip.shared_mem_per_block_optin})")
    rule(chip.shared_mem_per_block_optin + chip.reserved_shared_per_block <= chip.shared_mem_per_sm,
         "shared.per_block_optin",
         f"{chip.shared_mem_per_block_optin} + shared.reserved_per_block ({chip.reserved_shared_per_block}) "
         f"exceeds shared.per_sm ({chip.shared_mem_per_sm})")
    rule(chip.shared_mem_per_sm % chip.shared_alloc_unit == 0, "shared.per_sm",
         f"must be a multiple of shared.alloc_unit ({chip.shared_alloc_unit})")
    rule(chip.warp_size % chip.shared_phase_threads == 0, "shared.phase_threads",
         f"must divide warp_size ({chip.warp_size})")
    rule(chip.warp_size % chip.global_phase_threads == 0, "global.phase_threads",
         f"must divide warp_size ({chip.warp_size})")
    rule(chip.cache_line_bytes % chip.sector_bytes == 0, "cache.sector_bytes",
         f"must divide cache.line_bytes ({chip.cache_line_bytes})")

    # Unified L1/shared storage and its carveouts.
    unified = chip.l1_shared_unified_bytes_per_sm
    carve = chip.shared_carveouts_kib
    if unified:
        rule(bool(carve), "cache.shared_carveouts_kib",
             "required when cache.l1_shared_unified_bytes_per_sm is not 0")
        rule(list(carve) == sorted(set(carve)), "cache.shared_carveouts_kib",
             f"must be strictly increasing, got {list(carve)}")
        rule(carve[-1] * 1024 == chip.shared_mem_per_sm, "cache.shared_carveouts_kib",
             f"largest carveout ({carve[-1]} KiB) must equal shared.per_sm ({chip.shared_mem_per_sm} bytes)")
        rule(chip.shared_mem_per_sm <= unified, "shared.per_sm",
             f"exceeds cache.l1_shared_unified_bytes_per_sm ({unified})")
        rule(chip.l1_bytes_per_sm == unified - carve[0] * 1024, "cache.l1_bytes_per_sm",
             f"must be cache.l1_shared_unified_bytes_per_sm minus the smallest carveout "
             f"({unified - carve[0] * 1024}), got {chip.l1_bytes_per_sm}")
    else:
        rule(not carve, "cache.shared_carveouts_kib",
             "only meaningful when cache.l1_shared_unified_bytes_per_sm is not 0")
    rule((chip.l2_bytes == 0) == (chip.l2_bandwidth_bytes_per_cycle == 0),
         "cache.l2_bandwidth_bytes_per_cycle", "must be 0 exactly when cache.l2_bytes is 0")

    # DRAM: the bandwidth must follow from clock and bus width (double data rate), within 2%.
    derived = 2 * chip.dram_clock_mhz * 1e6 * chip.dram_bus_width_bits / 8 / 1e9
    rule(abs(derived - chip.dram_bandwidth_gbps) <= 0.02 * chip.dram_bandwidth_gbps, "dram.bandwidth_gbps",
         f"{chip.dram_bandwidth_gbps} GB/s disagrees with 2 x dram.clock_mhz x dram.bus_width_bits / 8 "
         f"= {derived:.1f} GB/s")

    _check_table(chip, "pipes", chip.pipes, PIPES, PIPES_MAY_BE_ZERO)
    _check_table(chip, "latency", chip.latency, LATENCIES, LATENCIES_MAY_BE_ZERO)
    rule((chip.pipes["fp64"] == 0) == (chip.latency["fp64"] == 0), "latency.fp64",
         "must be 0 exactly when pipes.fp64 is 0 (no FP64 hardware)")
    rule((chip.latency["l1_hit"] == 0) == (chip.l1_bytes_per_sm == 0), "latency.l1_hit",
         "must be 0 exactly when cache.l1_bytes_per_sm is 0 (no L1)")
    rule((chip.latency["l2_hit"] == 0) == (chip.l2_bytes == 0), "latency.l2_hit",
         "must be 0 exactly when cache.l2_bytes is 0 (no L2)")
    rule((chip.latency["tensor"] == 0) == (chip.tensor is None), "latency.tensor",
         "must be 0 exactly when the chip has no [tensor] section")

    t = chip.tensor
    if t is not None:
        for axis in ("m", "n", "k"):
            v = getattr(t, axis)
            rule(isinstance(v, int) and not isinstance(v, bool) and v > 0, "tensor.shape",
                 f"{axis} must be a positive integer, got {v!r}")
        rule(len(t.flops_per_cycle_per_sm) > 0, "tensor.flops_per_cycle_per_sm",
             "must name at least one input type")
        for dtype, rate in t.flops_per_cycle_per_sm.items():
            rule(dtype in TENSOR_DTYPES, f"tensor.flops_per_cycle_per_sm.{dtype}",
                 f"unknown input type; known: {', '.join(TENSOR_DTYPES)}")
            rule(_is_number(rate) and rate > 0, f"tensor.flops_per_cycle_per_sm.{dtype}",
                 f"must be a positive number, got {rate!r}")
        rule(t.accumulator in ("float16", "float32", "float64", "int32"), "tensor.accumulator",
             f"expected float16, float32, float64 or int32, got {t.accumulator!r}")


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_table(chip: Chip, section: str, table: Mapping[str, float], required: Mapping[str, str],
                 may_be_zero: frozenset[str]) -> None:
    missing = [k for k in required if k not in table]
    if missing:
        raise _err(chip, f"{section}.{missing[0]}", f"missing ({required[missing[0]]})")
    for k, v in table.items():
        if k not in required:
            raise _err(chip, f"{section}.{k}", f"unknown key; known: {', '.join(required)}")
        if not _is_number(v) or v < 0:
            raise _err(chip, f"{section}.{k}", f"must be a non-negative number, got {v!r}")
        if v == 0 and k not in may_be_zero:
            raise _err(chip, f"{section}.{k}", "must be greater than 0")


def chip_fields() -> tuple[str, ...]:
    """Names of all `Chip` dataclass fields (handy for tests and tools)."""
    return tuple(f.name for f in fields(Chip))
