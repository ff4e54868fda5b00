"""HDF5 helpers shared by every sictl file: root attributes, JSON attributes, checked reads.

Nothing here knows about a particular file kind; ``schedules``, ``datasets``, ``samples`` and
``reports`` build on these helpers. The file plumbing (checksums, atomic writes, ``-``) lives in
:mod:`sictl.io._files` and is re-exported here.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from sictl import __version__
from sictl.errors import SchemaError, SictlError
from sictl.io._checks import check_finite, get_dataset, read_array, sample_chunks  # noqa: F401
from sictl.io._files import (  # noqa: F401  (re-exported)
    STDIO,
    atomic_output,
    check_input_file,
    check_writable,
    display_name,
    file_checksum,
    local_input_path,
)

#: Newest schema version this sictl writes and reads, per file kind. Bump on any change of layout.
SCHEMA_VERSION: dict[str, int] = {"dataset": 1, "schedule": 1, "samples": 1, "report": 1, "checkpoint": 1, "forecasts": 1}

#: Which command writes each kind (used in hints).
KIND_MAKERS: dict[str, str] = {
    "dataset": "sictl prepare",
    "schedule": "sictl design-schedule",
    "samples": "sictl sample",
    "report": "sictl evaluate or sictl gaussian-check",
    "checkpoint": "sictl train",
    "forecasts": "sictl sample --condition",
}

#: Keyword arguments for every ``h5py.File`` opened for reading (8 MiB chunk cache, as the_well).
H5_OPTS: dict[str, Any] = {"rdcc_nbytes": 8 * 1024 * 1024}


# --------------------------------------------------------------------------------------------- JSON


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


#: how JSON (strict: it has no infinity) writes a non-finite number, in every file and on stdout
NONFINITE = {"inf": float("inf"), "-inf": float("-inf"), "nan": float("nan")}


def json_safe(obj: Any) -> Any:
    """``obj`` with numpy values made plain and every non-finite float written as the string
    ``"inf"``, ``"-inf"`` or ``"nan"`` (the one JSON spelling of docs/file-formats.md)."""
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return "nan" if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def json_restore(obj: Any) -> Any:
    """The inverse of :func:`json_safe`: the strings ``"inf"``, ``"-inf"``, ``"nan"`` become floats again."""
    if isinstance(obj, dict):
        return {k: json_restore(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [json_restore(v) for v in obj]
    if isinstance(obj, str) and obj in NONFINITE:
        return NONFINITE[obj]
    return obj


def from_json(text: str | bytes) -> Any:
    """Parse JSON written by sictl: strict JSON whose ``"inf"``/``"-inf"``/``"nan"`` strings are numbers
    (older files' ``Infinity``/``NaN`` literals are read too)."""
    return json_restore(json.loads(text))


def to_json(obj: Any) -> str:
    """Serialise ``obj`` (dicts, lists, numbers, numpy scalars/arrays, paths) as compact sorted strict
    JSON; non-finite numbers are written ``"inf"``, ``"-inf"``, ``"nan"`` (:func:`json_safe`)."""
    try:
        return json.dumps(json_safe(obj), sort_keys=True, default=_json_default, separators=(",", ":"),
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SictlError(f"cannot store {obj!r:.80} as JSON: {exc}") from exc


def read_json_attr(obj: h5py.HLObject, name: str, where: str, default: Any = None) -> Any:
    """Read a JSON-string attribute ``name`` of ``obj``; ``where`` names the file in errors."""
    if name not in obj.attrs:
        return default
    raw = obj.attrs[name]
    if isinstance(raw, bytes):
        raw = raw.decode()
    try:
        return from_json(raw)
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"{where}: attribute {obj.name}@{name} is not valid JSON ({exc})",
            hint="the file was edited or corrupted; regenerate it",
        ) from exc


def _attr_value(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return to_json(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def write_attrs(obj: h5py.HLObject, attrs: Mapping[str, Any]) -> None:
    """Write attributes; dicts/lists become JSON strings and ``None`` values are skipped."""
    for key, value in attrs.items():
        if value is not None:
            obj.attrs[key] = _attr_value(value)


def attr_str(obj: h5py.HLObject, name: str, default: str = "") -> str:
    """A string attribute (bytes are decoded)."""
    value = obj.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else str(value)


def attrs_to_dict(obj: h5py.HLObject, skip: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Attributes of ``obj`` as plain Python values (numpy scalars and arrays are converted)."""
    out: dict[str, Any] = {}
    for key, value in obj.attrs.items():
        if key in skip:
            continue
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, np.ndarray):
            value = [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
        elif isinstance(value, np.generic):
            value = value.item()
        out[key] = value
    return out


@contextlib.contextmanager
def open_input(path: str | os.PathLike) -> Iterator[h5py.File]:
    """Open an HDF5 input for reading (``-`` = stdin), with a clear error for anything unreadable.

    Raises:
        SchemaError: missing, a directory, empty, truncated, or not an HDF5 file; data stored in other
            files (:func:`check_self_contained`).
    """
    name = display_name(path)
    local = check_input_file(path)
    if not h5py.is_hdf5(local):
        raise SchemaError(
            f"{name} is not an HDF5 file",
            hint="sictl reads .h5 files written by sictl; import foreign data with `sictl prepare import`",
        )
    try:
        handle = h5py.File(local, "r", **H5_OPTS)
    except OSError as exc:
        raise SchemaError(
            f"{name} cannot be opened as HDF5 (truncated or corrupt: {exc})",
            hint="the file was cut short (interrupted copy or full disk?); copy or regenerate it",
        ) from exc
    with handle:
        check_self_contained(handle, path)
        yield handle


def check_self_contained(f: h5py.File, path: str | os.PathLike) -> None:
    """Refuse a file whose data live in other files: external links, datasets with external storage,
    virtual datasets. sictl reads only the files it is given (and records their checksums).

    Raises:
        SchemaError: naming the first such object and the file it points to.
    """
    name = display_name(path)
    hint = "copy the data into the file itself (e.g. h5copy, or h5py: f2[key] = f1[key][()]) and pass that file"

    def visit(key: str, link: Any) -> SchemaError | None:  # a value stops the visit (h5py cannot raise there)
        if isinstance(link, h5py.ExternalLink):
            return SchemaError(f"{name}: /{key} is an external link to {link.filename}:{link.path}; "
                               "sictl reads only the files it is given", hint=hint)
        if not isinstance(link, h5py.HardLink):
            return None  # soft links point inside this file, at objects visited under their own name
        obj = f.get(key)
        if not isinstance(obj, h5py.Dataset):
            return None
        if obj.external:
            files = ", ".join(sorted({os.fsdecode(entry[0]) for entry in obj.external}))
            return SchemaError(f"{name}: dataset /{key} stores its values in other files ({files}); "
                               "sictl reads only the files it is given", hint=hint)
        if obj.is_virtual:
            files = ", ".join(sorted({m.file_name for m in obj.virtual_sources()}))
            return SchemaError(f"{name}: dataset /{key} is a virtual dataset reading {files}; "
                               "sictl reads only the files it is given", hint=hint)
        return None

    error = f.visititems_links(visit)
    if error is not None:
        raise error


# ------------------------------------------------------------------------------------- root attributes


def write_root_attrs(
    f: h5py.File,
    kind: str,
    *,
    config: Mapping[str, Any] | None,
    inputs: Mapping[str, str] | None,
    seed: int | None,
    **extra: Any,
) -> None:
    """Write the root attributes every sictl HDF5 file carries, plus ``extra`` ones.

    Args:
        f: file open for writing.
        kind: one of :data:`SCHEMA_VERSION`'s keys.
        config: configuration that produced the file (stored as JSON in ``@config``).
        inputs: input name (usually the path) -> ``file_checksum`` (stored as JSON in ``@inputs``).
        seed: the seed used; ``None`` leaves ``@seed`` out.
        **extra: more attributes (dicts/lists become JSON strings; ``None`` values are skipped).
    """
    if kind not in SCHEMA_VERSION:
        raise ValueError(f"unknown file kind {kind!r}")
    write_attrs(
        f,
        {
            "sictl_kind": kind,
            "schema_version": SCHEMA_VERSION[kind],
            "created_by": f"sictl {__version__}",
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "config": to_json(dict(config or {})),
            "inputs": to_json(dict(inputs or {})),
            "seed": None if seed is None else int(seed),
        },
    )
    write_attrs(f, extra)


def check_root(f: h5py.File, path: str | os.PathLike, kind: str) -> None:
    """Check ``@sictl_kind`` and ``@schema_version`` of an open file, and that it is self-contained
    (:func:`check_self_contained`).

    Raises:
        SchemaError: a foreign file, a file of another kind, a newer (or invalid) schema version, or
            data stored in other files.
    """
    name = display_name(path)
    check_self_contained(f, path)
    if "sictl_kind" not in f.attrs:
        raise SchemaError(
            f"{name} has no @sictl_kind attribute: it was not written by sictl",
            hint=f"make a '{kind}' file with `{KIND_MAKERS[kind]}` (foreign data: `sictl prepare import`)",
        )
    found = attr_str(f, "sictl_kind")
    if found != kind:
        raise SchemaError(
            f"{name} is a '{found}' file, expected a '{kind}' file",
            hint=f"'{kind}' files are written by `{KIND_MAKERS[kind]}`; check the order of the arguments",
        )
    version = f.attrs.get("schema_version")
    try:
        version = int(version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SchemaError(f"{name}: @schema_version is missing or not an integer ({version!r})") from None
    newest = SCHEMA_VERSION[kind]
    if version > newest:
        raise SchemaError(
            f"{name} has {kind} schema version {version}; this sictl ({__version__}) reads up to {newest}",
            hint="upgrade sictl (pip install -U sictl) to read it",
        )
    if version < 1:
        raise SchemaError(f"{name}: invalid @schema_version {version}")


@dataclass(frozen=True)
class Provenance:
    """The common root attributes of a sictl file."""

    kind: str
    schema_version: int
    created_by: str
    created_at: str
    config: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    seed: int | None = None


def read_provenance_attrs(f: h5py.File, path: str | os.PathLike) -> Provenance:
    """Read the common root attributes of an open file (after :func:`check_root`)."""
    name = display_name(path)
    seed = f.attrs.get("seed")
    return Provenance(
        kind=attr_str(f, "sictl_kind"),
        schema_version=int(f.attrs.get("schema_version", 0)),
        created_by=attr_str(f, "created_by"),
        created_at=attr_str(f, "created_at"),
        config=read_json_attr(f, "config", name, {}),
        inputs=read_json_attr(f, "inputs", name, {}),
        seed=None if seed is None else int(seed),
    )


def read_provenance(path: str | os.PathLike) -> Provenance:
    """Kind, version, creator, time, config, input checksums and seed of any sictl HDF5 file."""
    with open_input(path) as f:
        if "sictl_kind" not in f.attrs:
            raise SchemaError(
                f"{display_name(path)} has no @sictl_kind attribute: it was not written by sictl"
            )
        kind = attr_str(f, "sictl_kind")
        if kind in SCHEMA_VERSION:
            check_root(f, path, kind)  # the same version check as every reader
        return read_provenance_attrs(f, path)
