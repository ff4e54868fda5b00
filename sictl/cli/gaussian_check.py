"""`sictl gaussian-check`: options → :func:`sictl.pipeline.gaussian_check.run` → tables or JSON."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, OutputOpt, QuietOpt, SeedOpt

HELP = """Exact laboratory: Lipschitz constant, A2 and the exact spectral error of every
(schedule, solver, grid, steps) for a Gaussian or two-mode-mixture target, with no sampling.

\b
Examples:
  sictl gaussian-check --matern 128 --schedules linear,designed --json
  sictl gaussian-check --ratio 1e-4 --schedules linear,trig,designed \\
      --steps 4,9,19 --transfer
  sictl gaussian-check --matern 32 --solvers rk4-38,expint2 \\
      --grid uniform,logsnr --steps 9 --monte-carlo 100
  sictl gaussian-check --gmm 100,0.3 --schedules linear,modes_schedule.h5 \\
      --steps 4 --t-min 1e-3 --t-max 0.999
  sictl gaussian-check --spectrum grf.h5 --schedules linear,grf_schedule.h5 \\
      -o check.h5
  sictl gaussian-check --point-source --ou res=16,lag=0.5 \\
      --schedules lin-beta,beta-t2 --diffusion sigma,follmer,const:1 \\
      --steps 50,200 --json
