"""The loss figure of a training run (``RUN/loss.png``; matplotlib, imported lazily)."""

from __future__ import annotations

__all__ = ["loss_figure"]


def loss_figure(records: list[dict], path: str) -> bool:
    """Plot loss, smoothed (EMA) loss and validation losses against step, log-scaled, to ``path``.

    Args:
        records: the ``log.jsonl`` records (``step``, ``loss``, ``ema_loss``, optional ``val_loss``,
            ``val_loss_raw``).
        path: the PNG to write (atomically).

    Returns:
        False if matplotlib is not installed (nothing written), else True.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    from sictl.io import atomic_output

    def series(key: str) -> tuple[list[int], list[float]]:
        pts = [(r["step"], r[key]) for r in records if isinstance(r.get(key), (int, float)) and r[key] > 0]
        return [p[0] for p in pts], [p[1] for p in pts]

    fig, ax = plt.subplots(figsize=(7, 4.2))
    styles = {"loss": ("training loss", {"color": "tab:blue", "alpha": 0.45, "lw": 1}),
              "ema_loss": ("training loss, smoothed", {"color": "tab:blue", "lw": 2}),
              "val_loss": ("validation loss (EMA weights)", {"color": "tab:red", "marker": "o", "ms": 3, "lw": 1.5}),
              "val_loss_raw": ("validation loss (raw weights)", {"color": "tab:orange", "ls": "--", "lw": 1})}
    plotted = False
    for key, (label, style) in styles.items():
        steps, values = series(key)
        if steps:
            ax.plot(steps, values, label=label, **style)
            plotted = True
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (summed squared error per sample)")
    ax.grid(True, which="both", alpha=0.3)
    if plotted:
        ax.legend()
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return True
