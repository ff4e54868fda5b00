"""`sictl sample --condition FILE`: the forecasting branch of `sictl sample` (:mod:`sictl.pipeline.forecast`).

Options left at their `sample` defaults (``--solver``, ``--diffusion``, ``--steps``, ``--t-min``,
``--t-max``, ``--schedule``) take the forecasting defaults instead (em, sigma, 100, [0, 1] or
[1e-3, 1] for the ODE, the model's own schedule or beta-t2).
"""

from __future__ import annotations

import importlib
import os

#: `sample`'s defaults of the options whose forecasting defaults differ.
_DEFAULTED = {"solver": "rk4-38", "diffusion": "0", "steps": 19, "t_min": 1e-4, "t_max": 1 - 1e-4, "schedule": "linear"}


def _given(params: dict) -> dict:
    """The options of :data:`_DEFAULTED` set on the command line (by click's parameter source when a
    context is running, else by comparing with the defaults)."""
    ctx = None
    for name in ("typer._click.globals", "click.globals"):  # typer may vendor click
        try:
            ctx = importlib.import_module(name).get_current_context(silent=True)
        except ImportError:
            continue
        if ctx is not None:
            break
    if ctx is None:
        return {k: params[k] for k, default in _DEFAULTED.items() if params[k] != default}
    return {k: params[k] for k in _DEFAULTED if getattr(ctx.get_parameter_source(k), "name", "") != "DEFAULT"}


def forecast(params: dict) -> None:
    """Run the forecast with ``sample``'s parsed options (``locals()`` of the command)."""
    from sictl.cli.options import resolve_device
    from sictl.cli.output import ProgressBar, err_console, print_json, print_wrote
    from sictl.errors import ConfigError
    from sictl.pipeline.forecast import ForecastConfig, run

    p = params
    if p["condition"] is None:
        raise ConfigError("--members and --rollout make forecasts: they need --condition FILE",
                          hint="e.g. sictl sample --model run/ --condition test.h5 --members 10 --rollout 5 -o f.h5")
    for flag, value in (("--noise", p["noise"]), ("--save-noise", p["save_noise"]), ("--drift-schedule", p["drift_schedule"]),
                        ("--base", p["base"])):
        if value is not None:
            raise ConfigError(f"{flag} does not apply to forecasts (--condition)", hint=f"drop {flag}")
    given = _given(p)
    cfg = ForecastConfig(condition=p["condition"], exact=p["exact"], model=p["model"], weights=p["weights"],
                         schedule=given.get("schedule"), solver=given.get("solver"), diffusion=given.get("diffusion"),
                         steps=given.get("steps"), grid=p["grid"], members=p["members"], rollout=p["rollout"],
                         t_min=given.get("t_min"), t_max=given.get("t_max"), batch_size=p["batch_size"], dtype=p["dtype"],
                         seed=p["seed"], device=resolve_device(p["device"]))
    main = os.environ.get("RANK", "0") == "0"
    quiet = p["quiet"] or p["json_out"] or not main
    console = err_console(quiet)
    bar = None if quiet else ProgressBar(console, stage="forecasting", counts="{task.completed}/{task.total} conditions")
    try:
        summary = run(cfg, p["output"], progress=bar, export=p["export"])
    finally:
        if bar is not None:
            bar.close()
    if not main:
        return
    if p["json_out"]:
        print_json(summary)
    elif not p["quiet"]:
        console.print(f"sictl sample --condition: {summary['conditions']} conditions × {summary['members']} members × "
                      f"{summary['rollout']} leads, {summary['solver']} g={summary['diffusion']} {summary['steps']} steps, "
                      f"{summary['wall_time_s']:.2f} s")
        print_wrote(console, summary["forecasts"], (summary.get("export") or {}).get("path"))
