"""Reading somebody else's arrays: ``.npy``, ``.npz``, ``.pt`` (tensors only) and ``.h5``.

:func:`read_foreign` returns a :class:`ForeignArray`: the raw array with the axes it has in the file,
plus what the file says about them (a time axis, a known layout, a normalisation constant). Turning
it into samples or trajectories is the job of :mod:`sictl.pipeline.layout`, which understands
``--layout`` strings. Supported inputs (docs/cli.md, ``prepare import`` and ``evaluate``):

* ``.npy``: one array (``allow_pickle=False``: object arrays are refused).
* ``.npz``: the array named by ``key``, or the only array; ``{data, time}`` pairs are recognised.
* ``.pt``: ``torch.load(weights_only=True)``: a tensor, a dict of tensors (``key``), or a tuple/list
  (``key`` = index). The authors' Navier–Stokes files are the tuple ``(data, time)`` with data
  ``(traj, time, H, W)``; it is recognised and ``time`` is exposed.
* ``.h5``: ``key`` is the HDF5 dataset path, or the only dataset. A sictl ``samples`` file gives its
  ``/samples`` (data units); a sictl ``dataset`` file gives ``t0_fields/<key or only field>``
  multiplied by its normalisation constant (data units), cut to its periodic ``@fft_nodes`` points
  when it has them, with its times, its per-mode power and its ``@mixture`` (both in data units).

Non-finite values raise :class:`~sictl.errors.SchemaError` unless ``allow_nonfinite=True`` (the
caller then counts them; ``sictl evaluate`` reports them).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from sictl.errors import SchemaError
from sictl.io._files import check_input_file, display_name
from sictl.io._h5 import attr_str, open_input

__all__ = ["ForeignArray", "read_foreign", "load_foreign_array", "FOREIGN_SUFFIXES"]

#: File suffixes read by :func:`read_foreign` (anything else is sniffed: HDF5, zip, npy magic).
FOREIGN_SUFFIXES = (".npy", ".npz", ".pt", ".pth", ".h5", ".hdf5")


@dataclass(frozen=True, eq=False)
class ForeignArray:
    """An array read from a file, with what the file says about its axes.

    Attributes:
        data: the array as stored (float32 or float64; integers are converted to float64).
        path: the path given to the reader.
        kind: ``"npy"``, ``"npz"``, ``"pt"``, ``"h5"``, ``"sictl-samples"`` or ``"sictl-dataset"``.
        key: the key / HDF5 path / index the array was taken from ("" if the file holds one array).
        time: (T,) snapshot times when the file provides them (Navier–Stokes ``.pt``, sictl datasets).
        layout: the layout string when the file defines it (sictl files, the authors' ``.pt``), else None.
        attrs: extra facts: ``normalization_constant``, ``mode_power`` (data units), ``mixture`` (JSON
            dict), ``field``, ``sictl_kind``.
    """

    data: np.ndarray
    path: str
    kind: str
    key: str = ""
    time: np.ndarray | None = None
    layout: str | None = None
    attrs: dict = field(default_factory=dict)


def _fail(path, message: str, hint: str | None = None) -> SchemaError:
    return SchemaError(f"{display_name(path)}: {message}", hint=hint)


def _as_float(path, array: Any, where: str) -> np.ndarray:
    a = np.asarray(array)
    if a.dtype.kind in "iub":
        if a.dtype.kind == "b":
            raise _fail(path, f"{where} is a boolean array, not numbers")
        return a.astype(np.float64)
    if a.dtype.kind == "c":
        raise _fail(path, f"{where} holds complex numbers", hint="store the real field (or real and imaginary parts)")
    if a.dtype.kind != "f":
        raise _fail(path, f"{where} has dtype {a.dtype}, not a numeric array", hint="save a float array")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32 if a.dtype.itemsize < 4 else np.float64)
    return a


def _check_finite(path, a: np.ndarray, where: str) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), a.shape))
        raise _fail(path, f"{where}: {int(bad.sum())} non-finite value(s) (NaN/inf), first at index {first}",
                    hint="the run that wrote it diverged or the file is damaged; regenerate it")


def _sniff(local: str) -> str:
    with open(local, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\x93NUMPY"):
        return ".npy"
    if head.startswith(b"\x89HDF"):
        return ".h5"
    if head.startswith(b"PK"):  # zip: .npz or a torch archive
        return ".zip"
    return ""


def read_foreign(path: str | os.PathLike, key: str | None = None, *, allow_nonfinite: bool = False) -> ForeignArray:
    """Read one array from a ``.npy``, ``.npz``, ``.pt`` or ``.h5`` file (see the module docstring).

    Args:
        path: the file (``-`` = stdin for HDF5 inputs).
        key: array name (``.npz``), dict key or tuple index (``.pt``), or HDF5 dataset path / field name.
        allow_nonfinite: keep NaN/inf values instead of raising.

    Raises:
        SchemaError: unreadable or pickled files, missing keys, several arrays and no key, non-numeric
            arrays, non-finite values.
    """
    local = check_input_file(path)
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix not in FOREIGN_SUFFIXES:
        suffix = _sniff(local)
    if suffix == ".zip":
        suffix = ".npz" if _is_npz(local) else ".pt"
    if suffix == ".npy":
        out = _read_npy(path, local)
    elif suffix == ".npz":
        out = _read_npz(path, local, key)
    elif suffix in (".pt", ".pth"):
        out = _read_pt(path, key)
    elif suffix in (".h5", ".hdf5"):
        out = _read_h5(path, key)
    else:
        raise _fail(path, "unknown file type", hint="sictl reads .npy, .npz, .pt (tensors only) and .h5 files")
    if not allow_nonfinite:
        _check_finite(path, out.data, f"array {out.key!r}" if out.key else "the array")
    return out


def load_foreign_array(path: str | os.PathLike, key: str | None = None, *, allow_nonfinite: bool = False) -> np.ndarray:
    """The array of :func:`read_foreign` only."""
    return read_foreign(path, key, allow_nonfinite=allow_nonfinite).data


def _is_npz(local: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(local) as z:
            return all(n.endswith(".npy") for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def _read_npy(path, local: str) -> ForeignArray:
    try:
        a = np.load(local, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise _fail(path, "holds pickled Python objects, not a numeric array",
                        hint="re-save it with numpy as a float array") from None
        raise _fail(path, f"is not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npy file ({exc})", hint="the file is truncated or corrupt") from None
    return ForeignArray(_as_float(path, a, "the array"), str(path), "npy")


def _read_npz(path, local: str, key: str | None) -> ForeignArray:
    try:
        with np.load(local, allow_pickle=False) as z:
            names = list(z.files)
            if key is None:
                data_names = [n for n in names if n != "time"]
                if len(data_names) != 1:
                    raise _fail(path, f"holds several arrays {names}", hint="choose one with --key")
                key = data_names[0]
            if key not in names:
                raise _fail(path, f"has no array {key!r}; it holds {names}", hint="choose one with --key")
            data = _as_float(path, z[key], f"array {key!r}")
            time = _as_float(path, z["time"], "array 'time'").reshape(-1) if "time" in names and key != "time" else None
    except ValueError as exc:
        raise _fail(path, "holds pickled Python objects, not numeric arrays" if "pickle" in str(exc).lower()
                    else f"is not a readable .npz file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise _fail(path, f"is not a readable .npz file ({exc})", hint="the file is truncated or corrupt") from None
    if time is not None and (data.ndim < 2 or len(time) != data.shape[1]):
        time = None
    return ForeignArray(data, str(path), "npz", key, time)


def _tensor(path, value: Any, where: str) -> np.ndarray:
    import torch

    if not isinstance(value, torch.Tensor):
        raise _fail(path, f"{where} is a {type(value).__name__}, not a tensor", hint="choose a tensor with --key")
    t = value.detach().cpu()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.float()
    return _as_float(path, t.numpy(), where)


def _read_pt(path, key: str | None) -> ForeignArray:
    import torch

    from sictl.io.checkpoints import load_torch_tensors

    obj = load_torch_tensors(path)
    if isinstance(obj, torch.Tensor):
        return ForeignArray(_tensor(path, obj, "the tensor"), str(path), "pt")
    if isinstance(obj, dict):
        if key is None:
            if len(obj) != 1:
                raise _fail(path, f"holds a dict with keys {sorted(map(str, obj))}", hint="choose one with --key")
            key = str(next(iter(obj)))
        matches = [k for k in obj if str(k) == key]
        if not matches:
            raise _fail(path, f"has no entry {key!r}; keys are {sorted(map(str, obj))}", hint="choose one with --key")
        return ForeignArray(_tensor(path, obj[matches[0]], f"entry {key!r}"), str(path), "pt", key)
    if isinstance(obj, (tuple, list)):
        if key is not None:
            try:
                value = obj[int(key)]
            except (ValueError, IndexError):
                raise _fail(path, f"holds a sequence of {len(obj)} items; --key must be an index 0..{len(obj) - 1}") from None
            return ForeignArray(_tensor(path, value, f"item {key}"), str(path), "pt", key)
        if len(obj) == 2 and all(isinstance(v, torch.Tensor) for v in obj):
            data, time = _tensor(path, obj[0], "item 0"), _tensor(path, obj[1], "item 1").reshape(-1)
            if data.ndim == 4 and len(time) == data.shape[1]:  # the authors' (data, time), data (traj, time, H, W)
                return ForeignArray(data, str(path), "pt", "0", time, "traj time x y")
        raise _fail(path, f"holds a sequence of {len(obj)} items", hint="choose one with --key (an index)")
    raise _fail(path, f"holds a {type(obj).__name__}, not tensors", hint="save a tensor or a dict/tuple of tensors")


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
    return names


def _read_h5(path, key: str | None) -> ForeignArray:
    with open_input(path) as f:
        kind = attr_str(f, "sictl_kind") if "sictl_kind" in f.attrs else ""
        if kind == "samples" and key in (None, "samples"):
            return _sictl_samples(path, f)
        if kind == "dataset":
            return _sictl_dataset(path, f, key)
        if kind:
            raise _fail(path, f"is a sictl '{kind}' file, which holds no samples",
                        hint="give a samples file (sictl sample) or a dataset file (sictl prepare)")
        names = _datasets(f)
        if key is None:
            if len(names) != 1:
                raise _fail(path, f"holds {len(names)} datasets {names[:12]}", hint="choose one with --key (its HDF5 path)")
            key = names[0]
        obj = f.get(key)
        if not isinstance(obj, h5py.Dataset):
            raise _fail(path, f"has no dataset {key!r}; datasets are {names[:12]}", hint="choose one with --key")
        return ForeignArray(_as_float(path, obj[()], f"/{key.lstrip('/')}"), str(path), "h5", key)


def _sictl_samples(path, f: h5py.File) -> ForeignArray:
    from sictl.io._checks import get_dataset

    ds = get_dataset(f, "samples", path, dtype="float32", ndim=(2, 3, 4, 5), shape="(n, C, *spatial) or (n, dim)")
    data = ds[()]
    layout = "sample dim" if data.ndim == 2 else "sample channel " + " ".join("xyz"[: data.ndim - 2])
    attrs = {"sictl_kind": "samples", "normalization_constant": float(f.attrs.get("normalization_constant", 1.0))}
    return ForeignArray(data, str(path), "sictl-samples", "samples", None, layout, attrs)


def _sictl_dataset(path, f: h5py.File, key: str | None) -> ForeignArray:
    from sictl.io._dataset_batches import _field
    from sictl.io.datasets import _read_normalization

    ds = _field(f, key, str(path))
    constant = _read_normalization(f).constant
    nsd = int(f.attrs.get("n_spatial_dims", -1))
    data = ds[()]
    nodes = f.attrs.get("fft_nodes")
    if nodes is not None and nsd > 0:  # grid-node data (Allen–Cahn, N + 1 nodes): keep the periodic grid
        data = data[..., : int(nodes)]
    if constant != 1.0:
        data = data * np.float32(constant)
    layout = "traj time dim" if nsd == 0 else "traj time " + " ".join("xyz"[:nsd])
    time = f["dimensions/time"][()] if "dimensions/time" in f else None
    attrs: dict = {"sictl_kind": "dataset", "normalization_constant": constant, "field": ds.name.rsplit("/", 1)[-1]}
    stats = f.get("stats")
    if stats is not None and "mode_power" in stats and attr_str(stats, "field", attrs["field"]) == attrs["field"]:
        attrs["mode_power"] = f["stats/mode_power"][()].astype(np.float64) * constant**2
    if "mixture" in f.attrs:  # stored units in the file; data units here, like the data
        try:
            mix = json.loads(attr_str(f, "mixture"))
            mix["means"] = (np.asarray(mix["means"], dtype=np.float64) * constant).tolist()
            if "covs" in mix:
                mix["covs"] = (np.asarray(mix["covs"], dtype=np.float64) * constant**2).tolist()
        except (ValueError, TypeError, KeyError) as exc:
            raise _fail(path, f"@mixture is not a valid mixture JSON ({exc})", hint="regenerate it with `sictl prepare gmm`") from None
        attrs["mixture"] = mix
    return ForeignArray(data, str(path), "sictl-dataset", ds.name, time, layout, attrs)
