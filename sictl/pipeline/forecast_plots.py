"""PNG figures of forecast scores (``sictl evaluate FORECASTS --truth TRUTH --plot DIR``).

``scores_vs_lead.png`` (CRPS, RMSE and spread, spread–skill ratio, autocorrelation against lead),
``rank_histogram.png`` (the rank frequencies of up to 6 leads against the flat 1/(M+1)) and
``spectra.png`` (forecast against truth spectra, one colour per lead). Drawn from the JSON summary.
"""

from __future__ import annotations

import os

from sictl.pipeline.plots import _pyplot, _save

__all__ = ["forecast_figures"]


def _leads(summary: dict) -> tuple[list, str]:
    if summary.get("lead_time") is not None:
        return summary["lead_time"], "lead time"
    return summary["lead"], "lead (steps)"


def scores_figure(path: str, summary: dict) -> None:
    import numpy as np

    plt = _pyplot()
    m, (x, label) = summary["metrics"], _leads(summary)
    panels = [p for p in ("crps", "rmse", "spread_skill", "autocorrelation") if p in m]
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4 * max(len(panels), 1), 3.6), squeeze=False)
    for ax, name in zip(axes[0], panels):
        if name == "crps":
            ax.errorbar(x, m["crps"]["per_lead"], yerr=m["crps"]["standard_error"], marker="o", capsize=3)
            ax.set_title("fair CRPS")
        elif name == "rmse":
            ax.plot(x, m["rmse"]["per_lead"], "o-", label="RMSE of the mean")
            if "spread" in m:
                ax.plot(x, m["spread"]["per_lead"], "s--", label="spread")
            ax.legend()
            ax.set_title("skill and spread")
        elif name == "spread_skill":
            ax.errorbar(x, m["spread_skill"]["per_lead"], yerr=np.nan_to_num(m["spread_skill"]["standard_error"]),
                        marker="o", capsize=3)
            ax.axhline(1.0, color="gray", ls=":")
            ax.set_title("spread–skill ratio √((M+1)/M)·spread/RMSE")
        else:
            ax.plot(x, m["autocorrelation"]["forecast"], "o-", label="forecast")
            ax.plot(x, m["autocorrelation"]["truth"], "s--", label="truth")
            ax.legend()
            ax.set_title("autocorrelation with the first lead")
        ax.set_xlabel(label)
    fig.suptitle(f"{os.path.basename(str(summary['forecasts']))}: {summary['n_conditions']} conditions × "
                 f"{summary['n_members']} members")
    _save(fig, path)


def rank_figure(path: str, summary: dict) -> None:
    import numpy as np

    plt = _pyplot()
    freq = np.asarray(summary["metrics"]["rank_histogram"]["frequency"])
    leads = np.unique(np.linspace(0, len(freq) - 1, min(len(freq), 6)).round().astype(int))
    fig, axes = plt.subplots(1, len(leads), figsize=(3.2 * len(leads), 3.2), squeeze=False, sharey=True)
    for ax, i in zip(axes[0], leads):
        ax.bar(np.arange(freq.shape[1]), freq[i], width=1.0, edgecolor="k", lw=0.3)
        ax.axhline(1.0 / freq.shape[1], color="gray", ls=":")
        ax.set_title(f"lead {summary['lead'][i]}, δ = {summary['metrics']['rank_histogram']['delta'][i]:.3g}")
        ax.set_xlabel("rank of the truth")
    axes[0][0].set_ylabel("frequency")
    _save(fig, path)


def spectra_figure(path: str, summary: dict) -> None:
    import numpy as np

    plt = _pyplot()
    spec = summary["metrics"]["spectra"]
    kinds = spec["kinds"]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(summary["lead"])))
    for ax, kind in zip(axes[0], kinds):
        f, t = np.asarray(spec[kind]["forecast"]), np.asarray(spec[kind]["truth"])
        f, t = f.reshape(len(f), -1, f.shape[-1])[:, 0], t.reshape(len(t), -1, t.shape[-1])[:, 0]
        for i, c in enumerate(colours):
            ax.loglog(spec["k"], np.clip(f[i], 1e-300, None), "-", color=c, label=f"lead {summary['lead'][i]}")
            ax.loglog(spec["k"], np.clip(t[i], 1e-300, None), "--", color=c)
        ax.set_xlabel("wavenumber κ")
        ax.set_title(f"{kind} spectrum (solid forecast, dashed truth)")
        if len(colours) <= 8:
            ax.legend(fontsize=7)
    _save(fig, path)


def forecast_figures(plot_dir: str, summary: dict) -> list[str]:
    """Draw the figures the summary has data for into ``plot_dir``; returns their paths."""
    made = []
    m = summary["metrics"]
    for name, draw, ok in (("scores_vs_lead.png", scores_figure,
                            any(k in m for k in ("crps", "rmse", "spread_skill", "autocorrelation"))),
                           ("rank_histogram.png", rank_figure, "rank_histogram" in m),
                           ("spectra.png", spectra_figure, "spectra" in m)):
        if ok:
            path = os.path.join(plot_dir, name)
            draw(path, summary)
            made.append(path)
    return made
