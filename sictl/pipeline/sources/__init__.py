"""The sources of ``sictl prepare``: each turns its own options into trajectories for the writer.

A source is one module of this package defining ``SOURCE``, a :class:`~sictl.pipeline.sources.base.Source`:

* ``options`` — a frozen dataclass of the source's own options; every field is declared with
  ``base.option`` (flag, help text and default in one place) or ``base.argument`` (a positional one);
* ``build(options, *, seed, progress, device)`` — a :class:`~sictl.pipeline.prepare.SourceData`
  whose trajectory blocks are produced lazily, as the writer asks for them;
* ``check(options, device)`` — optional validation run before any file is touched;
* ``writer_options`` — which of the options every writer shares (``base.WRITER_OPTIONS``) it takes.

:data:`REGISTRY` names the modules, in the order ``sictl prepare --help`` lists them; the CLI makes one
sub-command per entry, its options and help taken from the source. Adding a source is one module here
and one line in :data:`REGISTRY`. The CLI imports a source's module only when its sub-command is
asked for, and the modules import torch, numpy and the simulators inside ``build``/``check`` only.
"""

from __future__ import annotations

import importlib

from sictl.errors import ConfigError

__all__ = ["REGISTRY", "source"]

#: name → module of this package defining ``SOURCE``.
REGISTRY: dict[str, str] = {
    "gaussian-field": "gaussian_field",
    "gmm": "gmm",
    "field-mixture": "field_mixture",
    "allen-cahn": "allen_cahn",
    "navier-stokes": "navier_stokes",
    "ou-pairs": "ou_pairs",
    "import": "import_file",
}


def source(name: str):
    """The registered :class:`~sictl.pipeline.sources.base.Source` of that name (an error listing the registry
    otherwise)."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown prepare source {name!r}", hint=f"choose one of {', '.join(REGISTRY)}")
    return importlib.import_module(f"{__name__}.{REGISTRY[name]}").SOURCE
