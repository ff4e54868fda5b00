"""`sictl design-schedule`: options → :func:`sictl.pipeline.design.run` (schedule file, export, plot) → summary."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from sictl.cli.gaussian_check import _floats, _split
from sictl.cli.options import JsonOpt, OutputOpt, QuietOpt, SeedOpt

HELP = """Design a Lipschitz-optimal interpolation schedule for a target and write it as a schedule file
that gaussian-check, train and sample apply verbatim.

\b
Examples:
  sictl design-schedule --matern 128 --lipschitz -o s.h5 --json
  sictl design-schedule --ratio 0.01 --ratio 1 --ratio 50 -o mixed.h5
  sictl design-schedule --gmm 100,0.3 -o modes_schedule.h5 --plot modes.png
  sictl design-schedule --data grf.h5 -o grf_schedule.h5 --export csv
  sictl design-schedule --data ns.h5 --base white:10 -o ns_schedule.h5
  sictl design-schedule --gmm-file mixture.json --kinetic -o k.h5
  sictl design-schedule --matern 32 --grid-for unipc3 --nfe 10 -o grid32.h5
  sictl design-schedule --field-mixture '16:0.5,3,1,1;0.5,3,20,0.01' \\
      --grid-for unipc3 --nfe 10 --lab-samples 16 -o fm16.h5
