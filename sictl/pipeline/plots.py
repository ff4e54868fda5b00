"""PNG figures (matplotlib, imported lazily; optional dependency ``sictl[plot]``)."""

from __future__ import annotations

import torch

from sictl.errors import SictlError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SictlError("plots need matplotlib", hint='pip install "sictl[plot]" (or matplotlib)') from None
    return plt


def schedule_figure(path: str, designed, linear, profiles: dict[str, torch.Tensor], ts: torch.Tensor, title: str) -> None:
    """α, β of the designed schedule against the linear one, and the per-time Lipschitz profile."""
    from sictl.io import atomic_output

    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    vd, vl = designed(ts), linear(ts)
    ax1.plot(ts, vd.alpha, label="α designed")
    ax1.plot(ts, vd.beta, label="β designed")
    ax1.plot(ts, vl.alpha, "--", color="gray", label="α linear")
    ax1.plot(ts, vl.beta, ":", color="gray", label="β linear")
    ax1.set_xlabel("t")
    ax1.legend()
    for name, prof in profiles.items():
        ax2.semilogy(ts, prof.clamp_min(1e-300), label=name)
    ax2.set_xlabel("t")
    ax2.set_ylabel("Lipschitz constant of the drift at t")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def _save(fig, path: str) -> None:
    from sictl.io import atomic_output

    plt = _pyplot()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def spectrum_figure(path: str, k, curves: dict, title: str) -> None:
    """Log-log spectra against wavenumber κ: one line per entry of ``curves`` (each (K,) or (C, K))."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for i, (label, values) in enumerate(curves.items()):
        values = np.atleast_2d(np.asarray(values))
        for c, row in enumerate(values):
            name = label if len(values) == 1 else f"{label} (channel {c})"
            ax.loglog(k, np.clip(row, 1e-300, None), "-" if i == 0 else "--", label=name)
    ax.set_xlabel("wavenumber κ")
    ax.set_ylabel("E(κ)")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)


def samples_figure(path: str, x, title: str) -> None:
    """A grid of up to 16 samples: images (2-D fields, channel 0), curves (1-D fields), or a scatter/histogram (vectors)."""
    import numpy as np

    plt = _pyplot()
    x = np.asarray(x)
    if x.ndim == 2:  # vectors
        fig, ax = plt.subplots(figsize=(5, 4))
        if x.shape[1] >= 2:
            ax.scatter(x[:, 0], x[:, 1], s=6)
            ax.set_xlabel("x[0]")
            ax.set_ylabel("x[1]")
        else:
            ax.hist(x[:, 0], bins=50)
            ax.set_xlabel("x")
    elif x.ndim == 3:  # 1-D fields
        fig, ax = plt.subplots(figsize=(7, 4))
        grid = np.arange(x.shape[-1]) / x.shape[-1]
        for row in x[:, 0]:
            ax.plot(grid, row, lw=0.8)
        ax.set_xlabel("x")
    else:
        m = len(x)
        cols = int(np.ceil(np.sqrt(m)))
        rows = int(np.ceil(m / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.2 * rows), squeeze=False)
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < m:
                img = x[i, 0] if x.ndim == 4 else x[i, 0, ..., x.shape[-1] // 2]
                ax.imshow(img.T, origin="lower", cmap="RdBu_r")
    fig.suptitle(title)
    _save(fig, path)


def pdf_figure(path: str, edges, densities: dict, title: str) -> None:
    """Densities of pointwise values on shared bins, log density axis (tails visible)."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    centres = 0.5 * (np.asarray(edges)[1:] + np.asarray(edges)[:-1])
    for label, dens in densities.items():
        ax.semilogy(centres, np.where(np.asarray(dens) > 0, dens, np.nan), label=label)
    ax.set_xlabel("value")
    ax.set_ylabel("density")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)
