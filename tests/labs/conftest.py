"""The lab tests import their course helpers from labcourse.py (the 'simtlab' kernelspec fixture, kernel_env, is in
tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
