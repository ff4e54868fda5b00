"""Gaussian-mixture descriptions: the JSON file users write, and the ``@mixture`` attribute of datasets.

One format everywhere: an object ``{"weights": [K], "means": [[d] × K], "covs": ...}`` where ``covs``
holds K variances, K diagonals or K d×d matrices (default: unit variances). It is read here and only
here, and turned into :class:`sictl.core.exact.gmm.GaussianMixture`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sictl.errors import ConfigError
from sictl.io._files import display_name

if TYPE_CHECKING:
    from sictl.core.exact.gmm import GaussianMixture

__all__ = ["read_mixture", "mixture_from_json", "MIXTURE_EXAMPLE"]

MIXTURE_EXAMPLE = '{"weights": [0.3, 0.7], "means": [[5], [-5]], "covs": [1, 1]}'


def mixture_from_json(spec: str | dict[str, Any], where: str) -> GaussianMixture:
    """A mixture from its JSON text (or the parsed object); ``where`` names the source in errors."""
    from sictl.core.exact.gmm import GaussianMixture

    if isinstance(spec, (str, bytes)):
        try:
            spec = json.loads(spec)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{where} is not valid JSON ({exc})", hint=f"e.g. {MIXTURE_EXAMPLE}") from None
    if not isinstance(spec, dict) or not {"weights", "means"} <= set(spec):
        raise ConfigError(f"{where}: expected an object with 'weights', 'means' and 'covs'", hint=f"e.g. {MIXTURE_EXAMPLE}")
    spec = dict(spec)
    spec.setdefault("covs", [1.0] * len(spec["weights"]))
    try:
        return GaussianMixture.from_dict(spec)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: not a valid mixture ({exc})",
                          hint="weights (K,), means (K, d), covs: K variances, K diagonals or K d×d matrices") from None


def read_mixture(path: str) -> GaussianMixture:
    """Read a mixture JSON file. Errors name the file: missing, unreadable, not JSON, malformed."""
    name = display_name(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ConfigError(f"{name}: cannot read (no such file)", hint=f"give a JSON file such as {MIXTURE_EXAMPLE}") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({exc.strerror or exc})", hint="check the path and permissions") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON ({exc})", hint=f"e.g. {MIXTURE_EXAMPLE}") from None
    return mixture_from_json(text, name)
