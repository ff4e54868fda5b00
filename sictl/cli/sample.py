"""`sictl sample`: options → :mod:`sictl.pipeline.sample` → samples file, progress bar, summary."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, NoSizeCheckOpt, OutputOpt, QuietOpt, SeedOpt

HELP = """Generate samples by integrating a drift from base noise, and write them (in data units) to
an HDF5 samples file. The drift is exact (--exact: a Gaussian field dataset's stored spectrum, or a
Gaussian mixture), so the whole pipeline runs with no network.

\b
Examples:
  sictl sample --exact grf.h5 --schedule designed --steps 19 --n 200 -o s.h5
  sictl sample --exact grf.h5 --schedule grf_schedule.h5 \\
      --grid grf_schedule.h5 --json -o samples.h5
  sictl sample --exact grf.h5 --schedule designed --drift-schedule linear \\
      -o transferred.h5
  sictl sample --exact grf.h5 --solver expint2 --grid logsnr --steps 40 \\
      -o s2.h5 --save-noise z.h5
  sictl sample --exact grf.h5 --solver expint2 --noise z.h5 -o s3.h5
  sictl design-schedule --data grf.h5 -o - \\
      | sictl sample --exact grf.h5 --schedule - -o piped.h5
  sictl sample --exact modes.h5 --schedule modes_schedule.h5 --steps 4 \\
      --t-min 1e-3 --t-max 0.999 -o m.h5
  sictl sample --exact mixture.json --solver em --diffusion optimal \\
      --steps 200 -o m2.h5
  sictl sample --model run/ --schedule designed --steps 9 -o transfer.h5
  sictl sample --exact ou.h5 --condition ou.h5 --members 4 --steps 20 \\
      --solver sde-heun --diffusion follmer -o f.h5 --export f.nc
