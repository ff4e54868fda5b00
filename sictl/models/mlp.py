"""A residual MLP for vector data ``(batch, features)`` with the shared sinusoidal time embedding.

``x`` (and the optional conditioning vector ``cond``) are concatenated and lifted to ``width`` by a
linear layer; ``depth`` residual blocks follow, each
``h + Linear(SiLU(Linear(SiLU(LN(h))) + Linear(SiLU(emb))))`` with ``emb`` the time embedding
(:class:`~sictl.models.embedding.TimeEmbedding`, sinusoids of ``time_scale·t`` and an MLP); the output
is ``Linear(SiLU(LN(h)))``. PyTorch's default initialisation everywhere (nothing zero-initialised).
For vectors, ``in_channels``/``out_channels``/``cond_channels`` count features.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sictl.models.embedding import TimeEmbedding, batch_times

__all__ = ["MLP", "MLPConfig"]


@dataclass(frozen=True)
class MLPConfig:
    """Everything needed to rebuild an :class:`MLP`; JSON-serialisable via :meth:`to_dict`.

    Attributes:
        in_channels: features of ``x``.
        out_channels: features of the output; ``None`` means ``in_channels`` (stored resolved).
        cond_channels: features of the conditioning vector concatenated to ``x`` (0 = none).
        width: hidden width.
        depth: number of residual blocks.
        time_dim: width of the time embedding; its sinusoids have ``time_dim // 4`` features.
        time_scale: ``t`` is multiplied by it before the sinusoids.
    """

    in_channels: int
    out_channels: int | None = None
    cond_channels: int = 0
    width: int = 256
    depth: int = 3
    time_dim: int = 128
    time_scale: float = 1000.0

    def __post_init__(self):
        if self.out_channels is None:
            object.__setattr__(self, "out_channels", self.in_channels)
        object.__setattr__(self, "time_scale", float(self.time_scale))
        for name in ("in_channels", "out_channels", "width", "depth"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MLPConfig.{name} must be an integer >= 1, got {value!r}")
        if not isinstance(self.cond_channels, int) or self.cond_channels < 0:
            raise ValueError(f"MLPConfig.cond_channels must be an integer >= 0, got {self.cond_channels!r}")
        if not isinstance(self.time_dim, int) or self.time_dim < 8 or self.time_dim % 8:
            raise ValueError(f"MLPConfig.time_dim must be a positive multiple of 8, got {self.time_dim!r}")

    @property
    def freq_dim(self) -> int:
        """Number of sinusoidal time features, ``time_dim // 4``."""
        return self.time_dim // 4

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only, with ``"kind": "mlp"``; inverse of :meth:`from_dict`."""
        return {"kind": "mlp", **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MLPConfig:
        """Rebuild from :meth:`to_dict`'s output (also after a JSON round trip).

        Raises:
            ValueError: another kind, unknown keys, or invalid values.
        """
        data = dict(data)
        kind = data.pop("kind", "mlp")
        if kind != "mlp":
            raise ValueError(f"not an MLP config (kind {kind!r})")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown MLP config keys {unknown}; known: {sorted(known)}")
        return cls(**data)


class _Block(nn.Module):
    """``h + Linear(SiLU(Linear(SiLU(LN(h))) + Linear(SiLU(emb))))``: ``(batch, width)`` -> same."""

    def __init__(self, width: int, time_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.lin1 = nn.Linear(width, width)
        self.time = nn.Linear(time_dim, width)
        self.lin2 = nn.Linear(width, width)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        z = self.lin1(F.silu(self.norm(h))) + self.time(F.silu(emb))
        return h + self.lin2(F.silu(z))


class MLP(nn.Module):
    """Time-conditioned residual MLP ``(t, x, cond) -> vector``; see the module docstring.

    Args:
        config: an :class:`MLPConfig`.
    """

    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = c = config
        self.time_embedding = TimeEmbedding(c.freq_dim, c.time_dim, scale=c.time_scale)
        self.inlet = nn.Linear(c.in_channels + c.cond_channels, c.width)
        self.blocks = nn.ModuleList(_Block(c.width, c.time_dim) for _ in range(c.depth))
        self.out_norm = nn.LayerNorm(c.width)
        self.outlet = nn.Linear(c.width, c.out_channels)

    def forward(self, t: Tensor | float, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Evaluate the network.

        Args:
            t: times in ``[0, 1]``, shape ``(batch,)`` or a scalar shared by the batch.
            x: vectors ``(batch, in_channels)``.
            cond: conditioning vectors ``(batch, cond_channels)``; required iff ``cond_channels > 0``.

        Returns:
            Tensor ``(batch, out_channels)``.

        Raises:
            ValueError: shapes that do not match the configuration.
        """
        c = self.config
        if x.ndim != 2 or x.shape[1] != c.in_channels:
            raise ValueError(f"x must have shape (batch, {c.in_channels}), got {tuple(x.shape)}")
        if c.cond_channels == 0:
            if cond is not None:
                raise ValueError("this MLP has cond_channels = 0 but a cond tensor was given")
        elif cond is None or cond.shape != (x.shape[0], c.cond_channels):
            got = None if cond is None else tuple(cond.shape)
            raise ValueError(f"cond must have shape {(x.shape[0], c.cond_channels)}, got {got}")
        emb = self.time_embedding(batch_times(t, x.shape[0], x))
        h = self.inlet(x if cond is None else torch.cat([x, cond.to(x.dtype)], dim=1))
        for block in self.blocks:
            h = block(h, emb)
        return self.outlet(F.silu(self.out_norm(h)))
