"""``prepare allen-cahn``: samples of the stochastic Allen–Cahn invariant measure (HMC or MALA)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, option

HELP = """Samples of the stochastic Allen–Cahn invariant measure by Metropolis-corrected HMC or MALA.

The target is the discrete Gibbs density exp(−U), U = Σ (u_{j+1}−u_j)²/(2h) + Σ (h/2) V((u_j+u_{j+1})/2)
on N + 1 free nodes (docs/math.md, "Data: stochastic Allen–Cahn"); chains are split, never cut.

\b
Example:
  sictl prepare allen-cahn --res 32 --n 16 --snapshots 8 --burn-in 200 \\
      --split 0.75 -o ac.h5
"""


@dataclass(frozen=True, kw_only=True)
class AllenCahnOptions:
    """The command's options; :meth:`config` is the sampler's configuration."""

    res: int = option(64, "--res", "Grid intervals N on [0, 1] (N + 1 nodes stored).")
    chains: int = option(256, "--n", "Trajectories: independent Markov chains.", aliases=("--chains",))
    samples_per_chain: int = option(64, "--snapshots", "Stored samples per chain.", aliases=("--samples-per-chain",))
    burn_in: int = option(1000, "--burn-in", "Discarded iterations (step size adapted there).")
    thin: int = option(4, "--thin", "Iterations between stored samples.")
    method: str = option("hmc", "--method", "hmc or mala (both Metropolis-corrected, preconditioned).")
    potential: str = option("double-well", "--potential", "double-well (1−u²)², or quadratic κu² (exact test).")
    kappa: float = option(1.0, "--kappa", "κ of the quadratic potential.")

    def config(self):
        """The :class:`~sictl.core.simulators.allen_cahn.AllenCahnConfig` (validated on construction)."""
        from sictl.core.simulators.allen_cahn import AllenCahnConfig

        return AllenCahnConfig(n=self.res, chains=self.chains, samples_per_chain=self.samples_per_chain,
                               burn_in=self.burn_in, thin=self.thin, method=self.method, potential=self.potential,
                               kappa=self.kappa)


def allen_cahn_source(config, seed: int, progress=None, block: int = 32, device: str = "cpu"):
    """Chains are trajectories, thinned MCMC samples their time axis; N + 1 nodes per sample, spectra
    over the first N (``@fft_nodes``).

    ``config`` is a :class:`~sictl.core.simulators.allen_cahn.AllenCahnConfig`. Streamed as the sampler
    produces them: after the burn-in, every ``block`` thinned samples of all chains are one time slab
    ``(chains, ≤ block, N+1)`` handed to the writer (which splits by chain). The samples do not depend
    on ``block``: a seed gives the same data for any block size. The chains run on ``device``.
    """
    import numpy as np
    import torch

    from sictl.core.simulators.allen_cahn import AllenCahnSampler
    from sictl.pipeline.prepare import SourceData

    cfg = config
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ConfigError(f"block must be an integer ≥ 1, got {block!r}", hint="e.g. block=32 samples per slab")
    diagnostics: dict = {}

    def blocks():
        sampler = AllenCahnSampler(config, generator=torch.Generator(device=device).manual_seed(seed))
        callback = (lambda stage, done, total: progress(f"allen-cahn {stage}", done, total)) if progress else None
        for slab in sampler.run(callback, block=block):
            yield slab.to("cpu", torch.float32).numpy()
        diagnostics.update(sampler.summary())

    params = {k: v for k, v in asdict(cfg).items() if v is not None}
    return SourceData(
        dataset_name="stochastic_allen_cahn_1d", source="allen-cahn", sample_shape=(cfg.n + 1,),
        time=(np.arange(1, cfg.samples_per_chain + 1) * cfg.thin).astype(np.float32), blocks=blocks(),
        n_trajectories=cfg.chains, boundary="open", attrs={**params, "h": 1.0 / cfg.n},
        config={"source": "allen-cahn", **params}, diagnostics=diagnostics, fft_nodes=cfg.n,
        time_block=min(block, cfg.samples_per_chain),
    )


SOURCE = Source(
    name="allen-cahn", help=HELP, options=AllenCahnOptions,
    build=lambda opts, *, seed, progress, device: allen_cahn_source(opts.config(), seed, progress, device=device),
    check=lambda opts, device: opts.config(), writer_options=("normalize", "split", "lag"),
)
