"""The lab tests' course helpers: where the labs live, and a private copy of the course."""

from __future__ import annotations

import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LABS = ("lab00-platform", "lab01-simt-basics")


def make_course(dest: Path, labs: tuple[str, ...] = LABS) -> Path:
    """A course folder with the real course configuration and the given labs' sources."""
    course = dest / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "labs" / "nbgrader_config.py", course / "nbgrader_config.py")
    for lab in labs:
        shutil.copytree(REPO / "labs" / "source" / lab, course / "source" / lab)
    return course
