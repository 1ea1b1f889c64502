"""``simtlab``: argument parsing and dispatch to the subcommand modules.

Parsing is done here (cheap); the work is done by ``simtlab.cli.<command>.run``, imported only
when that command runs. Every failure a user can cause ends as one line on stderr and exit
status 2, never a traceback (set ``SIMTLAB_DEBUG=1`` to see one while developing).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .errors import CliError

#: Exit status for every error (argparse uses 2 as well).
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line that points to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("simtlab")
    except Exception:  # not installed as a distribution (running from a bare checkout)
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The full parser (``simtlab --help`` and each subcommand's ``--help``)."""
    parser = _Parser(prog="simtlab", description="simtlab: an emulated GPU for teaching CUDA with numba.")
    parser.add_argument("-V", "--version", action="version", version=f"simtlab {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    chips = sub.add_parser("chips", help="list the chip presets, or show one chip in full",
                           description="List the chip presets (the active one is marked), or show "
                                       "every field of one chip, preset or file.")
    chips_sub = chips.add_subparsers(dest="action", metavar="ACTION")
    chips_sub.add_parser("list", help="table of presets (the default action)")
    show = chips_sub.add_parser("show", help="every field of one chip, with units",
                                description="Show every field of a chip, with units. Also validates "
                                            "a chip file.")
    show.add_argument("chip", metavar="NAME|PATH", help="preset name (e.g. a100) or path of a .toml file")

    sub.add_parser("bench", help="run the benchmark suite (arguments are passed through)", add_help=False,
                   description="Run benchmarks/run.py from a source checkout; all arguments go to it.")

    kernel = sub.add_parser("kernel", help="install the Jupyter kernel",
                            description="Manage the 'simtlab' Jupyter kernelspec.")
    kernel_sub = kernel.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = kernel_sub.add_parser(
        "install", help="install the kernelspec",
        description="Install the kernelspec (ipykernel with the simtlab extension loaded). "
                    "Default location: --user.")
    where = install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user (default)")
    where.add_argument("--sys-prefix", action="store_true",
                       help="install into this Python environment (sys.prefix)")
    where.add_argument("--prefix", metavar="DIR", help="install into DIR/share/jupyter/kernels")
    install.add_argument("--name", default="simtlab", help="kernel name (default: simtlab)")
    install.add_argument("--display-name", default=None, help="name shown in Jupyter's launcher")
    install.add_argument("--absolute-python", action="store_true",
                         help="write this interpreter's absolute path into the kernelspec (for a "
                              "Jupyter server that lives in another environment)")
    uninstall = kernel_sub.add_parser("uninstall", help="remove an installed kernelspec")
    uninstall.add_argument("--name", default="simtlab", help="kernel name (default: simtlab)")

    labs = sub.add_parser("labs", help="release the course's labs (nbgrader)",
                          description="The nbgrader course's labs: release student versions from the sources.")
    labs_sub = labs.add_subparsers(dest="action", metavar="ACTION", required=True)
    release = labs_sub.add_parser("release", help="generate student versions (release/<lab>/) from source/<lab>/")
    release.add_argument("labs", nargs="*", metavar="LAB", help="labs to release (default: all but '_' ones)")
    labs_sub.add_parser("list", help="the labs and whether they are released")
    for p in (release, labs_sub.choices["list"]):
        p.add_argument("--course", metavar="DIR", help="course folder (default: ./labs or .)")

    grade = sub.add_parser("grade", help="grade a class's submissions of a lab (sandboxed, parallel, resumable)",
                           description="Grade every submission of LAB: sandboxed, in parallel, resumable; "
                                       "writes the gradebook, a CSV and per-student feedback.")
    grade.add_argument("lab", metavar="LAB")
    grade.add_argument("--submissions", required=True, metavar="DIR|ZIP", help="folders per student or an LMS zip")
    grade.add_argument("--course", metavar="DIR", help="course folder (default: ./labs or .)")
    grade.add_argument("--workers", type=int, metavar="N", help="local parallel workers (default: CPU count)")
    grade.add_argument("--dask", metavar="ADDRESS|local:N", help="run on a Dask cluster (local:N starts one)")
    grade.add_argument("--cell-timeout", type=int, metavar="S", help="per-cell time limit (default: course)")
    grade.add_argument("--wall", type=float, metavar="S", help="time limit per submission")
    grade.add_argument("--memory", type=int, metavar="MB", help="memory per process")
    grade.add_argument("--cpu", type=int, metavar="S", help="CPU seconds per process")
    grade.add_argument("--processes", type=int, metavar="N", help="processes and threads per submission")
    grade.add_argument("--sandbox", choices=("auto", "bwrap", "unshare", "none"), default="auto")
    grade.add_argument("--hide", action="append", metavar="PATH", help="another path submissions must not see")
    grade.add_argument("--state", metavar="DIR", help="journal, log and CSV folder (default: COURSE/grading/LAB)")
    grade.add_argument("--csv", metavar="PATH", help="where to write the grades CSV")
    grade.add_argument("--fresh", action="store_true", help="ignore earlier runs' journal and grade everything")
    grade.add_argument("--retry-errors", action="store_true", help="grade again submissions whose grading failed")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--no-feedback", action="store_true", help="do not write feedback HTML")

    parity = sub.add_parser("parity", help="run the conformance suite and lab solutions on a GPU and on the "
                                           "emulator, and compare (skips without a GPU)",
                            description="On a machine whose numba.cuda sees an NVIDIA GPU, run the conformance "
                                        "suite and the labs' solutions there and on the emulator and report what "
                                        "differs. Without a GPU (numba's simulator is not one) it says why and "
                                        "exits 0.")
    parity.add_argument("--suite", choices=("conformance", "labs", "all"), default="all")
    parity.add_argument("--report", metavar="PATH", help="also write the report as JSON to PATH")
    parity.add_argument("--size", choices=("full", "tiny"), default="full", help="conformance sizes (default full)")
    parity.add_argument("--seed", type=int, default=0, help="seed of the conformance inputs")
    parity.add_argument("--only", metavar="A,B", help="only these conformance cases / labs")
    parity.add_argument("--rtol", type=float, help="relative tolerance for floats (default: each case's own)")
    parity.add_argument("--repo", metavar="DIR", help="source checkout (default: the one simtlab runs from)")
    return parser


