"""Options and files → the field-mixture laboratory (:mod:`sictl.core.exact.field_mixture_lab`).

``--field-mixture`` takes a spec ``N[,dim]:w,s,ell,amp;w,s,ell,amp`` (:func:`parse_field_mixture`), a JSON
description, or a dataset made by ``sictl prepare field-mixture`` (its ``@field_mixture``); a dataset
given to ``--data``/``--spectrum``/``--exact`` that carries the attribute is the mixture too. The base
is ``white`` (unit variance per Fourier mode), ``white:σ0`` (pixel std σ0) or ``spectral:FILE``; the mean
mode is left out (no power in the components).
"""

from __future__ import annotations

import os

import torch

from sictl.core.exact.field_mixture import FieldMixture, parse_field_mixture
from sictl.core.exact.field_mixture_lab import FieldMixtureTarget
from sictl.errors import ConfigError

__all__ = ["resolve_field_mixture", "field_mixture_target", "field_mixture_base", "field_mixture_drift_source"]


def resolve_field_mixture(spec: str) -> tuple[FieldMixture, str | None, str]:
    """(the mixture, the checksum of its file or None, where it came from) of a ``--field-mixture`` value."""
    if os.path.exists(spec) or spec.endswith((".json", ".h5", ".hdf5")):
        from sictl.io import file_checksum, read_field_mixture

        described, _ = read_field_mixture(spec)
        return FieldMixture.from_dict(described, spec), file_checksum(spec), spec
    return parse_field_mixture(spec), None, "spec"


def field_mixture_base(mixture: FieldMixture, base: str) -> tuple[torch.Tensor, str]:
    """The per-mode base power on the mixture's grid (mean mode 0) and its description."""
    from sictl.pipeline.targets import _spectral_base, white_base_variance

    grid = (mixture.n,) * mixture.dim
    if base.partition(":")[0] == "spectral":
        if not base.partition(":")[2]:
            raise ConfigError("--base spectral needs a FILE for a field mixture (it has no spectrum of its own)",
                              hint="use --base white, white:σ0 or spectral:FILE")
        power, info = _spectral_base(base, torch.zeros(grid, dtype=torch.float64), "field-mixture")
    else:
        mu, info = white_base_variance(base, mixture.n**mixture.dim)
        power = torch.full(grid, mu, dtype=torch.float64)
    power.view(-1)[0] = 0.0
    return power, info


def field_mixture_target(spec: str, base: str, *, samples: int = 64, seed: int = 0) -> FieldMixtureTarget:
    """The laboratory of a ``--field-mixture`` value over ``--base``."""
    if samples < 2:
        raise ConfigError(f"--lab-samples must be ≥ 2, got {samples}", hint="the default is 64 base draws")
    mixture, checksum, source = resolve_field_mixture(spec)
    power, base_info = field_mixture_base(mixture, base)
    return FieldMixtureTarget(mixture, power, {"kind": "field-mixture", "source": source, "base": base_info},
                              checksum, samples=samples, seed=seed)


def field_mixture_drift_source(path: str, base: str, checksum: str):
    """``sample --exact`` on a dataset of ``prepare field-mixture``: the mixture's exact drift
    (:class:`~sictl.core.exact.field_mixture.FieldMixtureDrift`), samples of shape (1, *grid)."""
    from sictl.core.exact.field_mixture import FieldMixtureDrift
    from sictl.pipeline.drift_sources import DriftSource

    mixture, _, _ = resolve_field_mixture(path)
    power, base_info = field_mixture_base(mixture, base)
    powers, weights = mixture.powers(), mixture.weights
    lab = FieldMixtureTarget(mixture, power)
    return DriftSource(
        f"exact:{path}", path, checksum, (1, *powers.shape[1:]),
        lambda s: FieldMixtureDrift(s, powers, weights, power), default_lam=lab.ratio_min,
        info={"kind": "field-mixture", **mixture.to_dict(), "base": base_info, "ratio_min": lab.ratio_min,
              "normalization_constant": 1.0},
    )
