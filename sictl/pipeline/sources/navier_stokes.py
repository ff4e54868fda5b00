"""``prepare navier-stokes``: trajectories of the 2-D stochastic vorticity equation."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, option

PRECISIONS = ("float32", "float64")

HELP = """Trajectories of the 2-D stochastic vorticity equation on [0, 2π]² (pseudo-spectral, 2/3 dealiasing).

dω + v·∇ω dt = (νΔω − αω) dt + ε dη with the paper's 8 forcing modes; integrating factor for the
linear part, RK3 for advection, one noise increment per step, a CFL guard.

\b
Examples (small and short: --res and --dt override the preset's grid and step):
  sictl prepare navier-stokes --res 32 --dt 0.01 --n 2 --snapshots 4 \\
      --snapshot-dt 0.1 --burn-in 1 --normalize rms --lag 2 -o ns.h5
  sictl prepare navier-stokes --res 32 --dt 0.01 --n 2 --snapshots 4 \\
      --snapshot-dt 0.1 --burn-in 1 --precision float64 -o ns-f64.h5
"""


@dataclass(frozen=True, kw_only=True)
class NavierStokesSource:
    """Trajectories of the stochastic vorticity equation (sictl.core.simulators.navier_stokes).

    ``precision`` is the solver's arithmetic, "float32" or "float64" (None: the preset's, float32);
    the data are stored as float32 either way.
    """

    preset: str = option("small", "--preset", "small (64², dt 2e-3), medium (128², 1e-3), paper (256², 1e-4, stored at 128²).")
    res: int | None = option(None, "--res", "Simulation grid (overrides the preset).")
    store_res: int | None = option(None, "--store-res", "Stored grid (spectral truncation).")
    dt: float | None = option(None, "--dt", "Time step (overrides the preset).")
    nu: float = option(1e-3, "--nu", "Viscosity ν.")
    alpha: float = option(0.1, "--alpha", "Linear damping α.")
    eps: float = option(1.0, "--eps", "Noise amplitude ε.")
    trajectories: int = option(8, "--n", "Trajectories: independent runs.", aliases=("--trajectories",))
    snapshots: int = option(100, "--snapshots", "Snapshots per trajectory.")
    snapshot_dt: float = option(0.5, "--snapshot-dt", "Time between snapshots.")
    burn_in: float = option(50.0, "--burn-in", "Simulated time discarded first.")
    batch: int = option(8, "--batch", "Trajectories simulated together.")
    precision: str | None = option(None, "--precision", "Solver arithmetic: float32 (the presets', ≈ 2× faster) or float64. Data are stored as float32.")


def navier_stokes_source(cfg: NavierStokesSource, seed: int, progress=None, device: str = "cpu"):
    """Batches of trajectories are simulated on ``device`` one after the other and handed over whole.

    ``progress(stage, done, total)`` is called in simulated time × trajectories (after every
    snapshot interval of every batch). Validates the configuration and builds the solver at once;
    nothing is simulated until the blocks are asked for.
    """
    import numpy as np
    import torch

    from sictl.core.fields import spectra
    from sictl.core.simulators.navier_stokes import PRESETS, NavierStokes2D
    from sictl.pipeline.prepare import SourceData

    if cfg.preset not in PRESETS:
        raise ConfigError(f"unknown Navier–Stokes preset {cfg.preset!r}", hint=f"choose one of {', '.join(PRESETS)}")
    if cfg.trajectories < 1 or cfg.snapshots < 1 or cfg.batch < 1:
        raise ConfigError("--n, --snapshots and --batch must be ≥ 1",
                          hint="e.g. --n 8 --snapshots 100 --batch 8")
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


SOURCE = Source(
    name="navier-stokes", help=HELP, options=NavierStokesSource,
    build=lambda cfg, *, seed, progress, device: navier_stokes_source(cfg, seed, progress, device),
    check=lambda cfg, device: navier_stokes_source(cfg, 0, None, device),
)
