"""Every error of the emulator contract (section 4) names the kernel, the line, the threads and the fix."""

from __future__ import annotations

import numpy as np
import pytest

from simtlab.emulator import (
    ArgumentError,
    BarrierDivergenceError,
    KernelCompileError,
    KernelTypeError,
    KernelZeroDivisionError,
    LaunchConfigError,
    MisalignedAccessError,
    OutOfBoundsError,
    ReadOnlyError,
    WarpMaskError,
    WatchdogTimeout,
    cuda,
)

F = np.float32


def _raises(exc, launch):
    with pytest.raises(exc) as info:
        launch()
    return str(info.value)


def _has_location(msg: str, kernel: str, line_text: str) -> None:
    assert f"kernel '{kernel}'" in msg
    assert __file__ in msg, msg
    assert line_text in msg, msg


@cuda.jit
def unguarded(x, out):
    i = cuda.grid(1)
    out[i] = x[i] * 2


def test_out_of_bounds_names_kernel_line_thread_array_and_index():
    x = np.arange(1000, dtype=F)
    msg = _raises(OutOfBoundsError, lambda: unguarded[4, 256](x, np.zeros_like(x)))
    _has_location(msg, "unguarded", "out[i] = x[i] * 2")
    assert "'x' at [1000]" in msg
    assert "blockIdx=(3, 0, 0), threadIdx=(232, 0, 0)" in msg
    assert "24 threads" in msg
    assert "fix:" in msg and "guard" in msg


@cuda.jit
def negative(x):
    i = cuda.grid(1)
    x[i - 1] = 0


def test_negative_index_is_an_error_not_wraparound():
    x = np.ones(64, dtype=F)
    msg = _raises(OutOfBoundsError, lambda: negative[1, 64](x))
    _has_location(msg, "negative", "x[i - 1] = 0")
    assert "[-1]" in msg and "threadIdx=(0, 0, 0)" in msg and "negative" in msg.split("fix:")[1]
    assert (x == 1).all()      # nothing was written by the failing store


@cuda.jit
def oob2d(a):
    x, y = cuda.grid(2)
    a[y, x] = 1.0


def test_out_of_bounds_2d_reports_both_indices():
    a = np.zeros((10, 12), dtype=F)
    msg = _raises(OutOfBoundsError, lambda: oob2d[(2, 2), (8, 8)](a))
    assert "at [0, 12]" in msg and "threadIdx=(4, 0, 0)" in msg and "blockIdx=(1, 0, 0)" in msg


@cuda.jit
def shared_oob(out):
    s = cuda.shared.array(32, np.float32)
    t = cuda.threadIdx.x
    s[t + 1] = t
    cuda.syncthreads()
    out[t] = s[t]


def test_shared_memory_out_of_bounds():
    msg = _raises(OutOfBoundsError, lambda: shared_oob[1, 32](np.zeros(32, F)))
    assert "shared array 's'" in msg and "[32]" in msg and "threadIdx=(31, 0, 0)" in msg


def test_misaligned_device_array():
    raw = cuda.device_array(64, dtype=np.uint8)
    bad = raw[1:33].view(np.float32)
    msg = _raises(MisalignedAccessError, lambda: unguarded[1, 8](bad, cuda.device_array(8, F)))
    assert "'x'" in msg and "unguarded" in msg and "aligned" in msg


@pytest.mark.parametrize("grid,block,what", [
    (1, 2048, "2048 threads per block"),
    (1, (32, 32, 2), "2048 threads per block"),
    (1, (1, 1, 128), "blockDim.z = 128"),
    ((1, 70000), 32, "gridDim.y = 70000"),
    (0, 32, "must be positive"),
    ((1.5,), 32, "tuple of 1 to 3 ints"),
])
def test_launch_configuration_over_the_chips_limits(grid, block, what):
    x = np.zeros(8, F)
    msg = _raises(LaunchConfigError, lambda: unguarded[grid, block](x, x))
    assert what in msg and "unguarded" in msg


@cuda.jit
def big_shared(x):
    s = cuda.shared.array(20000, np.float32)
    s[0] = 1
    x[0] = s[0]


def test_launch_over_shared_memory_limits():
    x = np.zeros(4, F)
    msg = _raises(LaunchConfigError, lambda: big_shared[1, 32](x))
    assert "80000 bytes" in msg and "big_shared" in msg
    msg = _raises(LaunchConfigError, lambda: unguarded[1, 32, 0, 400_000](x, x))
    assert "400000 bytes of dynamic" in msg


def test_launch_over_register_limit_with_max_registers():
    k = cuda.jit(max_registers=128)(unguarded.py_func)
    msg = _raises(LaunchConfigError, lambda: k[1, 1024](np.zeros(1024, F), np.zeros(1024, F)))
    assert "too many resources" in msg


def test_missing_launch_configuration():
    msg = _raises(LaunchConfigError, lambda: unguarded(np.zeros(4), np.zeros(4)))
    assert "unguarded[blocks, threads]" in msg


@cuda.jit
def diverged_barrier(x):
    i = cuda.grid(1)
    if i < 10:
        cuda.syncthreads()
    x[i] = 1


def test_barrier_divergence():
    msg = _raises(BarrierDivergenceError, lambda: diverged_barrier[1, 32](np.zeros(32, F)))
    _has_location(msg, "diverged_barrier", "cuda.syncthreads()")
    assert "10 of the 32 live threads" in msg and "threadIdx=(10, 0, 0)" in msg


@cuda.jit
def exit_then_barrier(x):
    i = cuda.grid(1)
    if i >= 10:
        return
    cuda.syncthreads()
    x[i] = 1


