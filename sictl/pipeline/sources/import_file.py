"""``prepare import``: someone else's array file, read in slices (the authors' files are recognised)."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass

from sictl.errors import ConfigError
from sictl.pipeline.sources.base import Source, argument, option

HELP = """Import someone else's data (the authors' Navier–Stokes .pt and Allen–Cahn .npy are recognised).

\b
Examples:
  sictl prepare import data_file01.pt --normalize rms --split 0.5 --lag 2 \\
      -o ns_authors.h5
  sictl prepare import AllenCahn1D_grid64_samples.npy --split 0.9 -o ac64.h5
  sictl prepare import fields.npz --key u --layout "sample x y" -o mine.h5
"""


@dataclass(frozen=True, kw_only=True)
class ImportConfig:
    """Someone else's array file: which array, how its axes are named, what its grid is."""

    src: str = argument("A .npy, .npz, .pt (tensors only) or .h5 file.")
    key: str | None = option(None, "--key", "Array name, dict key, tuple index or HDF5 path.")
    layout: str | None = option(None, "--layout", "Axis names, e.g. 'traj time x y', 'walker sample x'.")
    channel: int | None = option(None, "--channel", "Which channel to keep if there are several.")
    # last axis holds N + 1 nodes incl. both ends (None: detect)
    grid_nodes: bool | None = option(None, "--grid-nodes/--periodic", "Last axis holds N+1 grid nodes (detected for Allen–Cahn files).")
    name: str | None = option(None, "--name", "dataset_name to record.")


def _stream_axis(lay, shape: tuple[int, ...], nbytes: int) -> tuple[int | None, bool]:
    """The input axis to read the file along, and whether it is the time axis.

    The trajectory axis (``traj``, else ``sample``: sictl.pipeline.layout.to_trajectories) when
    there is one — blocks of whole trajectories, unless one trajectory alone is larger than a read
    block (:data:`sictl.io.foreign.BLOCK_BYTES`) and there are more snapshots than trajectories (a few
    long runs: one snapshot of every trajectory is then the smaller unit), then time slabs of every
    trajectory; with no trajectory axis the time axis — time slabs of the single trajectory; else
    None (one sample).
    """
    from sictl.io.foreign import BLOCK_BYTES

    traj, time = lay.axis("traj"), lay.axis("time")
    if traj is not None and time is not None and shape[time] > shape[traj] \
            and nbytes // max(shape[traj], 1) > BLOCK_BYTES:
        return time, True
    traj = traj if traj is not None else lay.axis("sample")
    if traj is not None:
        return traj, False
    return time, time is not None


def import_source(cfg: ImportConfig):
    """Trajectories from a ``.npy``/``.npz``/``.pt``/``.h5`` file, read in slices (see sictl.io.foreign
    and sictl.pipeline.layout): blocks of whole trajectories, or time slabs when the layout has no
    trajectory or sample axis (one trajectory) or when one trajectory is larger than a read block
    (time slabs of every trajectory). Values are checked for NaN/inf block by block.

    The authors' Navier–Stokes ``.pt`` ((data, time), data (traj, time, H, W)) and Allen–Cahn
    ``AllenCahn1D_grid{N}_samples.npy`` ((2(N+1), S, N+1): walkers × samples × nodes) are recognised;
    Allen–Cahn files keep their N + 1 nodes, with spectra over the first N (``@fft_nodes``).
    """
    import os

    import numpy as np

    from sictl.io import file_checksum
    from sictl.io.foreign import open_foreign
    from sictl.pipeline.layout import resolve_layout, to_trajectories
    from sictl.pipeline.prepare import SourceData

    # opened once (an .npz member or a legacy .pt is loaded whole: never twice); blocks() closes it
    stack = contextlib.ExitStack()
    try:
        fa = stack.enter_context(open_foreign(cfg.src, cfg.key))
        shape_in, stated, file_time = fa.data.shape, fa.layout, fa.time
        lay = resolve_layout(shape_in, cfg.layout, stated, name=os.path.basename(cfg.src))
        axis, by_time = _stream_axis(lay, shape_in, fa.data.nbytes)
        rows = fa.data.rows_for(axis) if axis is not None else None
    except BaseException:
        stack.close()
        raise
    # the layout applied to an empty stand-in of one slice: output shape, vector or field, channel checks
    probe_shape = list(shape_in)
    if axis is not None:
        probe_shape[axis] = 1
    try:
        probe = to_trajectories(np.zeros(probe_shape, np.float32), lay, channel=cfg.channel)
        nodes = cfg.grid_nodes if cfg.grid_nodes is not None else (str(lay) == "walker sample x")
        if nodes and (probe.vector or probe.data.ndim != 3):
            raise ConfigError("--grid-nodes applies to 1-D fields (the Allen–Cahn node layout)",
                              hint="drop --grid-nodes (or pass --periodic) for fields on periodic grids")
    except BaseException:
        stack.close()
        raise
    if axis is None:
        n_traj = 1
    elif by_time:  # time slabs: of every trajectory, or of the single one
        n_traj = shape_in[lay.axis("traj")] if lay.axis("traj") is not None else 1
    else:
        n_traj = shape_in[axis]
    n_time = shape_in[axis] if by_time else probe.data.shape[1]
    time = file_time if file_time is not None and len(file_time) == n_time else np.arange(n_time, dtype=np.float32)

    def blocks():
        with stack:
            slices = fa.data.blocks(axis, rows) if axis is not None else [(0, fa.data.load())]
            for _, raw in slices:
                yield to_trajectories(raw, lay, channel=cfg.channel).data

    shape = tuple(int(s) for s in probe.data.shape[2:])
    base = os.path.splitext(os.path.basename(cfg.src))[0]
    return SourceData(
        dataset_name=cfg.name or base, source="import", sample_shape=shape,
        time=np.asarray(time, np.float32), blocks=blocks(), n_trajectories=n_traj, vector=probe.vector,
        boundary="open" if nodes else "periodic", field_name="x" if probe.vector else "u",
        attrs={"imported_from": os.path.basename(cfg.src), "layout": str(lay)},
        config={"source": "import", **asdict(cfg), "layout_used": str(lay)},
        inputs={"src": file_checksum(cfg.src)} if cfg.src != "-" else {},
        fft_nodes=(shape[-1] - 1) if nodes else None, time_block=rows if by_time else None,
    )


SOURCE = Source(name="import", help=HELP, options=ImportConfig,
                build=lambda cfg, *, seed, progress, device: import_source(cfg), input_files=("src",))