"""


def sample(
    exact: Annotated[Optional[str], typer.Option("--exact", help="Exact drift: a dataset (Gaussian field or @mixture) or a mixture JSON file.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Learned drift: a run folder of `sictl train` (or its model.safetensors).")] = None,
    weights: Annotated[str, typer.Option("--weights", help="With --model: ema (default) or raw weights.")] = "ema",
    schedule: Annotated[str, typer.Option("--schedule", help="Sampling schedule: {schedules}, or a schedule file.")] = "linear",
    drift_schedule: Annotated[Optional[str], typer.Option("--drift-schedule", help="Schedule the drift is defined under (default: the sampling schedule); if it differs, the transfer formula is applied.")] = None,
    solver: Annotated[str, typer.Option("--solver", help="Solver: {solvers}.")] = "rk4-38",
    steps: Annotated[int, typer.Option("--steps", help="Intervals of the time grid (ignored with --grid FILE).")] = 19,
    grid: Annotated[str, typer.Option("--grid", help="{grids}, or FILE (a schedule file's recommended grid, .npy or text times; a grid designed by design-schedule --grid-for is used only with its solver and budget).")] = "uniform",
    diffusion: Annotated[str, typer.Option("--diffusion", help="For {stochastic_solvers}: {diffusions} (ε*).")] = "0",
    base: Annotated[Optional[str], typer.Option("--base", help="Base noise: white (unit per-mode variance), white:σ0 (pixel std), spectral[:FILE]; a model uses its own.")] = None,
    n: Annotated[int, typer.Option("--n", "--samples", help="Number of samples (--samples: the same, for torchrun, which takes --n as its own).")] = 256,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Samples integrated at once (does not change the samples).")] = 256,
    noise: Annotated[Optional[str], typer.Option("--noise", help="Reuse the base draws of a --save-noise file (fair comparisons).")] = None,
    save_noise: Annotated[Optional[str], typer.Option("--save-noise", help="Also write the base draws to this file.")] = None,
    t_min: Annotated[float, typer.Option("--t-min", help="First grid time.")] = 1e-4,
    t_max: Annotated[float, typer.Option("--t-max", help="Last grid time.")] = 1 - 1e-4,
    dtype: Annotated[str, typer.Option("--dtype", help="Arithmetic precision: float32 or float64.")] = "float32",
    condition: Annotated[Optional[str], typer.Option("--condition", help="Forecast: a dataset of current states (its pairs/x0, else its samples); writes a forecasts file (condition × member × lead). Defaults then: --solver em --diffusion sigma (or follmer, const:c, 0) --steps 100, t in [0, 1] ([1e-3, 1] for 0).")] = None,
    members: Annotated[int, typer.Option("--members", help="With --condition: ensemble members per condition.")] = 1,
    rollout: Annotated[int, typer.Option("--rollout", help="With --condition: autoregressive steps (leads); each member follows its own trajectory.")] = 1,
    export: Annotated[Optional[str], typer.Option("--export", help="With --condition: also write the forecasts as netCDF (.nc) or zarr (.zarr) through xarray, dims condition, ensemble, lead, x[, y] (needs pip install \"sictl[export]\").")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = DeviceChoice.auto,
    quiet: QuietOpt = False,
    no_size_check: NoSizeCheckOpt = False,
):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import ProgressBar, check_stdout, err_console, print_json
    from sictl.errors import ConfigError, UsageError
    from sictl.io import check_writable

    if (exact is None) == (model is None):
        raise (UsageError if exact is None else ConfigError)(  # none given: a usage error (exit 2)
            "give the drift: exactly one of --exact FILE and --model RUN",
            hint="--exact takes a dataset or a mixture JSON file; --model a run folder of `sictl train`")
    if output is None:
        raise UsageError("sample writes a samples file: give -o PATH ('-' = stdout)",
                          hint="e.g. sictl sample --exact grf.h5 -o samples.h5")
    check_stdout({"-o": output}, json_out, hint="write the samples to a file, or drop --json")
    for path in (output, save_noise):
        if path is not None:
            check_writable(path)
    if export is not None and condition is None:
        raise ConfigError("--export writes forecasts (netCDF/zarr): it needs --condition FILE",
                          hint="e.g. sictl sample --model run/ --condition test.h5 --members 10 -o f.h5 --export f.nc")
    if condition is not None or members != 1 or rollout != 1:  # forecasting: sictl.pipeline.forecast
        from sictl.cli.forecast import forecast

        return forecast(dict(locals()))
    from sictl.pipeline.sample import SampleConfig, run

    cfg = SampleConfig(exact=exact, model=model, weights=weights, schedule=schedule, drift_schedule=drift_schedule,
                       solver=solver, steps=steps, grid=grid, diffusion=diffusion, base=base, n=n, batch_size=batch_size, noise=noise,
                       save_noise=save_noise, t_min=t_min, t_max=t_max, dtype=dtype, seed=seed,
                       device=resolve_device(device))
    main = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports (and writes)
    console = err_console(quiet or json_out or not main)
    bar = None if quiet or json_out or not main else ProgressBar(console, stage="sampling",
                                                                  counts="{task.completed}/{task.total} steps")
    try:
        summary = run(cfg, output, progress=bar, size_check=not no_size_check)
    finally:
        if bar is not None:
            bar.close()
    if not main:
        return
    if not quiet and not json_out:
        _print_summary(console, summary)
    if json_out:
        print_json(summary)


def _print_summary(console, s: dict) -> None:
    from sictl.cli.output import make_table, print_wrote

    table = make_table("", "", title="sictl sample", show_header=False)
    rows = [("samples", f"{s['samples']} ({s['n']} × {tuple(s['sample_shape'])}, data units)"),
            ("drift", f"{s['drift_source']} ({s['exact'].get('kind')})"),
            ("schedule", s["schedule"] + (f" (drift under {s['drift_schedule']}, transferred)" if s["transfer"] else "")),
            ("solver", f"{s['solver']}, {s['steps']} steps, grid {s['grid']}, NFE {s['nfe']}"),
            ("time", f"{s['wall_time_s']:.2f} s on {s['device']} ({s['dtype']})")]
    if s["nonfinite_samples"]:
        rows.append(("non-finite", f"[red]{s['nonfinite_samples']} samples hold NaN/inf[/red]"))
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print_wrote(console, s["samples"], s.get("saved_noise"))


def register(app: typer.Typer) -> None:
    from sictl.cli.registry_help import RegistryHelpCommand

    app.command("sample", help=HELP, cls=RegistryHelpCommand)(sample)
