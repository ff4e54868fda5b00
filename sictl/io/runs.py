"""Training run folders written by ``sictl train``, and the dataset reader that feeds training.

A run folder ``RUN/`` holds (docs/train.md):

* ``model.safetensors`` (kind ``checkpoint``): raw weights under the network's own names, EMA
  weights under ``ema.<name>``, and auxiliary tensors under ``aux.<name>`` (the base noise's per-mode
  power, a schedule file's table); the metadata ``config`` is the full configuration, so sampling
  needs nothing but this file;
* ``state.safetensors`` (kind ``training-state``): everything ``--resume`` needs (weights, EMA,
  optimizer, LR schedule, step, RNG states), self-contained, so a kill between the two writes
  never mixes steps;
* ``log.jsonl``: one JSON object per logged step, appended and flushed line by line;
* ``loss.png``: the loss curves (written by the pipeline through :func:`sictl.io.atomic_output`).

Every file but the log is replaced atomically. On ``--resume`` the log is cut back (atomically) to
the lines of the resumed step and before, so it matches the weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from sictl.errors import ConfigError, SchemaError
from sictl.io._checks import check_finite
from sictl.io._dataset_batches import _field
from sictl.io._files import atomic_output, check_input_file, display_name, file_checksum
from sictl.io._h5 import H5_OPTS, check_root, from_json, json_safe
from sictl.io.checkpoints import load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    import torch

__all__ = [
    "AUX_PREFIX",
    "EMA_PREFIX",
    "DatasetRows",
    "LogWriter",
    "PairRows",
    "RunCheckpoint",
    "RunPaths",
    "prepare_run_dir",
    "read_log",
    "read_run_checkpoint",
    "read_training_state",
    "run_paths",
    "write_run_checkpoint",
    "write_training_state",
]

EMA_PREFIX, AUX_PREFIX = "ema.", "aux."
MODEL_FILE, STATE_FILE, LOG_FILE, PLOT_FILE = "model.safetensors", "state.safetensors", "log.jsonl", "loss.png"


@dataclass(frozen=True)
class RunPaths:
    """The files of a run folder."""

    root: str
    model: str
    state: str
    log: str
    plot: str


def run_paths(root: str | os.PathLike) -> RunPaths:
    root = os.fspath(root)
    return RunPaths(root, *(os.path.join(root, n) for n in (MODEL_FILE, STATE_FILE, LOG_FILE, PLOT_FILE)))


def prepare_run_dir(root: str | os.PathLike, *, resume: bool, force: bool, create: bool = True) -> RunPaths:
    """Check (and with ``create`` make) the run folder before any work.

    Raises:
        ConfigError: ``-o -``; a file where the folder should be; a missing parent; an existing run
            without ``--resume``/``--force``; ``--resume`` without a state file.
    """
    root = os.fspath(root)
    if root == "-":
        raise ConfigError("train writes a run folder, not a stream: -o - is not possible", hint="e.g. -o runs/ac64")
    paths = run_paths(root)
    if os.path.exists(root) and not os.path.isdir(root):
        raise ConfigError(f"{root} exists and is not a folder", hint="-o names the run folder; choose another path")
    if resume:
        if not os.path.isfile(paths.state):
            raise ConfigError(f"{root} holds no {STATE_FILE}: there is no run to resume",
                              hint="start the run without --resume (the state is written at every checkpoint)")
        if not os.access(root, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot write into {root}", hint="check the folder's permissions")
        return paths
    parent = os.path.dirname(os.path.abspath(root))
    if not os.path.isdir(parent):
        raise ConfigError(f"cannot create {root}: {parent} does not exist", hint=f"create it first (mkdir -p {parent})")
    if os.path.isdir(root):
        held = [n for n in (MODEL_FILE, STATE_FILE, LOG_FILE) if os.path.exists(os.path.join(root, n))]
        if held and not force:
            raise ConfigError(f"{root} already holds a training run ({', '.join(held)})",
                              hint="continue it with --resume, start over with --force, or choose another -o")
        if not os.access(root, os.W_OK | os.X_OK):
            raise ConfigError(f"cannot write into {root}", hint="check the folder's permissions")
    elif not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"cannot create {root}: {parent} is not writable", hint="choose an -o path you can write to")
    if create:
        os.makedirs(root, exist_ok=True)
    return paths


def _bundle(weights, ema_weights, aux) -> dict:
    tensors = dict(weights)
    clash = [k for k in tensors if k.startswith((EMA_PREFIX, AUX_PREFIX))]
    if clash:
        raise ValueError(f"weight names may not start with {EMA_PREFIX!r} or {AUX_PREFIX!r}: {clash[:3]}")
    tensors.update({EMA_PREFIX + k: v for k, v in ema_weights.items()})
    tensors.update({AUX_PREFIX + k: v for k, v in (aux or {}).items()})
    return tensors


def write_run_checkpoint(path: str | os.PathLike, weights: dict[str, torch.Tensor], ema_weights: dict[str, torch.Tensor],
                         aux: dict[str, torch.Tensor] | None, config: dict[str, Any]) -> None:
    """Write ``model.safetensors`` atomically: weights, ``ema.`` weights, ``aux.`` tensors, config."""
    save_checkpoint(path, _bundle(weights, ema_weights, aux), config, kind="checkpoint")


def write_training_state(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict[str, Any]) -> None:
    """Write ``state.safetensors`` atomically (kind ``training-state``)."""
    save_checkpoint(path, tensors, config, kind="training-state")


def read_training_state(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """``(tensors, config)`` of a training-state file.

    Raises:
        SchemaError: not a training-state file (a model checkpoint, another format, truncated).
    """
    return load_checkpoint(path, kind="training-state")


@dataclass(frozen=True, eq=False)
class RunCheckpoint:
    """A trained model as ``sample --model`` needs it.

    Attributes:
        path: the ``model.safetensors`` file read.
        checksum: its ``"sha256:…"``.
        config: the training configuration (docs/train.md, "Checkpoint metadata").
        weights: raw weights (network state dict).
        ema_weights: EMA weights (same keys).
        aux: auxiliary tensors without the ``aux.`` prefix (``base_power``, ``schedule.t``, …).
    """

    path: str
    checksum: str
    config: dict
    weights: dict = field(repr=False)
    ema_weights: dict = field(repr=False)
    aux: dict = field(repr=False)


def read_run_checkpoint(path: str | os.PathLike, *, device: str = "cpu") -> RunCheckpoint:
    """Read a run folder's ``model.safetensors`` (or that file given directly).

    Raises:
        SchemaError: no checkpoint there, another kind (a training state), corrupt or newer.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_FILE)
    tensors, config = load_checkpoint(path, device=device, kind="checkpoint")
    ema = {k[len(EMA_PREFIX):]: v for k, v in tensors.items() if k.startswith(EMA_PREFIX)}
    aux = {k[len(AUX_PREFIX):]: v for k, v in tensors.items() if k.startswith(AUX_PREFIX)}
    raw = {k: v for k, v in tensors.items() if not k.startswith((EMA_PREFIX, AUX_PREFIX))}
    return RunCheckpoint(path, file_checksum(path), config, raw, ema, aux)


