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
    """α, β of the designed schedule against the linear one, and the per-time Lipschitz profile.

    ``ts`` should resolve both ends (e.g. :func:`sictl.pipeline.design.plot_times`): t is drawn on a
    logit axis, which spreads the stretches near 0 and 1 where schedules change fastest.
    """
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    vd, vl = designed(ts), linear(ts)
    ax1.plot(ts, vd.alpha, label="α designed")
    ax1.plot(ts, vd.beta, label="β designed")
    ax1.plot(ts, vl.alpha, "--", color="gray", label="α linear")
    ax1.plot(ts, vl.beta, ":", color="gray", label="β linear")
    ax1.set_ylabel("α(t), β(t)")
    for name, prof in profiles.items():
        ax2.semilogy(ts, prof.clamp_min(1e-300), label=name)
    ax2.set_ylabel("Lipschitz constant of the drift at t")
    ends = [e for e in (1e-12, 1e-8, 1e-4) if float(ts[0]) <= e]
    ticks = [*ends, 0.5, *(1 - e for e in reversed(ends[1:]))]  # 1 − 1e-12 would print as 1 − 10·10⁻¹³
    for ax in (ax1, ax2):
        ax.set_xscale("logit")
        ax.set_xticks(ticks)
        ax.minorticks_off()
        ax.set_xlabel("t (logit scale)")
        ax.legend()
    fig.suptitle(title)
    _save(fig, path)


def _save(fig, path: str, tight: bool = True) -> None:
    from sictl.io import atomic_output

    plt = _pyplot()
    if tight:
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


def samples_figure(path: str, x, title: str, reference=None) -> None:
    """Samples next to reference samples, if given: images of 2-D fields (channel 0; a mid-plane of 3-D
    ones) on one shared, symmetric colour scale with a colour bar, a row of samples above a row of
    reference fields (16 samples in a 4 × 4 grid without a reference); curves of 1-D fields (one
    panel each, shared axes); a scatter or histogram of vectors, both sets overlaid."""
    import numpy as np

    plt = _pyplot()
    sets = {"samples": np.asarray(x)} | ({} if reference is None else {"reference": np.asarray(reference)})
    x = sets["samples"]
    if x.ndim == 2:  # vectors
        fig, ax = plt.subplots(figsize=(5, 4))
        for label, v in sets.items():
            if v.shape[1] >= 2:
                ax.scatter(v[:, 0], v[:, 1], s=6, alpha=0.6, label=label)
            else:
                ax.hist(v[:, 0], bins=50, alpha=0.6, density=True, label=label)
        ax.set_xlabel("x[0]" if x.shape[1] >= 2 else "x")
        ax.set_ylabel("x[1]" if x.shape[1] >= 2 else "density")
        ax.legend()
    elif x.ndim == 3:  # 1-D fields
        fig, axes = plt.subplots(1, len(sets), figsize=(6 * len(sets), 4), sharey=True, squeeze=False)
        grid = np.arange(x.shape[-1]) / x.shape[-1]
        for ax, (label, v) in zip(axes[0], sets.items()):
            for row in v[:8, 0]:
                ax.plot(grid, row, lw=0.8)
            ax.set_title(label)
            ax.set_xlabel("x")
        axes[0, 0].set_ylabel("value")
    else:
        images = {k: (v[:, 0] if v.ndim == 4 else v[:, 0, ..., v.shape[-1] // 2]) for k, v in sets.items()}
        per_row = 8 if reference is not None else 4
        rows = [(k, img[i:i + per_row]) for k, img in images.items()
                for i in range(0, min(len(img), 16 if reference is None else per_row), per_row)]
        vmax = max(float(np.max(np.abs(img[:per_row * 4]))) for img in images.values()) or 1.0
        fig, axes = plt.subplots(len(rows), per_row, figsize=(1.9 * per_row + 1, 1.9 * len(rows)), squeeze=False)
        shown = None
        for r, (label, imgs) in enumerate(rows):
            for c, ax in enumerate(axes[r]):
                ax.set_xticks([])
                ax.set_yticks([])
                if c < len(imgs):
                    shown = ax.imshow(imgs[c].T, origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax)
                else:
                    ax.axis("off")
            axes[r, 0].set_ylabel(label)
        fig.suptitle(title)
        fig.colorbar(shown, ax=axes, shrink=0.9, label="value (shared scale)")
        _save(fig, path, tight=False)
        return
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
