"""``cuda.compile_check`` on a set of kernels: verdicts and resource figures, compared with the machine's ptxas.

Two assemblers see the same PTX: nvJitLink (the wheel numba-cuda itself links with, the default) and, where the
machine has the CUDA toolkit, its ``ptxas``. For each kernel and architecture:

* ``compile_check(..., linker="ptxas")`` reads registers from the cubin's ELF attributes; they must equal what
  ``ptxas -v`` prints for the same PTX when run here directly (an independent reading of the same tool);
* barriers, static shared memory, spills and the stack frame must be the same for both assemblers;
* registers of the two assemblers must be equal when they are the same CUDA release; releases differ in
  register allocation (e.g. ptxas 13.0 and nvJitLink 13.5 give 10 and 24 for one warp-shuffle kernel on sm_80),
  so across releases both must fall in the kernel's expected range and rank the kernels alike.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from simtlab.emulator import cuda
from simtlab.emulator.toolchain import CompileResult
from simtlab.emulator.toolchain._link import find_tool, tool_version
from simtlab.emulator.toolchain._ptx import ptx_version, with_version

from .kernels import COMPILING, many_live_capped

pytestmark = pytest.mark.usefixtures("toolchain")

CHIPS = ("h100", "a100")


def _ptxas_direct(result: CompileResult, ptxas: str) -> dict[str, int]:
    """Run ``ptxas -v`` on the result's PTX ourselves and read its report (not simtlab's parser)."""
    ptx = result.ptx
    proc = subprocess.run([ptxas, f"-arch={result.arch}", "-v", "-", "-o", "/dev/null"], input=ptx,
                          capture_output=True, text=True, timeout=120)
    m = re.search(r"current version is '(\d+)\.(\d+)'", proc.stderr)
    if proc.returncode != 0 and m:   # NVVM writes a newer PTX ISA than an older ptxas knows
        ptx = with_version(ptx, (int(m.group(1)), int(m.group(2))))
        proc = subprocess.run([ptxas, f"-arch={result.arch}", "-v", "-", "-o", "/dev/null"], input=ptx,
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    used = re.search(r"Used (\d+) registers, used (\d+) barriers(?:, (\d+) bytes smem)?", proc.stderr)
    spill = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", proc.stderr)
    assert used and spill, proc.stderr
    return {"registers": int(used.group(1)), "barriers": int(used.group(2)), "smem": int(used.group(3) or 0),
            "stack": int(spill.group(1)), "spill_stores": int(spill.group(2)), "spill_loads": int(spill.group(3))}


@pytest.fixture(scope="module")
def results(toolchain) -> dict[tuple[str, str], CompileResult]:
    out = {}
    for name, (kernel, args, *_rest) in COMPILING.items():
        for chip in CHIPS:
            out[name, chip] = cuda.compile_check(kernel, *args(), chip=chip, sass=False)
    return out


@pytest.mark.parametrize("name", list(COMPILING))
def test_kernel_compiles_with_expected_resources(name, results):
    _kernel, _args, shared, barriers, dynamic, (low, high) = COMPILING[name]
    for chip, arch in zip(CHIPS, ("sm_90", "sm_80")):
        r = results[name, chip]
        assert r.compiles, str(r)
        assert r.arch == arch and r.chip == chip
        assert r.static_shared == shared and r.barriers == barriers and r.dynamic_shared is dynamic
        assert low <= r.registers <= high, f"{name} on {arch}: {r.registers} registers"
        assert r.spills == 0
        assert r.ptx.lstrip().startswith("//") and f".target {arch}" in r.ptx
        assert r.tools["assembler"].startswith("nvJitLink") and r.register_source.endswith(f"for {arch}")
        # every Python line that does work maps to PTX instructions of the kernel's own file
        assert r.lines_for(r.firstline + 1) or any(r.lines_for(r.firstline + k) for k in range(1, 4))


def test_local_arrays_live_in_the_stack_frame(results):
    r = results["local_window", "h100"]
    assert r.stack_frame == 64 * 8                     # cuda.local.array(64, float64)
    assert results["axpy", "h100"].stack_frame == 0


def test_register_hungry_kernels_need_more_registers_on_every_assembler(results):
    for chip in CHIPS:
        regs = {name: results[name, chip].registers for name in COMPILING}
        assert regs["many_live"] > regs["axpy"] and regs["local_window"] > regs["matmul_tiled"] > regs["clamp_all"]


def test_max_registers_caps_the_count_and_spills():
    r = cuda.compile_check(many_live_capped, np.ones((100, 8)), np.zeros(1000), chip="h100")
    assert r.compiles and r.registers <= 32
    assert r.spill_stores > 0 and r.spill_loads > 0 and r.stack_frame > 0


@pytest.mark.parametrize("chip", CHIPS)
@pytest.mark.parametrize("name", list(COMPILING))
def test_figures_match_the_machines_ptxas(name, chip, results):
    ptxas = find_tool("ptxas")
    if ptxas is None:
        pytest.skip("this machine has no ptxas (the CUDA toolkit) to compare with")
    kernel, args, *_rest = COMPILING[name]
    ours = cuda.compile_check(kernel, *args(), chip=chip, linker="ptxas", sass=False)
    direct = _ptxas_direct(ours, ptxas)
    assert ours.compiles and ours.tools["assembler"].startswith("ptxas")
    assert ours.registers == direct["registers"]          # ELF attribute == ptxas' own report
    assert ours.barriers == direct["barriers"]
    assert (ours.spill_stores, ours.spill_loads, ours.stack_frame) == (
        direct["spill_stores"], direct["spill_loads"], direct["stack"])
    if direct["smem"]:
        assert ours.static_shared == direct["smem"]
    default = results[name, chip]
    assert (default.barriers, default.static_shared, default.spills, default.stack_frame) == (
        ours.barriers, ours.static_shared, ours.spills, ours.stack_frame)
    _k, _a, _s, _b, _d, (low, high) = COMPILING[name]
    same_release = tool_version(ptxas) == tuple(int(v) for v in default.tools["assembler"].split()[-1].split("."))
    if same_release:
        assert default.registers == ours.registers
    else:
        assert low <= ours.registers <= high and low <= default.registers <= high


def test_older_ptxas_gets_the_ptx_isa_it_knows():
    ptxas = find_tool("ptxas")
    if ptxas is None:
        pytest.skip("this machine has no ptxas (the CUDA toolkit) to compare with")
    kernel, args, *_rest = COMPILING["axpy"]
    r = cuda.compile_check(kernel, *args(), chip="h100", linker="ptxas", sass=False)
    nvvm_isa = ptx_version(r.ptx)
    if any("declared as" in n for n in r.notes):
        assert nvvm_isa is not None and f"PTX ISA {nvvm_isa[0]}.{nvvm_isa[1]}" in r.notes[0]
    assert r.compiles


def test_results_are_cached_per_kernel_types_and_target(results):
    kernel, args, *_rest = COMPILING["axpy"]
    again = cuda.compile_check(kernel, *args(), chip="h100")
    assert again is results["axpy", "h100"]
    other = cuda.compile_check(kernel, "void(float32, float64[:], float64[:], float64[:])", chip="h100")
    assert other is not again and other.signature.count("float64") == 3


def test_argument_types_come_from_the_last_launch_or_a_signature():
    kernel, args, *_rest = COMPILING["clamp_all"]
    a = args()
    kernel[4, 256](*a)
    r = cuda.compile_check(kernel, chip="a100")             # the last launch's argument types
    assert r.compiles and r.signature == "(array(float32, 1d, C), float32, float32)"
    s = cuda.compile_check(kernel, "void(float64[:], float64, float64)", chip="a100")
    assert s.compiles and s.signature == "(array(float64, 1d, A), float64, float64)"


def test_sass_maps_instructions_to_python_lines(results):
    kernel, args, *_rest = COMPILING["matmul_tiled"]
    r = cuda.compile_check(kernel, *args(), chip="h100")           # the cached result, now disassembled too
    assert r is results["matmul_tiled", "h100"]
    if find_tool("nvdisasm") is None:
        assert r.sass is None and "nvdisasm" in r.sass_note
        pytest.skip("nvdisasm is not installed (nvidia-cuda-nvdisasm wheel or CUDA toolkit)")
    assert r.sass and len(r.sass_lines) == len(r.sass.splitlines())
    text = r.source
    loop = next(r.firstline + i for i, s in enumerate(text) if "acc += sA[ty, j] * sB[j, tx]" in s)
    sync = next(r.firstline + i for i, s in enumerate(text) if "cuda.syncthreads()" in s)
    sass_lines = r.sass.splitlines()
    assert any("FFMA" in sass_lines[i] for i in r.lines_for(loop, "sass"))      # the inner product: fused mul-add
    assert any("BAR" in sass_lines[i] for i in r.lines_for(sync, "sass"))       # the barrier
    ptx_lines = r.ptx.splitlines()
    assert any("fma.rn.f32" in ptx_lines[i] for i in r.lines_for(loop))
    assert any("bar.sync" in ptx_lines[i] for i in r.lines_for(sync))