# -------------------------------------------------------------------------------------------- log


def read_log(path: str | os.PathLike) -> list[dict]:
    """The records of a ``log.jsonl`` (a last line cut short by a kill is skipped)."""
    if not os.path.exists(path):
        return []
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = from_json(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


class LogWriter:
    """Appends one JSON line per record to ``log.jsonl`` and flushes it.

    Args:
        path: the log file.
        keep_until: None starts a new, empty log; a step keeps the existing records up to it
            (``--resume``), rewriting the file atomically first.
        enabled: False makes every call a no-op (ranks other than 0).
    """

    def __init__(self, path: str | os.PathLike, *, keep_until: int | None = None, enabled: bool = True):
        self.path, self.handle = os.fspath(path), None
        if not enabled:
            return
        kept = [] if keep_until is None else [r for r in read_log(self.path) if int(r.get("step", 0)) <= keep_until]
        with atomic_output(self.path, binary=False) as tmp, open(tmp, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(json_safe(r), allow_nan=False) + "\n" for r in kept)
        self.records = kept
        self.handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict) -> None:
        if self.handle is None:
            return
        self.records.append(record)
        self.handle.write(json.dumps(json_safe(record), allow_nan=False) + "\n")
        self.handle.flush()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


# ------------------------------------------------------------------------------------------ data


