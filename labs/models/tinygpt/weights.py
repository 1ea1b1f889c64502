"""The shipped weights file: saving, and loading with validation that fails loudly and clearly.

Layout of the ``.npz`` (format ``simtlab-tinygpt``, version 1), an uncompressed numpy zip:

====================  ==============  =======  ===============================================
key                   shape           dtype    meaning
====================  ==============  =======  ===============================================
``meta_json``         ()              unicode  JSON: format, format_version, config (every
                                               TinyGPTConfig field), task, training (seed,
                                               steps, final loss, accuracy, wall time)
``wte``               (V, d)          float32  token embedding
``wpe``               (block, d)      float32  position embedding
``h{i}.ln1.g/.b``     (d,)            float32  LayerNorm before attention, block i
``h{i}.attn.qkv.w``   (d, 3d)         float32  fused Q|K|V projection (in, out)
``h{i}.attn.qkv.b``   (3d,)           float32
``h{i}.attn.proj.w``  (d, d)          float32  attention output projection
``h{i}.attn.proj.b``  (d,)            float32
``h{i}.ln2.g/.b``     (d,)            float32  LayerNorm before the MLP
``h{i}.mlp.fc.w``     (d, d_mlp)      float32  MLP expansion
``h{i}.mlp.fc.b``     (d_mlp,)        float32
``h{i}.mlp.proj.w``   (d_mlp, d)      float32  MLP contraction
``h{i}.mlp.proj.b``   (d,)            float32
``lnf.g/.b``          (d,)            float32  final LayerNorm
``lm_head.w``         (d, V)          float32  LM head, no bias, not tied to ``wte``
====================  ==============  =======  ===============================================

with i = 0 .. n_layer-1 and shapes given by :func:`tinygpt.model.param_shapes`. The file is
read with ``allow_pickle=False``; zip CRCs catch flipped bytes, and every problem found while
loading is raised as :class:`WeightsError` naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TinyGPTConfig
from .data import VOCAB, AdditionTask
from .model import Params, param_shapes

FORMAT_NAME = "simtlab-tinygpt"
FORMAT_VERSION = 1
META_KEY = "meta_json"


class WeightsError(ValueError):
    """A weights file is missing, corrupt, truncated, or does not match the expected model."""


@dataclass
class LoadedWeights:
    """What :func:`load_weights` returns: parameters plus the model and task they belong to."""

    params: Params
    config: TinyGPTConfig
    task: AdditionTask
    meta: dict[str, Any] = field(default_factory=dict)


def save_weights(
    path: str | Path,
    params: Params,
    cfg: TinyGPTConfig,
    task: AdditionTask,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write ``params`` (checked against ``cfg``) and the metadata to ``path`` as a ``.npz``."""
    path = Path(path)
    _check_params(params, cfg, f"parameters to save to {path}")
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "task": task.to_dict(),
        "training": training or {},
    }
    arrays = {name: np.ascontiguousarray(params[name], dtype=np.float32) for name in param_shapes(cfg)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        np.savez(fh, **{META_KEY: np.array(json.dumps(meta, sort_keys=True))}, **arrays)
    return path


def _check_params(params: Params, cfg: TinyGPTConfig, what: str) -> None:
    expected = param_shapes(cfg)
    missing = [k for k in expected if k not in params]
    unexpected = sorted(k for k in params if k not in expected)
    if missing:
        raise WeightsError(f"{what}: missing parameter(s) {missing}")
    if unexpected:
        raise WeightsError(f"{what}: unexpected parameter(s) {unexpected}")
    for name, shape in expected.items():
        arr = params[name]
        if arr.dtype != np.float32:
            raise WeightsError(f"{what}: parameter {name!r} has dtype {arr.dtype}, expected float32")
        if arr.shape != shape:
            raise WeightsError(f"{what}: parameter {name!r} has shape {arr.shape}, expected {shape} for config {cfg}")
        if not np.isfinite(arr).all():
            raise WeightsError(f"{what}: parameter {name!r} contains NaN or infinite values")


def _config_diff(found: TinyGPTConfig, expected: TinyGPTConfig) -> str:
    a, b = found.to_dict(), expected.to_dict()
    return ", ".join(f"{k}={a[k]!r} (expected {b[k]!r})" for k in a if a[k] != b[k])


def load_weights(path: str | Path, expected_config: TinyGPTConfig | None = None) -> LoadedWeights:
    """Read and validate a weights file; raise :class:`WeightsError` with the reason if it is unusable.

    ``expected_config``, when given, must equal the file's config field for field (a lab that
    builds kernels for one shape must not silently run another).
    """
    path = Path(path)
    what = f"weights file {str(path)!r}"
    if not path.is_file():
        raise WeightsError(f"{what} does not exist")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    # Anything np.load or zipfile raises here (BadZipFile, EOFError, ValueError, NotImplementedError
    # for a flipped flag bit, ...) means the archive itself is unreadable.
    except Exception as exc:
        raise WeightsError(
            f"{what} is corrupt or truncated (not a readable numpy .npz archive: {type(exc).__name__}: {exc})"
        ) from exc

    if META_KEY not in arrays:
        raise WeightsError(f"{what} has no {META_KEY!r} entry: not a {FORMAT_NAME} weights file")
    try:
        meta = json.loads(str(arrays.pop(META_KEY)[()]))
    except (json.JSONDecodeError, TypeError, ValueError) as exc:
        raise WeightsError(f"{what}: {META_KEY!r} is not valid JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise WeightsError(f"{what}: metadata does not declare format {FORMAT_NAME!r}")
    if meta.get("format_version") != FORMAT_VERSION:
        found = meta.get("format_version")
        raise WeightsError(f"{what}: format_version {found!r} is not supported (expected {FORMAT_VERSION})")
    try:
        cfg = TinyGPTConfig.from_dict(meta.get("config"))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise WeightsError(f"{what}: invalid config in metadata: {exc}") from exc
    if expected_config is not None and cfg != expected_config:
        raise WeightsError(f"{what}: config mismatch: {_config_diff(cfg, expected_config)}")

    task_meta = meta.get("task")
    if not isinstance(task_meta, dict) or task_meta.get("vocab") != VOCAB:
        raise WeightsError(f"{what}: task metadata {task_meta!r} does not match this tokenizer ({VOCAB!r})")
    try:
        task = AdditionTask(n_digits=int(task_meta["n_digits"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{what}: invalid task metadata {task_meta!r}: {exc}") from exc
    if task.input_len > cfg.block_size or cfg.vocab_size != len(VOCAB):
        raise WeightsError(f"{what}: task {task_meta!r} does not fit the model config {cfg}")

    _check_params(arrays, cfg, what)
    return LoadedWeights(params=arrays, config=cfg, task=task, meta=meta)
