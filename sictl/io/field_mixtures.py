"""Field-mixture descriptions (:mod:`sictl.core.exact.field_mixture`): a JSON file, or the
``@field_mixture`` attribute of a dataset written by ``sictl prepare field-mixture``.

The format is one object ``{"n": N, "dim": d, "components": [{"weight", "s", "ell", "amplitude"}, ...]}``.
It is read here and turned into a dict; :meth:`FieldMixture.from_dict` validates it.
"""

from __future__ import annotations

import json
from typing import Any

from sictl.errors import ConfigError
from sictl.io._files import display_name

__all__ = ["FIELD_MIXTURE_EXAMPLE", "read_field_mixture", "field_mixture_from_json", "dataset_field_mixture"]

FIELD_MIXTURE_EXAMPLE = ('{"n": 64, "dim": 2, "components": [{"weight": 0.5, "s": 3, "ell": 1, "amplitude": 1}, '
                         '{"weight": 0.5, "s": 3, "ell": 20, "amplitude": 0.01}]}')


def field_mixture_from_json(spec: str | bytes | dict[str, Any], where: str) -> dict[str, Any]:
    """The description as a dict from JSON text (or the parsed object); ``where`` names the source in errors."""
    if isinstance(spec, (str, bytes)):
        try:
            spec = json.loads(spec)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} is not valid JSON ({exc})", hint=f"e.g. {FIELD_MIXTURE_EXAMPLE}") from None
    if not isinstance(spec, dict) or not {"n", "components"} <= set(spec):
        raise ConfigError(f"{where}: expected an object with 'n', 'dim' and 'components'",
                          hint=f"e.g. {FIELD_MIXTURE_EXAMPLE}")
    return spec


def read_field_mixture(path: str) -> tuple[dict[str, Any], bool]:
    """(the description, whether it came from a dataset) of a JSON file or a dataset's ``@field_mixture``;
    a dataset without one is refused. Errors name the file."""
    name = display_name(path)
    if str(path).endswith((".h5", ".hdf5")):
        from sictl.io.datasets import read_dataset

        attrs = read_dataset(path).meta.attrs
        if "field_mixture" not in attrs:
            raise ConfigError(f"{name} has no @field_mixture attribute",
                              hint="make one with `sictl prepare field-mixture`, or pass a JSON description")
        return field_mixture_from_json(attrs["field_mixture"], f"{name} @field_mixture"), True
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{name}: cannot read (no such file)",
                          hint=f"give a JSON file such as {FIELD_MIXTURE_EXAMPLE}, or a spec N:w,s,ell,amp;...") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({exc.strerror or exc})", hint="check the path and permissions") from None
    return field_mixture_from_json(text, name), False


def dataset_field_mixture(path: str) -> dict[str, Any] | None:
    """A dataset's ``@field_mixture`` description, or None (no such attribute, or not a dataset file)."""
    if not str(path).endswith((".h5", ".hdf5")):
        return None
    from sictl.io.datasets import read_dataset

    attrs = read_dataset(path).meta.attrs
    if "field_mixture" not in attrs:
        return None
    return field_mixture_from_json(attrs["field_mixture"], f"{display_name(path)} @field_mixture")
