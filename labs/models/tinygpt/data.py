"""The task: n-digit addition, generated here (no download), and its 12-symbol tokenizer.

A problem ``a + b`` with ``n`` digits per operand is the token sequence::

    a (n digits, zero-padded) '+' b (n digits) '=' s (n+1 digits, least-significant first)

so with n = 3, ``347+589=936`` is written ``347+589=6390``. Writing the sum backwards lets the
model emit each digit after it has already seen the lower digits, i.e. the carry it needs; in
forward order the first digit it must write depends on every carry at once, which a 2-layer
model learns far more slowly (see MODEL_CARD.md).

Held-out split: a pair (a, b) belongs to the held-out set iff ``splitmix64(a * 10**n + b) % 10 == 0``.
The sampler used for training rejects exactly those pairs, so no held-out problem can ever appear
in training, whatever the seed or the number of steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VOCAB = "0123456789+="
PLUS = VOCAB.index("+")
EQUALS = VOCAB.index("=")
HELDOUT_MODULUS = 10


def encode_text(text: str) -> np.ndarray:
    """Token ids (int64) of a string over :data:`VOCAB`."""
    try:
        return np.array([VOCAB.index(ch) for ch in text], dtype=np.int64)
    except ValueError:
        bad = sorted({ch for ch in text if ch not in VOCAB})
        raise ValueError(f"characters {bad} are not in the vocabulary {VOCAB!r}") from None


def decode_tokens(tokens: np.ndarray) -> str:
    """String form of a 1-D sequence of token ids."""
    return "".join(VOCAB[int(t)] for t in tokens)


def splitmix64(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised: a fixed, well-mixed hash of non-negative integers."""
    z = np.asarray(values, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class AdditionTask:
    """n-digit addition with the answer reversed; all arrays of operands are int64."""

    n_digits: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.n_digits <= 9:
            raise ValueError(f"n_digits must be in 1..9, got {self.n_digits}")

    @property
    def max_operand(self) -> int:
        """Largest operand, 10**n - 1."""
        return 10**self.n_digits - 1

    @property
    def prompt_len(self) -> int:
        """Tokens up to and including '=' (what the model is given)."""
        return 2 * self.n_digits + 2

    @property
    def answer_len(self) -> int:
        """Tokens the model must write: n + 1 digits, least-significant first."""
        return self.n_digits + 1

    @property
    def seq_len(self) -> int:
        """Whole problem: prompt plus answer."""
        return self.prompt_len + self.answer_len

    @property
    def input_len(self) -> int:
        """Positions the model ever sees: the last answer digit is only predicted, never read."""
        return self.seq_len - 1

    def _digits(self, x: np.ndarray, width: int) -> np.ndarray:
        """(N, width) most-significant-first decimal digits of x."""
        powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
        return (x[:, None] // powers[None, :]) % 10

    def _check(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = np.atleast_1d(np.asarray(a, dtype=np.int64))
        b = np.atleast_1d(np.asarray(b, dtype=np.int64))
        if a.shape != b.shape or a.ndim != 1:
            raise ValueError(f"operands must be 1-D arrays of one shape, got {a.shape} and {b.shape}")
        if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) > self.max_operand):
            raise ValueError(f"operands must lie in 0..{self.max_operand}")
        return a, b

    def encode(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, seq_len) int64 token ids of the full problems a + b, answer included."""
        a, b = self._check(a, b)
        n = self.n_digits
        out = np.empty((a.size, self.seq_len), dtype=np.int64)
        out[:, :n] = self._digits(a, n)
        out[:, n] = PLUS
        out[:, n + 1 : 2 * n + 1] = self._digits(b, n)
        out[:, 2 * n + 1] = EQUALS
        out[:, self.prompt_len :] = self._digits(a + b, self.answer_len)[:, ::-1]
        return out

    def encode_prompts(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(N, prompt_len) token ids of ``a+b=``, what generation starts from."""
        return self.encode(a, b)[:, : self.prompt_len]

    def decode_answers(self, answer_tokens: np.ndarray) -> np.ndarray:
        """Integers from (N, answer_len) reversed answer digits; -1 where a token is not a digit."""
        answer_tokens = np.asarray(answer_tokens, dtype=np.int64)
        powers = 10 ** np.arange(self.answer_len, dtype=np.int64)
        values = (answer_tokens * powers).sum(axis=1)
        values[(answer_tokens > 9).any(axis=1)] = -1
        return values

    def loss_mask(self) -> np.ndarray:
        """(input_len,) float mask of the positions whose next token is an answer digit.

        Position t predicts token t+1, so the answer digits (tokens prompt_len..seq_len-1) are
        predicted at positions prompt_len-1 .. seq_len-2: the '=' and all answer digits but the last.
        """
        mask = np.zeros(self.input_len, dtype=np.float32)
        mask[self.prompt_len - 1 :] = 1.0
        return mask

    def is_heldout(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Boolean array: which pairs belong to the held-out set (about 1 in 10)."""
        a, b = self._check(a, b)
        key = a * (self.max_operand + 1) + b
        return splitmix64(key) % np.uint64(HELDOUT_MODULUS) == 0

    def sample_train(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """n uniformly drawn training pairs, never a held-out one (rejection sampling)."""
        a_parts: list[np.ndarray] = []
        b_parts: list[np.ndarray] = []
        have = 0
        while have < n:
            a = rng.integers(0, self.max_operand + 1, size=n + n // 4 + 8, dtype=np.int64)
            b = rng.integers(0, self.max_operand + 1, size=a.size, dtype=np.int64)
            keep = ~self.is_heldout(a, b)
            a_parts.append(a[keep])
            b_parts.append(b[keep])
            have += int(keep.sum())
        return np.concatenate(a_parts)[:n], np.concatenate(b_parts)[:n]

    def heldout_pairs(self, limit: int | None = None, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
        """The held-out pairs: all of them (in (a, b) order) or a seeded random subset of ``limit``."""
        side = self.max_operand + 1
        a, b = np.divmod(np.arange(side * side, dtype=np.int64), side)
        keep = self.is_heldout(a, b)
        a, b = a[keep], b[keep]
        if limit is not None and limit < a.size:
            pick = np.sort(np.random.default_rng(seed).choice(a.size, size=limit, replace=False))
            a, b = a[pick], b[pick]
        return a, b

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """A training batch: inputs (n, input_len) and next-token targets (n, input_len), int64."""
        seq = self.encode(*self.sample_train(rng, n))
        return seq[:, :-1], seq[:, 1:]

    def to_dict(self) -> dict[str, object]:
        """JSON form stored in the weights file."""
        return {"name": "addition-reversed", "n_digits": self.n_digits, "vocab": VOCAB}
