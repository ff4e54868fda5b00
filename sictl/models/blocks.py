"""Building blocks of the periodic U-Net, written once for 1-D and 2-D fields.

Every block takes ``dim`` (1 or 2) and works on tensors ``(batch, channels, *spatial)`` with
``len(spatial) == dim``. Every spatial convolution pads circularly (the fields live on a torus), so a
block commutes with periodic shifts; strided convolutions commute with shifts by multiples of their
stride. No block uses positional encodings: attention is equivariant under any permutation of the
positions, hence under periodic shifts too.
"""

from __future__ import annotations

import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

__all__ = ["Attention", "Downsample", "ResBlock", "Upsample", "conv"]

_CONVS = {1: nn.Conv1d, 2: nn.Conv2d}


def conv(dim: int, c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Module:
    """A ``dim``-D convolution; kernels wider than 1 pad circularly so that the size is kept (÷ stride)."""
    if dim not in _CONVS:
        raise ValueError(f"dim must be 1 or 2, got {dim}")
    if kernel == 1:
        return _CONVS[dim](c_in, c_out, 1, stride=stride)
    return _CONVS[dim](c_in, c_out, kernel, stride=stride, padding=kernel // 2, padding_mode="circular")


def _broadcast(v: Tensor, dim: int) -> Tensor:
    """``(batch, c)`` -> ``(batch, c, 1, ...)`` with ``dim`` trailing singleton axes."""
    return v.reshape(*v.shape, *([1] * dim))


class ResBlock(nn.Module):
    """Residual block with time scale-shift conditioning (Ho et al., arXiv:2006.11239, App. B).

    ``h = conv(SiLU(GN(x)))``; ``h = conv(SiLU(GN(h)·(1 + s) + b))`` with ``(s, b) = Linear(SiLU(emb))``;
    returns ``h + skip(x)``, where ``skip`` is a 1×1 convolution when the channel count changes and
    the identity otherwise.

    Shapes: ``x (batch, c_in, *spatial)``, ``emb (batch, time_dim)`` -> ``(batch, c_out, *spatial)``.
    """

    def __init__(self, dim: int, c_in: int, c_out: int, time_dim: int, groups: int):
        super().__init__()
        self.dim = dim
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = conv(dim, c_in, c_out)
        self.time = nn.Linear(time_dim, 2 * c_out)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = conv(dim, c_out, c_out)
        self.skip = conv(dim, c_in, c_out, kernel=1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.time(F.silu(emb)).chunk(2, dim=1)
        h = self.norm2(h) * (1 + _broadcast(scale, self.dim)) + _broadcast(shift, self.dim)
        h = self.conv2(F.silu(h))
        return h + self.skip(x)


class Attention(nn.Module):
    """Pre-norm multi-head self-attention over all positions, with a residual connection.

    The positions of the ``dim``-D grid are flattened into one sequence; ``heads`` heads of width
    ``head_dim`` attend over it with softmax(q·kᵀ/√head_dim) (Vaswani et al., arXiv:1706.03762).
    Cost is quadratic in the number of positions, so it is meant for the coarsest levels.

    Shapes: ``(batch, c, *spatial)`` -> same.
    """

    def __init__(self, channels: int, heads: int, head_dim: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, channels)
        self.qkv = nn.Linear(channels, 3 * heads * head_dim, bias=False)
        self.out = nn.Linear(heads * head_dim, channels)

    def forward(self, x: Tensor) -> Tensor:
        seq = rearrange(self.norm(x), "b c ... -> b (...) c")
        q, k, v = rearrange(self.qkv(seq), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        attended = rearrange(F.scaled_dot_product_attention(q, k, v), "b h n d -> b n (h d)")
        return x + rearrange(self.out(attended), "b n c -> b c n").reshape(x.shape)


class Downsample(nn.Module):
    """Halve every spatial size: a 3-wide convolution with stride 2 (circular padding).

    Shapes: ``(batch, c, *spatial)`` -> ``(batch, c, *spatial/2)``; each size must be even. A shift
    of the input by 2 pixels shifts the output by 1.
    """

    def __init__(self, dim: int, channels: int):
        super().__init__()
        self.conv = conv(dim, channels, channels, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double every spatial size: nearest-neighbour ×2 then a 3-wide convolution (circular padding).

    Shapes: ``(batch, c, *spatial)`` -> ``(batch, c, *2·spatial)``.
    """

    def __init__(self, dim: int, channels: int):
        super().__init__()
        self.conv = conv(dim, channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
