"""Model hyper-parameters: one frozen dataclass, stored verbatim in the weights file."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TinyGPTConfig:
    """Shape of the transformer.

    The defaults are the shipped model. They are chosen so that every matrix in a forward pass
    fits the emulator's teaching sizes: 64-wide activations, 4 heads of 16, a 256-wide MLP and a
    16-token context (the addition task uses 11 input positions; 16 is the next power of two,
    which keeps the position table and any tiling of the attention matrix simple).
    """

    vocab_size: int = 12
    block_size: int = 16
    n_layer: int = 2
    n_head: int = 4
    d_model: int = 64
    d_mlp: int = 256
    ln_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "d_model", "d_mlp"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"TinyGPTConfig.{name} must be a positive int, got {value!r}")
        if self.d_model % self.n_head:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head})")
        if not isinstance(self.ln_eps, float) or not self.ln_eps > 0:
            raise ValueError(f"TinyGPTConfig.ln_eps must be a positive float, got {self.ln_eps!r}")

    @property
    def head_dim(self) -> int:
        """Width of one attention head (d_model / n_head)."""
        return self.d_model // self.n_head

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, as stored in the weights file."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TinyGPTConfig:
        """Inverse of :meth:`to_dict`; unknown or missing fields are an error, not a silent default."""
        if not isinstance(data, dict):
            raise ValueError(f"config must be a JSON object, got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted(names - set(data))
        if unknown or missing:
            raise ValueError(f"config fields do not match TinyGPTConfig: missing {missing}, unknown {unknown}")
        return cls(**data)
