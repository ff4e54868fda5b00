"""Sinusoidal time embedding shared by every network in :mod:`sictl.models`.

The interpolation time ``t ∈ [0, 1]`` is multiplied by ``scale`` (default 1000, the range of the
integer diffusion step of Ho et al., arXiv:2006.11239) and encoded with the transformer's fixed
sinusoids (Vaswani et al., arXiv:1706.03762): ``[sin(s·t·ω_k), cos(s·t·ω_k)]`` with
``ω_k = max_period^(-k / half)``, ``k = 0 .. half-1``. At ``scale = 1000`` the fastest frequency turns
1000 rad per unit of ``t`` and the slowest 0.1 rad, so both nearby and distant times are told apart.
The sinusoids are fixed (not learned); a learned MLP (:class:`TimeEmbedding`) follows them.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = ["TimeEmbedding", "batch_times", "sinusoidal_embedding"]


def sinusoidal_embedding(
    t: Tensor, dim: int, *, scale: float = 1000.0, max_period: float = 10000.0
) -> Tensor:
    """Fixed sinusoidal features of times ``t``.

    Args:
        t: times, shape ``(batch,)``.
        dim: number of features (even, ≥ 2): ``dim/2`` sines followed by ``dim/2`` cosines.
        scale: factor applied to ``t`` before encoding.
        max_period: the slowest period, in units of ``scale·t``.

    Returns:
        Tensor ``(batch, dim)``, float64 if ``t`` is float64, float32 otherwise (lower precisions
        cannot resolve ``1000·t`` and are promoted).
    """
    if dim < 2 or dim % 2:
        raise ValueError(f"the sinusoidal embedding needs an even dim >= 2, got {dim}")
    dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
    half = dim // 2
    k = torch.arange(half, device=t.device, dtype=dtype)
    freqs = torch.exp(-math.log(max_period) * k / half)
    angles = (scale * t.to(dtype))[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def batch_times(t: Tensor | float, batch: int, like: Tensor) -> Tensor:
    """Times as a ``(batch,)`` tensor on ``like``'s device (float64 if ``t`` or ``like`` is, else float32).

    Args:
        t: a python number, a 0-d tensor, or a tensor with ``batch`` elements (``(batch,)`` or
            ``(batch, 1)``); a single time is broadcast to the whole batch.
        batch: batch size.
        like: tensor whose device is used.

    Raises:
        ValueError: ``t`` has neither 1 nor ``batch`` elements.
    """
    t = torch.as_tensor(t, device=like.device)
    wide = t.dtype == torch.float64 or like.dtype == torch.float64
    t = t.to(torch.float64 if wide else torch.float32)
    if t.numel() == 1:
        return t.reshape(1).expand(batch)
    if t.numel() != batch:
        raise ValueError(
            f"t has {t.numel()} elements (shape {tuple(t.shape)}); expected 1 or batch = {batch}"
        )
    return t.reshape(batch)


class TimeEmbedding(nn.Module):
    """Sinusoids of ``t`` followed by a two-layer MLP: ``(batch,) -> (batch, time_dim)``.

    ``Linear(freq_dim, time_dim) → SiLU → Linear(time_dim, time_dim)``, as in Ho et al.
    (arXiv:2006.11239). The sinusoids are computed in float32 (float64 for float64 times) and cast
    to the MLP's dtype.
    """

    def __init__(self, freq_dim: int, time_dim: int, scale: float = 1000.0):
        super().__init__()
        self.freq_dim = freq_dim
        self.scale = scale
        self.mlp = nn.Sequential(nn.Linear(freq_dim, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))

    def forward(self, t: Tensor) -> Tensor:
        """``t``: ``(batch,)`` -> ``(batch, time_dim)``."""
        features = sinusoidal_embedding(t, self.freq_dim, scale=self.scale)
        return self.mlp(features.to(self.mlp[0].weight.dtype))
