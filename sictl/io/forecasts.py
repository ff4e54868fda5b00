"""Forecasts files (``sictl sample --condition``): ensembles of forecasts, condition × member × lead × field.

Layout (docs/file-formats.md, "Forecasts file"):

* ``/forecasts`` float32 ``(n_conditions, members, leads, C, *spatial)`` in **data units**; lead k
  (1-based) is the state k lags after the condition (``--rollout``);
* ``/conditions`` float32 ``(n_conditions, C, *spatial)``, the initial states (data units);
* ``/lead`` int64 ``(leads,)``: 1 … K (in lags of the training pairs);
* root attributes of every sictl file (``@sictl_kind = "forecasts"``, ``@schema_version``, ``@config``,
  ``@inputs``, ``@seed``, …) plus ``@layout`` (``"condition member lead channel x[ y]"``), ``@field``,
  ``@normalization_constant``, ``@lag`` and ``@nfe``.

:class:`ForecastsWriter` builds the file in a temporary file, one block of conditions at a time, and
renames it into place only when every condition was written; :func:`read_forecasts` reads it back
(checked); :func:`sictl.io.foreign.open_foreign` recognises it, so ``sictl evaluate`` scores it with no
``--layout``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from sictl.errors import SchemaError
from sictl.io._checks import check_finite
from sictl.io._h5 import H5_OPTS, attr_str, check_root, read_json_attr, write_attrs, write_root_attrs
from sictl.io._writer import AtomicH5Writer

__all__ = ["Forecasts", "ForecastsWriter", "forecast_layout", "read_forecasts"]


def forecast_layout(n_spatial: int) -> str:
    """``"condition member lead channel x"`` (1-D) or ``"… x y"`` (2-D)."""
    return "condition member lead channel " + " ".join("xyz"[:n_spatial])


class ForecastsWriter(AtomicH5Writer):
    """Write a forecasts file block by block (``with ForecastsWriter(...) as w: w.write(start, f, c)``).

    Args:
        path: the output file.
        n_conditions, members, leads: the sizes of the first three axes.
        sample_shape: ``(C, *spatial)`` of one field.
        config, inputs, seed: root provenance (see :func:`sictl.io._h5.write_root_attrs`).
        attrs: more root attributes (``field``, ``normalization_constant``, ``lag``, …).
    """

    def __init__(self, path, *, n_conditions: int, members: int, leads: int, sample_shape: tuple[int, ...],
                 config: dict, inputs: dict, seed: int, attrs: dict | None = None, group=None):
        self.n, self.members, self.leads = int(n_conditions), int(members), int(leads)
        self.sample_shape = tuple(int(s) for s in sample_shape)
        self.config, self.inputs, self.seed, self.attrs = config, inputs, seed, dict(attrs or {})
        self.written = 0
        super().__init__(path, group=group)

    def _layout(self, f: h5py.File) -> None:
        shape = (self.n, self.members, self.leads, *self.sample_shape)
        f.create_dataset("forecasts", shape=shape, dtype="float32", chunks=(1, self.members, 1, *self.sample_shape))
        f.create_dataset("conditions", shape=(self.n, *self.sample_shape), dtype="float32")
        f.create_dataset("lead", data=np.arange(1, self.leads + 1, dtype=np.int64))

    def write(self, start: int, forecasts: np.ndarray, conditions: np.ndarray) -> None:
        """Conditions ``[start, start + n)``: forecasts ``(n, members, leads, *sample)``, conditions ``(n, *sample)``."""
        f = self._require_open()
        n = len(forecasts)
        f["forecasts"][start : start + n] = np.asarray(forecasts, dtype=np.float32)
        f["conditions"][start : start + n] = np.asarray(conditions, dtype=np.float32)
        self.written += n

    def _finish(self, f: h5py.File) -> None:
        if self.written != self.n:
            raise RuntimeError(f"forecasts file: {self.written} of {self.n} conditions written")
        write_root_attrs(f, "forecasts", config=self.config, inputs=self.inputs, seed=self.seed,
                         layout=forecast_layout(len(self.sample_shape) - 1))
        write_attrs(f, self.attrs)


@dataclass
class Forecasts:
    """A forecasts file read back: ``forecasts`` (n, M, K, C, *spatial) and ``conditions`` (n, C, *spatial), data units."""

    path: str
    forecasts: np.ndarray
    conditions: np.ndarray
    lead: np.ndarray
    layout: str
    seed: int | None
    config: dict = field(default_factory=dict)
    attrs: dict = field(default_factory=dict)


def read_forecasts(path: str | os.PathLike) -> Forecasts:
    """Read and check a forecasts file (kind, schema, shapes, finiteness)."""
    try:
        f = h5py.File(os.fspath(path), "r", **H5_OPTS)
    except OSError as exc:
        raise SchemaError(f"{path} cannot be opened as HDF5 ({exc})", hint="make it with `sictl sample --condition`") from None
    with f:
        check_root(f, path, "forecasts")
        for name in ("forecasts", "conditions", "lead"):
            if name not in f:
                raise SchemaError(f"{path}: no /{name} dataset", hint="the file is truncated; make it again")
        data, cond, lead = f["forecasts"][()], f["conditions"][()], f["lead"][()]
        if data.ndim < 5 or cond.shape != (data.shape[0], *data.shape[3:]) or lead.shape != (data.shape[2],):
            raise SchemaError(f"{path}: /forecasts {data.shape}, /conditions {cond.shape}, /lead {lead.shape} do not fit",
                              hint="the file is inconsistent; make it again")
        check_finite(data, path, "/forecasts")
        attrs = {k: f.attrs[k] for k in ("field", "normalization_constant", "lag", "nfe") if k in f.attrs}
        seed = f.attrs.get("seed")
        return Forecasts(str(path), data, cond, lead, attr_str(f, "layout"), None if seed is None else int(seed),
                         read_json_attr(f, "config", str(path), {}), attrs)
