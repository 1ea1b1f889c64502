"""A simulated class for the grader demo lab: who wrote what, and the score each must get.

Each student starts from the released notebook (what students download) and fills in the answer
cells (by grade id) or adds cells of their own. The demo lab has 9 points: scale_add 1 + 2 (hidden),
block_sum 3, matadd 3 (1 for the values, 2 for coalesced accesses and time). The attack students
use the real paths of the test course, as a student on a shared JupyterHub could guess them.
"""

from __future__ import annotations

import copy
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

LAB = "_grader_demo"
REPO = Path(__file__).resolve().parents[2]


def make_course(dest: Path) -> Path:
    """A course folder with the real course configuration and only the grader demo lab."""
    course = dest / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "labs" / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(REPO / "labs" / "source" / LAB, course / "source" / LAB)
    return course

SCALE_OK = """@cuda.jit
def scale_add(a, x, y, out):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a * x[i] + y[i]"""
SCALE_STRIDE = """@cuda.jit
def scale_add(a, x, y, out):
    start = cuda.grid(1)
    step = cuda.gridsize(1)
    for i in range(start, out.size, step):
        out[i] = a * x[i] + y[i]"""
SCALE_WRONG = SCALE_OK.replace("a * x[i] + y[i]", "a * x[i] - y[i]")
SCALE_TAIL = SCALE_OK.replace("if i < out.size:", "if i < out.size - 1:")
SCALE_NOGUARD = """@cuda.jit
def scale_add(a, x, y, out):
    i = cuda.grid(1)
    out[i] = a * x[i] + y[i]"""

BLOCK_OK = """@cuda.jit
def block_sum(x, partial):
    tile = cuda.shared.array(128, np.float32)
    t = cuda.threadIdx.x
    i = cuda.blockIdx.x * cuda.blockDim.x + t
    if i < x.size:
        tile[t] = x[i]
    else:
        tile[t] = 0.0
    cuda.syncthreads()
    s = 64
    while s > 0:
        if t < s:
            tile[t] += tile[t + s]
        cuda.syncthreads()
        s //= 2
    if t == 0:
        partial[cuda.blockIdx.x] = tile[0]"""
# right answer under lockstep execution, a race on a GPU: no barrier between the tree's steps
BLOCK_RACY = BLOCK_OK.replace("""        cuda.syncthreads()
        s //= 2""", """        s //= 2""")
BLOCK_WRONG = BLOCK_OK.replace("s = 64", "s = 32")
BLOCK_SPIN = BLOCK_OK.replace("s //= 2", "s //= 1")          # never ends: the emulator's watchdog stops it

MATADD_OK = """@cuda.jit
def matadd(a, b, out):
    col, row = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        out[row, col] = a[row, col] + b[row, col]


def launch_matadd(a, b, out):
    threads = (32, 8)
    blocks = ((out.shape[1] + 31) // 32, (out.shape[0] + 7) // 8)
    matadd[blocks, threads](a, b, out)"""
# right values, but threadIdx.x runs down the columns: 32 sectors per request
MATADD_SLOW = """@cuda.jit
def matadd(a, b, out):
    row, col = cuda.grid(2)
    if row < out.shape[0] and col < out.shape[1]:
        out[row, col] = a[row, col] + b[row, col]


def launch_matadd(a, b, out):
    threads = (32, 8)
    blocks = ((out.shape[0] + 31) // 32, (out.shape[1] + 7) // 8)
    matadd[blocks, threads](a, b, out)"""
MATADD_WRONG = MATADD_OK.replace("a[row, col] + b[row, col]", "a[row, col] - b[row, col]")

ANSWERS_OK = {"scale_add_answer": SCALE_OK, "block_sum_answer": BLOCK_OK, "matadd_answer": MATADD_OK}


@dataclass
class Student:
    """One simulated submission."""

    name: str
    answers: dict[str, str] = field(default_factory=dict)     # grade id -> source of the answer cell
    extra: dict[str, str] = field(default_factory=dict)       # grade id -> source of a cell added after it
    score: float = 9.0
    status: str = "ok"
    cells: dict[str, float] = field(default_factory=dict)     # expected per grade cell (where it matters)
    notebook_name: str = "demo.ipynb"
    raw: bytes | None = None                                 # file content instead of a notebook
    tamper: bool = False
    feedback_must_contain: list[str] = field(default_factory=list)


