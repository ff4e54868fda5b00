"""Model presets, the single entry point :func:`make_model`, and :func:`build_model` for checkpoints.

The sample shape picks the network: ``(C, L)`` a 1-D :class:`~sictl.models.unet.UNet`, ``(C, H, W)``
a 2-D one, ``(D,)`` an :class:`~sictl.models.mlp.MLP`. A preset fixes the rest; each U-Net preset is
the same for 1-D and 2-D. Measured parameter counts (one input/output channel, no conditioning;
vectors with D = 2 and D = 64 features):

========  ================  ================  ====================  =====================
preset    U-Net 1-D         U-Net 2-D         MLP, D = 2            MLP, D = 64
========  ================  ================  ====================  =====================
tiny          22,641            42,705              22,914                30,912
small        120,577           243,649             267,522               291,392
medium     1,062,433         2,082,721           1,012,418             1,052,160
========  ================  ================  ====================  =====================

``medium`` has the size of the authors' networks: lucidrains' ``Unet1D(32, dim_mults=(1, 2, 2, 2))``
(used for Allen–Cahn) has 1,061,577 parameters (ours: +0.08 %) and ``Unet(32, dim_mults=(1, 2, 2, 2))``
2,063,857 (ours: +0.91 %). It has 32 channels, multipliers (1, 2, 2, 2), two residual blocks per
level, attention at the coarsest level and in the middle, and a 144-wide time embedding; the layout
is this module's own, so lucidrains weights do not load into it.
``tiny`` is for tests (< 50k parameters), ``small`` for CPU work (0.1–0.3M).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from sictl.models.mlp import MLP, MLPConfig
from sictl.models.unet import UNet, UNetConfig, check_fits

__all__ = ["PRESETS", "build_model", "config_from_dict", "count_parameters", "make_config", "make_model"]

ModelConfig = UNetConfig | MLPConfig

#: preset name -> network kind ("unet" for fields, "mlp" for vectors) -> config fields.
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "unet": {"channels": 8, "mults": (1, 1, 2), "attention": (-1,), "groups": 4,
                 "time_dim": 32, "heads": 2, "head_dim": 8, "blocks": 1},
        "mlp": {"width": 64, "depth": 2, "time_dim": 32},
    },
    "small": {
        "unet": {"channels": 16, "mults": (1, 1, 2, 2), "attention": (-1,), "groups": 8,
                 "time_dim": 64, "heads": 2, "head_dim": 16, "blocks": 1},
        "mlp": {"width": 192, "depth": 3, "time_dim": 64},
    },
    "medium": {
        "unet": {"channels": 32, "mults": (1, 2, 2, 2), "attention": (-1,), "groups": 8,
                 "time_dim": 144, "heads": 4, "head_dim": 32, "blocks": 2},
        "mlp": {"width": 320, "depth": 4, "time_dim": 128},
    },
}

_CONFIGS: dict[str, type] = {"unet": UNetConfig, "mlp": MLPConfig}
_BUILDERS: dict[type, type] = {UNetConfig: UNet, MLPConfig: MLP}


def make_config(
    preset: str, sample_shape: Sequence[int], *, cond_channels: int = 0, **overrides: Any
) -> ModelConfig:
    """The configuration of a preset network for samples of one shape.

    Args:
        preset: a key of :data:`PRESETS` (``tiny``, ``small``, ``medium``).
        sample_shape: one sample's shape without the batch axis: ``(D,)`` vectors (MLP),
            ``(C, L)`` 1-D fields or ``(C, H, W)`` 2-D fields (U-Net). Input and output get
            ``C`` (or ``D``) channels.
        cond_channels: conditioning channels (features for vectors) concatenated to the input.
        **overrides: any config field (e.g. ``channels``, ``mults``, ``attention``, ``time_dim``,
            ``out_channels`` for U-Nets; ``width``, ``depth`` for MLPs); ``None`` values are ignored.

    Raises:
        ValueError: unknown preset, bad shape, a field the network does not have, an invalid value,
            or spatial sizes the U-Net cannot take (see :func:`~sictl.models.unet.check_fits`).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown model preset {preset!r}; choose one of {', '.join(PRESETS)}")
    shape = tuple(sample_shape)
    if not 1 <= len(shape) <= 3 or not all(isinstance(s, int) and s >= 1 for s in shape):
        raise ValueError("sample_shape must be (features,), (channels, length) or "
                         f"(channels, height, width), got {sample_shape!r}")
    kind = "mlp" if len(shape) == 1 else "unet"
    fields = dict(PRESETS[preset][kind], in_channels=shape[0], out_channels=shape[0],
                  cond_channels=cond_channels)
    if kind == "unet":
        fields["dim"] = len(shape) - 1
    cls = _CONFIGS[kind]
    known = set(cls.__dataclass_fields__)
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"{kind} networks have no option {unknown}; options: {', '.join(sorted(known))}")
    config = cls(**{**fields, **given})
    if kind == "unet":
        check_fits(config, shape[1:])
    return config


def make_model(
    preset: str, sample_shape: Sequence[int], *, cond_channels: int = 0, **overrides: Any
) -> nn.Module:
    """A freshly initialised preset network for samples of one shape (see :func:`make_config`).

    The network's ``.config`` holds its configuration; ``build_model(model.config.to_dict())``
    rebuilds the same architecture.

    Example:
        ``make_model("small", (1, 64, 64), cond_channels=1)`` — a 2-D U-Net, ``forward(t, x, cond)``
        with ``x`` ``(batch, 1, 64, 64)`` and ``cond`` ``(batch, 1, 64, 64)``.
    """
    return build_model(make_config(preset, sample_shape, cond_channels=cond_channels, **overrides))


def config_from_dict(data: Mapping[str, Any]) -> ModelConfig:
    """A :class:`UNetConfig` or :class:`MLPConfig` from ``to_dict()`` output (dispatch on ``"kind"``).

    Raises:
        ValueError: missing or unknown ``kind``, unknown keys or invalid values.
    """
    kind = data.get("kind") if isinstance(data, Mapping) else None
    if kind not in _CONFIGS:
        raise ValueError(f"model config needs 'kind' in {sorted(_CONFIGS)}, got {kind!r}")
    return _CONFIGS[kind].from_dict(data)


def build_model(config: Mapping[str, Any] | ModelConfig) -> nn.Module:
    """A freshly initialised network from a config object or its stored dict (e.g. a checkpoint's)."""
    if isinstance(config, Mapping):
        config = config_from_dict(config)
    if type(config) not in _BUILDERS:
        raise ValueError(f"not a model config: {type(config).__name__}")
    return _BUILDERS[type(config)](config)


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters of ``model`` (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters())
