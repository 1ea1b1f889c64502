"""Writing grading results into nbgrader's gradebook, from one process only.

nbgrader's SQLite gradebook is not safe for concurrent writers, so workers never touch it: the
pipeline's parent process owns one `GradebookWriter` and writes each result as it arrives. A write
is an update of the submission's rows (``update_or_create``), so writing the same result twice
leaves the gradebook as once; it also works on a gradebook that nbgrader's own tools use.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = ["GradebookWriter", "grades_table"]


class GradebookWriter:
    """An open gradebook for one lab; `write` records one student's result."""

    def __init__(self, db_url: str, lab: str, course_id: str | None = None) -> None:
        from nbgrader.api import Gradebook

        self.lab = lab
        self.gb = Gradebook(db_url, course_id or None)
        assignment = self.gb.find_assignment(lab)
        self.structure = {nb.name: {gc.name: float(gc.max_score) for gc in nb.grade_cells}
                          for nb in assignment.notebooks}
        self.solution_cells = {nb.name: [sc.name for sc in nb.solution_cells] for nb in assignment.notebooks}

    def close(self) -> None:
        self.gb.close()

    def __enter__(self) -> GradebookWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, student: str, result: dict[str, Any], timestamp: str | None = None) -> None:
        """Record `result` (``{"status", "notebooks": {name: {"grades", "comments"}}}``) for `student`.

        Grade cells the result does not score (a missing notebook, a run that was killed) get 0;
        a cell with a manual score keeps it and is flagged for review, as nbgrader's autograde does.
        """
        from nbgrader.api import MissingEntry

        gb = self.gb
        with warnings.catch_warnings():
            # nbgrader's own queries trigger SQLAlchemy "not in session" autoflush warnings: harmless noise
            warnings.simplefilter("ignore")
            self._write(gb, student, result, timestamp, MissingEntry)

    def _write(self, gb: Any, student: str, result: dict[str, Any], timestamp: str | None, MissingEntry: type) -> None:
        try:
            gb.update_or_create_student(student)
            kwargs = {"timestamp": timestamp} if timestamp else {}
            gb.update_or_create_submission(self.lab, student, **kwargs)
            notebooks = result.get("notebooks", {}) or {}
            for nb_name, cells in self.structure.items():
                res = notebooks.get(nb_name) or {}
                grades = res.get("grades", {}) or {}
                for cell_id in cells:
                    try:
                        grade = gb.find_grade(cell_id, nb_name, self.lab, student)
                    except MissingEntry:
                        continue
                    g = grades.get(cell_id)
                    score = None if g is None else g.get("score")
                    if g is None:                      # not graded: notebook missing or the run failed
                        score = 0.0
                    grade.auto_score = score
                    grade.needs_manual_grade = (grade.manual_score is not None) or (score is None)
                comments = res.get("comments", {}) or {}
                for cell_id in self.solution_cells.get(nb_name, []):
                    try:
                        comment = gb.find_comment(cell_id, nb_name, self.lab, student)
                    except MissingEntry:
                        continue
                    comment.auto_comment = comments.get(cell_id, "No response." if not res else None)
            gb.db.commit()
        except Exception:
            gb.db.rollback()
            raise


def grades_table(db_url: str, lab: str, course_id: str | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    """The gradebook's scores for `lab`: column names and one row per submission (students sorted)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id or None) as gb:
        assignment = gb.find_assignment(lab)
        cells = [(nb.name, gc.name) for nb in sorted(assignment.notebooks, key=lambda n: n.name)
                 for gc in sorted(nb.grade_cells, key=lambda c: c.name)]
        columns = ["student", "lab", "score", "max_score"] + [f"{nb}:{cell}" for nb, cell in cells]
        rows = []
        for sub in sorted(assignment.submissions, key=lambda s: s.student.id):
            row: dict[str, Any] = {"student": sub.student.id, "lab": lab, "score": round(float(sub.score), 4),
                                   "max_score": round(float(sub.max_score), 4)}
            for nb in sub.notebooks:
                for grade in nb.grades:
                    row[f"{nb.name}:{grade.name}"] = round(float(grade.score), 4)
            rows.append(row)
    return columns, rows
