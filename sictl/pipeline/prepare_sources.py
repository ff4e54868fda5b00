"""Sources for `prepare`: each builds a :class:`~sictl.pipeline.prepare.SourceData` that streams
trajectory blocks in data units."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.fields import spectra
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
            raise ConfigError(f"--res must be an even number ≥ 4, got {self.res}", hint="e.g. --res 64")
        if self.n < 1:
            raise ConfigError(f"--n must be ≥ 1, got {self.n}", hint="the number of fields, e.g. --n 1000")
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
        from sictl.core.exact.gmm import GaussianMixture

        given = [self.two_mode is not None, self.weights is not None or self.means is not None, self.spec is not None]
        if sum(given) != 1:
            raise ConfigError("give exactly one of --two-mode, --weights/--means[/--covs] or --spec FILE",
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


def _stream_axis(lay, shape: tuple[int, ...], nbytes: int) -> tuple[int | None, bool]:
    """The input axis to read the file along, and whether it is the time axis.

    The trajectory axis (``traj``, else ``sample``: sictl.pipeline.layout.to_trajectories) when
    there is one — blocks of whole trajectories, unless one trajectory alone is larger than a read
    block (:data:`sictl.io.foreign.BLOCK_BYTES`) and there are more snapshots than trajectories (a few
    long runs: one snapshot of every trajectory is then the smaller unit), then time slabs of every
    trajectory; with no trajectory axis the time axis — time slabs of the single trajectory; else
    None (one sample).
    """
    from sictl.io.foreign import BLOCK_BYTES

    traj, time = lay.axis("traj"), lay.axis("time")
    if traj is not None and time is not None and shape[time] > shape[traj] \
            and nbytes // max(shape[traj], 1) > BLOCK_BYTES:
        return time, True
    traj = traj if traj is not None else lay.axis("sample")
    if traj is not None:
        return traj, False
    return time, time is not None


def import_source(cfg: ImportConfig) -> SourceData:
    """Trajectories from a ``.npy``/``.npz``/``.pt``/``.h5`` file, read in slices (see sictl.io.foreign
    and sictl.pipeline.layout): blocks of whole trajectories, or time slabs when the layout has no
    trajectory or sample axis (one trajectory) or when one trajectory is larger than a read block
    (time slabs of every trajectory). Values are checked for NaN/inf block by block.

    The authors' Navier–Stokes ``.pt`` ((data, time), data (traj, time, H, W)) and Allen–Cahn
    ``AllenCahn1D_grid{N}_samples.npy`` ((2(N+1), S, N+1): walkers × samples × nodes) are recognised;
    Allen–Cahn files keep their N + 1 nodes, with spectra over the first N (``@fft_nodes``).
    """
    import os

    from sictl.io import file_checksum
    from sictl.io.foreign import open_foreign
    from sictl.pipeline.layout import resolve_layout, to_trajectories

    # opened once (an .npz member or a legacy .pt is loaded whole: never twice); blocks() closes it
    stack = contextlib.ExitStack()
    try:
        fa = stack.enter_context(open_foreign(cfg.src, cfg.key))
        shape_in, stated, file_time = fa.data.shape, fa.layout, fa.time
        lay = resolve_layout(shape_in, cfg.layout, stated, name=os.path.basename(cfg.src))
        axis, by_time = _stream_axis(lay, shape_in, fa.data.nbytes)
        rows = fa.data.rows_for(axis) if axis is not None else None
    except BaseException:
        stack.close()
        raise
    # the layout applied to an empty stand-in of one slice: output shape, vector or field, channel checks
    probe_shape = list(shape_in)
    if axis is not None:
        probe_shape[axis] = 1
    try:
        probe = to_trajectories(np.zeros(probe_shape, np.float32), lay, channel=cfg.channel)
        nodes = cfg.grid_nodes if cfg.grid_nodes is not None else (str(lay) == "walker sample x")
        if nodes and (probe.vector or probe.data.ndim != 3):
            raise ConfigError("--grid-nodes applies to 1-D fields (the Allen–Cahn node layout)",
                              hint="drop --grid-nodes (or pass --periodic) for fields on periodic grids")
    except BaseException:
        stack.close()
        raise
    if axis is None:
        n_traj = 1
    elif by_time:  # time slabs: of every trajectory, or of the single one
        n_traj = shape_in[lay.axis("traj")] if lay.axis("traj") is not None else 1
    else:
        n_traj = shape_in[axis]
    n_time = shape_in[axis] if by_time else probe.data.shape[1]
    time = file_time if file_time is not None and len(file_time) == n_time else np.arange(n_time, dtype=np.float32)

    def blocks():
        with stack:
            slices = fa.data.blocks(axis, rows) if axis is not None else [(0, fa.data.load())]
            for _, raw in slices:
                yield to_trajectories(raw, lay, channel=cfg.channel).data

    shape = tuple(int(s) for s in probe.data.shape[2:])
    base = os.path.splitext(os.path.basename(cfg.src))[0]
    return SourceData(
        dataset_name=cfg.name or base, source="import", sample_shape=shape,
        time=np.asarray(time, np.float32), blocks=blocks(), n_trajectories=n_traj, vector=probe.vector,
        boundary="open" if nodes else "periodic", field_name="x" if probe.vector else "u",
        attrs={"imported_from": os.path.basename(cfg.src), "layout": str(lay)},
        config={"source": "import", **asdict(cfg), "layout_used": str(lay)},
        inputs={"src": file_checksum(cfg.src)} if cfg.src != "-" else {},
        fft_nodes=(shape[-1] - 1) if nodes else None, time_block=rows if by_time else None,
    )


def allen_cahn_source(config, seed: int, progress=None, block: int = 32) -> SourceData:
    """Chains are trajectories, thinned MCMC samples their time axis; N + 1 nodes per sample, spectra
    over the first N (``@fft_nodes``).

    Streamed as the sampler produces them: after the burn-in, every ``block`` thinned samples of all
    chains are one time slab ``(chains, ≤ block, N+1)`` handed to the writer (which splits by chain).
    The samples do not depend on ``block``: a seed gives the same data for any block size.
    """
    from sictl.core.simulators.allen_cahn import AllenCahnSampler

    cfg = config  # a sictl.core.simulators.allen_cahn.AllenCahnConfig (validated on construction)
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ConfigError(f"block must be an integer ≥ 1, got {block!r}", hint="e.g. block=32 samples per slab")
    diagnostics: dict = {}

    def blocks():
        sampler = AllenCahnSampler(config, generator=torch.Generator().manual_seed(seed))
        callback = (lambda stage, done, total: progress(f"allen-cahn {stage}", done, total)) if progress else None
        for slab in sampler.run(callback, block=block):
            yield slab.to(torch.float32).numpy()
        diagnostics.update(sampler.summary())

    params = {k: v for k, v in asdict(cfg).items() if v is not None}
    return SourceData(
        dataset_name="stochastic_allen_cahn_1d", source="allen-cahn", sample_shape=(cfg.n + 1,),
        time=(np.arange(1, cfg.samples_per_chain + 1) * cfg.thin).astype(np.float32), blocks=blocks(),
        n_trajectories=cfg.chains, boundary="open", attrs={**params, "h": 1.0 / cfg.n},
        config={"source": "allen-cahn", **params}, diagnostics=diagnostics, fft_nodes=cfg.n,
        time_block=min(block, cfg.samples_per_chain),
    )


PRECISIONS = ("float32", "float64")


@dataclass(frozen=True, kw_only=True)
class NavierStokesSource:
    """Trajectories of the stochastic vorticity equation (sictl.core.simulators.navier_stokes).

    ``precision`` is the solver's arithmetic, "float32" or "float64" (None: the preset's, float32);
    the data are stored as float32 either way.
    """

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
    precision: str | None = None


def navier_stokes_source(cfg: NavierStokesSource, seed: int, progress=None, device: str = "cpu") -> SourceData:
    """Batches of trajectories are simulated one after the other and handed over whole.

    ``progress(stage, done, total)`` is called in simulated time × trajectories (after every
    snapshot interval of every batch).
    """
    from sictl.core.simulators.navier_stokes import PRESETS, NavierStokes2D

    if cfg.preset not in PRESETS:
        raise ConfigError(f"unknown Navier–Stokes preset {cfg.preset!r}", hint=f"choose one of {', '.join(PRESETS)}")
    if cfg.trajectories < 1 or cfg.snapshots < 1 or cfg.batch < 1:
        raise ConfigError("--trajectories, --snapshots and --batch must be ≥ 1",
                          hint="e.g. --trajectories 8 --snapshots 100 --batch 8")
    if cfg.precision is not None and cfg.precision not in PRECISIONS:
        raise ConfigError(f"unknown --precision {cfg.precision!r}",
                          hint="float32 (the presets', ≈ 2× faster) or float64 (for checks)")
    preset = PRESETS[cfg.preset]
    n = cfg.res or preset.n
    store = cfg.store_res or (preset.store_n if cfg.res is None else n)
    dtype = getattr(torch, cfg.precision) if cfg.precision else preset.dtype
    precision = str(dtype).removeprefix("torch.")
    overrides = {"n": n, "nu": cfg.nu, "alpha": cfg.alpha, "eps": cfg.eps, "dt": cfg.dt or preset.dt, "dtype": dtype}
    solver = NavierStokes2D(preset.config(**overrides), device=device)
    if store > n:
        raise ConfigError(f"--store-res {store} is finer than the simulation grid {n}",
                          hint="store at the simulation grid or coarser (spectral truncation)")
    diagnostics: dict = {"dt": solver.config.dt, "simulated_grid": n, "precision": precision}
    span = cfg.burn_in + cfg.snapshots * cfg.snapshot_dt
    total_time = cfg.trajectories * span

    def blocks():
        gen = torch.Generator(device=device).manual_seed(seed)
        for first in range(0, cfg.trajectories, cfg.batch):
            k = min(cfg.batch, cfg.trajectories - first)
            w0 = solver.initial_condition(k, gen)
            frames = []

            def report(t, total, base=first * span, k=k):
                if progress:
                    progress("navier-stokes (simulated time × trajectories)", base + t * k, total_time)

            for _, w in solver.simulate(w0, burn_in=cfg.burn_in, snapshot_dt=cfg.snapshot_dt,
                                        n_snapshots=cfg.snapshots, generator=gen, callback=report):
                w = w if store == n else spectra.spectral_resample(w, store, 2)
                frames.append(w.to("cpu", torch.float32))
            yield torch.stack(frames, 1).numpy()

    params = {**asdict(cfg), "precision": precision}
    times = (cfg.burn_in + cfg.snapshot_dt * np.arange(1, cfg.snapshots + 1)).astype(np.float32)
    return SourceData(
        dataset_name="stochastic_ns_2d", source="navier-stokes", sample_shape=(store, store), time=times,
        blocks=blocks(), n_trajectories=cfg.trajectories, field_name="vorticity",
        attrs={**{k: v for k, v in params.items() if v is not None}, "L": 2 * np.pi, "simulated_n": n,
               "dt_solver": solver.config.dt},
        config={"source": "navier-stokes", **params}, diagnostics=diagnostics,
    )


__all__ = ["GaussianFieldConfig", "gaussian_field_source", "GMMConfig", "gmm_source", "ImportConfig", "import_source",
           "allen_cahn_source", "PRECISIONS", "NavierStokesSource", "navier_stokes_source", "parse_vectors"]
