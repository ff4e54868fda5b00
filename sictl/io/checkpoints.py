"""Model checkpoints (safetensors) and foreign ``.pt`` tensors.

A checkpoint is a safetensors file: named tensors (weights, ``ema.``-prefixed EMA weights, ...) and
string metadata ``sictl_kind``, ``schema_version``, ``created_by`` and ``config`` (JSON of the full
training configuration). No pickle anywhere. ``torch`` is imported lazily so that importing
:mod:`sictl.io` stays cheap.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sictl import __version__
from sictl.errors import SchemaError
from sictl.io._files import atomic_output, check_input_file, display_name
from sictl.io._h5 import KIND_MAKERS, SCHEMA_VERSION, from_json, to_json

if TYPE_CHECKING:
    import torch

#: Kinds a safetensors file written by sictl may have: model weights, or a ``--resume`` state.
CHECKPOINT_KINDS = ("checkpoint", "training-state")


def save_checkpoint(
    path: str | os.PathLike,
    tensors: Mapping[str, torch.Tensor],
    config: Mapping[str, Any],
    *,
    kind: str = "checkpoint",
) -> None:
    """Write tensors and a config to a safetensors file, atomically (``-`` = stdout).

    Tensors are detached, moved to CPU and made contiguous; tensors that share memory (tied
    weights) are copied, since safetensors stores each name separately.

    Args:
        path: output path.
        tensors: name -> tensor.
        config: JSON-able configuration, stored in metadata ``"config"``.
        kind: ``"checkpoint"`` (weights) or ``"training-state"`` (flattened optimizer/RNG state).
    """
    from safetensors.torch import save_file

    if kind not in CHECKPOINT_KINDS:
        raise ValueError(f"kind must be one of {CHECKPOINT_KINDS}, got {kind!r}")
    plain = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    metadata = {
        "sictl_kind": kind,
        "schema_version": str(SCHEMA_VERSION["checkpoint"]),
        "created_by": f"sictl {__version__}",
        "config": to_json(dict(config)),
    }
    with atomic_output(path) as tmp:
        save_file(plain, tmp, metadata=metadata)


def _read_header(local: str, name: str) -> dict[str, str]:
    """Metadata of a safetensors file, with a SchemaError for anything unreadable."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(local, framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as exc:
        raise SchemaError(
            f"{name} is not a readable safetensors checkpoint ({exc})",
            hint="it is truncated, corrupt or of another format; use a checkpoint written by `sictl train`",
        ) from exc


def read_checkpoint_config(path: str | os.PathLike, *, kind: str = "checkpoint") -> dict:
    """The configuration stored in a checkpoint, without loading its tensors.

    Raises:
        SchemaError: not a safetensors file, not a sictl checkpoint of this kind, a newer version.
    """
    name = display_name(path)
    meta = _read_header(check_input_file(path), name)
    found = meta.get("sictl_kind")
    if found is None:
        raise SchemaError(
            f"{name} has no 'sictl_kind' metadata: it was not written by sictl",
            hint=f"checkpoints are written by `{KIND_MAKERS['checkpoint']}`",
        )
    if found != kind:
        raise SchemaError(
            f"{name} is a '{found}' file, expected a '{kind}' file",
            hint=f"'{kind}' files are written by `{KIND_MAKERS['checkpoint']}`",
        )
    try:
        version = int(meta.get("schema_version", ""))
    except ValueError:
        raise SchemaError(f"{name}: invalid schema_version metadata {meta.get('schema_version')!r}") from None
    if version > SCHEMA_VERSION["checkpoint"]:
        raise SchemaError(
            f"{name} has checkpoint schema version {version}; this sictl ({__version__}) reads up to "
            f"{SCHEMA_VERSION['checkpoint']}",
            hint="upgrade sictl (pip install -U sictl) to read it",
        )
    try:
        config = from_json(meta.get("config", "{}"))
    except ValueError as exc:
        raise SchemaError(f"{name}: the 'config' metadata is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise SchemaError(f"{name}: the 'config' metadata is not a JSON object")
    return config


def load_checkpoint(
    path: str | os.PathLike, *, device: str = "cpu", kind: str = "checkpoint"
) -> tuple[dict[str, torch.Tensor], dict]:
    """Load a checkpoint written by :func:`save_checkpoint` (``-`` = stdin).

    Args:
        path: the safetensors file.
        device: device to load the tensors onto.
        kind: the expected kind (``"checkpoint"`` or ``"training-state"``).

    Returns:
        ``(tensors, config)``.

    Raises:
        SchemaError: missing, empty, truncated or foreign file; wrong kind; newer version.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    name = display_name(path)
    config = read_checkpoint_config(path, kind=kind)
    try:
        tensors = load_file(check_input_file(path), device=device)
    except (SafetensorError, OSError, ValueError) as exc:
        raise SchemaError(
            f"{name}: cannot read the tensors ({exc})", hint="the file is corrupt; use another copy"
        ) from exc
    return tensors, config


def load_torch_tensors(path: str | os.PathLike) -> Any:
    """Load a foreign ``.pt`` file that holds only tensors (and tuples/lists/dicts of them).

    Uses ``torch.load(..., weights_only=True)``: no arbitrary code is run.

    Returns:
        Whatever tensor structure the file holds (e.g. the authors' ``(data, time)`` tuple), on CPU.

    Raises:
        SchemaError: the file holds pickled objects other than tensors, or is not a readable torch file.
    """
    import torch

    name = display_name(path)
    local = check_input_file(path)
    try:
        return torch.load(local, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise SchemaError(
            f"{name} holds pickled objects, not plain tensors; sictl does not unpickle arbitrary objects",
            hint="re-save it as tensors only (torch.save(tensor_or_dict_of_tensors, ...)) or as .npy/.npz",
        ) from exc
    except Exception as exc:  # a foreign file can fail in many ways (zip, legacy pickle, ...)
        raise SchemaError(
            f"{name} is not a readable torch file ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})",
            hint="the file is truncated or of another format; copy it again or convert it to .npy",
        ) from exc
