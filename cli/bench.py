"""``simtlab bench [args...]``: run the benchmark suite of a source checkout.

The benchmarks are not part of the installed package; they live in the repository's
``benchmarks/`` folder next to ``emulator/``. With an editable install (``pip install -e .``)
the emulator package's folder *is* ``<checkout>/emulator``, so the suite is found at
``<checkout>/benchmarks/run.py``, whose ``main(argv)`` receives every argument after ``bench``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from .errors import CliError


def benchmarks_dir() -> Path:
    """``<checkout>/benchmarks``, found from where ``simtlab.emulator`` is installed.

    Uses the import spec only, so the engine itself is not imported just to find the folder.
    """
    spec = importlib.util.find_spec("simtlab.emulator")
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise CliError("cannot locate the simtlab.emulator package; is simtlab installed?")
    return Path(locations[0]).resolve().parent / "benchmarks"


def _load_runner(folder: Path) -> ModuleType:
    runner = folder / "run.py"
    if folder.is_dir() and not runner.is_file():
        raise CliError(f"no benchmark runner: {runner} does not exist")
    if not runner.is_file():
        raise CliError(
            f"benchmarks need a source checkout of simtlab (no {runner}); clone the repository "
            f"and install it with 'pip install -e .', then run 'simtlab bench' again"
        )
    root = str(folder.parent)
    for entry in (str(folder), root):  # run.py may import its siblings or `benchmarks.<x>`
        if entry not in sys.path:
            sys.path.append(entry)
    if (folder / "__init__.py").is_file():
        return importlib.import_module("benchmarks.run")
    spec = importlib.util.spec_from_file_location("simtlab_benchmarks_run", runner)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot load {runner}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(argv: list[str]) -> int:
    """Entry point of ``simtlab bench``: call ``benchmarks/run.py``'s ``main(argv)``."""
    folder = benchmarks_dir()
    module = _load_runner(folder)
    entry = getattr(module, "main", None)
    if not callable(entry):
        raise CliError(f"{folder / 'run.py'} has no main(argv) function")
    return int(entry(list(argv)) or 0)
