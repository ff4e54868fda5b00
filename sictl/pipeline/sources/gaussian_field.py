"""``prepare gaussian-field``: periodic Gaussian random fields with an exactly known spectrum."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, option

BLOCK = 256  # fields drawn at a time

HELP = """Periodic Gaussian random fields with an exactly known spectrum E|x̂_k|² = S(k).

\b
Examples:
  sictl prepare gaussian-field --res 32 --n 200 -o grf.h5 --json
  sictl prepare gaussian-field --res 32 --n 200 --split 0.9 -o grf.h5
"""


@dataclass(frozen=True, kw_only=True)
class GaussianFieldConfig:
    """Periodic Gaussian random field with a Matérn σ²(−Δ + ℓ²)^{−s} or power-law spectrum."""

    res: int = option(64, "--res", "Grid points per side.")
    dim: int = option(2, "--dim", "1 or 2 spatial dimensions.")
    n: int = option(1000, "--n", "Number of fields.")
    spectrum: str = option("matern", "--spectrum", "matern or power-law.")
    s: float = option(3.0, "--s", "Matérn exponent s in σ²(−Δ+ℓ²)^{−s}.")
    ell: float = option(1.0, "--ell", "Matérn ℓ.")
    sigma2: float | None = option(None, "--sigma2", "Matérn σ² (default (4π²+ℓ²)^s: S(|k|=1)=1).")
    exponent: float = option(3.0, "--exponent", "Power law: S(k) = A |k|^(−exponent).")
    amplitude: float = option(1.0, "--amplitude", "Power law amplitude A.")

    def power(self):
        """The per-mode power S(k) on the full FFT grid (float64 CPU tensor); validates the options."""
        from sictl.core.fields import spectra

        if self.res < 4 or self.res % 2:
            raise ConfigError(f"--res must be an even number ≥ 4, got {self.res}", hint="e.g. --res 64")
        if self.n < 1:
            raise ConfigError(f"--n must be ≥ 1, got {self.n}", hint="the number of fields, e.g. --n 1000")
        if self.spectrum == "matern":
            return spectra.matern_power(self.res, self.dim, self.s, self.ell, self.sigma2)
        if self.spectrum == "power-law":
            return spectra.power_law_power(self.res, self.dim, self.exponent, self.amplitude)
        raise ConfigError(f"unknown spectrum {self.spectrum!r}", hint="use matern or power-law")


def gaussian_field_source(cfg: GaussianFieldConfig, seed: int, device: str = "cpu"):
    """i.i.d. fields (one snapshot per trajectory) with E|x̂_k|² = S(k) exactly, drawn on ``device``
    (a seed gives the same fields on the same kind of device)."""
    import numpy as np
    import torch

    from sictl.core.fields import spectra
    from sictl.pipeline.prepare import SourceData

    power = cfg.power().to(device)
    gen = torch.Generator(device=device).manual_seed(seed)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK, cfg.n - done)
            yield spectra.gaussian_field(power, k, generator=gen).cpu().numpy()[:, None]
            done += k

    params = asdict(cfg)
    if cfg.spectrum == "matern" and cfg.sigma2 is None:
        params["sigma2"] = spectra.matern_default_sigma2(cfg.s, cfg.ell)
    return SourceData(
        dataset_name=f"grf_{cfg.spectrum.replace('-', '')}", source="gaussian-field",
        sample_shape=(cfg.res,) * cfg.dim, time=np.zeros(1, np.float32), blocks=blocks(), n_trajectories=cfg.n,
        attrs={k: v for k, v in params.items() if v is not None}, config={"source": "gaussian-field", **params},
    )


SOURCE = Source(
    name="gaussian-field", help=HELP, options=GaussianFieldConfig,
    build=lambda cfg, *, seed, progress, device: gaussian_field_source(cfg, seed, device),
    check=lambda cfg, device: cfg.power(),
)
