"""`sictl gaussian-check`: options → :func:`sictl.pipeline.gaussian_check.run` → tables or JSON."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, OutputOpt, QuietOpt, SeedOpt

HELP = """Exact laboratory: Lipschitz constant, A2 and the exact spectral error of every
(schedule, solver, grid, steps) for a Gaussian or two-mode-mixture target, with no sampling.

\b
Examples:
  sictl gaussian-check --matern 128 --schedules linear,designed --solvers rk4-38 --steps 19 --json
  sictl gaussian-check --ratio 1e-4 --schedules linear,trig,designed --steps 4,9,19 --transfer
  sictl gaussian-check --matern 64 --solvers rk4-38,expint2 --grid uniform,logsnr --monte-carlo 2000
  sictl gaussian-check --gmm 100,0.3 --schedules linear --steps 4 --t-min 1e-3 --t-max 0.999
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
    base: Annotated[str, typer.Option("--base", help="Base noise: white (unit variance per mode), white:σ0 (pixel std; for --gmm the components' std), spectral[:FILE] (a dataset's stored spectrum; none: the target's own).")] = "white",
    schedules: Annotated[list[str], typer.Option("--schedules", help="Comma list: linear, trig, designed[:λ], or schedule files.")] = ["linear,designed"],
    solvers: Annotated[list[str], typer.Option("--solvers", help="Comma list of {solvers}.")] = ["rk4-38"],
    steps: Annotated[list[str], typer.Option("--steps", help="Comma list of step counts (grid intervals).")] = ["9,19,39"],
    grid: Annotated[list[str], typer.Option("--grid", help="Comma list of time grids: {grids}.")] = ["uniform"],
    t_min: Annotated[float, typer.Option("--t-min", help="First grid time.")] = 1e-4,
    t_max: Annotated[float, typer.Option("--t-max", help="Last grid time.")] = 1 - 1e-4,
    diffusion: Annotated[str, typer.Option("--diffusion", help="Diffusion for {stochastic_solvers}: {diffusions} (optimal: ε*).")] = "optimal",
    monte_carlo: Annotated[int, typer.Option("--monte-carlo", help="Also sample N fields and measure the error.")] = 0,
    transfer: Annotated[bool, typer.Option("--transfer", help="Verify the transfer formula and ε*/g_F identities.")] = False,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = DeviceChoice.cpu,
    quiet: QuietOpt = False,
):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import check_stdout, err_console, print_json
    from sictl.pipeline.gaussian_check import GaussianCheckConfig, run

    check_stdout({"-o": output}, json_out, hint="write the report to a file, or drop --json")
    if output is not None:
        from sictl.io import check_writable

        check_writable(output)
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
    )
    summary = run(cfg, output)
    if not quiet and not json_out:
        _print_tables(err_console(), summary)
    if json_out:
        print_json(summary)


def _print_tables(console, summary: dict) -> None:
    from rich.table import Table

    target = summary["target"]
    console.print(f"[bold]target[/bold] {target.get('kind')}: " + ", ".join(
        f"{k}={v}" for k, v in target.items() if k != "kind" and not isinstance(v, (list, dict))))
    sched = Table("schedule", "Lipschitz", "A2", title="drift regularity")
    for name, m in summary["schedules"].items():
        sched.add_row(name, f"{m['lipschitz']:.6g}", f"{m['a2']:.6g}")
    console.print(sched)
    runs = Table("schedule", "solver", "grid", "steps", "NFE", title="exact error of the generated samples")
    mixture = target.get("kind") == "gmm-two-mode"
    cols = ["mode_weight_plus", "mode_weight_error"] if mixture else ["spectral_error_mean", "spectral_error_max"]
    if any("mc_spectral_error_mean" in r for r in summary["runs"]):
        cols += ["mc_spectral_error_mean", "mc_spectral_error_max"]
    for c in cols:
        runs.add_column(c.replace("spectral_error", "err").replace("_", " "))
    for r in summary["runs"]:
        runs.add_row(r["schedule"], r["solver"], r["grid"], str(r["steps"]), str(r["nfe"]), *(f"{r[c]:.4g}" for c in cols))
    console.print(runs)
    if "transfer" in summary:
        for key, value in summary["transfer"]["max_relative_error"].items():
            console.print(f"transfer {key}: max relative error {value:.2e}")


def register(app: typer.Typer) -> None:
    from sictl.cli.registry_help import RegistryHelpCommand

    app.command("gaussian-check", help=HELP, cls=RegistryHelpCommand)(gaussian_check)
