"""``prepare field-mixture``: periodic fields from a mixture of Matérn Gaussian fields, stored with the
mixture's description (``@field_mixture``), so that ``sample --exact``, ``gaussian-check`` and
``design-schedule`` use its exact drift (:mod:`sictl.core.exact.field_mixture`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, option

BLOCK = 256  # fields drawn at a time

HELP = """Periodic fields from a mixture of Matérn Gaussian fields (different amplitudes and length scales);
the mixture's description is stored with them, so its exact drift is known.

\b
Example:
  sictl prepare field-mixture --mixture '32:0.5,3,1,1;0.5,3,20,0.01' \\
      --n 500 -o fm32.h5
"""


@dataclass(frozen=True, kw_only=True)
class FieldMixtureConfig:
    """A mixture Σ_j w_j N(0, S_j) of Matérn fields S_j = a_j σ²(4π²|k|² + ℓ_j²)^{−s_j} (S_j(|k|=1) = a_j)."""

    mixture: str = option("32:0.5,3,1,1;0.5,3,20,0.01", "--mixture",
                          "N[,dim]:w,s,ell,amp;w,s,ell,amp (weights sum to 1), or a JSON description file.")
    n: int = option(1000, "--n", "Number of fields.")

    def field_mixture(self):
        """The :class:`~sictl.core.exact.field_mixture.FieldMixture` the options describe (validated)."""
        from sictl.pipeline.field_mixtures import resolve_field_mixture

        if self.n < 1:
            raise ConfigError(f"--n must be ≥ 1, got {self.n}", hint="the number of fields, e.g. --n 1000")
        return resolve_field_mixture(self.mixture)[0]


def field_mixture_source(cfg: FieldMixtureConfig, seed: int, device: str = "cpu"):
    """i.i.d. fields (one snapshot per trajectory): a component by weight, then a Gaussian field with its
    power, drawn on the CPU in float64 from ``seed``."""
    import numpy as np
    import torch

    from sictl.pipeline.prepare import SourceData

    mixture = cfg.field_mixture()
    gen = torch.Generator().manual_seed(seed)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK, cfg.n - done)
            yield mixture.sample(k, generator=gen).numpy().astype(np.float32)[:, None]
            done += k

    described = mixture.to_dict()
    return SourceData(
        dataset_name="field_mixture", source="field-mixture", sample_shape=(mixture.n,) * mixture.dim,
        time=np.zeros(1, np.float32), blocks=blocks(), n_trajectories=cfg.n,
        attrs={"field_mixture": json.dumps(described, sort_keys=True), "components": len(mixture.components)},
        config={"source": "field-mixture", **asdict(cfg)},
    )


SOURCE = Source(
    name="field-mixture", help=HELP, options=FieldMixtureConfig,
    build=lambda cfg, *, seed, progress, device: field_mixture_source(cfg, seed, device),
    check=lambda cfg, device: cfg.field_mixture(), writer_options=("split",),
)
