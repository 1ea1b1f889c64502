"""The reference forward pass, built from one small function per operator.

Every operator the capstone lab turns into a kernel is a field of :class:`Ops`; ``forward`` only
calls those fields (plus reshapes, which move no data in a kernel: they are index arithmetic).
The lab swaps one field at a time for the student's kernel, e.g.
``dataclasses.replace(REFERENCE_OPS, gelu=student_gelu)``, and compares logits with the oracle.

Conventions
-----------
* Activations are (B, T, C) row-major float32; a weight matrix is stored (in, out), so a linear
  layer is ``y = x @ W + b``.
* The fused QKV weight is (d, 3d): columns [0, d) give Q, [d, 2d) K, [2d, 3d) V, and inside each
  block head h owns columns [h*hd, (h+1)*hd), hd = d / n_head.
* GELU is the tanh approximation used by GPT-2,
  ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, not the exact erf form: it needs only
  tanh, which every kernel language has.
* LayerNorm uses the biased variance and eps inside the square root, as in PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import TinyGPTConfig

Params = dict[str, np.ndarray]

GELU_C = math.sqrt(2.0 / math.pi)
GELU_K = 0.044715


def embedding(tokens: np.ndarray, wte: np.ndarray, wpe: np.ndarray) -> np.ndarray:
    """Token plus position embedding: (B, T) ids -> (B, T, d)."""
    t = tokens.shape[1]
    return wte[tokens] + wpe[:t][None, :, :]


def layernorm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """Normalise each row of the last axis to zero mean and unit variance, then scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + x.dtype.type(eps)) * g + b


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """``x @ w + b`` over the last axis; ``b`` may be None (the LM head has no bias)."""
    y = x @ w
    return y if b is None else y + b