"""


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(item.strip() for item in v.split(",") if item.strip())
    return out


def _ints(values: list[str], option: str) -> tuple[int, ...]:
    from sictl.errors import ConfigError

    try:
        return tuple(int(v) for v in values)
    except ValueError:
        raise ConfigError(f"{option}: expected integers, got {', '.join(values)}", hint="e.g. --steps 9,19,39") from None


def _floats(values: list[str], option: str) -> tuple[float, ...]:
    from sictl.errors import ConfigError

    try:
        return tuple(float(v) for v in values)
    except ValueError:
        raise ConfigError(f"{option}: expected numbers, got {', '.join(values)}", hint="e.g. --ratio 1e-4") from None


def gaussian_check(
    ratio: Annotated[Optional[list[str]], typer.Option("--ratio", help="Target/base ratio λ (repeatable or comma list); all form one diagonal Gaussian.")] = None,
    matern: Annotated[Optional[str], typer.Option("--matern", help="Matérn field N[,s,ell] (s=3, ℓ=1, S(|k|=1)=1), white unit base.")] = None,
    dim: Annotated[int, typer.Option("--dim", help="Spatial dimension of --matern (1 or 2).")] = 2,
    spectrum: Annotated[Optional[str], typer.Option("--spectrum", help="Dataset file whose stored per-mode power is the target.")] = None,
    gmm: Annotated[Optional[str], typer.Option("--gmm", help="Two-mode mixture M[,p]: p N(r,I) + (1-p) N(-r,I), |r| = M.")] = None,
    field_mixture: Annotated[Optional[str], typer.Option("--field-mixture", help="Mixture of Matérn fields N[,dim]:w,s,ell,amp;w,s,ell,amp, a JSON file or a dataset of `prepare field-mixture`: errors against a reference run from the same base draws.")] = None,
    lab_samples: Annotated[int, typer.Option("--lab-samples", help="Base draws of the --field-mixture laboratory.")] = 64,
    base: Annotated[str, typer.Option("--base", help="Base noise: white (unit variance per mode), white:σ0 (pixel std; for --gmm the components' std), spectral[:FILE] (a dataset's stored spectrum; none: the target's own).")] = "white",
    schedules: Annotated[list[str], typer.Option("--schedules", help="Comma list: linear, trig, designed[:λ], or schedule files.")] = ["linear,designed"],
    solvers: Annotated[list[str], typer.Option("--solvers", help="Comma list of {solvers}.")] = ["rk4-38"],
    steps: Annotated[list[str], typer.Option("--steps", help="Comma list of step counts (grid intervals).")] = ["9,19,39"],
    grid: Annotated[list[str], typer.Option("--grid", help="Comma list of time grids: {grids}, or grid files (a schedule file's grid, e.g. one designed by design-schedule --grid-for; its own steps).")] = ["uniform"],
    t_min: Annotated[float, typer.Option("--t-min", help="First grid time.")] = 1e-4,
    t_max: Annotated[float, typer.Option("--t-max", help="Last grid time.")] = 1 - 1e-4,
    diffusion: Annotated[str, typer.Option("--diffusion", help="Diffusion for {stochastic_solvers}: {diffusions} (optimal: ε*).")] = "optimal",
    monte_carlo: Annotated[int, typer.Option("--monte-carlo", help="Also sample N fields and measure the error.")] = 0,
    transfer: Annotated[bool, typer.Option("--transfer", help="Verify the transfer formula and ε*/g_F identities.")] = False,
    point_source: Annotated[bool, typer.Option("--point-source", help="Forecasting laboratory: an exact Ornstein–Uhlenbeck target (--ou), point-source schedules, g in --diffusion (sigma, follmer, const:g); em errors, Föllmer fingerprint, path KL.")] = False,
    ou: Annotated[str, typer.Option("--ou", help="With --point-source: the OU field as key=value pairs res, dim, slope, corner, variance, theta, theta-k, lag (e.g. res=16,dim=1,theta=1,lag=0.5).")] = "",
    source: Annotated[str, typer.Option("--source", help="With --point-source: state (x0 = the current state) or zero (the increment).")] = "state",
    kl_misfit: Annotated[float, typer.Option("--kl-misfit", help="With --point-source: the learned drift of the KL is exact for the variance (1 + misfit) Σ.")] = 0.4,
    fingerprint_time: Annotated[float, typer.Option("--fingerprint-time", help="With --point-source: the t of the fingerprint Cov(X_t, X_1) = β_t Σ.")] = 0.5,
    model: Annotated[Optional[str], typer.Option("--model", help="A run folder of `sictl train` (field model): compare its drift with the exact drift of the --spectrum Gaussian per Fourier shell and over t.")] = None,
    model_times: Annotated[int, typer.Option("--model-times", help="With --model: times (a log-SNR grid of the model's training window within --t-min/--t-max).")] = 11,
    model_samples: Annotated[int, typer.Option("--model-samples", help="With --model: draws of the exact marginal per time.")] = 256,
    plot: Annotated[Optional[str], typer.Option("--plot", help="With --model: PNG heat map of the relative error, shell × t.")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = DeviceChoice.cpu,
    quiet: QuietOpt = False,
):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import ProgressBar, check_stdout, err_console, print_json
    from sictl.pipeline.gaussian_check import GaussianCheckConfig, run

    check_stdout({"-o": output}, json_out, hint="write the report to a file, or drop --json")
    for path in (output, plot):
        if path is not None:
            from sictl.io import check_writable

            check_writable(path)
    if point_source:
        if ratio or matern or spectrum or gmm or transfer or _split(solvers) != ["rk4-38"]:
            from sictl.errors import ConfigError

            raise ConfigError("--point-source brings its own target (--ou) and solver (em)",
                              hint="drop --ratio/--matern/--spectrum/--gmm/--transfer/--solvers with --point-source")
        return _point_source(schedules, steps, t_min, t_max, diffusion, monte_carlo, ou, source, kl_misfit,
                             fingerprint_time, output, json_out, seed, resolve_device(device), quiet)
    cfg = GaussianCheckConfig(
        ratios=_floats(_split(ratio), "--ratio"),
        matern=matern,
        dim=dim,
        spectrum=spectrum,
        gmm=gmm,
        base=base,
        schedules=tuple(_split(schedules)),
        solvers=tuple(_split(solvers)),
        steps=_ints(_split(steps), "--steps"),
        grids=tuple(_split(grid)),
        t_min=t_min,
        t_max=t_max,
        diffusion=diffusion,
        monte_carlo=monte_carlo,
        transfer=transfer,
        seed=seed,
        device=resolve_device(device),
        field_mixture=field_mixture,
        lab_samples=lab_samples,
        model=model,
        model_times=model_times,
        model_samples=model_samples,
        plot=plot,
    )
    console = err_console(quiet or json_out)
    with ProgressBar(console, stage="gaussian-check", counts="{task.completed}/{task.total} runs") as bar:
        summary = run(cfg, output, progress=bar)
    if not quiet and not json_out:
        (_print_model_tables if "model_check" in summary else _print_tables)(console, summary)
    if json_out:
        print_json(summary)


def _print_model_tables(console, summary: dict) -> None:
    """The model's relative drift error per time: in total, its worst shell, and up to 8 shells."""
    from sictl.cli.output import make_table, print_wrote

    m = summary["model_check"]
    shells = m["shells"]
    step = max(1, -(-len(shells) // 8))
    shown = list(range(0, len(shells), step))
    console.print(f"[bold]model[/bold] {summary['model']['path']} against the exact drift of {summary['target']['path']} "
                  f"({m['samples']} draws of the exact marginal per time)")
    table = make_table("t", "total", "worst κ (loss units)", *(f"κ={shells[i]}" for i in shown),
                       title="relative error of the drift per Fourier shell (gain = effective multiplier / exact)")
    for i, t in enumerate(m["times"]):
        cells = []
        for j in shown:
            err, gain = m["relative_error"][i][j], m["gain"][i][j]
            cells.append("—" if err is None else f"{err:.3g} ({gain:.2f})")
        table.add_row(f"{t:.4g}", f"{m['total_relative_error'][i]:.3g}",
                      f"{m['worst_shell'][i]}: {m['worst_shell_target_error'][i]:.3g}", *cells)
    console.print(table)
    console.print("a shell whose exact drift crosses zero at some t has a large relative error there by construction; "
                  "the error in loss units (against the shell's regression target α̇z + β̇x1) stays meaningful")
    print_wrote(console, summary.get("report"), summary.get("plot"))


def _print_tables(console, summary: dict) -> None:
    from sictl.cli.output import add_fold_column, make_table, print_wrote

    target = summary["target"]
    console.print(f"[bold]target[/bold] {target.get('kind')}: " + ", ".join(
        f"{k}={v}" for k, v in target.items() if k != "kind" and not isinstance(v, (list, dict))))
    sched = make_table("schedule", "Lipschitz", "A2", title="drift regularity")
    for name, m in summary["schedules"].items():
        sched.add_row(name, f"{m['lipschitz']:.6g}", f"{m['a2']:.6g}")
    console.print(sched)
    runs = make_table("schedule", "solver", "grid", "steps", "NFE", title="exact error of the generated samples")
    mixture = target.get("kind") == "gmm-two-mode"
    cols = ["mode_weight_plus", "mode_weight_error"] if mixture else ["spectral_error_mean", "spectral_error_max"]
    if target.get("kind") == "field-mixture":  # against the reference run: shell power, paths, samples
        cols += ["path_error_max", "sample_error_max"]
    if any("mc_spectral_error_mean" in r for r in summary["runs"]):
        cols += ["mc_spectral_error_mean", "mc_spectral_error_max"]
    for c in cols:
        add_fold_column(runs, c.replace("spectral_error", "err").replace("_", " "))
    for r in summary["runs"]:
        runs.add_row(r["schedule"], r["solver"], r["grid"], str(r["steps"]), str(r["nfe"]), *(f"{r[c]:.4g}" for c in cols))
    console.print(runs)
    if "transfer" in summary:
        for key, value in summary["transfer"]["max_relative_error"].items():
            console.print(f"transfer {key}: max relative error {value:.2e}")
    print_wrote(console, summary.get("report"))


def _point_source(schedules, steps, t_min, t_max, diffusion, monte_carlo, ou, source, kl_misfit, fingerprint_time,
                  output, json_out, seed, device, quiet) -> None:
    """`gaussian-check --point-source`: options → :func:`sictl.pipeline.gaussian_check_forecast.run`.

    Options left at the Gaussian laboratory's defaults take the forecasting ones (the β schedules,
    g ∈ {sigma, follmer, const:1}, 50 and 200 steps, t from 0 to 1)."""
    from sictl.cli.output import ProgressBar, err_console, print_json
    from sictl.pipeline import gaussian_check_forecast as gcf

    names, counts = _split(schedules), _split(steps)
    cfg = gcf.ForecastCheckConfig(
        ou=ou, source=source,
        schedules=gcf.DEFAULT_SCHEDULES if names == ["linear", "designed"] else tuple(names),
        diffusions=gcf.DEFAULT_DIFFUSIONS if diffusion == "optimal" else tuple(_split([diffusion])),
        steps=(50, 200) if counts == ["9", "19", "39"] else _ints(counts, "--steps"),
        t_min=0.0 if t_min == 1e-4 else t_min, t_max=1.0 if t_max == 1 - 1e-4 else t_max,
        fingerprint_time=fingerprint_time, kl_misfit=kl_misfit, monte_carlo=monte_carlo, seed=seed, device=device,
    )
    console = err_console(quiet or json_out)
    with ProgressBar(console, stage="gaussian-check", counts="{task.completed}/{task.total} runs") as bar:
        summary = gcf.run(cfg, output, progress=bar)
    if not quiet and not json_out:
        _print_forecast_tables(console, summary)
    if json_out:
        print_json(summary)


def _print_forecast_tables(console, summary: dict) -> None:
    from sictl.cli.output import make_table, print_wrote

    target = summary["target"]
    console.print(f"[bold]target[/bold] {target['kind']}: grid {target['grid']}, lag {target['lag']}, source "
                  f"{target['source']}, λ/ν in [{target['ratio_min']:.3g}, {target['ratio_max']:.3g}]")
    specs = list(next(iter(summary["schedules"].values()))["kl"])
    fp = make_table("schedule", *specs, title=f"fingerprint Cov(X_t, X_1)/(β_t Σ) − 1 at t = {summary['config']['fingerprint_time']}")
    kl = make_table("schedule", *specs, title=f"path KL (closed form with g_F: {summary['kl_follmer_closed_form']:.6g})")
    for name, m in summary["schedules"].items():
        fp.add_row(name, *(f"{m['fingerprint'][g]['total_rel']:.4g}" for g in specs))
        kl.add_row(name, *(f"{m['kl'][g]:.6g}" for g in specs))
    console.print(fp)
    console.print(kl)
    runs = make_table("schedule", "g", "steps", "mean err rel", "var err total", "var err max",
                      title="exact error of the em forecast X_1")
    for r in summary["runs"]:
        runs.add_row(r["schedule"], r["diffusion"], str(r["steps"]), f"{r['mean_error_rel']:.3g}",
                     f"{r['variance_error_total_rel']:.3g}", f"{r['variance_error_max_abs_rel']:.3g}")
    console.print(runs)
    print_wrote(console, summary.get("report"))


def register(app: typer.Typer) -> None:
    from sictl.cli.registry_help import RegistryHelpCommand

    app.command("gaussian-check", help=HELP, cls=RegistryHelpCommand)(gaussian_check)
