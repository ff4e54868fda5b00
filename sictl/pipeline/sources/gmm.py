"""``prepare gmm``: samples of a Gaussian mixture, stored with the mixture itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sictl.errors import ConfigError, UsageError
from sictl.pipeline.sources.base import Source, option

BLOCK = 4096  # vectors drawn at a time

HELP = """Samples of a Gaussian mixture in any dimension; the mixture itself is stored with them.

\b
Example:
  sictl prepare gmm --two-mode 100,0.3 --n 2000 -o modes.h5
"""


def parse_vectors(text: str, what: str) -> list[list[float]]:
    """'1,2;3,4' → [[1, 2], [3, 4]]."""
    try:
        return [[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()]
    except ValueError:
        raise ConfigError(f"{what}: cannot read {text!r}", hint="rows separated by ';', entries by ','") from None


@dataclass(frozen=True, kw_only=True)
class GMMConfig:
    """A Gaussian mixture from a two-mode shorthand, explicit options or a JSON file."""

    n: int = option(10000, "--n", "Number of samples.")
    two_mode: str | None = option(None, "--two-mode", "M[,p]: p N(r,I) + (1−p) N(−r,I), |r| = M.")
    dim: int = option(1, "--dim", "Dimension for --two-mode.")
    weights: str | None = option(None, "--weights", "Comma list of weights (sum 1).")
    means: str | None = option(None, "--means", "Means: rows ';', entries ',' (e.g. '5,0;-5,0').")
    covs: str | None = option(None, "--covs", "Comma list of isotropic variances (default 1).")
    spec: str | None = option(None, "--spec", "JSON file: weights, means, covs.")

    def mixture(self):
        """The :class:`~sictl.core.exact.gmm.GaussianMixture` the options describe (validated)."""
        from sictl.core.exact.gmm import GaussianMixture

        given = [self.two_mode is not None, self.weights is not None or self.means is not None, self.spec is not None]
        if sum(given) != 1:
            raise (UsageError if not any(given) else ConfigError)(  # none given: a usage error (exit 2)
                "give exactly one of --two-mode, --weights/--means[/--covs] or --spec FILE",
                hint="e.g. sictl prepare gmm --two-mode 100,0.3 --n 10000 -o gmm.h5")
        if self.n < 1 or self.dim < 1:
            raise ConfigError(f"--n and --dim must be ≥ 1, got {self.n}, {self.dim}", hint="e.g. --n 10000 --dim 2")
        if self.two_mode is not None:
            two_mode_hint = "e.g. --two-mode 100,0.3: weight 0.3 at +100, 0.7 at −100"
            try:
                vals = [float(v) for v in self.two_mode.split(",")]
            except ValueError:
                raise ConfigError(f"--two-mode expects numbers M[,p], got {self.two_mode!r}",
                                  hint=two_mode_hint) from None
            if len(vals) not in (1, 2):
                raise ConfigError(f"--two-mode expects M[,p], got {self.two_mode!r}", hint=two_mode_hint)
            M, p = vals[0], (vals[1] if len(vals) > 1 else 0.5)
            if not (M > 0 and 0 < p < 1):
                raise ConfigError(f"--two-mode needs M > 0 and 0 < p < 1, got {self.two_mode!r}", hint=two_mode_hint)
            return GaussianMixture.two_mode(M, p, dim=self.dim)
        if self.spec is not None:
            from sictl.io import read_mixture

            return read_mixture(self.spec)
        if self.weights is None or self.means is None:
            raise ConfigError("--weights and --means go together", hint="e.g. --weights 0.3,0.7 --means '5;-5'")
        weights = [w for row in parse_vectors(self.weights, "--weights") for w in row]
        spec = {"weights": weights, "means": parse_vectors(self.means, "--means")}
        covs = [c for row in parse_vectors(self.covs, "--covs") for c in row] if self.covs else None
        spec["covs"] = covs or [1.0] * len(weights)
        return GaussianMixture.from_dict(spec)


def gmm_source(cfg: GMMConfig, seed: int, device: str = "cpu"):
    """i.i.d. vectors from the mixture (vector dataset (n, 1, dim)), drawn on ``device``; the mixture
    is stored as JSON."""
    import numpy as np
    import torch

    from sictl.pipeline.prepare import SourceData

    mixture = cfg.mixture()
    on_device = mixture if str(device) == "cpu" else mixture.to(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK, cfg.n - done)
            yield on_device.sample(k, generator=gen).cpu().numpy()[:, None]
            done += k

    spec = mixture.to_dict()
    return SourceData(
        dataset_name="gmm", source="gmm", sample_shape=(mixture.dim,), time=np.zeros(1, np.float32),
        blocks=blocks(), n_trajectories=cfg.n, vector=True, field_name="x",
        attrs={"components": mixture.n_components, "dim": mixture.dim},
        config={"source": "gmm", **asdict(cfg)}, mixture=spec,
    )


SOURCE = Source(
    name="gmm", help=HELP, options=GMMConfig,
    build=lambda cfg, *, seed, progress, device: gmm_source(cfg, seed, device),
    check=lambda cfg, device: cfg.mixture(), writer_options=("normalize", "split"), input_files=("spec",),
)
