"""tinygpt: the capstone's decoder-only transformer, in plain numpy.

The model adds two 3-digit numbers ("347+589=" -> "6390", the answer written least-significant
digit first). Everything here runs without the emulator: it is the oracle that the capstone lab
checks the student's kernels against, one operator at a time.

Modules: ``config`` (hyper-parameters), ``data`` (task generator and tokenizer), ``model``
(forward pass built from replaceable per-op functions), ``backward`` (hand-written gradients),
``train`` (the seeded Adam trainer), ``weights`` (the shipped ``.npz`` and its validation),
``generate`` (greedy decoding, accuracy), ``inventory`` (operator table: shapes, FLOPs, bytes),
``plot`` (the training-curve PNG, numpy + zlib only). See MODEL_CARD.md.
"""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_WEIGHTS = PACKAGE_DIR / "tinygpt_add3.npz"
SHIPPED_CURVE_CSV = PACKAGE_DIR / "training_curve.csv"
SHIPPED_CURVE_PNG = PACKAGE_DIR / "training_curve.png"

__all__ = ["PACKAGE_DIR", "SHIPPED_CURVE_CSV", "SHIPPED_CURVE_PNG", "SHIPPED_WEIGHTS"]