def test_exited_threads_do_not_count_at_a_barrier():
    x = np.zeros(32, F)
    exit_then_barrier[1, 32](x)
    assert x[:10].sum() == 10 and x[10:].sum() == 0


@cuda.jit
def partial_shuffle(x):
    i = cuda.grid(1)
    if i < 10:
        x[i] = cuda.shfl_down_sync(0xFFFFFFFF, x[i], 1)


def test_warp_intrinsic_mask_names_inactive_lanes():
    msg = _raises(WarpMaskError, lambda: partial_shuffle[1, 32](np.zeros(32, F)))
    _has_location(msg, "partial_shuffle", "shfl_down_sync")
    assert "lanes 10, 11" in msg and "activemask" in msg


@cuda.jit
def uses_list(x):
    v = [1, 2, 3]
    x[0] = v[0]


@cuda.jit
def calls_python(x):
    x[0] = np.sum(x)


@cuda.jit
def dynamic_shape(x, n):
    s = cuda.shared.array(n, np.float32)
    s[0] = 1


@pytest.mark.parametrize("kernel,needle,line", [
    (uses_list, "lists are not supported", "v = [1, 2, 3]"),
    (calls_python, "cannot run on the GPU", "x[0] = np.sum(x)"),
    (dynamic_shape, "compile-time constant", "cuda.shared.array(n, np.float32)"),
])
def test_unsupported_constructs_are_rejected_at_compile_time(kernel, needle, line):
    msg = _raises(KernelCompileError, lambda: kernel[1, 1](np.zeros(4, F), 3) if kernel is dynamic_shape
                  else kernel[1, 1](np.zeros(4, F)))
    _has_location(msg, kernel.__name__, line)
    assert needle in msg


@cuda.jit
def float_index(x):
    i = cuda.grid(1)
    x[i * 0.5] = 1


def test_float_index_is_a_type_error():
    msg = _raises(KernelTypeError, lambda: float_index[1, 8](np.zeros(8, F)))
    _has_location(msg, "float_index", "x[i * 0.5] = 1")
    assert "float64" in msg and "int(" in msg


@cuda.jit
def divide(x):
    i = cuda.grid(1)
    if i < x.size:
        x[i] = 100 // (i - 5)


def test_integer_division_by_zero():
    x = np.zeros(10, np.int64)
    msg = _raises(KernelZeroDivisionError, lambda: divide[1, 32](x))
    _has_location(msg, "divide", "100 // (i - 5)")
    assert "threadIdx=(5, 0, 0)" in msg


@cuda.jit
def guarded_divide(x):
    i = cuda.grid(1)
    if i < x.size and i != 5:
        x[i] = 100 // (i - 5)


def test_guarded_division_by_zero_is_fine():
    x = np.zeros(10, np.int64)
    guarded_divide[1, 32](x)
    expect = np.array([100 // (i - 5) if i != 5 else 0 for i in range(10)])
    assert (x == expect).all()


@cuda.jit
def spins(x):
    i = cuda.grid(1)
    while i < 10:
        x[0] = 1


def test_watchdog_stops_an_infinite_loop_with_its_line():
    cuda.set_watchdog(steps=500)
    try:
        msg = _raises(WatchdogTimeout, lambda: spins[1, 32](np.zeros(4, F)))
    finally:
        cuda.set_watchdog(steps=1_000_000)
    _has_location(msg, "spins", "while i < 10:")
    assert "500 loop iterations" in msg and "10 threads" in msg


def test_watchdog_time_budget():
    cuda.set_watchdog(seconds=0.2)
    try:
        msg = _raises(WatchdogTimeout, lambda: spins[1, 32](np.zeros(4, F)))
    finally:
        cuda.set_watchdog(seconds=20)
    assert "time budget of 0.2 s" in msg


@pytest.mark.parametrize("ary,needle", [
    (np.zeros(8, dtype=object), "dtype object"),
    (np.zeros(16, dtype=F)[::2], "not contiguous"),
    (np.zeros(8, dtype=">f4"), "byte order"),
    (np.zeros(8, dtype=[("a", "f4")]), "cannot use"),
])
def test_host_arrays_of_unsupported_dtype_or_layout(ary, needle):
    msg = _raises(ArgumentError, lambda: unguarded[1, 8](ary, np.zeros(8, F)))
    assert needle in msg and "'x'" in msg and "unguarded" in msg


def test_wrong_argument_count_and_type():
    msg = _raises(ArgumentError, lambda: unguarded[1, 8](np.zeros(8, F)))
    assert "takes 2 argument(s)" in msg
    msg = _raises(ArgumentError, lambda: unguarded[1, 8]([1, 2], np.zeros(8, F)))
    assert "type list" in msg


CONST = np.arange(8, dtype=F)


@cuda.jit
def writes_const(x):
    c = cuda.const.array_like(CONST)
    c[0] = 1.0


def test_store_to_constant_memory():
    msg = _raises(ReadOnlyError, lambda: writes_const[1, 1](np.zeros(1, F)))
    assert "constant" in msg or "const" in msg


def test_host_calls_of_kernel_api_explain_themselves():
    with pytest.raises(Exception, match="inside a @cuda.jit kernel"):
        cuda.syncthreads()


def test_no_engine_frames_in_traceback():
    x = np.arange(10, dtype=F)
    try:
        unguarded[1, 32](x, np.zeros_like(x))
    except OutOfBoundsError as exc:
        tb = exc.__traceback__
        frames = []
        while tb is not None:
            frames.append(tb.tb_frame.f_code.co_filename)
            tb = tb.tb_next
        assert not any("runtime.py" in f or "memory.py" in f or "<simtlab" in f for f in frames), frames
    else:
        raise AssertionError("expected an error")
