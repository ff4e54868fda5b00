"""Networks for stochastic-interpolant drifts: a periodic U-Net (1-D/2-D fields) and an MLP (vectors).

Pure maths (torch and einops only, no file I/O). Every network is called as ``net(t, x, cond=None)``
and carries its ``.config``, whose ``to_dict()`` is JSON and rebuilds it with :func:`build_model`.
Start with :func:`make_model` (a preset for a sample shape).
"""

from sictl.models.embedding import sinusoidal_embedding
from sictl.models.mlp import MLP, MLPConfig
from sictl.models.presets import (
    PRESETS,
    build_model,
    config_from_dict,
    count_parameters,
    make_config,
    make_model,
)
from sictl.models.unet import UNet, UNetConfig, check_fits

__all__ = [
    "MLP",
    "PRESETS",
    "MLPConfig",
    "UNet",
    "UNetConfig",
    "build_model",
    "check_fits",
    "config_from_dict",
    "count_parameters",
    "make_config",
    "make_model",
    "sinusoidal_embedding",
]
