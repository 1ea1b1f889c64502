"""The nbgrader course behind ``simtlab labs release`` and ``simtlab grade``.

A course is a folder with ``nbgrader_config.py`` and ``source/<lab>/`` (the instructor's notebooks:
solutions and hidden tests); nbgrader keeps its gradebook (SQLite) and its step folders
(``release/``, ``autograded/``, ``feedback/``) there too. `Course` loads that configuration the way
nbgrader does, releases labs with nbgrader's own ``generate_assignment`` (which also records each
notebook's grade cells and the full source of its test cells, hidden tests included, in the
gradebook), and prepares a submitted notebook for grading with nbgrader's autograde "sanitize"
preprocessors (clear outputs, restore the instructor's kernelspec and every grade cell's source
from the gradebook, which is what injects the hidden tests).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Course", "CourseError", "ExecutionSettings", "find_course_root", "DEFAULT_TIMEOUT"]

CONFIG_FILE = "nbgrader_config.py"
DEFAULT_TIMEOUT = 120
DEFAULT_EXTRA_ARGUMENTS = ("--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal")


class CourseError(RuntimeError):
    """The course folder, its configuration or a lab is missing or wrong (one line, for the CLI)."""


def find_course_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The course folder: `start` if given, else ``./labs`` or ``.`` (whichever has nbgrader_config.py)."""
    if start is not None:
        root = Path(start).resolve()
        if not (root / CONFIG_FILE).is_file():
            raise CourseError(f"{root} is not an nbgrader course (no {CONFIG_FILE})")
        return root
    for cand in (Path("labs"), Path(".")):
        if (cand / CONFIG_FILE).is_file():
            return cand.resolve()
    raise CourseError(f"no course found: pass --course DIR (a folder with {CONFIG_FILE}, e.g. labs/)")


@dataclass
class ExecutionSettings:
    """How a notebook is executed for grading (from the course's nbgrader configuration)."""

    timeout: int = DEFAULT_TIMEOUT
    extra_arguments: list[str] = field(default_factory=lambda: list(DEFAULT_EXTRA_ARGUMENTS))
    error_on_timeout: dict[str, Any] | None = None
    interrupt_on_timeout: bool = True
    iopub_timeout: int = 4
    max_lines: int = 1000
    max_traceback: int = 100
    max_cell_output_bytes: int = 1 << 20
    watchdog_seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _cfg_get(section: Any, key: str, default: Any) -> Any:
    try:
        if key in section:
            return section[key]
    except TypeError:
        pass
    return default


def _scripts_on_path() -> None:
    """Put this interpreter's scripts folder on PATH: nbgrader runs ``alembic`` (installed there) as a
    command when it creates a gradebook, which fails from a venv that was not activated."""
    import sys

    scripts = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if scripts not in parts:
        os.environ["PATH"] = os.pathsep.join([scripts, *[p for p in parts if p]])