class DatasetRows:
    """Random access to the flattened samples of one field of a dataset, for training.

    The HDF5 file is opened lazily, by the process that reads (each torchrun rank and each
    data-loader worker opens its own handle; a handle is never shared across processes).

    Args:
        path: the dataset file (not ``-``: training reads it many times).
        field: field name (None: the only one).
    """

    def __init__(self, path: str | os.PathLike, field: str | None = None):
        self.path, self.field = os.fspath(path), field
        self.local = check_input_file(self.path)
        self._handle: tuple[int, h5py.File, h5py.Dataset] | None = None
        ds = self._dataset()
        self.n_traj, self.n_time = ds.shape[:2]
        self.sample_shape = tuple(ds.shape[2:])
        self.vector = int(self._handle[1].attrs.get("n_spatial_dims", -1)) == 0
        self.n_samples = self.n_traj * self.n_time

    def _dataset(self) -> h5py.Dataset:
        if self._handle is None or self._handle[0] != os.getpid():
            try:
                f = h5py.File(self.local, "r", **H5_OPTS)
            except OSError as exc:
                raise SchemaError(f"{display_name(self.path)} cannot be opened as HDF5 ({exc})",
                                  hint="the file is truncated or not a dataset; regenerate it with `sictl prepare`") from exc
            try:
                check_root(f, self.path, "dataset")
                ds = _field(f, self.field, self.path)
            except BaseException:
                f.close()
                raise
            self._handle = (os.getpid(), f, ds)
        return self._handle[2]

    def _shape(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block, dtype=np.float32)
        return block if self.vector else block[:, None]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` in trajectory-major order: float32 ``(n, 1, *spatial)`` or ``(n, dim)``.

        Raises:
            SchemaError: non-finite values (naming the trajectory and time).
        """
        ds, parts = self._dataset(), []
        pos = int(start)
        while pos < stop:
            traj, time = divmod(pos, self.n_time)
            take = min(stop - pos, self.n_time - time)
            if time == 0 and take >= self.n_time:  # whole trajectories at once
                k = (stop - pos) // self.n_time
                block = ds[traj : traj + k].reshape(-1, *self.sample_shape)
                check_finite(block, self.path, ds.name, offset=pos)
                take = k * self.n_time
            else:
                block = ds[traj, time : time + take]
                check_finite(block, self.path, f"{ds.name}[{traj}]", offset=time)
            parts.append(block)
            pos += take
        out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return self._shape(out)

    def read_indices(self, indices: np.ndarray) -> np.ndarray:
        """The samples at the given flat indices (any order), as :meth:`read` shapes them."""
        indices = np.asarray(indices, dtype=np.int64)
        return np.concatenate([self.read(int(i), int(i) + 1) for i in indices]) if len(indices) else \
            self._shape(np.zeros((0, *self.sample_shape), np.float32))

    def close(self) -> None:
        if self._handle is not None and self._handle[0] == os.getpid():
            self._handle[1].close()
        self._handle = None


class PairRows:
    """Random access to the forecasting pairs ``pairs/x0``, ``pairs/x1`` of a dataset (``prepare --lag``).

    :meth:`read` returns float32 ``(n, 2, 1, *spatial)``: ``[:, 0]`` the current states x0, ``[:, 1]``
    the states a lag later. Opened lazily per process, like :class:`DatasetRows`.

    Raises:
        ConfigError: the file stores no pairs (with the hint to re-run prepare with ``--lag``).
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.local = check_input_file(self.path)
        self._handle: tuple[int, h5py.File] | None = None
        f = self._file()
        try:
            check_root(f, self.path, "dataset")  # kind, schema version, no external data
        except BaseException:
            self.close()
            raise
        if "pairs" not in f or "x0" not in f["pairs"] or "x1" not in f["pairs"]:
            self.close()
            raise ConfigError(f"{display_name(self.path)} stores no forecasting pairs (/pairs/x0, /pairs/x1)",
                              hint="re-run `sictl prepare` with --lag K to store (x0, x1) pairs")
        self.n_samples = int(f["pairs/x0"].shape[0])
        self.sample_shape = (1, *f["pairs/x0"].shape[1:])

    def _file(self) -> h5py.File:
        if self._handle is None or self._handle[0] != os.getpid():
            try:
                f = h5py.File(self.local, "r", **H5_OPTS)
            except OSError as exc:
                raise SchemaError(f"{display_name(self.path)} cannot be opened as HDF5 ({exc})",
                                  hint="regenerate it with `sictl prepare`") from exc
            self._handle = (os.getpid(), f)
        return self._handle[1]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Pairs ``[start, stop)``: float32 ``(n, 2, 1, *spatial)``."""
        f = self._file()
        a = np.asarray(f["pairs/x0"][start:stop], dtype=np.float32)
        b = np.asarray(f["pairs/x1"][start:stop], dtype=np.float32)
        check_finite(a, self.path, "/pairs/x0", offset=start)
        check_finite(b, self.path, "/pairs/x1", offset=start)
        return np.stack([a, b], axis=1)[:, :, None]

    def read_indices(self, indices: np.ndarray) -> np.ndarray:
        """The pairs at the given indices (any order), as :meth:`read` shapes them."""
        indices = np.asarray(indices, dtype=np.int64)
        if not len(indices):
            return np.zeros((0, 2, *self.sample_shape), np.float32)
        return np.concatenate([self.read(int(i), int(i) + 1) for i in indices])

    def close(self) -> None:
        if self._handle is not None and self._handle[0] == os.getpid():
            self._handle[1].close()
        self._handle = None
