"""Put ``labs/models`` on sys.path so the tests can ``import tinygpt`` (a lab package, not installed)."""

import sys
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "labs" / "models"
if str(MODELS_DIR) not in sys.path:
    sys.path.insert(0, str(MODELS_DIR))
