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