"""


class ExportFormat(str, Enum):
    csv = "csv"
    json = "json"


def design_schedule(
    ratio: Annotated[Optional[list[str]], typer.Option("--ratio", help="Target/base ratio λ (repeatable or comma list).")] = None,
    matern: Annotated[Optional[str], typer.Option("--matern", help="Matérn field N[,s,ell], white unit base.")] = None,
    dim: Annotated[int, typer.Option("--dim", help="Spatial dimension of --matern.")] = 2,
    data: Annotated[Optional[str], typer.Option("--data", help="Dataset file: its stored per-mode power is the target.")] = None,
    spectrum: Annotated[Optional[str], typer.Option("--spectrum", help="Same as --data (a file with stats/mode_power).")] = None,
    gmm: Annotated[Optional[str], typer.Option("--gmm", help="Two-mode mixture M[,p], component covariance = base (with white:σ0: separation M/σ0 in base units).")] = None,
    gmm_file: Annotated[Optional[str], typer.Option("--gmm-file", help="JSON mixture: weights, means, covs.")] = None,
    base: Annotated[str, typer.Option("--base", help="white, white:σ0 (pixel std), spectral:FILE, or spectral (the --data/--spectrum file's own spectrum). Not with --ratio.")] = "white",
    lipschitz: Annotated[bool, typer.Option("--lipschitz", help="Minimise averaged squared Lipschitzness A2 (default).")] = False,
    kinetic: Annotated[bool, typer.Option("--kinetic", help="Minimise the kinetic energy instead (for comparison).")] = False,
    rescale: Annotated[bool, typer.Option("--rescale/--no-rescale", help="Allow leaving the variance-preserving path (mixed ratios).")] = True,
    steps: Annotated[int, typer.Option("--steps", help="Intervals of the recommended sampling grid.")] = 19,
    t_min: Annotated[float, typer.Option("--t-min", help="First time of the recommended grid.")] = 1e-4,
    t_max: Annotated[float, typer.Option("--t-max", help="Last time of the recommended grid.")] = 1 - 1e-4,
    mc_samples: Annotated[int, typer.Option("--mc-samples", help="Monte Carlo draws for --gmm-file (the same draws at every β).")] = 2048,
    field_mixture: Annotated[Optional[str], typer.Option("--field-mixture", help="Mixture of Matérn fields: N[,dim]:w,s,ell,amp;w,s,ell,amp, a JSON file or a dataset of `prepare field-mixture`.")] = None,
    grid_for: Annotated[Optional[str], typer.Option("--grid-for", help="Also design the time grid (ends free within --t-min/--t-max) for this solver at --nfe drift evaluations, minimising the exact max shell error; stored in the schedule file.")] = None,
    nfe: Annotated[Optional[int], typer.Option("--nfe", help="Drift evaluations the --grid-for grid is designed for.")] = None,
    diffusion: Annotated[str, typer.Option("--diffusion", help="Diffusion of a stochastic --grid-for solver: optimal (ε*), 0, const:c.")] = "optimal",
    lab_samples: Annotated[int, typer.Option("--lab-samples", help="Base draws of the --field-mixture laboratory.")] = 64,
    model: Annotated[Optional[str], typer.Option("--model", help="A run folder of `sictl train`: design from its learned drift's A2 profile, estimated by Jacobian–vector products over --data draws and its base noise.")] = None,
    weights: Annotated[str, typer.Option("--weights", help="With --model: ema or raw weights.")] = "ema",
    profile_times: Annotated[int, typer.Option("--profile-times", help="With --model: model times (log-SNR grid of its training window) the profile is estimated at.")] = 33,
    jacobian_samples: Annotated[int, typer.Option("--jacobian-samples", help="With --model: data and base draws per time (the same at every time).")] = 128,
    power_iterations: Annotated[int, typer.Option("--power-iterations", help="With --model: power iterations for ‖∇f‖₂ per draw.")] = 20,
    probes: Annotated[int, typer.Option("--probes", help="With --model: block width of the power iteration (= Hutchinson probes for ‖∇f‖_F).")] = 4,
    export: Annotated[Optional[ExportFormat], typer.Option("--export", help="Also write the table as csv or json.")] = None,
    export_path: Annotated[Optional[str], typer.Option("--export-path", help="Where --export writes (default: -o with the suffix changed; '-' = stdout).")] = None,
    plot: Annotated[Optional[str], typer.Option("--plot", help="PNG: α, β against linear, and the Lipschitz profile.")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    quiet: QuietOpt = False,
):
    from sictl.cli.output import check_stdout, err_console, print_json, working
    from sictl.errors import ConfigError
    from sictl.pipeline.design import DesignConfig, DesignOutputs, run

    if lipschitz and kinetic:
        raise ConfigError("--lipschitz and --kinetic exclude each other",
                          hint="give one criterion: --lipschitz (A2, the default) or --kinetic")
    outputs = DesignOutputs.resolve(output, export.value if export is not None else None, export_path, plot)
    check_stdout(outputs.stdout_users(), json_out, hint="write the file or the export to a path, e.g. -o s.h5")
    cfg = DesignConfig(
        ratios=_floats(_split(ratio), "--ratio"), matern=matern, dim=dim, data=data, spectrum=spectrum, gmm=gmm,
        gmm_file=gmm_file, base=base, criterion="kinetic" if kinetic else "a2", rescale=rescale, steps=steps,
        t_min=t_min, t_max=t_max, mc_samples=mc_samples, seed=seed, field_mixture=field_mixture, grid_for=grid_for,
        nfe=nfe, diffusion=diffusion, lab_samples=lab_samples, model=model, weights=weights,
        profile_times=profile_times, jacobian_samples=jacobian_samples, power_iterations=power_iterations, probes=probes,
    )
    console = err_console(quiet or json_out)
    with working(console, "designing the schedule"):
        summary = run(cfg, outputs)
    if not quiet and not json_out:
        _print_summary(console, summary)
    if json_out:
        print_json(summary)


def _print_summary(console, summary: dict) -> None:
    from sictl.cli.output import make_table, print_wrote

    console.print(f"[bold]{summary['family']}[/bold] schedule, criterion {summary['criterion']}, "
                  f"target {summary['target'].get('kind')}")
    table = make_table("schedule", "A2", "Lipschitz", title="drift regularity")
    for name in ("designed", "linear", "trig"):
        table.add_row(name, f"{summary['a2'][name]:.6g}", f"{summary['lipschitz'][name]:.6g}")
    console.print(table)
    if "a2_saved_by_rescaling" in summary:
        console.print(f"rescaling off the variance-preserving path saves {summary['a2_saved_by_rescaling']:.4g} of A2 "
                      f"(variance-preserving optimum {summary['a2_variance_preserving']:.6g})")
    if "grid_design" in summary:
        _print_grid_design(console, summary["grid_design"])
    if "profile" in summary:
        _print_profile(console, summary["profile"])
    print_wrote(console, summary.get("schedule"), summary.get("export"), summary.get("plot"))


def _print_grid_design(console, g: dict) -> None:
    designed, uniform = g["designed"], g["uniform_logsnr"]
    console.print(f"grid for {g['solver']} at {g['nfe']} NFE ({g['steps']} steps): max shell error "
                  f"{designed['spectral_error_max']:.3g} (uniform log-SNR grid: {uniform['spectral_error_max']:.3g}), "
                  f"found in {g['design_time_s']:.1f} s")


def _print_profile(console, p: dict) -> None:
    """The estimated A2 profile of a model, every few times (all of it is in --json)."""
    from sictl.cli.output import make_table

    ref = p.get("gaussian_reference")
    cols = ["t (model)", "β", "G = E‖∇f‖₂²", "std. error", "E‖∇f‖_F²"] + (["G Gaussian", "√G rel. err"] if ref else [])
    table = make_table(*cols, title=f"estimated A2 profile ({p['samples']} draws, {p['probes']} probes)")
    n = len(p["times"])
    for i in sorted(set(range(0, n, max(1, n // 12))) | {n - 1}):
        row = [f"{p['times'][i]:.4g}", f"{p['beta'][i]:.6g}", f"{p['g'][i]:.4g}", f"{p['g_se'][i]:.2g}",
               f"{p['frobenius'][i]:.4g}"]
        if ref:
            row += [f"{ref['g'][i]:.4g}", f"{ref['sqrt_relative_error'][i]:+.3f}"]
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("design-schedule", help=HELP)(design_schedule)
