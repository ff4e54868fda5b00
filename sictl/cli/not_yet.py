"""Subcommands that are registered but not built yet: they say so and exit with code 2."""

from __future__ import annotations

import typer

PLANNED = {
    "prepare": "Simulate or import a dataset (Gaussian fields, Allen–Cahn, Navier–Stokes, mixtures).",
    "design-schedule": "Design a Lipschitz-optimal interpolation schedule and write a schedule file.",
    "train": "Train a drift model (U-Net or MLP) and write safetensors checkpoints.",
    "sample": "Generate samples from a checkpoint or an exact drift.",
    "evaluate": "Compare samples with a reference: spectra, PDFs, distances, forecast scores.",
}


def _make(name: str, summary: str):
    def command(ctx: typer.Context):
        typer.echo(f"Error: `sictl {name}` is not implemented yet in this version.", err=True)
        typer.echo("Hint: see README.md for what is available; `sictl gaussian-check` works today.", err=True)
        raise typer.Exit(2)

    command.__doc__ = f"{summary}\n\nNot implemented yet: exits with code 2."
    return command


def register(app: typer.Typer, skip: set[str] = frozenset()) -> None:
    for name, summary in PLANNED.items():
        if name in skip:
            continue
        app.command(
            name,
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            help=f"{summary} [not implemented yet]",
        )(_make(name, summary))
