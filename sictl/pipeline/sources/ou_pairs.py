"""``prepare ou-pairs``: trajectories of a stationary Ornstein–Uhlenbeck field, whose forecast law is exact.

The field and its snapshot interval are stored as the root attribute ``@forecast_target`` (JSON, data
units), so that ``sictl sample --exact`` can build the exact point-source drift of the pairs
(x(t), x(t + lag·dt)) that ``--lag`` stores (:func:`sictl.pipeline.drift_sources.open_exact_source`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, option

BLOCK = 64  # trajectories drawn at a time

HELP = """Trajectories of a stationary Ornstein–Uhlenbeck field (Fourier-diagonal, exact in time):
forecasting pairs with --lag have the exact law x(t + τ) | x(t) ~ N(A x(t), Σ), A = e^{−θτ}.

\b
Example:
  sictl prepare ou-pairs --res 16 --n 200 --snapshots 20 --lag 1 \\
      -o ou.h5
"""


@dataclass(frozen=True, kw_only=True)
class OUPairsConfig:
    """dx̂_k = −θ_k x̂_k dt + noise, θ_k = θ + θ_k|2πk|², stationary power ∝ (1 + (|k|/corner)²)^(−slope)."""

    res: int = option(16, "--res", "Grid points per side.")
    dim: int = option(1, "--dim", "1 or 2 spatial dimensions.")
    n: int = option(100, "--n", "Trajectories.")
    snapshots: int = option(20, "--snapshots", "Snapshots per trajectory.")
    dt: float = option(0.5, "--dt", "Time between snapshots.")
    theta: float = option(1.0, "--theta", "Relaxation rate θ of every mode.")
    theta_k: float = option(0.0, "--theta-k", "Extra rate per |2πk|² (a diffusion coefficient).")
    slope: float = option(2.0, "--slope", "Spectral slope: power ∝ (1 + (|k|/corner)²)^(−slope).")
    corner: float = option(4.0, "--corner", "Corner wavenumber of the spectrum.")
    variance: float = option(1.0, "--variance", "Pixel variance of the stationary field.")

    def field(self):
        """The :class:`~sictl.core.exact.forecast.OUField` of the options (validated)."""
        from sictl.core.exact.forecast import OUField

        if self.n < 1 or self.snapshots < 2:
            raise ConfigError(f"--n must be ≥ 1 and --snapshots ≥ 2, got {self.n}, {self.snapshots}",
                              hint="pairs need two snapshots per trajectory at least, e.g. --snapshots 20")
        if not self.dt > 0:
            raise ConfigError(f"--dt must be > 0, got {self.dt}", hint="e.g. --dt 0.5")
        field = OUField(self.res, self.dim, self.slope, self.corner, self.variance, self.theta, self.theta_k)
        field.validate()
        return field

    def description(self) -> str:
        """``@forecast_target``: JSON of the field and the snapshot interval (data units)."""
        return json.dumps({"kind": "ornstein-uhlenbeck", "field": asdict(self.field()), "dt": self.dt})


def ou_pairs_source(cfg: OUPairsConfig, seed: int, device: str = "cpu"):
    """Trajectories (n, snapshots, *grid): a stationary start, then the exact one-interval transition."""
    import numpy as np
    import torch

    from sictl.pipeline.prepare import SourceData

    step = cfg.field().forecast(cfg.dt)
    gen = torch.Generator(device=device).manual_seed(seed)
    like = torch.empty(0, dtype=torch.float64, device=device)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK, cfg.n - done)
            x = step.sample_conditions(k, generator=gen, like=like)
            traj = [x]
            for _ in range(cfg.snapshots - 1):
                x = step.sample(x, generator=gen)
                traj.append(x)
            yield torch.stack(traj, 1).cpu().numpy()
            done += k

    return SourceData(
        dataset_name="ou_field", source="ou-pairs", sample_shape=(cfg.res,) * cfg.dim,
        time=(np.arange(cfg.snapshots) * cfg.dt).astype(np.float32), blocks=blocks(), n_trajectories=cfg.n,
        attrs={"forecast_target": cfg.description(), "theta": cfg.theta, "dt": cfg.dt},
        config={"source": "ou-pairs", **asdict(cfg)},
    )


SOURCE = Source(
    name="ou-pairs", help=HELP, options=OUPairsConfig,
    build=lambda cfg, *, seed, progress, device: ou_pairs_source(cfg, seed, device),
    check=lambda cfg, device: cfg.field(), writer_options=("normalize", "split", "lag"),
)
