"""`sictl train`: options → :mod:`sictl.pipeline.train` → run folder, progress bar, summary."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, OutputOpt, QuietOpt, SeedOpt

HELP = """Train a drift network on a dataset and write a run folder: model.safetensors (raw and EMA
weights with the full configuration), state.safetensors (for --resume), log.jsonl and loss.png.

\b
Examples:
  sictl train grf-train.h5 -o run --model tiny --steps 20 --batch-size 8
  sictl train grf-train.h5 -o run --model tiny --steps 20 --batch-size 8 \\
      --resume
  sictl train grf-train.h5 -o run2 --model tiny --steps 20 --batch-size 8 \\
      --val grf-test.h5 --val-every 10 --schedule grf_schedule.h5
(docs/train.md: resuming, torchrun on one or many nodes, bf16 on a GPU)
"""

Int = Optional[int]  # noqa: UP045 (typer reads the alias at run time)


def train(
    data: Annotated[str, typer.Argument(help="Dataset file made by `sictl prepare`.", metavar="DATA", show_default=False)],
    output: OutputOpt = None,
    field: Annotated[str | None, typer.Option("--field", help="Field to train on (default: the only one, or the one with statistics).")] = None,
    schedule: Annotated[str, typer.Option("--schedule", help="Training schedule: linear, trig, designed[:λ] or a schedule file.")] = "linear",
    base: Annotated[str, typer.Option("--base", help="Base noise: white (unit per-mode variance), white:σ0 (pixel std), spectral (the dataset's power).")] = "white",
    target: Annotated[str, typer.Option("--target", help="What the network learns: velocity b(t, x) or denoiser E[x1 | x_t].")] = "velocity",
    model: Annotated[str, typer.Option("--model", help="Network preset: tiny, small or medium (U-Net for fields, MLP for vectors).")] = "small",
    channels: Annotated[Int, typer.Option("--channels", help="Override the preset's base width.", show_default=False)] = None,
    mults: Annotated[str | None, typer.Option("--mults", help="Override the U-Net's channel multipliers, e.g. 1,2,2.", show_default=False)] = None,
    attention: Annotated[str | None, typer.Option("--attention", help="U-Net levels with self-attention, e.g. -1 or 2,3, or none.", show_default=False)] = None,
    steps: Annotated[int, typer.Option("--steps", help="Optimiser steps.")] = 10000,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Global batch (split over torchrun processes).")] = 64,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (AdamW).")] = 2e-4,
    warmup: Annotated[int, typer.Option("--warmup", help="Linear warm-up steps before the cosine decay.")] = 100,
    lr_final: Annotated[float, typer.Option("--lr-final", help="Final learning rate as a fraction of --lr.")] = 0.0,
    weight_decay: Annotated[float, typer.Option("--weight-decay", help="AdamW weight decay.")] = 0.01,
    clip: Annotated[float, typer.Option("--clip", help="Gradient-norm clipping (0 = none).")] = 1e4,
    ema: Annotated[float, typer.Option("--ema", help="EMA decay (warmed up: min(decay, (1+n)/(10+n))); 0 = raw weights.")] = 0.999,
    t_min: Annotated[float, typer.Option("--t-min", help="Smallest training time.")] = 1e-4,
    t_max: Annotated[float, typer.Option("--t-max", help="Largest training time.")] = 1 - 1e-4,
    val: Annotated[str | None, typer.Option("--val", help="Held-out dataset for a validation loss (fixed times and noises).", show_default=False)] = None,
    val_every: Annotated[Int, typer.Option("--val-every", help="Validation interval in steps (default: --checkpoint-every).", show_default=False)] = None,
    val_n: Annotated[int, typer.Option("--val-n", help="Validation samples (evenly spaced in the file).")] = 256,
    checkpoint_every: Annotated[int, typer.Option("--checkpoint-every", help="Write model and state every K steps (and at the end).")] = 1000,
    log_every: Annotated[int, typer.Option("--log-every", help="One log.jsonl line every K steps.")] = 10,
    memory_budget: Annotated[float, typer.Option("--memory-budget", help="MiB of training data held in memory per process (shuffle buffer).")] = 1024.0,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its state.safetensors.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Start over in a folder that holds a run.")] = False,
    precision: Annotated[str, typer.Option("--precision", help="fp32, or bf16 (autocast, CUDA only).")] = "fp32",
    point_source: Annotated[str | None, typer.Option("--point-source", help="Forecasting model on the dataset's --lag pairs: zero (learn the increment) or state (start from the current state); the current state is an input channel.", show_default=False)] = None,
    sigma_scale: Annotated[float, typer.Option("--sigma-scale", help="With --point-source: c in σ(t) = c(1 − t) (the family's s(t)).")] = 1.0,
    weighted_loss: Annotated[bool, typer.Option("--weighted-loss", help="With --point-source: residual × (1 − t) before squaring.")] = False,
    json_out: JsonOpt = False,
    seed: SeedOpt = 0,
    device: DeviceOpt = DeviceChoice.auto,
    quiet: QuietOpt = False,
):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import err_console, print_json, print_wrote
    from sictl.errors import ConfigError, UsageError

    if output is None:
        raise UsageError("train writes a run folder: give -o RUN", hint="e.g. sictl train train.h5 -o runs/first")
    if resume and force:
        raise ConfigError("--resume and --force contradict each other", hint="--resume continues the run; --force starts over")
    from sictl.pipeline.train import TrainConfig, run

    cfg = TrainConfig(data=data, field=field, schedule=schedule, base=base, target=target, model=model, channels=channels,
                      mults=mults, attention=attention, steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
                      lr_final=lr_final, weight_decay=weight_decay, clip=clip, ema=ema, t_min=t_min, t_max=t_max, val=val,
                      val_every=val_every, val_n=val_n, checkpoint_every=checkpoint_every, log_every=log_every,
                      memory_budget=memory_budget, seed=seed, device=resolve_device(device), precision=precision,
                      point_source=point_source, sigma_scale=sigma_scale, weighted_loss=weighted_loss)
    main = os.environ.get("RANK", "0") == "0"
    console = err_console(quiet or json_out or not main)
    bar = None if quiet or json_out or not main else _Bar(console, batch_size)
    try:
        summary = run(cfg, output, resume=resume, force=force, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    if not main:
        return
    if not quiet and not json_out:
        _print_summary(console, summary)
        print_wrote(console, summary["model"], summary["state"], summary["log"],
                    summary["plot"] if summary.get("plot") and os.path.exists(summary["plot"]) else None)
    if json_out:
        print_json(summary)


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.4g}"


class _Bar:
    """A rich progress bar on stderr (loss, smoothed loss, steps/s, ETA), started at the first step."""

    def __init__(self, console, batch: int):
        self.console, self.batch, self.progress, self.task = console, batch, None, None

    def __call__(self, done: int, total: int, record: dict | None) -> None:
        if self.progress is None:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("training"), BarColumn(bar_width=24), TextColumn("{task.completed}/{task.total}"),
                                     TextColumn("loss {task.fields[loss]} (ema {task.fields[ema]})"),
                                     TextColumn("{task.fields[rate]} steps/s"), TimeRemainingColumn(),
                                     console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("train", total=total, completed=done, loss="–", ema="–", rate="–")
        fields = {}
        if record:
            fields = {"loss": _fmt(record.get("loss")), "ema": _fmt(record.get("ema_loss"))}
            rate = record.get("samples_per_s")
            if rate:  # samples/s of the last log interval over the global batch
                fields["rate"] = f"{rate / self.batch:.3g}"
        self.progress.update(self.task, completed=done, total=total, **fields)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_summary(console, s: dict) -> None:
    from rich.table import Table

    table = Table("", "", title="sictl train", show_header=False)
    rows = [("run", f"{s['run']} (model.safetensors, state.safetensors, log.jsonl, loss.png)"),
            ("model", f"{s['model_preset']}, {s['parameters']:,} parameters, samples {tuple(s['sample_shape'])}"),
            ("objective", f"{s['target']}, schedule {s['schedule']}, base {s['base']}"),
            ("steps", f"{s['steps']}" + (f" (resumed from {s['resumed_from']})" if s["resumed_from"] is not None else "")
             + f" on {s['world_size']} process(es), {s['device']}"),
            ("loss", f"final {_fmt(s['final_loss'])}, smoothed {_fmt(s['final_ema_loss'])}, best {_fmt(s['best_loss'])}"),
            ("time", f"{s['wall_time_s']:.1f} s")]
    if s.get("best_val_loss") is not None:
        rows.insert(5, ("validation", f"final {_fmt(s['final_val_loss'])}, best {_fmt(s['best_val_loss'])} at step {s['best_val_step']}"))
    for row in rows:
        table.add_row(*row)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("train", help=HELP)(train)
