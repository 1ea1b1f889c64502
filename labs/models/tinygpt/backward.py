"""Hand-written backward pass: the gradient of the masked cross-entropy w.r.t. every parameter.

Each ``*_backward`` function takes ``dy = dL/dy`` for its operator's output and returns the
gradients for the operator's inputs. Notation: rows are the last axis, ``sum_j`` sums over it,
and every "batch" axis (B, T, or B, H) is summed when a gradient flows into a shared weight.

The whole pass is checked against central finite differences in ``tests/models``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .config import TinyGPTConfig
from .model import GELU_C, GELU_K, Params, _gelu_neg2u, forward, merge_heads


def cross_entropy(logits: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean masked cross-entropy and its gradient w.r.t. the logits.

    ``L = -(1/M) sum_{b,t} mask[t] log softmax(z[b,t])[y[b,t]]`` with ``M = B * sum(mask)``.
    With ``p = softmax(z)``: ``dL/dz[b,t] = mask[t] (p[b,t] - onehot(y[b,t])) / M``.
    """
    z = logits - logits.max(axis=-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    w = np.broadcast_to(mask, targets.shape).astype(logits.dtype)
    m = w.sum()
    picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
    loss = float(-(picked * w).sum() / m)
    dz = np.exp(log_p)
    np.put_along_axis(dz, targets[..., None], np.take_along_axis(dz, targets[..., None], -1) - 1, -1)
    dz *= (w / m)[..., None]
    return loss, dz


def linear_backward(
    dy: np.ndarray, x: np.ndarray, w: np.ndarray, has_bias: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``y = x W + b``: ``dx = dy W^T``, ``dW = sum_rows x^T dy``, ``db = sum_rows dy``."""
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dx = dy @ w.T
    dw = x2.T @ dy2
    db = dy2.sum(axis=0) if has_bias else None
    return dx, dw, db


def layernorm_backward(
    dy: np.ndarray, x: np.ndarray, g: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``y = g * xhat + b`` with ``xhat = (x - mean) * rstd``, ``rstd = 1 / sqrt(var + eps)``.

    With ``dxhat = dy * g``, differentiating mean and var (both functions of the whole row, N wide):
    ``dx = rstd * (dxhat - mean_j(dxhat) - xhat * mean_j(dxhat * xhat))``;
    ``dg = sum_rows dy * xhat``, ``db = sum_rows dy``.
    """
    mean = x.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + x.dtype.type(eps))
    xhat = (x - mean) * rstd
    dxhat = dy * g
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    c = dy.shape[-1]
    dg = (dy * xhat).reshape(-1, c).sum(axis=0)
    db = dy.reshape(-1, c).sum(axis=0)
    return dx, dg, db


def gelu_backward(dy: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Tanh-GELU ``y = x/2 (1 + tanh(u))``, ``u = c (x + k x^3)``, i.e. ``y = x s`` with ``s = sigmoid(2u)``:
    ``dy/dx = s + 2 x s (1 - s) c (1 + 3 k x^2)``
    (equal to ``(1 + t)/2 + x/2 (1 - t^2) u'`` with ``t = tanh(u) = 2s - 1``).
    """
    c, k = x.dtype.type(GELU_C), x.dtype.type(GELU_K)
    s = _gelu_neg2u(x, c, k)
    np.exp(s, out=s)
    s += 1
    np.reciprocal(s, out=s)
    slope = x * x
    slope *= 3 * k
    slope += 1
    slope *= 2 * c
    slope *= x
    slope *= 1 - s
    slope += 1
    slope *= s
    return np.multiply(dy, slope, out=slope)


def causal_softmax_backward(dp: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Row softmax ``p = softmax(s)``: ``ds_j = p_j (dp_j - sum_i dp_i p_i)``.

    Masked (future) entries have ``p = 0`` so they receive no gradient, as they must.
    """
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


def attention_backward(
    do: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``s = q k^T / sqrt(hd)``, ``p = causal_softmax(s)``, ``o = p v`` (all per batch and head):
    ``dv = p^T do``, ``dp = do v^T``, ``ds`` from the softmax rule,
    ``dq = ds k / sqrt(hd)``, ``dk = ds^T q / sqrt(hd)``.
    """
    scale = q.dtype.type(1.0 / np.sqrt(q.shape[-1]))
    dv = np.swapaxes(p, -1, -2) @ do
    dp = do @ np.swapaxes(v, -1, -2)
    ds = causal_softmax_backward(dp, p) * scale
    dq = ds @ k
    dk = np.swapaxes(ds, -1, -2) @ q
    return dq, dk, dv


def embedding_backward(
    dx: np.ndarray, tokens: np.ndarray, vocab_size: int, block_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``x[b,t] = wte[tokens[b,t]] + wpe[t]``: each row of dx is scattered back to the rows it read.

    ``dwte[v] = sum over (b,t) with tokens[b,t] == v of dx[b,t]`` (a one-hot matmul here),
    ``dwpe[t] = sum_b dx[b,t]`` for the T positions used, zero for the rest of the table.
    """
    c = dx.shape[-1]
    onehot = np.zeros((tokens.size, vocab_size), dtype=dx.dtype)
    onehot[np.arange(tokens.size), tokens.reshape(-1)] = 1
    dwte = onehot.T @ dx.reshape(-1, c)
    dwpe = np.zeros((block_size, c), dtype=dx.dtype)
    dwpe[: tokens.shape[1]] = dx.sum(axis=0)
    return dwte, dwpe


def loss_and_grads(
    params: Params, cfg: TinyGPTConfig, tokens: np.ndarray, targets: np.ndarray, mask: np.ndarray
) -> tuple[float, Params]:
    """Forward, masked cross-entropy, and the gradient of the loss for every parameter.

    The pass walks the forward in reverse. A residual ``x1 = x0 + f(x0)`` sends its incoming
    gradient both straight through and into ``f``, so the two contributions add.
    """
    cache: dict[str, Any] = {}
    logits = forward(params, cfg, tokens, cache=cache)
    loss, dlogits = cross_entropy(logits, targets, mask)
    grads: Params = {}
    eps = cfg.ln_eps
    bsz, t = tokens.shape
    h, hd = cfg.n_head, cfg.head_dim

    dhf, grads["lm_head.w"], _ = linear_backward(dlogits, cache["hf"], params["lm_head.w"], has_bias=False)
    dx, grads["lnf.g"], grads["lnf.b"] = layernorm_backward(dhf, cache["xf"], params["lnf.g"], eps)
    for i in reversed(range(cfg.n_layer)):
        p, c = f"h{i}.", cache["layers"][i]
        # MLP half: x2 = x1 + proj(gelu(fc(ln2(x1)))).
        dg, grads[p + "mlp.proj.w"], grads[p + "mlp.proj.b"] = linear_backward(dx, c["g"], params[p + "mlp.proj.w"])
        df = gelu_backward(dg, c["f"])
        dh2, grads[p + "mlp.fc.w"], grads[p + "mlp.fc.b"] = linear_backward(df, c["h2"], params[p + "mlp.fc.w"])
        dln, grads[p + "ln2.g"], grads[p + "ln2.b"] = layernorm_backward(dh2, c["x1"], params[p + "ln2.g"], eps)
        dx = dx + dln
        # Attention half: x1 = x0 + proj(attention(ln1(x0))).
        datt, grads[p + "attn.proj.w"], grads[p + "attn.proj.b"] = linear_backward(
            dx, c["att"], params[p + "attn.proj.w"]
        )
        do = datt.reshape(bsz, t, h, hd).transpose(0, 2, 1, 3)
        dq, dk, dv = attention_backward(do, c["q"], c["k"], c["v"], c["probs"])
        # Undo split_heads: stack q, k, v back into the fused (B, T, 3d) layout.
        dqkv = np.concatenate([merge_heads(dq), merge_heads(dk), merge_heads(dv)], axis=-1)
        dh1, grads[p + "attn.qkv.w"], grads[p + "attn.qkv.b"] = linear_backward(dqkv, c["h1"], params[p + "attn.qkv.w"])
        dln, grads[p + "ln1.g"], grads[p + "ln1.b"] = layernorm_backward(dh1, c["x0"], params[p + "ln1.g"], eps)
        dx = dx + dln
    grads["wte"], grads["wpe"] = embedding_backward(dx, cache["tokens"], cfg.vocab_size, cfg.block_size)
    return loss, {name: grads[name] for name in params}
