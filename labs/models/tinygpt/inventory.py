"""Operator inventory: every kernel launch of one forward pass, with shapes, FLOPs and bytes.

This is the capstone's to-do list: one row per call of an :class:`tinygpt.model.Ops` field, in
the order ``forward`` makes them. Usage::

    cd labs/models && python -m tinygpt.inventory --batch 1 --seq 11

Counting conventions (stated, since any count of FLOPs is a convention):

* matmul ``(M, K) @ (K, N)``: ``2 M K N`` (one multiply and one add per term); a bias adds ``M N``.
* attention scores compute the full ``T x T`` product (as the reference does; a causal kernel may
  skip the upper triangle) plus one multiply per score for the ``1/sqrt(hd)`` scale.
* causal softmax: 5 per score (max, subtract, exp, sum, divide); masking is free.
* LayerNorm: 8 per element (sum for the mean; subtract, square, sum for the variance; subtract,
  scale by rstd, multiply by g, add b) plus 4 per row (two divisions by N, +eps, rsqrt).
* GELU (tanh form): 9 per element (x^3: 2, *k, +x, *c, tanh, +1, *x, *0.5); tanh and exp count 1.
* embedding and residual add: 1 add per output element.
* bytes: the least DRAM traffic, every input element read once and the output written once,
  float32 activations and weights, int32 token ids; an embedding reads only the B*T rows of wte
  it gathers. Reshapes between heads and the fused QKV layout are index arithmetic: not listed.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from math import prod

from .config import TinyGPTConfig

F32 = 4
TOKEN_BYTES = 4
LAYERNORM_FLOPS_PER_ELEMENT = 8
LAYERNORM_FLOPS_PER_ROW = 4
SOFTMAX_FLOPS_PER_ELEMENT = 5
GELU_FLOPS_PER_ELEMENT = 9

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpRecord:
    """One operator call: ``op`` is the :class:`~tinygpt.model.Ops` field that performs it."""

    name: str
    op: str
    inputs: tuple[Shape, ...]
    output: Shape
    flops: int
    bytes: int


def _linear(name: str, m: int, k: int, n: int, bias: bool, lead: Shape) -> OpRecord:
    flops = 2 * m * k * n + (m * n if bias else 0)
    nbytes = F32 * (m * k + k * n + (n if bias else 0) + m * n)
    ins: tuple[Shape, ...] = ((*lead, k), (k, n)) + (((n,),) if bias else ())
    return OpRecord(name, "linear", ins, (*lead, n), flops, nbytes)


def _layernorm(name: str, rows: int, n: int, lead: Shape) -> OpRecord:
    flops = rows * (LAYERNORM_FLOPS_PER_ELEMENT * n + LAYERNORM_FLOPS_PER_ROW)
    return OpRecord(name, "layernorm", ((*lead, n), (n,), (n,)), (*lead, n), flops, F32 * (2 * rows * n + 2 * n))


def _residual(name: str, shape: Shape) -> OpRecord:
    n = prod(shape)
    return OpRecord(name, "residual_add", (shape, shape), shape, n, F32 * 3 * n)


def inventory(cfg: TinyGPTConfig, batch: int = 1, seq: int = 11) -> list[OpRecord]:
    """The operator calls of ``forward(params, cfg, tokens)`` for tokens of shape (batch, seq)."""
    if not 1 <= seq <= cfg.block_size or batch < 1:
        raise ValueError(f"need batch >= 1 and 1 <= seq <= block_size ({cfg.block_size})")
    b, t, d, h, hd, m, v = batch, seq, cfg.d_model, cfg.n_head, cfg.head_dim, cfg.d_mlp, cfg.vocab_size
    rows = b * t
    act = (b, t, d)
    heads = (b, h, t, hd)
    scores = (b, h, t, t)
    n_scores = prod(scores)
    ops = [
        OpRecord(
            "embedding", "embedding", ((b, t), (v, d), (cfg.block_size, d)), act,
            rows * d, TOKEN_BYTES * rows + F32 * (rows * d + t * d + rows * d),
        )
    ]  # fmt: skip
    for i in range(cfg.n_layer):
        p = f"h{i}."
        ops += [
            _layernorm(p + "ln1", rows, d, (b, t)),
            _linear(p + "attn.qkv", rows, d, 3 * d, True, (b, t)),
            OpRecord(
                p + "attn.scores", "attention_scores", (heads, heads), scores,
                2 * b * h * t * t * hd + n_scores, F32 * (2 * prod(heads) + n_scores),
            ),
            OpRecord(
                p + "attn.softmax", "causal_softmax", (scores,), scores,
                SOFTMAX_FLOPS_PER_ELEMENT * n_scores, F32 * 2 * n_scores,
            ),
            OpRecord(
                p + "attn.values", "attention_values", (scores, heads), heads,
                2 * b * h * t * t * hd, F32 * (n_scores + 2 * prod(heads)),
            ),
            _linear(p + "attn.proj", rows, d, d, True, (b, t)),
            _residual(p + "attn.residual", act),
            _layernorm(p + "ln2", rows, d, (b, t)),
            _linear(p + "mlp.fc", rows, d, m, True, (b, t)),
            OpRecord(
                p + "mlp.gelu", "gelu", ((b, t, m),), (b, t, m),
                GELU_FLOPS_PER_ELEMENT * rows * m, F32 * 2 * rows * m,
            ),
            _linear(p + "mlp.proj", rows, m, d, True, (b, t)),
            _residual(p + "mlp.residual", act),
        ]  # fmt: skip
    ops += [_layernorm("lnf", rows, d, (b, t)), _linear("lm_head", rows, d, v, False, (b, t))]
    return ops


def _fmt_shapes(shapes: tuple[Shape, ...]) -> str:
    return ", ".join("x".join(map(str, s)) for s in shapes)


def format_table(records: list[OpRecord]) -> str:
    """Markdown table of the records, with a totals row."""
    lines = [
        "| # | name | op | inputs | output | FLOPs | bytes |",
        "|--:|------|----|--------|--------|------:|------:|",
    ]
    for i, r in enumerate(records):
        out = "x".join(map(str, r.output))
        lines.append(f"| {i} | {r.name} | {r.op} | {_fmt_shapes(r.inputs)} | {out} | {r.flops:,} | {r.bytes:,} |")
    total_f = sum(r.flops for r in records)
    total_b = sum(r.bytes for r in records)
    lines.append(f"| | **total** ({len(records)} launches) | | | | {total_f:,} | {total_b:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI: print the inventory for the shipped config at the given batch and sequence length."""
    ap = argparse.ArgumentParser(prog="python -m tinygpt.inventory", description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seq", type=int, default=11, help="tokens in the forward pass (11 = a full problem)")
    args = ap.parse_args(argv)
    print(format_table(inventory(TinyGPTConfig(), args.batch, args.seq)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
