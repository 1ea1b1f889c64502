"""The observer interface reports every memory instruction and statement, and costs nothing when unused."""

from __future__ import annotations

import numpy as np

from simtlab.emulator import Observer, cuda, observing

F = np.float32


class Recorder(Observer):
    def __init__(self, statements: bool = False) -> None:
        self.wants_statements = statements
        self.mem, self.stmts, self.branches, self.barriers, self.launches = [], [], [], [], []

    def launch_begin(self, launch):
        self.launches.append(launch)

    def memory(self, ev):
        self.mem.append(ev)

    def statement(self, ev):
        self.stmts.append(ev)

    def branch(self, ev):
        self.branches.append(ev)

    def barrier(self, ev):
        self.barriers.append(ev)


@cuda.jit
def scale(x, out):
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * 2


def test_memory_events_carry_lines_lanes_and_byte_addresses():
    x = cuda.to_device(np.arange(100, dtype=F))
    out = cuda.device_array(100, F)
    rec = Recorder()
    with observing(rec):
        scale[2, 64](x, out)
    assert len(rec.launches) == 1 and rec.launches[0].grid == (2, 1, 1)
    loads = [e for e in rec.mem if e.kind == "load"]
    stores = [e for e in rec.mem if e.kind == "store"]
    assert len(loads) == 1 and len(stores) == 1
    ld = loads[0]
    assert ld.array == "x" and ld.space == "global" and ld.itemsize == 4
    assert ld.line == scale.py_func.__code__.co_firstlineno + 4
    act = ld.active.reshape(-1)
    assert act.sum() == 100 and not act[100:].any()
    addr = ld.addresses.reshape(-1)[act]
    assert (addr == x.address + 4 * np.arange(100)).all()
    assert (stores[0].addresses.reshape(-1)[act] == out.address + 4 * np.arange(100)).all()
    # 64-thread blocks -> 2 warps each; the last warp of block 1 has 4 active lanes
    assert ld.active_per_warp().tolist() == [[32, 32], [32, 4]]
    assert (out.copy_to_host() == np.arange(100) * 2).all()


@cuda.jit
def tile(x, out):
    s = cuda.shared.array((4, 8), np.float32)
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    s[ty, tx] = x[ty, tx]
    cuda.syncthreads()
    out[ty, tx] = s[tx % 4, ty]


def test_shared_memory_addresses_are_block_window_offsets_and_barriers_are_reported():
    x = np.arange(32, dtype=F).reshape(4, 8)
    out = np.zeros((4, 8), F)
    rec = Recorder()
    with observing(rec):
        tile[3, (8, 4)](x, out)
    sh = [e for e in rec.mem if e.space == "shared"]
    assert [e.kind for e in sh] == ["store", "load"]
    offs = sh[0].byte_offsets            # (blocks, threads): the same window offsets in every block
    assert offs.shape == (3, 32) and (offs == np.arange(32) * 4).all()
    ty, tx = np.divmod(np.arange(32), 8)
    assert (sh[1].byte_offsets[1] == ((tx % 4) * 8 + ty) * 4).all()
    assert len(rec.barriers) == 1 and rec.barriers[0].kind == "block"


@cuda.jit
def branchy(x):
    i = cuda.grid(1)
    if i % 2 == 0:
        x[i] = 1
    else:
        x[i] = 2


def test_statement_and_branch_events_only_when_asked():
    x = np.zeros(64, F)
    quiet, loud = Recorder(False), Recorder(True)
    with observing(quiet):
        branchy[1, 64](x)
    assert quiet.stmts == [] and quiet.branches == []
    with observing(loud):
        branchy[1, 64](x)
    lines = [e.line for e in loud.stmts]
    first = branchy.py_func.__code__.co_firstlineno
    assert first + 2 in lines and first + 4 in lines and first + 6 in lines
    br = loud.branches[0]
    assert br.line == first + 3
    taken = np.broadcast_to(br.taken, br.sp.shape).reshape(-1)
    assert taken.sum() == 32
    then_stmt = [e for e in loud.stmts if e.line == first + 4][0]
    assert then_stmt.active_per_warp().tolist() == [[16, 16]]
    assert (x[::2] == 1).all() and (x[1::2] == 2).all()


def test_no_observer_means_no_instrumented_code():
    x = np.zeros(64, F)
    branchy[1, 64](x)
    src = branchy.compiled((), False).source
    assert "stmt_event" not in src and "branch_event" not in src
    assert "stmt_event" in branchy.compiled((), True).source


class Values(Observer):
    wants_statements = True

    def __init__(self):
        self.seen = {}

    def launch_begin(self, launch):
        launch.only_blocks = [1]

    def statement(self, ev):
        self.seen[ev.line] = ev.variables()


@cuda.jit
def squares(x, out):
    i = cuda.grid(1)
    v = x[i] * x[i]
    out[i] = v


def test_statement_variables_and_single_block_replay():
    x = np.arange(64, dtype=F)
    out = np.zeros(64, F)
    obs = Values()
    with observing(obs):
        squares[2, 32](x, out)
    first = squares.py_func.__code__.co_firstlineno
    after_v = obs.seen[first + 3]
    assert after_v["i"].shape == (1, 32) and (after_v["i"][0] == np.arange(32, 64)).all()   # only block 1 ran
    assert (after_v["v"][0] == np.arange(32, 64) ** 2).all()
    assert (out == 0).all()          # a replay of chosen blocks does not write results back