def _run_guarded(command: str, func: Callable[..., int], *args: Any) -> int:
    """Run a subcommand; turn every exception into one line on stderr and exit status 2."""
    try:
        return int(func(*args) or 0)
    except SystemExit as exc:  # e.g. a benchmark runner's own argparse
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else EXIT_ERROR)
    except KeyboardInterrupt:
        print(f"simtlab {command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `simtlab chips | head`: the reader left; say nothing (Python docs recipe)
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except Exception as exc:
        if os.environ.get("SIMTLAB_DEBUG"):
            traceback.print_exc()
        if isinstance(exc, CliError | ValueError | OSError | ImportError):  # ChipError is a ValueError
            message = str(exc) or type(exc).__name__
        else:
            message = (f"internal error: {type(exc).__name__}: {exc} "
                       f"(set SIMTLAB_DEBUG=1 to see the traceback)")
        print(f"simtlab {command}: error: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``simtlab`` command line with `argv` (default: ``sys.argv[1:]``); return the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "bench":
        # Passed through verbatim: argparse would eat or reorder the benchmark runner's options.
        from . import bench

        return _run_guarded("bench", bench.run, args_list[1:])

    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed)
        return exc.code if isinstance(exc.code, int) else 0
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(f"{__package__}.{args.command}")
    return _run_guarded(args.command, module.run, args)


if __name__ == "__main__":
    sys.exit(main())
