"""Sources for `prepare`: each builds a :class:`~sictl.pipeline.prepare.SourceData` that streams
trajectory blocks in data units."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core import spectra
from sictl.errors import ConfigError
from sictl.pipeline.prepare import SourceData

BLOCK = 256


@dataclass(frozen=True, kw_only=True)
class GaussianFieldConfig:
    """Periodic Gaussian random field with a Matérn σ²(−Δ + ℓ²)^{−s} or power-law spectrum."""

    res: int = 64
    dim: int = 2
    n: int = 1000
    spectrum: str = "matern"
    s: float = 3.0
    ell: float = 1.0
    sigma2: float | None = None
    exponent: float = 3.0
    amplitude: float = 1.0

    def power(self) -> torch.Tensor:
        if self.res < 4 or self.res % 2:
            raise ConfigError(f"--res must be an even number ≥ 4, got {self.res}")
        if self.n < 1:
            raise ConfigError(f"--n must be ≥ 1, got {self.n}")
        if self.spectrum == "matern":
            return spectra.matern_power(self.res, self.dim, self.s, self.ell, self.sigma2)
        if self.spectrum == "power-law":
            return spectra.power_law_power(self.res, self.dim, self.exponent, self.amplitude)
        raise ConfigError(f"unknown spectrum {self.spectrum!r}", hint="use matern or power-law")


def gaussian_field_source(cfg: GaussianFieldConfig, seed: int) -> SourceData:
    """i.i.d. fields (one snapshot per trajectory) with E|x̂_k|² = S(k) exactly."""
    power = cfg.power()
    gen = torch.Generator().manual_seed(seed)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK, cfg.n - done)
            yield spectra.gaussian_field(power, k, generator=gen).numpy()[:, None]
            done += k

    params = asdict(cfg)
    if cfg.spectrum == "matern" and cfg.sigma2 is None:
        params["sigma2"] = spectra.matern_default_sigma2(cfg.s, cfg.ell)
    return SourceData(
        dataset_name=f"grf_{cfg.spectrum.replace('-', '')}", source="gaussian-field",
        sample_shape=(cfg.res,) * cfg.dim, time=np.zeros(1, np.float32), blocks=blocks(), n_trajectories=cfg.n,
        attrs={k: v for k, v in params.items() if v is not None}, config={"source": "gaussian-field", **params},
    )


def parse_vectors(text: str, what: str) -> list[list[float]]:
    """'1,2;3,4' → [[1, 2], [3, 4]]."""
    try:
        return [[float(v) for v in row.split(",")] for row in text.split(";") if row.strip()]
    except ValueError:
        raise ConfigError(f"{what}: cannot read {text!r}", hint="rows separated by ';', entries by ','") from None


@dataclass(frozen=True, kw_only=True)
class GMMConfig:
    """A Gaussian mixture from a two-mode shorthand, explicit options or a JSON file."""

    n: int = 10000
    two_mode: str | None = None  # "M[,p]"
    dim: int = 1
    weights: str | None = None
    means: str | None = None
    covs: str | None = None
    spec: str | None = None

    def mixture(self):
        from sictl.core.gmm import GaussianMixture

        given = [self.two_mode is not None, self.weights is not None or self.means is not None, self.spec is not None]
        if sum(given) != 1:
            raise ConfigError("give exactly one of --two-mode, --weights/--means[/--covs] or --spec FILE",
                              hint="e.g. sictl prepare gmm --two-mode 100,0.3 --n 10000 -o gmm.h5")
        if self.n < 1 or self.dim < 1:
            raise ConfigError(f"--n and --dim must be ≥ 1, got {self.n}, {self.dim}")
        if self.two_mode is not None:
            vals = [float(v) for v in self.two_mode.split(",")]
            if len(vals) not in (1, 2):
                raise ConfigError(f"--two-mode expects M[,p], got {self.two_mode!r}")
            M, p = vals[0], (vals[1] if len(vals) > 1 else 0.5)
            if not (M > 0 and 0 < p < 1):
                raise ConfigError(f"--two-mode needs M > 0 and 0 < p < 1, got {self.two_mode!r}")
            return GaussianMixture.two_mode(M, p, dim=self.dim)
        if self.spec is not None:
            try:
                with open(self.spec, encoding="utf-8") as fh:
                    spec = json.load(fh)
            except FileNotFoundError:
                raise ConfigError(f"{self.spec}: no such file") from None
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{self.spec} is not valid JSON ({exc})") from None
            return GaussianMixture.from_dict(spec)
        if self.weights is None or self.means is None:
            raise ConfigError("--weights and --means go together", hint="e.g. --weights 0.3,0.7 --means '5;-5'")
        weights = [float(w) for w in self.weights.split(",")]
        spec = {"weights": weights, "means": parse_vectors(self.means, "--means")}
        spec["covs"] = [float(c) for c in self.covs.split(",")] if self.covs else [1.0] * len(weights)
        return GaussianMixture.from_dict(spec)


def gmm_source(cfg: GMMConfig, seed: int) -> SourceData:
    """i.i.d. vectors from the mixture (vector dataset (n, 1, dim)); the mixture is stored as JSON."""
    mixture = cfg.mixture()
    gen = torch.Generator().manual_seed(seed)

    def blocks():
        done = 0
        while done < cfg.n:
            k = min(BLOCK * 16, cfg.n - done)
            yield mixture.sample(k, generator=gen).numpy()[:, None]
            done += k

    spec = mixture.to_dict()
    return SourceData(
        dataset_name="gmm", source="gmm", sample_shape=(mixture.dim,), time=np.zeros(1, np.float32),
        blocks=blocks(), n_trajectories=cfg.n, vector=True, field_name="x",
        attrs={"components": mixture.n_components, "dim": mixture.dim},
        config={"source": "gmm", **asdict(cfg)}, mixture=spec,
    )




@dataclass(frozen=True, kw_only=True)
class ImportConfig:
    """Someone else's array file: which array, how its axes are named, what its grid is."""

    src: str
    key: str | None = None
    layout: str | None = None
    channel: int | None = None
    grid_nodes: bool | None = None  # last axis holds N + 1 nodes incl. both ends (None: detect)
    name: str | None = None


