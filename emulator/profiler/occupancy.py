"""Theoretical occupancy, computed the way the CUDA occupancy calculator computes it.

Source: the CUDA toolkit's ``cuda_occupancy.h`` (``cudaOccMaxBlocksPerSMWarpsLimit``,
``...RegsLimit``, ``...SmemLimit``) and the CUDA C++ Best Practices Guide, "Occupancy". Per SM,
the resident blocks are the minimum of four limits:

- warps: ``max_warps_per_sm // warps_per_block`` (a partial warp still occupies a whole warp);
- blocks: ``max_blocks_per_sm``;
- registers, per-warp allocation (compute capability 2.0 and newer): each warp gets
  ``ceil(registers_per_thread * warp_size / alloc_unit) * alloc_unit`` registers; the register file
  is split evenly over the SM's sub-partitions (one per scheduler), a warp lives in one of them,
  so ``warps = (registers_per_sm / sub_partitions // registers_per_warp) * sub_partitions`` and
  ``blocks = warps // warps_per_block``. Per-block allocation (cc 1.x): a block takes
  ``ceil(ceil(warps, warp_alloc_granularity) * warp_size * registers, alloc_unit)`` registers;
- shared memory: ``(static + dynamic + reserved_per_block)`` rounded up to the allocation unit
  (128 bytes on cc >= 7.0; 1 KB is reserved per block on cc >= 8.0), against the SM's shared
  memory at the largest carveout.

Occupancy = resident warps / max warps per SM. The limiter is whichever limit binds (several may
tie). Waves per SM = blocks in the grid / (resident blocks per SM x SMs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

LIMIT_LABELS = {"warps": "warps per SM", "blocks": "blocks per SM", "registers": "registers",
                "shared": "shared memory"}


@dataclass
class Occupancy:
    """The occupancy calculator's answer for one launch configuration on one chip."""

    threads_per_block: int
    warps_per_block: int
    registers_per_thread: int
    shared_bytes_per_block: int          # as requested (static + dynamic)
    shared_alloc_per_block: int          # as allocated (reserved part and granularity included)
    limits: dict[str, int] = field(default_factory=dict)  # blocks per SM allowed by each resource
    blocks_per_sm: int = 0
    active_warps_per_sm: int = 0
    max_warps_per_sm: int = 0
    occupancy: float = 0.0               # fraction 0..1
    limiter: tuple[str, ...] = ()
    waves_per_sm: float = 0.0
    registers_per_warp: int = 0

    @property
    def percent(self) -> float:
        """Theoretical occupancy in percent."""
        return 100.0 * self.occupancy

    def explain(self) -> str:
        """One sentence: occupancy, resident blocks, and what limits them."""
        lim = " and ".join(LIMIT_LABELS[k] for k in self.limiter) or "nothing"
        return (f"{self.percent:.1f}% theoretical occupancy: {self.blocks_per_sm} block(s) of {self.warps_per_block} "
                f"warp(s) = {self.active_warps_per_sm} of {self.max_warps_per_sm} warps per SM, limited by {lim}")

    def to_dict(self) -> dict:
        """JSON-able form."""
        d = asdict(self)
        d["limiter"] = list(self.limiter)
        d["percent"] = self.percent
        return d


def _round_up(x: int, unit: int) -> int:
    return -(-x // unit) * unit if unit > 0 else x


def registers_blocks_limit(chip, registers: int, warps_per_block: int) -> tuple[int, int]:
    """(blocks per SM allowed by the register file, registers allocated per warp)."""
    if registers <= 0:
        return chip.max_blocks_per_sm, 0
    if registers > chip.max_registers_per_thread:
        return 0, 0
    ws = chip.warp_size
    if chip.register_alloc_granularity == "block":
        warps = _round_up(warps_per_block, chip.warp_alloc_granularity)
        per_block = _round_up(warps * ws * registers, chip.register_alloc_unit)
        return (chip.registers_per_sm // per_block if per_block else chip.max_blocks_per_sm), per_block // max(warps, 1)
    per_warp = _round_up(registers * ws, chip.register_alloc_unit)
    parts = max(1, int(chip.schedulers_per_sm))
    warps_per_part = (chip.registers_per_sm // parts) // per_warp
    if per_warp * warps_per_block > chip.max_registers_per_block:
        return 0, per_warp
    return (warps_per_part * parts) // warps_per_block, per_warp


def occupancy(chip, threads_per_block: int, registers_per_thread: int, shared_bytes_per_block: int = 0,
              nblocks: int | None = None) -> Occupancy:
    """Theoretical occupancy of blocks of `threads_per_block` threads using `registers_per_thread`
    registers and `shared_bytes_per_block` bytes of shared memory (static + dynamic) on `chip`."""
    ws = chip.warp_size
    wpb = max(1, -(-int(threads_per_block) // ws))
    limits: dict[str, int] = {}
    limits["warps"] = min(chip.max_warps_per_sm // wpb, chip.max_threads_per_sm // max(1, threads_per_block))
    limits["blocks"] = int(chip.max_blocks_per_sm)
    limits["registers"], per_warp = registers_blocks_limit(chip, int(registers_per_thread), wpb)
    alloc = _round_up(int(shared_bytes_per_block) + int(chip.reserved_shared_per_block), chip.shared_alloc_unit)
    limits["shared"] = chip.shared_mem_per_sm // alloc if alloc > 0 else chip.max_blocks_per_sm
    blocks = max(0, min(limits.values()))
    limiter = tuple(k for k in ("warps", "blocks", "registers", "shared") if limits[k] == blocks)
    active = blocks * wpb
    occ = active / chip.max_warps_per_sm if chip.max_warps_per_sm else 0.0
    waves = 0.0
    if nblocks is not None and blocks > 0:
        waves = nblocks / (blocks * chip.sm_count)
    return Occupancy(threads_per_block=int(threads_per_block), warps_per_block=wpb,
                     registers_per_thread=int(registers_per_thread), shared_bytes_per_block=int(shared_bytes_per_block),
                     shared_alloc_per_block=alloc, limits=limits, blocks_per_sm=blocks, active_warps_per_sm=active,
                     max_warps_per_sm=chip.max_warps_per_sm, occupancy=occ, limiter=limiter, waves_per_sm=waves,
                     registers_per_warp=per_warp)


def waves(nblocks: int, blocks_per_sm: int, sm_count: int) -> int:
    """Whole waves needed to run `nblocks` blocks (the last may be partial)."""
    return math.ceil(nblocks / max(1, blocks_per_sm * sm_count))