def _students(course: Path, subs: Path) -> list[Student]:
    src = course / "source" / LAB / "demo.ipynb"
    gb = course / "gradebook.db"
    other = subs / "s01_correct" / "demo.ipynb"
    ok = dict(ANSWERS_OK)
    return [
        Student("s01_correct", ok),
        Student("s02_correct_stride", {**ok, "scale_add_answer": SCALE_STRIDE}),
        Student("s03_correct_comments", {k: "# my answer\n" + v + "\n# done" for k, v in ok.items()}),
        Student("s04_correct_lms_name", ok, notebook_name="demo-1.ipynb"),
        Student("s05_correct_noisy_stderr", {**ok, "scale_add_answer": SCALE_OK + "\nimport sys\n"
                                             "print('debug: defined scale_add', file=sys.stderr)"}),
        Student("s06_wrong_scale", {**ok, "scale_add_answer": SCALE_WRONG}, score=6,
                cells={"scale_add_visible": 0, "scale_add_hidden": 0},
                feedback_must_contain=["elements differ", "what to look at"]),
        Student("s07_wrong_block", {**ok, "block_sum_answer": BLOCK_WRONG}, score=6, cells={"block_sum_tests": 0}),
        Student("s08_wrong_matadd", {**ok, "matadd_answer": MATADD_WRONG}, score=6, cells={"matadd_tests": 0}),
        Student("s09_all_wrong", {"scale_add_answer": SCALE_WRONG, "block_sum_answer": BLOCK_WRONG,
                                  "matadd_answer": MATADD_WRONG}, score=0),
        Student("s10_partial_slow_matadd", {**ok, "matadd_answer": MATADD_SLOW}, score=7, cells={"matadd_tests": 1},
                feedback_must_contain=["sectors per request"]),
        Student("s11_partial_tail", {**ok, "scale_add_answer": SCALE_TAIL}, score=6,
                cells={"scale_add_visible": 0, "scale_add_hidden": 0}, feedback_must_contain=["never written"]),
        Student("s12_no_guard", {**ok, "scale_add_answer": SCALE_NOGUARD}, score=6,
                cells={"scale_add_visible": 0, "scale_add_hidden": 0}, feedback_must_contain=["OutOfBoundsError"]),
        Student("s13_racy", {**ok, "block_sum_answer": BLOCK_RACY}, score=6, cells={"block_sum_tests": 0},
                feedback_must_contain=["racecheck", "lockstep"]),
        Student("s14_python_infinite_loop", {**ok, "matadd_answer": "while True:\n    pass\n" + MATADD_OK}, score=6,
                cells={"matadd_tests": 0}, feedback_must_contain=["CellTimeoutError"]),
        Student("s15_kernel_infinite_loop", {**ok, "block_sum_answer": BLOCK_SPIN}, score=6,
                cells={"block_sum_tests": 0}, feedback_must_contain=["WatchdogTimeout"]),
        Student("s16_memory_bomb", ok, extra={"scale_add_answer": (
            "def hog():\n    blocks = []\n    while True:\n        blocks.append(np.zeros(25_000_000))\nhog()")},
            feedback_must_contain=["MemoryError"]),
        Student("s17_fork_bomb", ok, extra={"scale_add_answer": (
            "import os\nchildren = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            import time\n            time.sleep(600)\n            os._exit(0)\n        children += 1\n"
            "except OSError as exc:\n    print('fork stopped after', children, 'children:', type(exc).__name__)")},
            feedback_must_contain=["fork stopped after"]),
        Student("s18_reads_hidden_tests", ok, extra={"scale_add_answer": (
            f"import glob\nfor p in [{str(src)!r}] + glob.glob({str(course)!r} + '/source/**', recursive=True):\n"
            "    try:\n        print(open(p).read())\n    except Exception as exc:\n"
            "        print('cannot read', p, type(exc).__name__)")}),
        Student("s19_reads_gradebook", ok, extra={"scale_add_answer": (
            f"import sqlite3\ntry:\n    print('gradebook bytes:', len(open({str(gb)!r}, 'rb').read()))\n"
            f"    con = sqlite3.connect({str(gb)!r})\n"
            "    print(con.execute('select * from grade_cell').fetchall())\nexcept Exception as exc:\n"
            "    print('gradebook:', type(exc).__name__, exc)")}),
        Student("s20_reads_other_student", ok, extra={"scale_add_answer": (
            f"try:\n    print(open({str(other)!r}).read()[:200])\nexcept Exception as exc:\n"
            "    print('other student:', type(exc).__name__)")}),
        Student("s21_introspects_tests", {**ok, "matadd_answer": MATADD_OK.replace(
            "    matadd[blocks, threads](a, b, out)",
            "    matadd[blocks, threads](a, b, out)\n    import inspect\n"
            "    for f in inspect.stack()[1:4]:\n        print(''.join(inspect.getsourcelines(f.frame)[0]))\n"
            "    print(In)\n    print(_ih)")}),
        Student("s22_writes_grades", {"scale_add_answer": SCALE_WRONG, "block_sum_answer": BLOCK_WRONG,
                                      "matadd_answer": MATADD_WRONG}, extra={"scale_add_answer": (
            "import json, os\nfor path in [" + repr(str(gb)) + ", " + repr(str(course / "feedback" / "x.html"))
            + ", 'result.json']:\n    try:\n        with open(path, 'w') as f:\n"
            "            f.write(json.dumps({'score': 9, 'max_score': 9}))\n        print('wrote', path)\n"
            "    except Exception as exc:\n        print('cannot write', path, type(exc).__name__)\n"
            "print(json.dumps({'protocol': 1, 'status': 'ok', 'score': 9}))\n"
            "opened = 0\nfor fd in os.listdir(f'/proc/{os.getppid()}/fd'):\n    try:\n"
            "        open(f'/proc/{os.getppid()}/fd/{fd}', 'wb').close()\n        opened += 1\n"
            "    except OSError:\n        pass\nprint('grader fds opened:', opened)")}, score=0),
        Student("s23_os_exit", {**ok, "block_sum_answer": BLOCK_OK + "\nimport os\nos._exit(3)"}, score=3,
                cells={"scale_add_visible": 1, "scale_add_hidden": 2, "block_sum_tests": 0, "matadd_tests": 0},
                feedback_must_contain=["kernel died"]),
        Student("s24_huge_output", ok, extra={"scale_add_answer": (
            "for i in range(60_000):\n    print('spam line', i, 'x' * 40)")},
            feedback_must_contain=["output truncated"]),
        Student("s25_tampers_tests", {**ok, "scale_add_answer": SCALE_WRONG}, score=6, tamper=True,
                cells={"scale_add_visible": 0, "scale_add_hidden": 0}),
        Student("s26_unanswered", {}, score=0),
        Student("s27_no_notebook", score=0, status="missing", raw=b"I forgot to upload my notebook\n",
                notebook_name="README.txt"),
        Student("s28_ignores_interrupt", {**ok, "matadd_answer": (
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass")}, score=6,
            cells={"matadd_tests": 0}),
        Student("s29_kills_grader", {**ok, "matadd_answer": MATADD_OK + "\nimport os, signal\n"
                                     "os.kill(os.getppid(), signal.SIGKILL)"}, score=0, status="error"),
        Student("s30_network", ok, extra={"scale_add_answer": (
            "import socket\nfor host in [('1.1.1.1', 80), ('127.0.0.1', 22)]:\n    try:\n"
            "        socket.create_connection(host, timeout=3)\n        print('connected to', host)\n"
            "    except OSError as exc:\n        print('no network:', host, exc)")},
            feedback_must_contain=["no network"]),
        Student("s31_broken_json", score=0, status="invalid", raw=b"{ this is not a notebook"),
        Student("s32_correct_late_cells", ok, extra={"matadd_answer": "print('extra cell at the end')"}),
    ]


def _notebook_for(release: dict, student: Student) -> dict:
    nb = copy.deepcopy(release)
    cells = []
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid in student.answers:
            cell["source"] = student.answers[gid]
        if student.tamper and meta.get("grade") and not meta.get("solution"):
            cell["source"] = "pass  # the tests are gone"
            meta["checksum"] = "0" * 32
        cells.append(cell)
        if gid in student.extra:
            cells.append(nbformat.v4.new_code_cell(student.extra[gid]))
    nb["cells"] = cells
    return nb


def build_class(course: Path, subs: Path, only: tuple[str, ...] | None = None) -> dict[str, Student]:
    """Write the students' submissions (all, or those named in `only`) to ``subs/<student>/``."""
    release = json.loads((course / "release" / LAB / "demo.ipynb").read_text())
    out = {}
    for st in _students(course, subs):
        if only is not None and st.name not in only:
            continue
        d = subs / st.name
        d.mkdir(parents=True, exist_ok=True)
        if st.raw is not None:
            (d / st.notebook_name).write_bytes(st.raw)
        else:
            nb = _notebook_for(release, st)
            (d / st.notebook_name).write_text(json.dumps(nb, indent=1))
        out[st.name] = st
    return out


def hidden_snippets(course: Path) -> list[str]:
    """Lines of the lab's hidden tests that must never appear in feedback."""
    src = json.loads((course / "source" / LAB / "demo.ipynb").read_text())
    lines = []
    for cell in src["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        inside = False
        for line in text.split("\n"):
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
                continue
            if "END HIDDEN TESTS" in line:
                inside = False
                continue
            if inside and len(line.strip()) > 12:
                lines.append(line.strip())
    return lines + ["BEGIN HIDDEN TESTS", "_reference_matadd"]
