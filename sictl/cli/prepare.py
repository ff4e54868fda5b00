"""`sictl prepare SOURCE`: simulate or import a dataset (one typer sub-app, one command per source)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, QuietOpt, SeedOpt

prepare_app = typer.Typer(
    name="prepare",
    help="Simulate or import a dataset: gaussian-field, allen-cahn, navier-stokes, gmm, import.",
    no_args_is_help=True,
)

OutOpt = Annotated[str, typer.Option("-o", "--output", help="Dataset file to write ('-' = stdout).")]
NormalizeOpt = Annotated[str, typer.Option("--normalize", help="none, or rms (divide by the RMS pixel value; stored).")]
ResolutionOpt = Annotated[Optional[int], typer.Option("--resolution", help="Store at this many points per side.")]
ResampleOpt = Annotated[str, typer.Option("--resample", help="How --resolution changes the grid: spectral or bilinear.")]
SplitOpt = Annotated[Optional[float], typer.Option("--split", help="Train fraction, split by trajectory: writes NAME-train.h5, NAME-test.h5.")]
LagOpt = Annotated[Optional[int], typer.Option("--lag", help="Also store forecasting pairs (x_t, x_{t+lag}) within trajectories.")]


def _run(source_factory, *, output, normalize, resolution, resample, split, lag, seed, json_out, quiet):
    from sictl.cli.output import err_console, print_json
    from sictl.io import check_writable
    from sictl.pipeline.prepare import PrepareOptions, output_paths, write_prepared

    opts = PrepareOptions(normalize=normalize, resolution=resolution, resample=resample, split=split, lag=lag, seed=seed)
    opts.validate()
    for path in output_paths(output, split):
        check_writable(path)
    if output == "-" and json_out:
        from sictl.errors import ConfigError

        raise ConfigError("-o - and --json both want stdout", hint="write the file to a path, or drop --json")
    console = err_console(quiet or json_out)
    with _progress(console) as progress:
        src = source_factory(progress)
        summary = write_prepared(src, opts, output, progress)
    if not quiet and not json_out:
        _print_summary(console, summary)
    if json_out:
        print_json(summary)


class _progress:
    """A rich progress bar on stderr driven by (stage, done, total) callbacks (terminals only)."""

    def __init__(self, console):
        self.console, self.bar, self.tasks = console, None, {}

    def __enter__(self):
        if not self.console.quiet and self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.4g}/{task.total:.4g}"),
                                TimeRemainingColumn(), console=self.console, transient=True)
            self.bar.__enter__()
        return self

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self.bar is None:
            return
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total)
        self.bar.update(self.tasks[stage], completed=done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False


def _print_summary(console, summary: dict) -> None:
    from rich.table import Table

    table = Table("file", "trajectories", "samples", "pairs", "pixel RMS", "pixel mean",
                  title=f"{summary['source']} → {summary['dataset_name']} {tuple(summary['sample_shape'])}")
    for out in summary["outputs"]:
        table.add_row(out["path"], str(out["n_trajectories"]), str(out["n_samples"]), str(out["n_pairs"]),
                      f"{out['pixel_rms']:.4g}", f"{out['pixel_mean']:.3g}")
    console.print(table)
    for key, value in summary.get("diagnostics", {}).items():
        console.print(f"{key}: {value}")


@prepare_app.command("gaussian-field")
def gaussian_field(
    output: OutOpt,
    res: Annotated[int, typer.Option("--res", help="Grid points per side.")] = 64,
    dim: Annotated[int, typer.Option("--dim", help="1 or 2 spatial dimensions.")] = 2,
    n: Annotated[int, typer.Option("--n", help="Number of fields.")] = 1000,
    spectrum: Annotated[str, typer.Option("--spectrum", help="matern or power-law.")] = "matern",
    s: Annotated[float, typer.Option("--s", help="Matérn exponent s in σ²(−Δ+ℓ²)^{−s}.")] = 3.0,
    ell: Annotated[float, typer.Option("--ell", help="Matérn ℓ.")] = 1.0,
    sigma2: Annotated[Optional[float], typer.Option("--sigma2", help="Matérn σ² (default (4π²+ℓ²)^s: S(|k|=1)=1).")] = None,
    exponent: Annotated[float, typer.Option("--exponent", help="Power law: S(k) = A |k|^(−exponent).")] = 3.0,
    amplitude: Annotated[float, typer.Option("--amplitude", help="Power law amplitude A.")] = 1.0,
    normalize: NormalizeOpt = "none", resolution: ResolutionOpt = None, resample: ResampleOpt = "spectral",
    split: SplitOpt = None, lag: LagOpt = None, seed: SeedOpt = 0, json_out: JsonOpt = False,
    device: DeviceOpt = DeviceChoice.cpu, quiet: QuietOpt = False,
):
    """Periodic Gaussian random fields with an exactly known spectrum E|x̂_k|² = S(k).

    \b
    Example:
      sictl prepare gaussian-field --res 64 --n 2000 -o grf64.h5 --json
    """
    from sictl.pipeline.prepare_sources import GaussianFieldConfig, gaussian_field_source

    cfg = GaussianFieldConfig(res=res, dim=dim, n=n, spectrum=spectrum, s=s, ell=ell, sigma2=sigma2,
                              exponent=exponent, amplitude=amplitude)
    cfg.power()  # validate before any file work
    _run(lambda progress: gaussian_field_source(cfg, seed), output=output, normalize=normalize, resolution=resolution,
         resample=resample, split=split, lag=lag, seed=seed, json_out=json_out, quiet=quiet)


@prepare_app.command("gmm")
def gmm(
    output: OutOpt,
    n: Annotated[int, typer.Option("--n", help="Number of samples.")] = 10000,
    two_mode: Annotated[Optional[str], typer.Option("--two-mode", help="M[,p]: p N(r,I) + (1−p) N(−r,I), |r| = M.")] = None,
    dim: Annotated[int, typer.Option("--dim", help="Dimension for --two-mode.")] = 1,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Comma list of weights (sum 1).")] = None,
    means: Annotated[Optional[str], typer.Option("--means", help="Means: rows ';', entries ',' (e.g. '5,0;-5,0').")] = None,
    covs: Annotated[Optional[str], typer.Option("--covs", help="Comma list of isotropic variances (default 1).")] = None,
    spec: Annotated[Optional[str], typer.Option("--spec", help="JSON file: weights, means, covs.")] = None,
    normalize: NormalizeOpt = "none", split: SplitOpt = None, seed: SeedOpt = 0, json_out: JsonOpt = False,
    device: DeviceOpt = DeviceChoice.cpu, quiet: QuietOpt = False,
):
    """Samples of a Gaussian mixture in any dimension; the mixture itself is stored with them.

    \b
    Example:
      sictl prepare gmm --two-mode 100,0.3 --n 100000 -o gmm.h5
    """
    from sictl.pipeline.prepare_sources import GMMConfig, gmm_source

    cfg = GMMConfig(n=n, two_mode=two_mode, dim=dim, weights=weights, means=means, covs=covs, spec=spec)
    cfg.mixture()
    _run(lambda progress: gmm_source(cfg, seed), output=output, normalize=normalize, resolution=None, resample="spectral",
         split=split, lag=None, seed=seed, json_out=json_out, quiet=quiet)


@prepare_app.command("allen-cahn")
def allen_cahn(
    output: OutOpt,
    res: Annotated[int, typer.Option("--res", help="Grid intervals N on [0, 1] (N + 1 nodes stored).")] = 64,
    chains: Annotated[int, typer.Option("--chains", help="Independent Markov chains (the trajectories).")] = 256,
    samples_per_chain: Annotated[int, typer.Option("--samples-per-chain", help="Stored samples per chain.")] = 64,
    burn_in: Annotated[int, typer.Option("--burn-in", help="Discarded iterations (step size adapted there).")] = 1000,
    thin: Annotated[int, typer.Option("--thin", help="Iterations between stored samples.")] = 4,
    method: Annotated[str, typer.Option("--method", help="hmc or mala (both Metropolis-corrected, preconditioned).")] = "hmc",
    potential: Annotated[str, typer.Option("--potential", help="double-well (1−u²)², or quadratic κu² (exact test).")] = "double-well",
    kappa: Annotated[float, typer.Option("--kappa", help="κ of the quadratic potential.")] = 1.0,
    normalize: NormalizeOpt = "none", split: SplitOpt = None, lag: LagOpt = None, seed: SeedOpt = 0,
    json_out: JsonOpt = False, device: DeviceOpt = DeviceChoice.cpu, quiet: QuietOpt = False,
):
    """Samples of the stochastic Allen–Cahn invariant measure by Metropolis-corrected HMC or MALA.

    The target is the discrete Gibbs density exp(−U), U = Σ (u_{j+1}−u_j)²/(2h) + Σ (h/2) V((u_j+u_{j+1})/2)
    on N + 1 free nodes (reference/data_and_metrics.md §1.1); chains are split, never cut.

    \b
    Example:
      sictl prepare allen-cahn --res 64 --chains 256 --samples-per-chain 64 --split 0.9 -o ac64.h5
    """
    from sictl.core.simulators.allen_cahn import AllenCahnConfig
    from sictl.pipeline.prepare_sources import allen_cahn_source

    cfg = AllenCahnConfig(n=res, chains=chains, samples_per_chain=samples_per_chain, burn_in=burn_in, thin=thin,
                          method=method, potential=potential, kappa=kappa)  # validated before any file work
    _run(lambda progress: allen_cahn_source(cfg, seed, progress), output=output, normalize=normalize,
         resolution=None, resample="spectral", split=split, lag=lag, seed=seed, json_out=json_out, quiet=quiet)


@prepare_app.command("navier-stokes")
def navier_stokes(
    output: OutOpt,
    preset: Annotated[str, typer.Option("--preset", help="small (64², dt 2e-3), medium (128², 1e-3), paper (256², 1e-4, stored at 128²).")] = "small",
    res: Annotated[Optional[int], typer.Option("--res", help="Simulation grid (overrides the preset).")] = None,
    store_res: Annotated[Optional[int], typer.Option("--store-res", help="Stored grid (spectral truncation).")] = None,
    dt: Annotated[Optional[float], typer.Option("--dt", help="Time step (overrides the preset).")] = None,
    nu: Annotated[float, typer.Option("--nu", help="Viscosity ν.")] = 1e-3,
    alpha: Annotated[float, typer.Option("--alpha", help="Linear damping α.")] = 0.1,
    eps: Annotated[float, typer.Option("--eps", help="Noise amplitude ε.")] = 1.0,
    trajectories: Annotated[int, typer.Option("--trajectories", help="Number of trajectories.")] = 8,
    snapshots: Annotated[int, typer.Option("--snapshots", help="Snapshots per trajectory.")] = 100,
    snapshot_dt: Annotated[float, typer.Option("--snapshot-dt", help="Time between snapshots.")] = 0.5,
    burn_in: Annotated[float, typer.Option("--burn-in", help="Simulated time discarded first.")] = 50.0,
    batch: Annotated[int, typer.Option("--batch", help="Trajectories simulated together.")] = 8,
    precision: Annotated[Optional[str], typer.Option("--precision", help="Solver arithmetic: float32 (the presets', ≈ 2× faster) or float64. Data are stored as float32.")] = None,
    normalize: NormalizeOpt = "none", resolution: ResolutionOpt = None, resample: ResampleOpt = "spectral",
    split: SplitOpt = None, lag: LagOpt = None, seed: SeedOpt = 0, json_out: JsonOpt = False,
    device: DeviceOpt = DeviceChoice.cpu, quiet: QuietOpt = False,
):
    """Trajectories of the 2-D stochastic vorticity equation on [0, 2π]² (pseudo-spectral, 2/3 dealiasing).

    dω + v·∇ω dt = (νΔω − αω) dt + ε dη with the paper's 8 forcing modes; integrating factor for the
    linear part, RK3 for advection, one noise increment per step, a CFL guard.

    \b
    Example:
      sictl prepare navier-stokes --preset small --trajectories 8 --snapshots 100 --normalize rms --lag 2 -o ns64.h5
      sictl prepare navier-stokes --preset small --precision float64 -o ns64-f64.h5
    """
    from sictl.cli.options import resolve_device
    from sictl.pipeline.prepare_sources import NavierStokesSource, navier_stokes_source

    cfg = NavierStokesSource(preset=preset, res=res, store_res=store_res, dt=dt, nu=nu, alpha=alpha, eps=eps,
                             trajectories=trajectories, snapshots=snapshots, snapshot_dt=snapshot_dt,
                             burn_in=burn_in, batch=batch, precision=precision)
    dev = resolve_device(device)
    navier_stokes_source(cfg, seed, None, dev)  # validates the configuration before any file work
    _run(lambda progress: navier_stokes_source(cfg, seed, progress, dev), output=output, normalize=normalize,
         resolution=resolution, resample=resample, split=split, lag=lag, seed=seed, json_out=json_out, quiet=quiet)


@prepare_app.command("import")
def import_(
    src: Annotated[str, typer.Argument(help="A .npy, .npz, .pt (tensors only) or .h5 file.")],
    output: OutOpt,
    key: Annotated[Optional[str], typer.Option("--key", help="Array name, dict key, tuple index or HDF5 path.")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help="Axis names, e.g. 'traj time x y', 'walker sample x'.")] = None,
    channel: Annotated[Optional[int], typer.Option("--channel", help="Which channel to keep if there are several.")] = None,
    grid_nodes: Annotated[Optional[bool], typer.Option("--grid-nodes/--periodic", help="Last axis holds N+1 grid nodes (detected for Allen–Cahn files).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="dataset_name to record.")] = None,
    normalize: NormalizeOpt = "none", resolution: ResolutionOpt = None, resample: ResampleOpt = "spectral",
    split: SplitOpt = None, lag: LagOpt = None, seed: SeedOpt = 0, json_out: JsonOpt = False,
    device: DeviceOpt = DeviceChoice.cpu, quiet: QuietOpt = False,
):
    """Import someone else's data (the authors' Navier–Stokes .pt and Allen–Cahn .npy are recognised).

    
    Examples:
      sictl prepare import data_file01.pt --normalize rms --split 0.9 --lag 2 -o ns.h5
      sictl prepare import AllenCahn1D_grid64_samples.npy --split 0.9 -o ac64.h5
      sictl prepare import fields.npz --key u --layout "sample x y" -o mine.h5
    """
    from sictl.pipeline.prepare_sources import ImportConfig, import_source

    cfg = ImportConfig(src=src, key=key, layout=layout, channel=channel, grid_nodes=grid_nodes, name=name)
    _run(lambda progress: import_source(cfg), output=output, normalize=normalize, resolution=resolution,
         resample=resample, split=split, lag=lag, seed=seed, json_out=json_out, quiet=quiet)


def register(app: typer.Typer) -> None:
    app.add_typer(prepare_app, name="prepare")