def import_source(cfg: ImportConfig) -> SourceData:
    """Trajectories from a ``.npy``/``.npz``/``.pt``/``.h5`` file, in blocks (see sictl.pipeline.layout).

    The authors' Navier–Stokes ``.pt`` ((data, time), data (traj, time, H, W)) and Allen–Cahn
    ``AllenCahn1D_grid{N}_samples.npy`` ((2(N+1), S, N+1): walkers × samples × nodes) are recognised;
    Allen–Cahn files keep their N + 1 nodes, with spectra over the first N (``@fft_nodes``).
    """
    import os

    from sictl.io import file_checksum
    from sictl.io.foreign import read_foreign
    from sictl.pipeline.layout import resolve_layout, to_trajectories

    fa = read_foreign(cfg.src, cfg.key)
    lay = resolve_layout(fa.data.shape, cfg.layout, fa.layout, name=os.path.basename(cfg.src))
    traj = to_trajectories(fa.data, lay, channel=cfg.channel)
    data = traj.data
    nodes = cfg.grid_nodes if cfg.grid_nodes is not None else (str(lay) == "walker sample x")
    if nodes and (traj.vector or data.ndim != 3):
        raise ConfigError("--grid-nodes applies to 1-D fields (the Allen–Cahn node layout)")
    n_traj, n_time = data.shape[:2]
    time = fa.time if fa.time is not None and len(fa.time) == n_time else np.arange(n_time, dtype=np.float32)

    def blocks():
        for i in range(0, n_traj, 16):
            yield data[i : i + 16]

    shape = tuple(int(s) for s in data.shape[2:])
    base = os.path.splitext(os.path.basename(cfg.src))[0]
    return SourceData(
        dataset_name=cfg.name or base, source="import", sample_shape=shape,
        time=np.asarray(time, np.float32), blocks=blocks(), n_trajectories=n_traj, vector=traj.vector,
        boundary="open" if nodes else "periodic", field_name="x" if traj.vector else "u",
        attrs={"imported_from": os.path.basename(cfg.src), "layout": str(lay)},
        config={"source": "import", **asdict(cfg), "layout_used": str(lay)},
        inputs={"src": file_checksum(cfg.src)} if cfg.src != "-" else {},
        fft_nodes=(shape[-1] - 1) if nodes else None,
    )