class Course:
    """An nbgrader course folder, its configuration and its gradebook."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = find_course_root(root)
        _scripts_on_path()
        from traitlets.config.loader import PyFileConfigLoader

        try:
            self.config = PyFileConfigLoader(CONFIG_FILE, path=str(self.root)).load_config()
        except Exception as exc:
            raise CourseError(f"cannot load {self.root / CONFIG_FILE}: {type(exc).__name__}: {exc}") from None
        self.config.CourseDirectory.root = str(self.root)
        from nbgrader.coursedir import CourseDirectory

        self.coursedir = CourseDirectory(config=self.config)
        self.coursedir.root = str(self.root)

    # -- places -------------------------------------------------------------------------------------------
    @property
    def course_id(self) -> str:
        return self.coursedir.course_id or ""

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def gradebook_path(self) -> Path | None:
        url = self.db_url
        if url.startswith("sqlite:///"):
            return Path(url[len("sqlite:///"):]).resolve()
        return None

    def step_dir(self, step: str) -> Path:
        """The folder of an nbgrader step ("source", "release", "autograded", "feedback", "submitted")."""
        name = {"source": self.coursedir.source_directory, "release": self.coursedir.release_directory,
                "autograded": self.coursedir.autograded_directory, "feedback": self.coursedir.feedback_directory,
                "submitted": self.coursedir.submitted_directory}[step]
        return self.root / name

    def lab_source(self, lab: str) -> Path:
        return self.step_dir("source") / lab

    def labs(self, include_internal: bool = False) -> list[str]:
        """Lab names under ``source/`` (names starting with "_" or "." are internal unless asked for)."""
        src = self.step_dir("source")
        if not src.is_dir():
            return []
        out = []
        for p in sorted(src.iterdir()):
            if not p.is_dir() or p.name.startswith("."):
                continue
            if p.name.startswith("_") and not include_internal:
                continue
            out.append(p.name)
        return out

    def private_paths(self) -> list[Path]:
        """What a submission must never read: sources (hidden tests), gradebook, other students' work."""
        paths = [self.step_dir(s) for s in ("source", "submitted", "autograded", "feedback")]
        gb = self.gradebook_path
        if gb is not None:
            paths += [gb, gb.with_name(gb.name + "-journal"), gb.with_name(gb.name + "-wal")]
        paths.append(self.root / "grading")
        return paths

    def execution_settings(self) -> ExecutionSettings:
        """Per-cell timeout, kernel arguments, output limits from the configuration (with sane defaults)."""
        c = self.config
        s = ExecutionSettings()
        s.timeout = int(_cfg_get(c.Execute, "timeout", s.timeout) or s.timeout)
        args = list(_cfg_get(c.Execute, "extra_arguments", s.extra_arguments))
        for a in DEFAULT_EXTRA_ARGUMENTS:       # without these, hidden tests leak through tracebacks
            key = a.split("=")[0]
            if not any(x.startswith(key) for x in args):
                args.append(a)
        s.extra_arguments = args
        s.error_on_timeout = _cfg_get(c.Execute, "error_on_timeout", None)
        s.interrupt_on_timeout = bool(_cfg_get(c.Execute, "interrupt_on_timeout", True))
        s.iopub_timeout = int(_cfg_get(c.Execute, "iopub_timeout", s.iopub_timeout))
        s.max_lines = int(_cfg_get(c.LimitOutput, "max_lines", s.max_lines))
        s.max_traceback = int(_cfg_get(c.LimitOutput, "max_traceback", s.max_traceback))
        s.max_cell_output_bytes = int(_cfg_get(c.SimtlabGrader, "max_cell_output_bytes", s.max_cell_output_bytes))
        w = _cfg_get(c.SimtlabGrader, "watchdog_seconds", None)
        s.watchdog_seconds = float(w) if w is not None else None
        return s

    def grader_setting(self, key: str, default: Any) -> Any:
        """A ``c.SimtlabGrader.<key>`` value of the course configuration (limits, workers)."""
        return _cfg_get(self.config.SimtlabGrader, key, default)

    # -- release --------------------------------------------------------------------------------------------
    def release(self, lab: str, force: bool = True) -> str:
        """Generate the student version of `lab` (``release/<lab>/``) and record it in the gradebook.

        Runs nbgrader's generate_assignment: solutions become stubs, hidden tests are removed,
        checksums and the full test source go to the gradebook. Returns nbgrader's log.
        """
        if not self.lab_source(lab).is_dir():
            known = ", ".join(self.labs(include_internal=True)) or "none"
            raise CourseError(f"no lab '{lab}' in {self.step_dir('source')} (labs: {known})")
        from nbgrader.apps import NbGraderAPI

        api = NbGraderAPI(coursedir=self.coursedir, config=self.config)
        result = api.generate_assignment(lab, force=force, create=True)
        if not result.get("success"):
            text = (result.get("error") or result.get("log") or "").strip().splitlines()
            raise CourseError(f"nbgrader could not release '{lab}': " + (text[-1] if text else "unknown error"))
        return str(result.get("log", ""))

    def is_released(self, lab: str) -> bool:
        """True when the gradebook knows `lab` and the release folder exists."""
        from nbgrader.api import Gradebook, MissingEntry

        if not (self.step_dir("release") / lab).is_dir():
            return False
        try:
            with Gradebook(self.db_url, self.course_id or None) as gb:
                gb.find_assignment(lab)
        except MissingEntry:
            return False
        return True

    def notebook_names(self, lab: str) -> list[str]:
        """The lab's notebooks (ids, without .ipynb) as the gradebook records them."""
        from nbgrader.api import Gradebook

        with Gradebook(self.db_url, self.course_id or None) as gb:
            return sorted(nb.name for nb in gb.find_assignment(lab).notebooks)

    def max_scores(self, lab: str) -> dict[str, dict[str, float]]:
        """{notebook: {grade cell: points}} of a released lab."""
        from nbgrader.api import Gradebook

        out: dict[str, dict[str, float]] = {}
        with Gradebook(self.db_url, self.course_id or None) as gb:
            for nb in gb.find_assignment(lab).notebooks:
                out[nb.name] = {gc.name: float(gc.max_score) for gc in nb.grade_cells}
        return out

    def assets(self, lab: str) -> dict[str, bytes]:
        """The lab's non-notebook source files (data, helper modules): copied next to every submission,
        replacing the student's copies, as nbgrader's autograde does."""
        src = self.lab_source(lab)
        ignore = list(self.coursedir.ignore) + ["*.ipynb"]
        out: dict[str, bytes] = {}
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = [d for d in dirnames if not _ignored(d, ignore)]
            for f in filenames:
                if _ignored(f, ignore):
                    continue
                p = Path(dirpath) / f
                out[p.relative_to(src).as_posix()] = p.read_bytes()
        return out

    # -- preparing a submission -------------------------------------------------------------------------------
    def sanitize(self, lab: str, notebook: str, nb_json: str | bytes, student: str = "student") -> Any:
        """A submitted notebook made ready for grading, with nbgrader's autograde sanitize preprocessors.

        ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells (grade cells, test cells and
        locked cells get the instructor's source back from the gradebook: hidden tests included),
        CheckCellMetadata. Returns the notebook (a NotebookNode). Raises ValueError for a file that is
        not a notebook.
        """
        import nbformat
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearOutput,
            DeduplicateIds,
            OverwriteCells,
            OverwriteKernelspec,
        )

        try:
            nb = nbformat.reads(nb_json if isinstance(nb_json, str) else nb_json.decode("utf-8"), as_version=4)
        except Exception as exc:
            raise ValueError(f"not a readable notebook ({type(exc).__name__}: {exc})") from None
        resources = {"nbgrader": {"notebook": notebook, "assignment": lab, "student": student,
                                  "db_url": self.db_url, "course_id": self.course_id},
                     "metadata": {"name": notebook, "path": "."}}
        for cls in (ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata):
            pp = cls(config=self.config)
            nb, resources = pp.preprocess(nb, resources)
        return nb


def _ignored(name: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)
