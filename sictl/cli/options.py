"""Options shared by every subcommand, so each means the same everywhere."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class DeviceChoice(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (the summary) on stdout.")]
OutputOpt = Annotated[
    Optional[str], typer.Option("-o", "--output", help="Output file; '-' writes it to stdout.", show_default=False)
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same output).")]
DeviceOpt = Annotated[DeviceChoice, typer.Option("--device", help="Where tensors live.", case_sensitive=False)]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or tables on stderr.")]
NoSizeCheckOpt = Annotated[bool, typer.Option("--no-size-check", help="Skip the check, before any work, that the output fits on the disk and a batch in memory.")]
InputPath = Annotated[Path, typer.Argument(help="Input file ('-' reads stdin).")]


def resolve_device(choice: DeviceChoice | str) -> str:
    """Map auto|cpu|cuda to a torch device string; asking for cuda without one is an error."""
    import torch

    from sictl.errors import ConfigError

    name = choice.value if isinstance(choice, DeviceChoice) else str(choice)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was requested but no CUDA device is available", hint="use --device cpu or auto")
    return name
