"""PNG figures of `gaussian-check --model` (matplotlib, optional, through :mod:`sictl.pipeline.plots`)."""

from __future__ import annotations

from torch import Tensor


def mode_error_figure(path: str, times: Tensor, shells: Tensor, errors: Tensor, scaled: Tensor, title: str) -> None:
    """Heat maps of the relative drift error and of the error in units of the regression target: shell κ across, model time t up
    (one row per time of the log-SNR grid), log colours."""
    import numpy as np

    from sictl.pipeline.plots import _pyplot, _save

    plt = _pyplot()
    from matplotlib.colors import LogNorm

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    t = np.asarray(times, dtype=np.float64)
    for ax, values, label in ((axes[0], errors, "relative error of the drift"),
                              (axes[1], scaled, "error / regression target (loss units)")):
        err = np.asarray(values, dtype=np.float64)
        finite = err[np.isfinite(err) & (err > 0)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (1e-3, 1.0)
        mesh = ax.pcolormesh(np.asarray(shells), np.arange(t.size), np.ma.masked_invalid(err), shading="nearest",
                             norm=LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001)), cmap="viridis")
        ax.set_yticks(np.arange(t.size))
        ax.set_yticklabels([f"{v:.3g}" for v in t])
        ax.set_xlabel("shell κ")
        ax.set_ylabel("model time t (log-SNR grid)")
        fig.colorbar(mesh, ax=ax, label=label)
    fig.suptitle(title)
    _save(fig, path)