def allen_cahn_source(config, seed: int, progress=None) -> SourceData:
    """Chains are trajectories, thinned MCMC samples their time axis; N + 1 nodes per sample, spectra
    over the first N (``@fft_nodes``). The chains are held in memory (chains × samples × (N+1) floats)
    and handed to the writer one block of chains at a time."""
    from sictl.core.allen_cahn import AllenCahnSampler

    cfg = config  # a sictl.core.allen_cahn.AllenCahnConfig (validated on construction)
    diagnostics: dict = {}

    def blocks():
        sampler = AllenCahnSampler(config, generator=torch.Generator().manual_seed(seed))
        callback = (lambda stage, done, total: progress(f"allen-cahn {stage}", done, total)) if progress else None
        chains = torch.cat(list(sampler.run(callback)), 1).to(torch.float32).numpy()
        diagnostics.update(sampler.summary())
        for i in range(0, len(chains), 64):
            yield chains[i : i + 64]

    params = {k: v for k, v in asdict(cfg).items() if v is not None}
    return SourceData(
        dataset_name="stochastic_allen_cahn_1d", source="allen-cahn", sample_shape=(cfg.n + 1,),
        time=(np.arange(1, cfg.samples_per_chain + 1) * cfg.thin).astype(np.float32), blocks=blocks(),
        n_trajectories=cfg.chains, boundary="open", attrs={**params, "h": 1.0 / cfg.n},
        config={"source": "allen-cahn", **params}, diagnostics=diagnostics, fft_nodes=cfg.n,
    )


@dataclass(frozen=True, kw_only=True)
class NavierStokesSource:
    """Trajectories of the stochastic vorticity equation (sictl.core.navier_stokes)."""

    preset: str = "small"
    res: int | None = None
    store_res: int | None = None
    dt: float | None = None
    nu: float = 1e-3
    alpha: float = 0.1
    eps: float = 1.0
    trajectories: int = 8
    snapshots: int = 100
    snapshot_dt: float = 0.5
    burn_in: float = 50.0
    batch: int = 8
    float32: bool = False


def navier_stokes_source(cfg: NavierStokesSource, seed: int, progress=None, device: str = "cpu") -> SourceData:
    """Batches of trajectories are simulated one after the other and handed over whole."""
    from sictl.core.navier_stokes import PRESETS, NavierStokes2D

    if cfg.preset not in PRESETS:
        raise ConfigError(f"unknown Navier–Stokes preset {cfg.preset!r}", hint=f"choose one of {', '.join(PRESETS)}")
    if cfg.trajectories < 1 or cfg.snapshots < 1 or cfg.batch < 1:
        raise ConfigError("--trajectories, --snapshots and --batch must be ≥ 1")
    preset = PRESETS[cfg.preset]
    n = cfg.res or preset.n
    store = cfg.store_res or (preset.store_n if cfg.res is None else n)
    overrides = {"n": n, "nu": cfg.nu, "alpha": cfg.alpha, "eps": cfg.eps, "dt": cfg.dt or preset.dt}
    if cfg.float32:
        overrides["dtype"] = torch.float32
    solver = NavierStokes2D(preset.config(**overrides), device=device)
    if store > n:
        raise ConfigError(f"--store-res {store} is finer than the simulation grid {n}")
    diagnostics: dict = {"dt": solver.config.dt, "simulated_grid": n}
    total_time = cfg.trajectories * (cfg.burn_in + cfg.snapshots * cfg.snapshot_dt)

    def blocks():
        gen = torch.Generator(device=device).manual_seed(seed)
        done_time = 0.0
        for first in range(0, cfg.trajectories, cfg.batch):
            k = min(cfg.batch, cfg.trajectories - first)
            w0 = solver.initial_condition(k, gen)
            frames = []

            def report(t, total, base=done_time):
                if progress:
                    progress("navier-stokes (simulated time × trajectories)", base + t * k, total_time)

            for _, w in solver.simulate(w0, burn_in=cfg.burn_in, snapshot_dt=cfg.snapshot_dt,
                                        n_snapshots=cfg.snapshots, generator=gen, callback=report):
                w = w if store == n else spectra.spectral_resample(w, store, 2)
                frames.append(w.to("cpu", torch.float32))
            done_time += k * (cfg.burn_in + cfg.snapshots * cfg.snapshot_dt)
            yield torch.stack(frames, 1).numpy()

    params = asdict(cfg)
    times = (cfg.burn_in + cfg.snapshot_dt * np.arange(1, cfg.snapshots + 1)).astype(np.float32)
    return SourceData(
        dataset_name="stochastic_ns_2d", source="navier-stokes", sample_shape=(store, store), time=times,
        blocks=blocks(), n_trajectories=cfg.trajectories, field_name="vorticity",
        attrs={**{k: v for k, v in params.items() if v is not None}, "L": 2 * np.pi, "simulated_n": n,
               "dt_solver": solver.config.dt},
        config={"source": "navier-stokes", **params}, diagnostics=diagnostics,
    )


__all__ = ["GaussianFieldConfig", "gaussian_field_source", "GMMConfig", "gmm_source", "ImportConfig", "import_source", "allen_cahn_source",
           "NavierStokesSource", "navier_stokes_source", "parse_vectors"]
