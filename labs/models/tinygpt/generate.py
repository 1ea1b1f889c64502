"""Greedy decoding with the reference forward pass, and the exact-match accuracy it reaches.

Decoding recomputes the whole prefix at every step (no KV cache): that is what the capstone runs
on the emulated chip, so the oracle does the same. Usage::

    cd labs/models && python -m tinygpt.generate 347+589 12+7
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import SHIPPED_WEIGHTS
from .config import TinyGPTConfig
from .data import AdditionTask
from .model import REFERENCE_OPS, Ops, Params, forward


def greedy_generate(
    params: Params, cfg: TinyGPTConfig, prompts: np.ndarray, n_new: int, ops: Ops = REFERENCE_OPS
) -> np.ndarray:
    """Append ``n_new`` tokens to each (B, P) prompt, each the argmax of the last position's logits."""
    tokens = np.asarray(prompts, dtype=np.int64)
    for _ in range(n_new):
        logits = forward(params, cfg, tokens, ops=ops)
        tokens = np.concatenate([tokens, logits[:, -1].argmax(axis=-1)[:, None]], axis=1)
    return tokens


def solve(
    params: Params,
    cfg: TinyGPTConfig,
    task: AdditionTask,
    a: np.ndarray,
    b: np.ndarray,
    batch_size: int = 4096,
    ops: Ops = REFERENCE_OPS,
) -> np.ndarray:
    """The model's answers to a + b (int64; -1 where it wrote a non-digit)."""
    prompts = task.encode_prompts(a, b)
    out = np.empty(prompts.shape[0], dtype=np.int64)
    for lo in range(0, prompts.shape[0], batch_size):
        gen = greedy_generate(params, cfg, prompts[lo : lo + batch_size], task.answer_len, ops=ops)
        out[lo : lo + batch_size] = task.decode_answers(gen[:, task.prompt_len :])
    return out


def exact_match(
    params: Params,
    cfg: TinyGPTConfig,
    task: AdditionTask,
    a: np.ndarray,
    b: np.ndarray,
    batch_size: int = 4096,
) -> float:
    """Fraction of problems whose whole answer (every digit) is right."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    return float((solve(params, cfg, task, a, b, batch_size) == a + b).mean())


def _parse_problem(text: str) -> tuple[int, int]:
    left, sep, right = text.partition("+")
    if not sep or not left.strip().isdigit() or not right.strip().rstrip("=").isdigit():
        raise ValueError(f"expected a problem like 347+589, got {text!r}")
    return int(left), int(right.strip().rstrip("="))


def main(argv: list[str] | None = None) -> int:
    """CLI: print the model's answer to each problem given on the command line."""
    from .weights import load_weights

    ap = argparse.ArgumentParser(prog="python -m tinygpt.generate", description=__doc__.splitlines()[0])
    ap.add_argument("problems", nargs="+", help="problems such as 347+589")
    ap.add_argument("--weights", type=Path, default=SHIPPED_WEIGHTS)
    args = ap.parse_args(argv)
    loaded = load_weights(args.weights)
    task = loaded.task
    for text in args.problems:
        a, b = _parse_problem(text)
        prompt = task.encode_prompts(np.array([a]), np.array([b]))
        gen = greedy_generate(loaded.params, loaded.config, prompt, task.answer_len)[0]
        written = "".join(str(int(t)) for t in gen[task.prompt_len :])
        answer = int(task.decode_answers(gen[None, task.prompt_len :])[0])
        verdict = "ok" if answer == a + b else f"WRONG, expected {a + b}"
        print(f"{a}+{b}={answer}  (tokens after '=': {written}, least-significant first; {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
