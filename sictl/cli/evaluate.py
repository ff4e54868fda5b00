"""`sictl evaluate`: options → :mod:`sictl.pipeline.evaluate` → JSON report, HDF5 report, plots, table."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, OutputOpt, QuietOpt, SeedOpt
from sictl.pipeline.evaluate_forecast_metrics import FORECAST_METRICS
from sictl.pipeline.evaluate_metrics import METRICS

_WHAT = [m.summary for m in METRICS.values()]
HELP = f"""Compare samples with a reference: {', '.join(_WHAT[:-1])} and {_WHAT[-1]}. SAMPLES may be a
sictl samples or dataset file, or a foreign .npy, .npz, .pt or .h5 array (--key, --layout).

With --truth TRUTH, SAMPLES are ensemble forecasts (axes condition, member,
lead and the field, named by --layout) scored against the truth at each lead:
{', '.join(FORECAST_METRICS)}.

\b
Examples:
  sictl evaluate s.h5 --reference-spectrum grf.h5 --json
  sictl evaluate s.h5 --reference grf-test.h5 --plot figs -o report.h5
  sictl evaluate theirs.npy --layout "sample x y" --reference grf.h5 \\
      --metrics spectrum,pdf
  sictl evaluate data_file01.pt --reference ns_authors-train.h5 --vorticity
  sictl evaluate m.h5 --reference modes.h5 --metrics modes --json
  sictl evaluate m2.h5 --reference mixture.json --metrics modes,moments
  sictl evaluate fc.npy --layout "condition member lead x y" \\
      --truth truth.npy --truth-layout "condition lead x y" --json
"""


def evaluate(
    samples: Annotated[str, typer.Argument(help="Samples: a sictl samples/dataset file or a foreign array file.")],
    reference: Annotated[Optional[str], typer.Option("--reference", help="Reference samples: dataset, samples file, foreign array, or mixture JSON.")] = None,
    reference_spectrum: Annotated[Optional[str], typer.Option("--reference-spectrum", help="Only a reference spectrum: a dataset's stats, or a per-mode power array.")] = None,
    metrics: Annotated[Optional[str], typer.Option("--metrics", help=f"Comma list of {', '.join(METRICS)}; with --truth of {', '.join(FORECAST_METRICS)} (default: those that apply).")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Array in the SAMPLES file (npz name, .pt key/index, HDF5 path, dataset field).")] = None,
    layout: Annotated[Optional[str], typer.Option("--layout", help='Axes of the SAMPLES array, e.g. "sample x y", "traj time x y", "sample dim".')] = None,
    reference_key: Annotated[Optional[str], typer.Option("--reference-key", help="Array in the reference file.")] = None,
    reference_layout: Annotated[Optional[str], typer.Option("--reference-layout", help="Axes of the reference array.")] = None,
    truth: Annotated[Optional[str], typer.Option("--truth", help="Score SAMPLES as ensemble forecasts against this truth (any array file; forecast mode).")] = None,
    truth_key: Annotated[Optional[str], typer.Option("--truth-key", help="Array in the truth file.")] = None,
    truth_layout: Annotated[Optional[str], typer.Option("--truth-layout", help='Axes of the truth array, e.g. "condition lead x y".')] = None,
    allow_nan: Annotated[bool, typer.Option("--allow-nan", help="Evaluate the finite samples when some hold NaN/inf (they are still counted).")] = False,
    drop_last_node: Annotated[bool, typer.Option("--drop-last-node", help="Drop the last grid point of foreign inputs (the authors' Allen–Cahn N+1 grids).")] = False,
    vorticity: Annotated[Optional[bool], typer.Option("--vorticity/--no-vorticity", help="Fields are vorticity: report enstrophy and energy spectra (default: by field name).")] = None,
    bins: Annotated[int, typer.Option("--bins", help="Histogram bins of the value PDF.")] = 100,
    projections: Annotated[int, typer.Option("--projections", help="Random directions of the sliced Wasserstein distance.")] = 500,
    mmd_samples: Annotated[int, typer.Option("--mmd-samples", help="Samples per side used by MMD.")] = 512,
    plot: Annotated[Optional[str], typer.Option("--plot", help="Directory for PNG plots (spectrum, samples, pdf).")] = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = DeviceChoice.cpu,
    quiet: QuietOpt = False,
):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import ProgressBar, check_stdout, err_console, print_json
    from sictl.errors import ConfigError
    from sictl.pipeline.evaluate import EvaluateConfig, check_outputs, run

    check_stdout({"-o": output}, json_out, hint="write the report to a file, or drop --json")
    dev = resolve_device(device)
    check_outputs(output, plot, {"SAMPLES": samples, "--reference": reference, "--reference-spectrum": reference_spectrum,
                                  "--truth": truth})
    chosen = None
    if metrics is not None:
        chosen = tuple(m.strip() for m in metrics.split(",") if m.strip())
        if not chosen:
            raise ConfigError("--metrics is empty", hint="e.g. --metrics spectrum,pdf")
    cfg = EvaluateConfig(samples=samples, reference=reference, reference_spectrum=reference_spectrum, key=key,
                         layout=layout, reference_key=reference_key, reference_layout=reference_layout,
                         metrics=chosen, allow_nan=allow_nan, drop_last_node=drop_last_node, vorticity=vorticity,
                         bins=bins, projections=projections, mmd_samples=mmd_samples, seed=seed,
                         truth=truth, truth_key=truth_key, truth_layout=truth_layout)
    console = err_console(quiet or json_out)
    with ProgressBar(console, stage="evaluate", counts="{task.completed}/{task.total} metrics") as bar:
        summary, arrays = run(cfg, plot_dir=plot, device=dev, progress=bar)
    if output is not None:
        from sictl.io import write_report

        summary["report"] = output
        write_report(output, summary, arrays, config=summary["config"], inputs=summary["inputs"], seed=seed)
    if not quiet and not json_out:
        _print_table(console, summary)
    if json_out:
        print_json(summary)


def _print_table(console, summary: dict) -> None:
    from sictl.cli.output import make_table, print_wrote
    from sictl.pipeline.evaluate_metrics import summary_rows

    if summary.get("mode") == "forecast":
        return _print_forecast_table(console, summary)
    title = f"{summary['samples']}: {summary['n_samples']} samples {tuple(summary['sample_shape'])}"
    table = make_table("metric", "quantity", "value", title=title)
    for row in summary_rows(summary["metrics"]):
        table.add_row(*row)
    console.print(table)
    if summary["nonfinite_samples"]:
        console.print(f"[red]{summary['nonfinite_samples']} samples hold NaN/inf and were left out[/red]")
    print_wrote(console, summary.get("report"), *summary.get("plots", []))


def _print_forecast_table(console, summary: dict) -> None:
    from sictl.cli.output import make_table, print_wrote
    from sictl.pipeline.evaluate_forecast import table_rows

    header, rows = table_rows(summary)
    title = (f"{summary['forecasts']}: {summary['n_conditions']} conditions × {summary['n_members']} members × "
             f"{summary['n_leads']} leads {tuple(summary['field_shape'])}")
    table = make_table(*header, title=title)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    print_wrote(console, summary.get("report"), *summary.get("plots", []))


def register(app: typer.Typer) -> None:
    app.command("evaluate", help=HELP)(evaluate)
