"""Axis layouts of foreign arrays: ``--layout`` strings, and conversion to samples or trajectories.

A layout string names every axis of an array, in order, separated by spaces or commas
(case-insensitive). Names and the role they play:

=================  ==========================================================================
role               accepted names
=================  ==========================================================================
``traj``           traj, trajectory, walker, chain, condition, cond
``time``           time, t, step, snapshot, lead
``sample``         sample, samples, batch, n, member, ensemble
``channel``        channel, c, field, var
``x``, ``y``, ``z``  spatial axes (a field has x; x, y; or x, y, z)
``dim``            dim, d, feature (vectors, e.g. mixture samples)
=================  ==========================================================================

Examples: ``"traj time x y"`` (the authors' Navier–Stokes ``(200, 100, 128, 128)``),
``"walker sample x"`` (the authors' Allen–Cahn ``(2(N+1), S, N+1)``), ``"sample x y"``,
``"sample channel x y"``, ``"sample dim"``. A layout with neither spatial axes nor ``dim`` holds
scalars (vectors of dimension 1).

Two conversions, both pure numpy:

* :func:`to_samples` → ``(n, C, *spatial)`` fields or ``(n, dim)`` vectors: every batch-like axis
  (traj, time, sample) is flattened in array order (all times of trajectory 0 first); spatial axes
  are put in x, y, z order. Used by ``sictl evaluate``.
* :func:`to_trajectories` → :class:`Trajectories` ``(traj, time, *spatial)`` or ``(traj, time, dim)``,
  the layout of dataset files. Used by ``sictl prepare import``:
  the trajectory axis is the ``traj`` axis (else the ``sample`` axis), the time axis is ``time``
  (else ``sample`` when there is a ``traj`` axis, as for Allen–Cahn walkers whose MCMC index is
  ``sample``), and a missing one has length 1. A channel axis must have length 1 or be selected
  with ``channel=i``.

Both take ``drop_last_node=True`` to drop the last point along every spatial axis (the authors'
Allen–Cahn grids include both end nodes, N + 1 points on a periodic domain): the caller decides.

Forecasts (``sictl evaluate FORECASTS --truth TRUTH``) read the same roles with other names: the
``traj`` axis is the condition (initial state), ``sample`` the ensemble member and ``time`` the lead;
:func:`to_ensemble` gives ``(condition, member, lead, C, *spatial)``.

When no layout is given, :func:`resolve_layout` uses the one the file states (sictl files, the
authors' ``(data, time)`` ``.pt``) or :func:`guess_layout`, which recognises the authors' two layouts
and common shapes, and otherwise asks for ``--layout``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from sictl.errors import ConfigError, ShapeError

__all__ = ["Layout", "Trajectories", "parse_layout", "guess_layout", "resolve_layout", "to_samples", "to_trajectories",
           "to_ensemble"]

_NAMES = {
    "traj": ("traj", "trajectory", "walker", "chain", "condition", "cond"),
    "time": ("time", "t", "step", "snapshot", "lead"),
    "sample": ("sample", "samples", "batch", "n", "member", "ensemble"),
    "channel": ("channel", "c", "field", "var"),
    "x": ("x",),
    "y": ("y",),
    "z": ("z",),
    "dim": ("dim", "d", "feature"),
}
_ROLE = {name: role for role, names in _NAMES.items() for name in names}
_BATCH = ("traj", "time", "sample")
_SPATIAL = ("x", "y", "z")
_HINT = ('name every axis, e.g. --layout "traj time x y", "walker sample x", "sample x y", '
         '"sample x y channel" or "sample dim"')
_AC_FILE = re.compile(r"AllenCahn1D_grid(\d+)_samples", re.IGNORECASE)


@dataclass(frozen=True)
class Layout:
    """A parsed layout: the role of every axis (``roles``) and the names as written (``names``)."""

    names: tuple[str, ...]
    roles: tuple[str, ...]

    def axis(self, role: str) -> int | None:
        """Index of the axis with this role, or None."""
        return self.roles.index(role) if role in self.roles else None

    @property
    def spatial(self) -> tuple[int, ...]:
        """Axis indices of x, y, z (in that order)."""
        return tuple(self.roles.index(r) for r in _SPATIAL if r in self.roles)

    @property
    def batch(self) -> tuple[int, ...]:
        """Axis indices of traj/time/sample axes, in array order."""
        return tuple(i for i, r in enumerate(self.roles) if r in _BATCH)

    @property
    def vector(self) -> bool:
        """True for vectors (a ``dim`` axis, or scalars)."""
        return not self.spatial

    def __str__(self) -> str:
        return " ".join(self.names)


def parse_layout(text: str, ndim: int | None = None) -> Layout:
    """Parse a layout string and check it against ``ndim`` (the array's number of axes).

    Raises:
        ConfigError: unknown axis names, repeated roles, inconsistent spatial axes.
        ShapeError: the layout names a different number of axes than the array has.
    """
    names = tuple(n for n in re.split(r"[\s,]+", str(text).strip().lower()) if n)
    if not names:
        raise ConfigError("empty --layout", hint=_HINT)
    unknown = [n for n in names if n not in _ROLE]
    if unknown:
        raise ConfigError(f"unknown axis name(s) {', '.join(map(repr, unknown))} in layout {text!r}",
                          hint=f"use {', '.join(sorted(_ROLE))}; {_HINT}")
    roles = tuple(_ROLE[n] for n in names)
    repeated = sorted({r for r in roles if roles.count(r) > 1})
    if repeated:
        raise ConfigError(f"layout {text!r} names the {'/'.join(repeated)} axis more than once", hint=_HINT)
    spatial = [r for r in _SPATIAL if r in roles]
    if spatial and spatial != list(_SPATIAL[: len(spatial)]):
        raise ConfigError(f"layout {text!r}: spatial axes must be x; x, y; or x, y, z", hint=_HINT)
    if spatial and "dim" in roles:
        raise ConfigError(f"layout {text!r} mixes spatial axes with a vector 'dim' axis", hint=_HINT)
    if "channel" in roles and not spatial:
        raise ConfigError(f"layout {text!r}: a channel axis needs spatial axes (vectors use 'dim')", hint=_HINT)
    if ndim is not None and len(names) != ndim:
        raise ShapeError(f"layout {text!r} names {len(names)} axes but the array has {ndim}", hint=_HINT)
    return Layout(names, roles)


def guess_layout(shape: tuple[int, ...], *, name: str = "", prefer: str | None = None) -> str:
    """A layout for an array of this shape when none is given.

    Rules (documented in docs/cli.md): the authors' Allen–Cahn file name (``AllenCahn1D_grid{N}_samples``)
    with shape ``(2(N+1), S, N+1)`` → ``walker sample x``; 1 axis → scalars; 2 axes → ``sample dim`` if
    ``prefer == "vector"`` or the second axis has ≤ 3 entries, else ``sample x``; 3 axes with square
    trailing axes → ``sample x y``, with ``shape[0] == 2 shape[2]`` → ``walker sample x``; 4 axes with
    square trailing axes → ``sample channel x y`` if ``shape[1] ≤ 4`` else ``traj time x y``; 4 axes with
    square middle axes and at most 4 entries last → ``sample x y channel`` (channel-last).

    Raises:
        ShapeError: a shape none of the rules covers (the message asks for ``--layout``).
    """
    shape = tuple(int(s) for s in shape)
    match = _AC_FILE.search(name or "")
    if match:
        n = int(match.group(1))
        if len(shape) != 3 or shape[0] != 2 * (n + 1) or shape[2] != n + 1:
            raise ShapeError(f"{name}: the Allen–Cahn grid-{n} file should be (2(N+1), S, N+1) = "
                             f"({2 * (n + 1)}, S, {n + 1}), got {shape}", hint=_HINT)
        return "walker sample x"
    nd = len(shape)
    if nd == 1:
        return "sample"
    if nd == 2:
        return "sample dim" if prefer == "vector" or (prefer is None and shape[1] <= 3) else "sample x"
    if nd == 3 and shape[1] == shape[2]:
        return "sample x y"
    if nd == 3 and shape[0] == 2 * shape[2]:
        return "walker sample x"
    if nd == 4 and shape[2] == shape[3]:
        return "sample channel x y" if shape[1] <= 4 else "traj time x y"
    if nd == 4 and shape[1] == shape[2] and shape[3] <= 4:
        return "sample x y channel"  # channel-last images (numpy, TensorFlow, JAX habits)
    raise ShapeError(f"cannot tell the axes of an array of shape {shape}", hint=_HINT)


def resolve_layout(shape: tuple[int, ...], given: str | None, stated: str | None = None, *,
                   name: str = "", prefer: str | None = None) -> Layout:
    """The layout to use: the one given (``--layout``), else the file's own, else a guess."""
    text = given or stated or guess_layout(shape, name=name, prefer=prefer)
    return parse_layout(text, len(shape))


def _drop_last(array: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    index = [slice(None)] * array.ndim
    for a in axes:
        if array.shape[a] < 2:
            raise ShapeError(f"cannot drop the last node of a spatial axis of length {array.shape[a]}")
        index[a] = slice(0, -1)
    return array[tuple(index)]


def _layout_of(array: np.ndarray, layout: Layout | str) -> Layout:
    lay = parse_layout(layout, array.ndim) if isinstance(layout, str) else layout
    if len(lay.roles) != array.ndim:
        raise ShapeError(f"layout {str(lay)!r} names {len(lay.roles)} axes but the array has {array.ndim}", hint=_HINT)
    return lay


def to_samples(array: np.ndarray, layout: Layout | str, *, drop_last_node: bool = False) -> np.ndarray:
    """Samples ``(n, C, *spatial)`` (fields) or ``(n, dim)`` (vectors) from an array with ``layout``.

    Batch-like axes are flattened in array order; a field without a channel axis gets C = 1;
    scalars become vectors of dimension 1.
    """
    lay = _layout_of(array, layout)
    if drop_last_node and lay.spatial:
        array = _drop_last(array, lay.spatial)
    batch = lay.batch
    n = int(np.prod([array.shape[a] for a in batch], dtype=np.int64))
    if lay.vector:
        dim_axis = lay.axis("dim")
        perm = (*batch, *(() if dim_axis is None else (dim_axis,)))
        dim = 1 if dim_axis is None else array.shape[dim_axis]
        return np.ascontiguousarray(np.transpose(array, perm).reshape(n, dim))
    channel = lay.axis("channel")
    perm = (*batch, *(() if channel is None else (channel,)), *lay.spatial)
    c = 1 if channel is None else array.shape[channel]
    spatial = tuple(array.shape[a] for a in lay.spatial)
    return np.ascontiguousarray(np.transpose(array, perm).reshape(n, c, *spatial))


class Trajectories(NamedTuple):
    """``data``: ``(traj, time, *spatial)`` or ``(traj, time, dim)``; which axes of the input became
    the trajectory and time axes (names as written, or None when the axis was added)."""

    data: np.ndarray
    vector: bool
    traj_axis: str | None
    time_axis: str | None


def to_trajectories(array: np.ndarray, layout: Layout | str, *, drop_last_node: bool = False,
                    channel: int | None = None) -> Trajectories:
    """Trajectories ``(traj, time, *spatial)`` (or ``(traj, time, dim)``) for a dataset file.

    Args:
        array: the input array.
        layout: its layout (see the module docstring for which axis becomes traj and time).
        drop_last_node: drop the last point of every spatial axis.
        channel: index of the channel to keep when the layout has a channel axis of length > 1.

    Raises:
        ShapeError: three batch-like axes, or several channels and no ``channel``.
    """
    lay = _layout_of(array, layout)
    if drop_last_node and lay.spatial:
        array = _drop_last(array, lay.spatial)
    traj, time, sample = lay.axis("traj"), lay.axis("time"), lay.axis("sample")
    if traj is not None and time is not None and sample is not None:
        raise ShapeError(f"layout {str(lay)!r} has traj, time and sample axes; which is the trajectory is ambiguous",
                         hint="import one of them at a time, or rename the axes")
    if traj is None:
        traj, sample = sample, None
    if time is None:
        time, sample = sample, None
    ch = lay.axis("channel")
    if ch is not None:
        size = array.shape[ch]
        if channel is None and size != 1:
            raise ShapeError(f"the channel axis has {size} entries; a dataset field holds one",
                             hint="choose one channel (e.g. --channel 0) and import the others as other fields")
        k = 0 if channel is None else int(channel)
        if not 0 <= k < size:
            raise ShapeError(f"channel {k} is out of range 0..{size - 1}")
        array = np.take(array, k, axis=ch)
        lay = Layout(lay.names[:ch] + lay.names[ch + 1:], lay.roles[:ch] + lay.roles[ch + 1:])
        traj = None if traj is None else (traj - (traj > ch))
        time = None if time is None else (time - (time > ch))
    rest = lay.spatial if not lay.vector else tuple(i for i in (lay.axis("dim"),) if i is not None)
    perm = tuple(a for a in (traj, time) if a is not None) + rest
    out = np.transpose(array, perm)
    if traj is None:
        out = out[None]
    if time is None:
        out = out[:, None]
    if lay.vector and lay.axis("dim") is None:
        out = out[..., None]
    name = lambda a: None if a is None else lay.names[a]  # noqa: E731
    return Trajectories(np.ascontiguousarray(out), lay.vector, name(traj), name(time))


def to_ensemble(array: np.ndarray, layout: Layout | str) -> np.ndarray:
    """Forecasts or truth ``(condition, member, lead, C, *spatial)`` from an array with ``layout``.

    The condition is the ``traj`` axis (``condition``), the member the ``sample`` axis (``member``),
    the lead the ``time`` axis (``lead``); a missing one has length 1, a field without a channel axis
    gets C = 1. Only fields (spatial axes) are accepted.
    """
    lay = _layout_of(array, layout)
    if lay.vector:
        raise ShapeError(f"layout {str(lay)!r} holds vectors; forecasts are scored as fields",
                         hint='name the spatial axes, e.g. --layout "condition member lead x y"')
    axes = [lay.axis(r) for r in ("traj", "sample", "time", "channel")]
    perm = tuple(a for a in axes if a is not None) + lay.spatial
    out = np.transpose(array, perm)
    for i, a in enumerate(axes):
        if a is None:
            out = np.expand_dims(out, i)
    return out
