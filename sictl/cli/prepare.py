"""`sictl prepare SOURCE`: simulate or import a dataset (one typer sub-app, one command per source).

The commands are made from the registry :data:`sictl.pipeline.sources.REGISTRY`: each source's own
options (fields of its options dataclass) come first, then the writer options it takes, then the
options every command shares. A command is built, and its source module imported, only when it is
asked for (:class:`SourcesGroup`), so ``sictl --help`` reads nothing but the registry's names.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import MISSING, fields
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from sictl.cli.options import DeviceChoice, DeviceOpt, JsonOpt, NoSizeCheckOpt, QuietOpt, SeedOpt
from sictl.pipeline.sources import REGISTRY, source

OutOpt = Annotated[str, typer.Option("-o", "--output", help="Dataset file to write ('-' = stdout).")]
NormalizeOpt = Annotated[str, typer.Option("--normalize", help="none, or rms (divide by the RMS pixel value; stored).")]
ResolutionOpt = Annotated[Optional[int], typer.Option("--resolution", help="Store at this many points per side.")]
ResampleOpt = Annotated[str, typer.Option("--resample", help="How --resolution changes the grid: spectral or bilinear.")]
SplitOpt = Annotated[Optional[float], typer.Option("--split", help="Train fraction, split by trajectory: writes NAME-train.h5, NAME-test.h5.")]
LagOpt = Annotated[Optional[int], typer.Option("--lag", help="Also store forecasting pairs (x_t, x_{t+lag}) within trajectories.")]

#: the writer options a source may take (sictl.pipeline.sources.base.WRITER_OPTIONS): annotation and default
WRITER = {"normalize": (NormalizeOpt, "none"), "resolution": (ResolutionOpt, None), "resample": (ResampleOpt, "spectral"),
          "split": (SplitOpt, None), "lag": (LagOpt, None)}
#: options of every command, last
COMMON = {"seed": (SeedOpt, 0), "json_out": (JsonOpt, False), "device": (DeviceOpt, DeviceChoice.cpu),
          "quiet": (QuietOpt, False), "no_size_check": (NoSizeCheckOpt, False)}


def _run(src, options, *, output, normalize="none", resolution=None, resample="spectral", split=None,
         lag=None, seed=0, json_out=False, device=DeviceChoice.cpu, quiet=False, no_size_check=False):
    from sictl.cli.options import resolve_device
    from sictl.cli.output import ProgressBar, check_stdout, err_console, print_json
    from sictl.io import check_distinct, check_writable
    from sictl.pipeline.prepare import PrepareOptions, output_paths, write_prepared
    from sictl.pipeline.sources.base import check_finite, input_paths

    dev = resolve_device(device)
    check_finite(options, src.name)
    if src.check is not None:
        src.check(options, dev)  # validate before any file work
    opts = PrepareOptions(normalize=normalize, resolution=resolution, resample=resample, split=split, lag=lag, seed=seed)
    opts.validate()
    for path in output_paths(output, split):
        check_writable(path)
    check_distinct(input_paths(src, options), {"-o": output_paths(output, split)})
    check_stdout({"-o": output}, json_out, hint="write the file to a path, or drop --json")
    console = err_console(quiet or json_out)
    with ProgressBar(console) as progress:
        data = src.build(options, seed=seed, progress=progress, device=dev)
        summary = write_prepared(data, opts, output, progress, device=dev, size_check=not no_size_check)
    if not quiet and not json_out:
        _print_summary(console, summary)
    if json_out:
        print_json(summary)


def _print_summary(console, summary: dict) -> None:
    from sictl.cli.output import make_table, print_wrote

    table = make_table("file", "trajectories", "samples", "pairs", "pixel RMS", "pixel mean",
                       title=f"{summary['source']} → {summary['dataset_name']} {tuple(summary['sample_shape'])}")
    for out in summary["outputs"]:
        table.add_row(out["path"], str(out["n_trajectories"]), str(out["n_samples"]), str(out["n_pairs"]),
                      f"{out['pixel_rms']:.4g}", f"{out['pixel_mean']:.3g}")
    console.print(table)
    for key, value in summary.get("diagnostics", {}).items():
        console.print(f"{key}: {value}")
    print_wrote(console, *(out["path"] for out in summary["outputs"]))


def _typer_type(hint):
    """``X | None`` → ``Optional[X]`` (the spelling typer reads everywhere)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return Optional[args[0]] if len(args) == 1 and len(typing.get_args(hint)) == 2 else hint


def _parameters(src) -> list[inspect.Parameter]:
    """The command's parameters, in --help order: the source's arguments, -o, the source's options, the
    writer options it takes, the options of every command."""
    hints = typing.get_type_hints(src.options)
    positional, own = [], []
    for f in fields(src.options):
        kind, meta = _typer_type(hints[f.name]), f.metadata
        if meta.get("argument"):
            positional.append((f.name, Annotated[kind, typer.Argument(help=meta["help"])], inspect.Parameter.empty))
        else:
            default = f.default if f.default is not MISSING else inspect.Parameter.empty
            own.append((f.name, Annotated[kind, typer.Option(meta["flag"], *meta.get("aliases", ()), help=meta["help"])],
                        default))
    shared = [(name, *WRITER[name]) for name in src.writer_options] + [(name, *spec) for name, spec in COMMON.items()]
    return [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
            for name, annotation, default in [*positional, ("output", OutOpt, inspect.Parameter.empty), *own, *shared]]


def _command(name: str):
    """The typer callback of ``sictl prepare NAME``: its signature (hence options and --help) from the source."""
    src = source(name)
    own = {f.name for f in fields(src.options)}

    def command(**kwargs):
        options = src.options(**{k: kwargs.pop(k) for k in own})
        _run(src, options, **kwargs)

    command.__name__ = name.replace("-", "_")
    command.__doc__ = src.help
    command.__signature__ = inspect.Signature(_parameters(src))
    return command


class SourcesGroup(TyperGroup):
    """``sictl prepare``'s sub-commands: the registry's names, each built when it is asked for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = f"Simulate or import a dataset: {', '.join(REGISTRY)}."

    def list_commands(self, ctx) -> list[str]:
        return list(REGISTRY)

    def get_command(self, ctx, name: str):
        if name not in REGISTRY:
            return None
        if name not in self.commands:
            single = typer.Typer(add_completion=False)
            single.command(name)(_command(name))
            self.commands[name] = typer.main.get_command(single)
        return self.commands[name]


prepare_app = typer.Typer(name="prepare", cls=SourcesGroup, no_args_is_help=True)  # help: SourcesGroup


def register(app: typer.Typer) -> None:
    app.add_typer(prepare_app, name="prepare")
