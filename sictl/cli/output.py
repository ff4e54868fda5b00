"""Where output goes: data (one JSON object, or a file for ``-o -``) on stdout, everything else on stderr."""

from __future__ import annotations

import json
import math
import sys
from typing import Any


def _clean(obj: Any) -> Any:
    """Make an object JSON-safe: tensors/arrays → lists, non-finite floats → strings."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _clean(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def print_json(summary: dict) -> None:
    """Print exactly one JSON object on stdout."""
    sys.stdout.write(json.dumps(_clean(summary), indent=2) + "\n")
    sys.stdout.flush()


def err_console(quiet: bool = False):
    """A rich console on stderr (quiet → a console that prints nothing)."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)
