"""A U-Net for periodic fields in 1-D and 2-D (one implementation, parametrised by ``dim``).

Architecture (Ronneberger et al., arXiv:1505.04597, with the time conditioning of the DDPM U-Net,
Ho et al., arXiv:2006.11239):

* input: ``x`` and the optional conditioning fields ``cond`` are concatenated along channels and
  lifted to ``channels`` by a 3-wide convolution;
* time: sinusoids of ``time_scale·t`` and an MLP (:class:`~sictl.models.embedding.TimeEmbedding`)
  give a ``time_dim`` vector that every residual block turns into a per-channel scale and shift;
* encoder: level ``i`` (``i = 0 .. L-1``, ``L = len(mults)``) has ``blocks`` residual blocks with
  ``channels·mults[i]`` channels, each optionally followed by self-attention (``attention[i]``); every
  block's output is kept as a skip connection; levels ``0 .. L-2`` end with a stride-2 convolution;
* middle: residual block, self-attention (``mid_attention``), residual block;
* decoder: the mirror image; each residual block takes the concatenation with one skip, levels
  ``L-1 .. 1`` end with nearest ×2 upsampling and a convolution;
* output: GroupNorm, SiLU, 3-wide convolution to ``out_channels``. No layer is zero-initialised
  (PyTorch's default initialisation everywhere), so an untrained network depends on all its inputs.

All spatial convolutions pad circularly. The spatial sizes must be divisible by ``2**(L-1)``
(:func:`check_fits`); the network then commutes with periodic shifts by multiples of ``2**(L-1)``
pixels along every axis.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from sictl.models.blocks import Attention, Downsample, ResBlock, Upsample, conv
from sictl.models.embedding import TimeEmbedding, batch_times

__all__ = ["UNet", "UNetConfig", "check_fits"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _attention_mask(attention: Any, levels: int) -> tuple[bool, ...]:
    """Per-level attention flags from a sequence of bools (one per level) or of level indices."""
    message = f"attention must be {levels} booleans (one per level) or level indices, got {attention!r}"
    if not isinstance(attention, (tuple, list)):
        raise ValueError(message)  # noqa: TRY004 (config errors are ValueErrors throughout)
    items = tuple(attention)
    if all(isinstance(a, bool) for a in items) and len(items) == levels:
        return items
    if all(_is_int(a) for a in items):
        bad = [i for i in items if not -levels <= i < levels]
        if bad:
            raise ValueError(f"attention level indices {bad} out of range for {levels} levels")
        chosen = {i % levels for i in items}
        return tuple(i in chosen for i in range(levels))
    raise ValueError(message)


@dataclass(frozen=True)
class UNetConfig:
    """Everything needed to rebuild a :class:`UNet`; JSON-serialisable via :meth:`to_dict`.

    Attributes:
        dim: number of spatial axes, 1 or 2.
        in_channels: channels of ``x``.
        out_channels: channels of the output.
        cond_channels: channels of the conditioning fields concatenated to ``x`` (0 = none).
        channels: width of level 0; level ``i`` has ``channels·mults[i]``.
        mults: channel multipliers, one per level (``len(mults)`` levels, ``len(mults)-1`` halvings).
        attention: per-level self-attention flags; level indices (e.g. ``(3,)`` or ``(-1,)``) are
            accepted too and stored as flags.
        groups: GroupNorm groups; every level's width must be divisible by it.
        time_dim: width of the time embedding; its sinusoids have ``freq_dim`` features.
        heads: attention heads.
        head_dim: width of one head.
        blocks: residual blocks per level (encoder and decoder each).
        mid_attention: self-attention between the two middle residual blocks.
        time_scale: ``t`` is multiplied by it before the sinusoids.
    """

    dim: int
    in_channels: int = 1
    out_channels: int = 1
    cond_channels: int = 0
    channels: int = 32
    mults: tuple[int, ...] = (1, 2, 2, 2)
    attention: tuple[bool, ...] = (False, False, False, True)
    groups: int = 8
    time_dim: int = 128
    heads: int = 4
    head_dim: int = 32
    blocks: int = 2
    mid_attention: bool = True
    time_scale: float = 1000.0

    def __post_init__(self):
        if not _is_int(self.dim) or self.dim not in (1, 2):
            raise ValueError(f"UNetConfig.dim must be 1 or 2, got {self.dim!r}")
        mults = tuple(self.mults)
        if not mults or not all(_is_int(m) and m >= 1 for m in mults):
            raise ValueError(f"mults must be a non-empty sequence of positive integers, got {self.mults!r}")
        object.__setattr__(self, "mults", mults)
        object.__setattr__(self, "attention", _attention_mask(self.attention, len(mults)))
        object.__setattr__(self, "time_scale", float(self.time_scale))
        object.__setattr__(self, "mid_attention", bool(self.mid_attention))
        for name in ("in_channels", "out_channels", "channels", "groups", "heads", "head_dim", "blocks"):
            if not _is_int(getattr(self, name)) or getattr(self, name) < 1:
                raise ValueError(f"UNetConfig.{name} must be an integer >= 1, got {getattr(self, name)!r}")
        if not _is_int(self.cond_channels) or self.cond_channels < 0:
            raise ValueError(f"UNetConfig.cond_channels must be an integer >= 0, got {self.cond_channels!r}")
        if not _is_int(self.time_dim) or self.time_dim < 8 or self.time_dim % 8:
            raise ValueError(f"UNetConfig.time_dim must be a positive multiple of 8, got {self.time_dim!r}")
        widths = sorted({self.channels * m for m in mults})
        bad = [w for w in widths if w % self.groups]
        if bad:
            raise ValueError(
                f"level widths {bad} (channels × mults) are not divisible by groups = {self.groups}"
            )

    @property
    def levels(self) -> int:
        """Number of resolution levels, ``len(mults)``."""
        return len(self.mults)

    @property
    def divisor(self) -> int:
        """Every spatial size must be a multiple of this: ``2**(levels-1)``."""
        return 2 ** (self.levels - 1)

    @property
    def freq_dim(self) -> int:
        """Number of sinusoidal time features, ``time_dim // 4``."""
        return self.time_dim // 4

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (lists for tuples), with ``"kind": "unet"``; inverse of :meth:`from_dict`."""
        out: dict[str, Any] = {"kind": "unet"}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UNetConfig:
        """Rebuild from :meth:`to_dict`'s output (also after a JSON round trip).

        Raises:
            ValueError: another kind, unknown keys, or invalid values.
        """
        data = dict(data)
        kind = data.pop("kind", "unet")
        if kind != "unet":
            raise ValueError(f"not a U-Net config (kind {kind!r})")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown U-Net config keys {unknown}; known: {sorted(known)}")
        for key in ("mults", "attention"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def check_fits(config: UNetConfig | Mapping[str, Any], spatial_shape: Sequence[int]) -> None:
    """Check that a U-Net accepts fields of this spatial shape; one-line ValueError otherwise.

    Args:
        config: a :class:`UNetConfig` or its :meth:`~UNetConfig.to_dict`.
        spatial_shape: the spatial sizes only (no batch or channel axis), ``dim`` of them.

    Raises:
        ValueError: wrong number of axes, or a size that is not a positive multiple of
            ``2**(levels-1)``.
    """
    if not isinstance(config, UNetConfig):
        config = UNetConfig.from_dict(config)
    shape = tuple(int(s) for s in spatial_shape)
    if len(shape) != config.dim:
        raise ValueError(f"a {config.dim}-D U-Net needs {config.dim} spatial axes, got shape {shape}")
    d = config.divisor
    for axis, size in enumerate(shape):
        if size < d or size % d:
            down = max(d, size - size % d)
            raise ValueError(
                f"spatial size {size} (axis {axis} of {shape}) is not a multiple of {d} = "
                f"2**({config.levels}-1), which a U-Net with {config.levels} levels needs; "
                f"use e.g. {down} or {down + d}, or fewer levels"
            )


class UNet(nn.Module):
    """Periodic U-Net ``(t, x, cond) -> field`` for ``dim``-D fields; see the module docstring.

    Args:
        config: a :class:`UNetConfig`.
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = c = config
        widths = [c.channels * m for m in c.mults]
        self.time_embedding = TimeEmbedding(c.freq_dim, c.time_dim, scale=c.time_scale)
        self.inlet = conv(c.dim, c.in_channels + c.cond_channels, c.channels)

        def attention(width: int, on: bool) -> nn.Module:
            return Attention(width, c.heads, c.head_dim, c.groups) if on else nn.Identity()

        self.down = nn.ModuleList()
        skips, width = [], c.channels
        for i, w in enumerate(widths):
            level = nn.Module()
            level.res = nn.ModuleList()
            level.attn = nn.ModuleList()
            for _ in range(c.blocks):
                level.res.append(ResBlock(c.dim, width, w, c.time_dim, c.groups))
                level.attn.append(attention(w, c.attention[i]))
                width = w
                skips.append(w)
            level.resample = Downsample(c.dim, w) if i < c.levels - 1 else nn.Identity()
            self.down.append(level)

        self.mid1 = ResBlock(c.dim, width, width, c.time_dim, c.groups)
        self.mid_attn = attention(width, c.mid_attention)
        self.mid2 = ResBlock(c.dim, width, width, c.time_dim, c.groups)

        self.up = nn.ModuleList()
        for i in reversed(range(c.levels)):
            w = widths[i]
            level = nn.Module()
            level.res = nn.ModuleList()
            level.attn = nn.ModuleList()
            for _ in range(c.blocks):
                level.res.append(ResBlock(c.dim, width + skips.pop(), w, c.time_dim, c.groups))
                level.attn.append(attention(w, c.attention[i]))
                width = w
            level.resample = Upsample(c.dim, w) if i > 0 else nn.Identity()
            self.up.append(level)

        self.out_norm = nn.GroupNorm(c.groups, width)
        self.outlet = conv(c.dim, width, c.out_channels)

    def _check_inputs(self, x: Tensor, cond: Tensor | None) -> None:
        c = self.config
        if x.ndim != c.dim + 2 or x.shape[1] != c.in_channels:
            axes = ", ".join(["size"] * c.dim)
            raise ValueError(f"x must have shape (batch, {c.in_channels}, {axes}), got {tuple(x.shape)}")
        check_fits(c, x.shape[2:])
        if c.cond_channels == 0:
            if cond is not None:
                raise ValueError("this U-Net has cond_channels = 0 but a cond tensor was given")
        elif cond is None:
            raise ValueError(f"this U-Net needs cond of shape (batch, {c.cond_channels}, *spatial), got None")
        elif cond.shape != (x.shape[0], c.cond_channels, *x.shape[2:]):
            raise ValueError(
                f"cond must have shape {(x.shape[0], c.cond_channels, *x.shape[2:])}, got {tuple(cond.shape)}"
            )

    def forward(self, t: Tensor | float, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Evaluate the network.

        Args:
            t: times in ``[0, 1]``, shape ``(batch,)`` or a scalar shared by the batch.
            x: fields, ``(batch, in_channels, *spatial)`` with ``dim`` spatial axes, each a multiple
                of ``2**(levels-1)``.
            cond: conditioning fields ``(batch, cond_channels, *spatial)``; required iff
                ``cond_channels > 0``.

        Returns:
            Tensor ``(batch, out_channels, *spatial)``.

        Raises:
            ValueError: shapes that do not match the configuration.
        """
        self._check_inputs(x, cond)
        emb = self.time_embedding(batch_times(t, x.shape[0], x))
        h = self.inlet(x if cond is None else torch.cat([x, cond.to(x.dtype)], dim=1))
        skips = []
        for level in self.down:
            for res, attn in zip(level.res, level.attn):
                h = attn(res(h, emb))
                skips.append(h)
            h = level.resample(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb)), emb)
        for level in self.up:
            for res, attn in zip(level.res, level.attn):
                h = attn(res(torch.cat([h, skips.pop()], dim=1), emb))
            h = level.resample(h)
        return self.outlet(nn.functional.silu(self.out_norm(h)))