def attention_scores(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Scaled dot products ``q k^T / sqrt(hd)``: (B, H, T, hd) x2 -> (B, H, T, T)."""
    scale = q.dtype.type(1.0 / math.sqrt(q.shape[-1]))
    return (q @ np.swapaxes(k, -1, -2)) * scale


def causal_softmax(s: np.ndarray) -> np.ndarray:
    """Row softmax of (..., T, T) scores where query i may only see keys j <= i (others get 0)."""
    t = s.shape[-1]
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    s = np.where(future, -np.inf, s)
    # The diagonal is never masked, so each row's max is finite and exp() cannot overflow.
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def attention_values(p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Attention-weighted sum of values: (B, H, T, T) x (B, H, T, hd) -> (B, H, T, hd)."""
    return p @ v


def gelu(x: np.ndarray) -> np.ndarray:
    """GELU, tanh approximation: ``0.5 x (1 + tanh(u))`` with ``u = sqrt(2/pi) (x + 0.044715 x^3)``.

    Evaluated through the identity ``0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u))``, which is the same
    function but several times faster in numpy (float32 ``np.tanh`` is not vectorised); a kernel
    may use either form.
    """
    c, k = x.dtype.type(GELU_C), x.dtype.type(GELU_K)
    e = _gelu_neg2u(x, c, k)
    np.exp(e, out=e)
    e += 1
    return np.divide(x, e, out=e)


def _gelu_neg2u(x: np.ndarray, c: np.floating, k: np.floating) -> np.ndarray:
    """``-2u`` for the GELU, capped at 80 so exp() stays finite (the result is 0 to float32 anyway)."""
    # In place: on (B*T, d_mlp) arrays the temporaries of the one-line form cost more than the maths.
    u = x * x
    u *= k
    u += 1
    u *= x
    u *= -2 * c
    return np.minimum(u, x.dtype.type(80), out=u)


def residual_add(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual connection: elementwise sum of two (B, T, d) tensors."""
    return x + y


@dataclass(frozen=True)
class Ops:
    """The replaceable operators; ``forward`` computes nothing except through these."""

    embedding: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] = embedding
    layernorm: Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray] = layernorm
    linear: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] = linear
    attention_scores: Callable[[np.ndarray, np.ndarray], np.ndarray] = attention_scores
    causal_softmax: Callable[[np.ndarray], np.ndarray] = causal_softmax
    attention_values: Callable[[np.ndarray, np.ndarray], np.ndarray] = attention_values
    gelu: Callable[[np.ndarray], np.ndarray] = gelu
    residual_add: Callable[[np.ndarray, np.ndarray], np.ndarray] = residual_add


REFERENCE_OPS = Ops()


def split_heads(qkv: np.ndarray, n_head: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, T, 3d) fused projection -> q, k, v each (B, H, T, hd). A view: no arithmetic."""
    bsz, t, three_d = qkv.shape
    hd = three_d // (3 * n_head)
    qkv = qkv.reshape(bsz, t, 3, n_head, hd).transpose(2, 0, 3, 1, 4)
    return qkv[0], qkv[1], qkv[2]


def merge_heads(o: np.ndarray) -> np.ndarray:
    """(B, H, T, hd) -> (B, T, H*hd), heads side by side. A copy in numpy, indexing in a kernel."""
    bsz, h, t, hd = o.shape
    return o.transpose(0, 2, 1, 3).reshape(bsz, t, h * hd)


def param_shapes(cfg: TinyGPTConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in a fixed order (also the order of the weights file)."""
    d, m = cfg.d_model, cfg.d_mlp
    shapes: dict[str, tuple[int, ...]] = {"wte": (cfg.vocab_size, d), "wpe": (cfg.block_size, d)}
    for i in range(cfg.n_layer):
        p = f"h{i}."
        shapes |= {
            p + "ln1.g": (d,), p + "ln1.b": (d,),
            p + "attn.qkv.w": (d, 3 * d), p + "attn.qkv.b": (3 * d,),
            p + "attn.proj.w": (d, d), p + "attn.proj.b": (d,),
            p + "ln2.g": (d,), p + "ln2.b": (d,),
            p + "mlp.fc.w": (d, m), p + "mlp.fc.b": (m,),
            p + "mlp.proj.w": (m, d), p + "mlp.proj.b": (d,),
        }  # fmt: skip
    shapes |= {"lnf.g": (d,), "lnf.b": (d,), "lm_head.w": (d, cfg.vocab_size)}
    return shapes


def init_params(cfg: TinyGPTConfig, rng: np.random.Generator, dtype: type = np.float32) -> Params:
    """GPT-2 style initialisation: N(0, 0.02) matrices and embeddings, zero biases, unit LN gains.

    The two projections that write into the residual stream (attention output, MLP output) are
    scaled down by 1/sqrt(2 n_layer) so the stream's variance does not grow with depth.
    """
    params: Params = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith(".g"):
            params[name] = np.ones(shape, dtype=dtype)
        elif name.endswith(".b"):
            params[name] = np.zeros(shape, dtype=dtype)
        else:
            std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("proj.w") else 0.02
            params[name] = (rng.standard_normal(shape) * std).astype(dtype)
    return params


def forward(
    params: Params,
    cfg: TinyGPTConfig,
    tokens: np.ndarray,
    ops: Ops = REFERENCE_OPS,
    cache: dict[str, Any] | None = None,
) -> np.ndarray:
    """Logits (B, T, vocab) for token ids (B, T), T <= block_size.

    The computation is GPT-2's pre-norm block, repeated n_layer times::

        x = x + proj(attention(ln1(x)))
        x = x + mlp_proj(gelu(mlp_fc(ln2(x))))

    then a final LayerNorm and the (untied, bias-free) LM head. When ``cache`` is a dict, the input
    of every operator is stored in it for :mod:`tinygpt.backward`.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 2:
        raise ValueError(f"tokens must be (batch, time), got shape {tokens.shape}")
    if tokens.shape[1] > cfg.block_size:
        raise ValueError(f"sequence length {tokens.shape[1]} exceeds block_size {cfg.block_size}")
    eps = cfg.ln_eps
    x = ops.embedding(tokens, params["wte"], params["wpe"])
    layers: list[dict[str, np.ndarray]] = []
    for i in range(cfg.n_layer):
        p = f"h{i}."
        c: dict[str, np.ndarray] = {"x0": x}
        h1 = ops.layernorm(x, params[p + "ln1.g"], params[p + "ln1.b"], eps)
        qkv = ops.linear(h1, params[p + "attn.qkv.w"], params[p + "attn.qkv.b"])
        q, k, v = split_heads(qkv, cfg.n_head)
        probs = ops.causal_softmax(ops.attention_scores(q, k))
        att = merge_heads(ops.attention_values(probs, v))
        x = ops.residual_add(x, ops.linear(att, params[p + "attn.proj.w"], params[p + "attn.proj.b"]))
        c |= {"h1": h1, "q": q, "k": k, "v": v, "probs": probs, "att": att, "x1": x}
        h2 = ops.layernorm(x, params[p + "ln2.g"], params[p + "ln2.b"], eps)
        f = ops.linear(h2, params[p + "mlp.fc.w"], params[p + "mlp.fc.b"])
        g = ops.gelu(f)
        x = ops.residual_add(x, ops.linear(g, params[p + "mlp.proj.w"], params[p + "mlp.proj.b"]))
        c |= {"h2": h2, "f": f, "g": g}
        layers.append(c)
    hf = ops.layernorm(x, params["lnf.g"], params["lnf.b"], eps)
    logits = ops.linear(hf, params["lm_head.w"], None)
    if cache is not None:
        cache |= {"tokens": tokens, "layers": layers, "xf": x, "hf": hf}
    return logits
