"""Seeded numpy trainer: Adam on the hand-written gradients, writing the shipped weights and curve.

Usage (from ``labs/models``; pin BLAS to one thread, which is also what makes reruns bit-identical)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python -m tinygpt.train

writes ``tinygpt/tinygpt_add3.npz`` and ``tinygpt/training_curve.csv`` (``--out``/``--curve`` to
write elsewhere, e.g. to check a retrain without touching the shipped files) and then evaluates
greedy exact match on the whole held-out set.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import SHIPPED_CURVE_CSV, SHIPPED_WEIGHTS
from .backward import loss_and_grads
from .config import TinyGPTConfig
from .data import AdditionTask
from .generate import exact_match
from .model import Params, init_params
from .weights import save_weights


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; the defaults produced the shipped weights."""

    seed: int = 0
    steps: int = 4000
    batch_size: int = 256
    lr: float = 3e-3
    warmup_steps: int = 200
    min_lr_ratio: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.99
    adam_eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    log_every: int = 10
    eval_every: int = 250
    eval_size: int = 500

    def lr_at(self, step: int) -> float:
        """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at the last step."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        frac = (step - self.warmup_steps) / max(1, self.steps - self.warmup_steps)
        return self.lr * (self.min_lr_ratio + (1 - self.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


@dataclass
class TrainResult:
    """Trained parameters and the logged curve (one dict per CSV row)."""

    params: Params
    history: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0


class Adam:
    """Adam (AdamW when weight_decay > 0, applied to matrices only) with bias correction.

    ``m = b1 m + (1-b1) g``; ``v = b2 v + (1-b2) g^2``;
    ``w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)``.
    """

    def __init__(self, params: Params, tc: TrainConfig) -> None:
        self.tc = tc
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: Params, grads: Params, lr: float) -> None:
        """Update ``params`` in place."""
        tc = self.tc
        self.t += 1
        c1 = 1 - tc.beta1**self.t
        c2 = 1 - tc.beta2**self.t
        for k, w in params.items():
            g = grads[k]
            m, v = self.m[k], self.v[k]
            m *= tc.beta1
            m += (1 - tc.beta1) * g
            v *= tc.beta2
            v += (1 - tc.beta2) * g * g
            if tc.weight_decay and w.ndim == 2 and k not in ("wte", "wpe"):
                w -= np.float32(lr * tc.weight_decay) * w
            w -= np.float32(lr / c1) * m / (np.sqrt(v / np.float32(c2)) + np.float32(tc.adam_eps))


def train(
    cfg: TinyGPTConfig,
    task: AdditionTask,
    tc: TrainConfig,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train from scratch; identical arguments give identical weights (on one BLAS thread).

    Two generators are spawned from ``tc.seed``: one initialises the parameters, the other draws
    the training problems, so changing the batch size does not change the initial weights.
    """
    if task.input_len > cfg.block_size:
        raise ValueError(f"task needs {task.input_len} positions but block_size is {cfg.block_size}")
    init_ss, data_ss = np.random.SeedSequence(tc.seed).spawn(2)
    params = init_params(cfg, np.random.default_rng(init_ss))
    data_rng = np.random.default_rng(data_ss)
    opt = Adam(params, tc)
    mask = task.loss_mask()
    eval_a, eval_b = task.heldout_pairs(limit=tc.eval_size)
    result = TrainResult(params=params)
    window: list[float] = []
    start = time.perf_counter()
    for step in range(tc.steps):
        x, y = task.batch(data_rng, tc.batch_size)
        loss, grads = loss_and_grads(params, cfg, x, y, mask)
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss became {loss} at step {step}")
        norm = math.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads.values()))
        if norm > tc.grad_clip:
            for g in grads.values():
                g *= np.float32(tc.grad_clip / norm)
        lr = tc.lr_at(step)
        opt.step(params, grads, lr)
        window.append(loss)
        last = step == tc.steps - 1
        if (step + 1) % tc.log_every == 0 or last:
            row = {"step": step + 1, "loss": float(np.mean(window)), "lr": lr, "heldout_exact": math.nan}
            window = []
            if (step + 1) % tc.eval_every == 0 or last:
                row["heldout_exact"] = exact_match(params, cfg, task, eval_a, eval_b)
                if log:
                    log(
                        f"step {step + 1:5d}  loss {row['loss']:.3e}  lr {lr:.2e}  "
                        f"held-out exact match ({tc.eval_size}) {row['heldout_exact']:.3f}  "
                        f"{time.perf_counter() - start:6.1f}s"
                    )
            result.history.append(row)
    result.wall_s = time.perf_counter() - start
    return result


def write_curve(path: str | Path, history: list[dict[str, float]]) -> Path:
    """CSV with columns step, loss (mean over the logging window), lr, heldout_exact (blank if not run)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["step", "loss", "lr", "heldout_exact"])
        for r in history:
            acc = "" if math.isnan(r["heldout_exact"]) else f"{r['heldout_exact']:.4f}"
            w.writerow([int(r["step"]), f"{r['loss']:.6g}", f"{r['lr']:.6g}", acc])
    return path


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: train, save weights and curve, report held-out accuracy."""
    defaults = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m tinygpt.train", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=defaults.seed)
    ap.add_argument("--steps", type=int, default=defaults.steps)
    ap.add_argument("--batch-size", type=int, default=defaults.batch_size)
    ap.add_argument("--lr", type=float, default=defaults.lr)
    ap.add_argument("--out", type=Path, default=SHIPPED_WEIGHTS, help="weights .npz to write")
    ap.add_argument("--curve", type=Path, default=SHIPPED_CURVE_CSV, help="loss-curve CSV to write")
    ap.add_argument("--final-eval", type=int, default=0, help="held-out problems to score at the end (0: all)")
    args = ap.parse_args(argv)

    cfg, task = TinyGPTConfig(), AdditionTask()
    tc = TrainConfig(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr)
    print(f"model {cfg}\ntask {task.to_dict()}\ntraining {tc}", flush=True)
    result = train(cfg, task, tc, log=lambda s: print(s, flush=True))
    a, b = task.heldout_pairs(limit=args.final_eval or None)
    t0 = time.perf_counter()
    acc = exact_match(result.params, cfg, task, a, b)
    print(f"held-out exact match: {acc:.5f} on {a.size} problems ({time.perf_counter() - t0:.1f}s)")
    training = asdict(tc) | {
        "final_loss": result.history[-1]["loss"],
        "heldout_exact": acc,
        "heldout_size": int(a.size),
        "wall_s": round(result.wall_s, 1),
    }
    print(f"wrote {save_weights(args.out, result.params, cfg, task, training)}")
    print(f"wrote {write_curve(args.curve, result.history)}")
    print(f"training wall time {result.wall_s:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
