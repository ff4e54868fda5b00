"""Forecast ensembles as netCDF (``.nc``) or zarr (``.zarr``) through xarray: the layout weather tools read.

:func:`export_forecasts` turns a forecasts file (:mod:`sictl.io.forecasts`) into an xarray Dataset
(docs/file-formats.md, "Forecast export"):

* the forecasts, a variable named after the field (``@field``, e.g. ``vorticity``), float32 with dims
  ``(condition, ensemble, lead, x[, y])`` — or ``(condition, ensemble, lead, channel, x[, y])`` for
  fields of several channels — in data units;
* ``initial_condition`` with dims ``(condition[, channel], x[, y])``;
* coordinates ``condition`` (0 … n−1), ``ensemble`` (0 … M−1), ``lead`` (1 … K, in lags), ``x``, ``y``;
* the provenance of the forecasts file as global attributes (``sictl_kind = "forecasts"``,
  ``schema_version``, ``config`` and ``inputs`` as JSON, ``seed``, ``field``, ``normalization_constant``,
  ``lag``, ``nfe``, …), plus ``sictl_forecast_variable`` (the forecasts' variable), ``source_file`` and
  ``source_checksum``.

A ``.nc`` file is written by the h5netcdf engine, a ``.zarr`` store is a folder; both are built under
a hidden temporary name and renamed into place when complete. :func:`open_exported` reads either kind
back for ``sictl evaluate`` (also a netCDF/zarr file made by another tool: its dimension names are the
layout, or ``--layout`` names the axes).

xarray, h5netcdf and zarr are optional (``pip install "sictl[export]"``) and imported only here, only
when needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil

import h5py
import numpy as np

from sictl.errors import ConfigError, SchemaError
from sictl.io._files import display_name

__all__ = ["EXPORT_SUFFIXES", "check_export", "export_forecasts", "export_kind", "open_exported"]

#: Suffixes of the export formats: netCDF and zarr.
EXPORT_SUFFIXES = (".nc", ".zarr")
PIP = 'pip install "xarray>=2024.1" "h5netcdf>=1.3" "zarr>=2.16"  (or pip install "sictl[export]")'
_ENGINE = {".nc": ("h5netcdf", "h5netcdf"), ".zarr": ("zarr", "zarr")}  # suffix → (xarray engine, module)


def export_kind(path: str | os.PathLike) -> str | None:
    """``.nc`` or ``.zarr`` for an export path (a trailing ``/`` allowed), else None."""
    suffix = os.path.splitext(os.fspath(path).rstrip("/\\"))[1].lower()
    return suffix if suffix in EXPORT_SUFFIXES else None


def _xarray(suffix: str):
    """xarray, after checking that it and the engine of ``suffix`` (h5netcdf, zarr) import."""
    import importlib

    missing = []
    for name in ("xarray", _ENGINE[suffix][1]):
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ConfigError(f"netCDF/zarr export needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} "
                          "not installed", hint=PIP)
    return importlib.import_module("xarray")


def _is_zarr_store(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, name)) for name in ("zarr.json", ".zgroup", ".zattrs"))


def check_export(path: str | os.PathLike) -> None:
    """Refuse, before any work, an export path of another kind, without xarray, or not writable."""
    from sictl.io._files import check_writable

    suffix = export_kind(path)
    if suffix is None:
        raise ConfigError(f"--export {path}: the export is a netCDF (.nc) or zarr (.zarr) file",
                          hint="e.g. --export forecasts.nc or --export forecasts.zarr")
    _xarray(suffix)
    local = os.fspath(path).rstrip("/\\")
    if suffix == ".zarr" and os.path.isdir(local):
        if not _is_zarr_store(local):
            raise ConfigError(f"--export {path} is a folder that holds no zarr store; it is not replaced",
                              hint="give a new path, or remove the folder yourself")
        parent = os.path.dirname(os.path.abspath(local))
        if not os.access(parent, os.W_OK):
            raise ConfigError(f"--export {path}: the folder {parent} is not writable", hint="choose another folder")
        return
    check_writable(local)


def _jsonable(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _dataset(xarray, src: str):
    """The xarray Dataset of a forecasts file (values loaded: a CPU-scale ensemble fits in memory)."""
    from sictl.io import file_checksum, read_forecasts

    fc = read_forecasts(src)
    n, members, _, channels, *spatial = fc.forecasts.shape
    names = ["x", "y", "z"][: len(spatial)]
    with h5py.File(src, "r") as f:
        attrs = {k: _jsonable(v) for k, v in f.attrs.items()}
    attrs = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in attrs.items() if v is not None}
    field = str(fc.attrs.get("field") or "forecast")
    var = field if field not in ("initial_condition", "condition", "ensemble", "lead", *names) else "forecast"
    data, cond = fc.forecasts, fc.conditions
    if channels == 1:
        dims, cdims = ("condition", "ensemble", "lead", *names), ("condition", *names)
        data, cond = data[:, :, :, 0], cond[:, 0]
    else:
        dims, cdims = ("condition", "ensemble", "lead", "channel", *names), ("condition", "channel", *names)
    coords = {"condition": np.arange(n), "ensemble": np.arange(members), "lead": fc.lead.astype(np.int64),
              **{name: np.arange(size) for name, size in zip(names, spatial)}}
    if channels > 1:
        coords["channel"] = np.arange(channels)
    ds = xarray.Dataset({var: (dims, data.astype(np.float32)), "initial_condition": (cdims, cond.astype(np.float32))},
                        coords=coords)
    ds[var].attrs.update({"long_name": f"ensemble forecasts of {field}", "units": "data"})
    ds["initial_condition"].attrs.update({"long_name": f"initial state ({field}) of each condition", "units": "data"})
    ds["lead"].attrs.update({"long_name": "lead", "units": "lags of the training pairs"})
    ds["ensemble"].attrs["long_name"] = "ensemble member"
    ds.attrs.update(attrs)
    ds.attrs.update({"sictl_forecast_variable": var, "source_file": os.path.basename(os.fspath(src)),
                     "source_checksum": file_checksum(src), "layout": " ".join(dims)})
    return ds


def export_forecasts(src: str | os.PathLike, dest: str | os.PathLike) -> dict:
    """Write the forecasts file ``src`` as netCDF or zarr at ``dest`` (atomically); a JSON summary."""
    from sictl.io._files import atomic_output
    from sictl.io.signals import cleanup_on_signals

    check_export(dest)
    suffix = export_kind(dest)
    xarray = _xarray(suffix)
    ds = _dataset(xarray, os.fspath(src))
    target = os.path.abspath(os.fspath(dest).rstrip("/\\"))
    if suffix == ".nc":
        with atomic_output(target) as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
    else:
        folder, base = os.path.dirname(target), os.path.basename(target)
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        old = None
        with cleanup_on_signals():
            try:
                ds.to_zarr(tmp, mode="w", consolidated=False)
                if os.path.isdir(target):
                    old = tmp + ".old"
                    os.replace(target, old)
                os.replace(tmp, target)
            finally:
                for leftover in (tmp, old):
                    if leftover is not None and os.path.isdir(leftover):
                        shutil.rmtree(leftover, ignore_errors=True)
    var = ds.attrs["sictl_forecast_variable"]
    return {"path": os.fspath(dest), "format": "netcdf" if suffix == ".nc" else "zarr", "variable": var,
            "dims": list(ds[var].dims), "shape": list(ds[var].shape)}


@contextlib.contextmanager
def open_exported(path: str | os.PathLike, key: str | None = None):
    """A netCDF/zarr ensemble as a :class:`sictl.io.foreign.ForeignArray` (read lazily inside the block).

    ``key`` names the variable; default: ``@sictl_forecast_variable``, else the only variable with an
    ``ensemble`` (or ``member``) dimension, else the only variable.
    """
    from sictl.io.foreign import ArraySource, ForeignArray

    suffix = export_kind(path)
    xarray = _xarray(suffix)
    name, local = display_name(path), os.fspath(path).rstrip("/\\")
    if not os.path.exists(local):
        raise SchemaError(f"{name}: no such file", hint="check the path (and the current directory)")
    try:
        if suffix == ".nc":
            ds = xarray.open_dataset(local, engine="h5netcdf")
        else:
            ds = xarray.open_dataset(local, engine="zarr", consolidated=False, chunks=None)
    except Exception as exc:  # noqa: BLE001 - any backend failure is an unreadable file
        raise SchemaError(f"{name}: cannot be opened as {'netCDF' if suffix == '.nc' else 'zarr'} ({exc})",
                          hint="make it with `sictl sample --condition … --export`") from None
    try:
        variables = list(ds.data_vars)
        if key is None:
            key = ds.attrs.get("sictl_forecast_variable")
        if key is None:
            ensembles = [v for v in variables if {"ensemble", "member"} & set(ds[v].dims)]
            key = ensembles[0] if len(ensembles) == 1 else (variables[0] if len(variables) == 1 else None)
        if key is None or key not in ds:
            raise SchemaError(f"{name}: {'no variable ' + repr(key) if key else 'several variables and none chosen'} "
                              f"(variables: {', '.join(map(str, variables))})", hint="name the variable with --key")
        da = ds[key]
        layout = " ".join(str(d) for d in da.dims)  # --layout overrides dimension names layouts do not know
        lead = np.asarray(ds["lead"].values, np.float64) if "lead" in ds.coords else None
        attrs = {"sictl_kind": ds.attrs.get("sictl_kind", "export"), "field": ds.attrs.get("field", str(key)),
                 "normalization_constant": float(ds.attrs.get("normalization_constant", 1.0))}
        yield ForeignArray(ArraySource(path, da, f"variable {key!r}"), str(path), f"xarray-{suffix[1:]}", str(key),
                           lead, layout, attrs)
    finally:
        ds.close()
