"""nbgrader configuration of the simtlab course (this folder is the course root).

Read by nbgrader's own commands and by ``simtlab labs release`` / ``simtlab grade``. Each setting says
why it is there; see ``grader/README.md`` for the grading pipeline.
"""

import os

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 - provided by traitlets when this file is loaded

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "simtlab"
# generated folders stay out of the course's sources
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.npz.tmp"]

# Student versions: solutions become this stub.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Execution while grading.
# Per-cell limit: a test cell runs a kernel on many inputs with the sanitizer, so give it time; the
# emulator's watchdog stops a kernel stuck in a loop well before this (simtlab grade sets it to a third
# of the cell timeout), so only a Python-level endless loop reaches it, and that is interrupted.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# History in memory only (no SQLite file in the sandbox), and minimal tracebacks: a full traceback
# would print the lines of the test cell that failed, hidden tests included.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]
c.Execute.error_on_timeout = {
    "ename": "CellTimeoutError",
    "evalue": "",
    "traceback": ["CellTimeoutError: this cell ran longer than the time limit and was interrupted "
                  "(an endless loop in Python code?)"],
}

# Output limits: a cell that prints without end must not bloat the graded notebook or the feedback.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_traceback = 40

# Feedback: nbgrader 0.9.6's default GenerateFeedback keeps hidden tests in the page; remove them.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# simtlab grade's own settings (all optional; the command-line flags override them).
c.SimtlabGrader.max_cell_output_bytes = 1 << 20     # output kept per cell while it runs
c.SimtlabGrader.memory_mb = 4096                    # address space per process in the sandbox
c.SimtlabGrader.cpu_seconds = 900                   # CPU time per process
c.SimtlabGrader.wall_seconds = 1800                 # a whole submission, start to result
c.SimtlabGrader.processes = 256                     # processes and threads in one sandbox
