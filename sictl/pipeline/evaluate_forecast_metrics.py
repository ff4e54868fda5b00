"""The forecast scores of ``sictl evaluate FORECASTS --truth TRUTH``: :data:`FORECAST_METRICS`.

Every metric is computed per lead, streaming over blocks of conditions: an accumulator of its group
takes each block ``fct (b, M, L, C, *spatial)`` and ``obs (b, T, L, C, *spatial)`` (T truth
realisations per condition, usually 1, each scored as an observation) and returns, at the end, the
JSON blocks of its metrics (stable keys, docs/cli.md) and the report's arrays. The maths is in
:mod:`sictl.core.fields.forecast_metrics`. Metrics sharing a group (``rmse``, ``spread``,
``spread_skill``) share one accumulator. Nothing heavy is imported at module level (the CLI reads the
registry for its help).
"""

from __future__ import annotations

import math
from collections.abc import Callable

__all__ = ["ForecastMetric", "FORECAST_METRICS", "Context", "make_accumulators"]


class Context:
    """What the accumulators need: sizes, whether fields are vorticity, the seeded generator, the device."""

    def __init__(self, *, members: int, leads: int, field_shape: tuple[int, ...], vorticity: bool,
                 rng, device: str = "cpu"):
        self.members, self.leads, self.field_shape = members, leads, tuple(field_shape)
        self.dim = len(field_shape) - 1
        self.vorticity, self.rng, self.device = vorticity, rng, device


class ForecastMetric:
    """One entry of :data:`FORECAST_METRICS`.

    Args:
        group: the accumulator class name in :data:`_GROUPS` computing it.
        summary: what it reports, for --help.
        needs: ``needs(shape_ok_for_spectra, leads) -> reason or None``: why it cannot be computed.
    """

    __slots__ = ("group", "summary", "needs")

    def __init__(self, group: str, summary: str, needs: Callable[[bool, int], str | None] | None = None):
        self.group, self.summary, self.needs = group, summary, needs or (lambda square, leads: None)


def _lists(a) -> list:
    import numpy as np

    return np.asarray(a, dtype=np.float64).tolist()


def _mean_and_se(rows) -> tuple:
    """Per-lead mean over rows ``(n, L)`` and its standard error (NaN for one row)."""
    import numpy as np

    rows = np.asarray(rows, np.float64)
    se = rows.std(0, ddof=1) / math.sqrt(len(rows)) if len(rows) > 1 else np.full(rows.shape[1], math.nan)
    return rows.mean(0), se


class _Crps:
    def __init__(self, ctx: Context):
        import numpy as np

        self.ctx, self.map, self.count = ctx, np.zeros((ctx.leads, *ctx.field_shape)), 0
        self.rows: list = []

    def update(self, fct, obs) -> None:
        import numpy as np

        from sictl.core.fields.forecast_metrics import crps_fair

        per = np.stack([np.stack([crps_fair(obs[:, t, lead], fct[:, :, lead]) for t in range(obs.shape[1])], 1)
                        for lead in range(fct.shape[2])], 2)  # (b, T, L, *field)
        self.map += per.sum((0, 1))
        self.rows.append(per.mean(1).reshape(per.shape[0], per.shape[2], -1).mean(-1))  # (b, L)
        self.count += per.shape[0] * per.shape[1]

    def result(self, chosen) -> tuple[dict, dict]:
        import numpy as np

        mean, se = _mean_and_se(np.concatenate(self.rows))
        cmap = self.map / self.count
        block = {"per_lead": _lists(mean), "standard_error": _lists(se), "mean": float(mean.mean()),
                 "estimator": "fair"}
        return {"crps": block}, {"crps/per_lead": mean, "crps/standard_error": se, "crps/map": cmap}


class _Moments:
    def __init__(self, ctx: Context):
        self.ctx, self.mse, self.var = ctx, [], []

    def update(self, fct, obs) -> None:
        import numpy as np

        from sictl.core.fields.forecast_metrics import mse_and_variance

        mse = np.zeros((fct.shape[0], fct.shape[2]))
        var = np.zeros_like(mse)
        for lead in range(fct.shape[2]):
            for t in range(obs.shape[1]):
                m, v = mse_and_variance(obs[:, t, lead], fct[:, :, lead])
                mse[:, lead] += m / obs.shape[1]
            var[:, lead] = v
        self.mse.append(mse)
        self.var.append(var)

    def result(self, chosen) -> tuple[dict, dict]:
        import numpy as np

        from sictl.core.fields.forecast_metrics import spread_skill

        mse, var = np.concatenate(self.mse), np.concatenate(self.var)
        per = [spread_skill(mse[:, lead], var[:, lead], self.ctx.members) for lead in range(mse.shape[1])]
        total = spread_skill(mse.mean(1), var.mean(1), self.ctx.members)
        col = {k: np.array([p[k] for p in per]) for k in ("rmse", "spread", "ratio", "ratio_se")}
        blocks = {"rmse": {"per_lead": _lists(col["rmse"]), "mean": total["rmse"]},
                  "spread": {"per_lead": _lists(col["spread"]), "mean": total["spread"]},
                  "spread_skill": {"per_lead": _lists(col["ratio"]), "standard_error": _lists(col["ratio_se"]),
                                   "mean": total["ratio"],
                                   "finite_ensemble_factor": math.sqrt((self.ctx.members + 1) / self.ctx.members)}}
        arrays = {"rmse/per_lead": col["rmse"], "spread/per_lead": col["spread"],
                  "spread_skill/per_lead": col["ratio"], "spread_skill/standard_error": col["ratio_se"]}
        return {k: v for k, v in blocks.items() if k in chosen}, {k: v for k, v in arrays.items() if k.split("/")[0] in chosen}


class _Ranks:
    def __init__(self, ctx: Context):
        import numpy as np

        self.ctx, self.counts = ctx, np.zeros((ctx.leads, ctx.members + 1), np.int64)

    def update(self, fct, obs) -> None:
        from sictl.core.fields.forecast_metrics import rank_counts

        for lead in range(fct.shape[2]):
            for t in range(obs.shape[1]):
                self.counts[lead] += rank_counts(obs[:, t, lead], fct[:, :, lead], self.ctx.rng)

    def result(self, chosen) -> tuple[dict, dict]:
        from sictl.core.fields.forecast_metrics import rank_flatness

        flat = [rank_flatness(c) for c in self.counts]
        freq = self.counts / self.counts.sum(1, keepdims=True)
        block = {"counts": self.counts.tolist(), "frequency": _lists(freq), "chi2": [f["chi2"] for f in flat],
                 "delta": [f["delta"] for f in flat], "dof": self.ctx.members}
        return {"rank_histogram": block}, {"rank_histogram/counts": self.counts}


class _EnergyScore:
    def __init__(self, ctx: Context):
        self.ctx, self.rows = ctx, []

    def update(self, fct, obs) -> None:
        import numpy as np

        from sictl.core.fields.forecast_metrics import energy_score_fair

        es = np.zeros((fct.shape[0], fct.shape[2]))
        for lead in range(fct.shape[2]):
            for t in range(obs.shape[1]):
                es[:, lead] += energy_score_fair(obs[:, t, lead], fct[:, :, lead], device=self.ctx.device) / obs.shape[1]
        self.rows.append(es)

    def result(self, chosen) -> tuple[dict, dict]:
        import numpy as np

        mean, se = _mean_and_se(np.concatenate(self.rows))
        return ({"energy_score": {"per_lead": _lists(mean), "standard_error": _lists(se), "mean": float(mean.mean()),
                                  "estimator": "fair"}},
                {"energy_score/per_lead": mean})


class _Spectra:
    def __init__(self, ctx: Context):
        self.ctx, self.sums, self.counts = ctx, [None, None], [0, 0]

    def update(self, fct, obs) -> None:
        import torch

        from sictl.core.fields.spectra import mode_power

        for i, x in enumerate((fct, obs)):
            lead_first = torch.from_numpy(x).movedim(2, 0)  # (L, b, members, C, *grid)
            # summed over conditions and members: (L, C, *grid)
            p = torch.stack([mode_power(lead_first[lead].reshape(-1, *x.shape[3:]), self.ctx.dim, channels=True,
                                        total=True, chunk=64, device=self.ctx.device).cpu()
                             for lead in range(x.shape[2])])
            self.sums[i] = p if self.sums[i] is None else self.sums[i] + p
            self.counts[i] += x.shape[0] * x.shape[1]

    def result(self, chosen) -> tuple[dict, dict]:
        import torch

        from sictl.core.fields import metrics as M

        kinds = (("enstrophy", "power"), ("energy", "energy")) if self.ctx.vorticity else (("power", "power"),)
        out: dict = {"kinds": [k for k, _ in kinds]}
        arrays: dict = {}
        for name, kind in kinds:
            spec = []
            for s, n in zip(self.sums, self.counts):
                k, e = M.shell_spectra(s.reshape(-1, *s.shape[2:]) / n, self.ctx.dim, kind)
                spec.append(e.reshape(s.shape[0], s.shape[1], -1))  # (L, C, K)
            valid = spec[1] > 0  # shells where the truth has no power are left out, as in `spectrum`
            rel = torch.where(valid, (spec[0] - spec[1]).abs() / torch.where(valid, spec[1], 1.0), torch.nan)
            rel = rel.reshape(rel.shape[0], -1).nanmean(-1)
            squeeze = (lambda t: t[:, 0]) if spec[0].shape[1] == 1 else (lambda t: t)
            out["k"] = k.tolist()
            out[name] = {"forecast": squeeze(spec[0]).tolist(), "truth": squeeze(spec[1]).tolist(),
                         "relative_error_mean": rel.tolist()}
            arrays.update({"spectra/k": k.numpy(), f"spectra/{name}/forecast": spec[0].numpy(),
                           f"spectra/{name}/truth": spec[1].numpy(), f"spectra/{name}/relative_error_mean": rel.numpy()})
        return {"spectra": out}, arrays


class _Totals:
    def __init__(self, ctx: Context):
        self.ctx, self.parts = ctx, ([], [])

    def update(self, fct, obs) -> None:
        from sictl.core.fields.forecast_metrics import field_totals

        for store, x in zip(self.parts, (fct, obs)):
            totals = field_totals(x, self.ctx.dim, vorticity=self.ctx.vorticity)  # each (b, members, L)
            store.append({q: v.transpose(2, 0, 1).reshape(v.shape[2], -1) for q, v in totals.items()})

    def result(self, chosen) -> tuple[dict, dict]:
        import numpy as np

        from sictl.core.fields.forecast_metrics import kl_kde

        out: dict = {"quantities": list(self.parts[0][0]), "direction": "KL(truth ‖ forecast)",
                     "method": "Gaussian KDE (Scott's bandwidth) on a 2048-point grid, pooled over conditions"}
        arrays: dict = {}
        for q in out["quantities"]:
            f = np.concatenate([p[q] for p in self.parts[0]], 1)
            t = np.concatenate([p[q] for p in self.parts[1]], 1)
            kl = np.array([kl_kde(t[lead], f[lead]) for lead in range(len(f))])
            out[q] = {"per_lead": _lists(kl), "forecast_mean": _lists(f.mean(1)), "truth_mean": _lists(t.mean(1))}
            arrays.update({f"kl/{q}/per_lead": kl, f"kl/{q}/forecast_totals": f, f"kl/{q}/truth_totals": t})
        return {"kl": out}, arrays


class _Autocorrelation:
    def __init__(self, ctx: Context):
        from sictl.core.fields.forecast_metrics import PixelCorrelation

        self.ctx, self.acc = ctx, (PixelCorrelation(), PixelCorrelation())

    def update(self, fct, obs) -> None:
        for acc, x in zip(self.acc, (fct, obs)):
            acc.update(x.reshape(-1, *x.shape[2:]))

    def result(self, chosen) -> tuple[dict, dict]:
        f, t = (a.result() for a in self.acc)
        return ({"autocorrelation": {"forecast": _lists(f), "truth": _lists(t), "anchor_lead": 1}},
                {"autocorrelation/forecast": f, "autocorrelation/truth": t})


_GROUPS = {"crps": _Crps, "moments": _Moments, "ranks": _Ranks, "energy_score": _EnergyScore,
           "spectra": _Spectra, "totals": _Totals, "autocorrelation": _Autocorrelation}

#: name → metric, in the order they are reported and listed by --help.
FORECAST_METRICS: dict[str, ForecastMetric] = {
    "crps": ForecastMetric("crps", "fair CRPS (per point, field mean)"),
    "rmse": ForecastMetric("moments", "RMSE of the ensemble mean"),
    "spread": ForecastMetric("moments", "ensemble spread"),
    "spread_skill": ForecastMetric("moments", "spread–skill ratio"),
    "rank_histogram": ForecastMetric("ranks", "rank histogram"),
    "energy_score": ForecastMetric("energy_score", "fair energy score of the field"),
    "spectra": ForecastMetric("spectra", "spectra per lead",
                              lambda square, leads: None if square else "a square periodic grid with an even side"),
    "kl": ForecastMetric("totals", "KL of total energy/enstrophy"),
    "autocorrelation": ForecastMetric("autocorrelation", "autocorrelation across the rollout",
                                      lambda square, leads: None if leads >= 2 else "at least 2 leads"),
}


def make_accumulators(chosen: tuple[str, ...], ctx: Context) -> dict:
    """One accumulator per group of the chosen metrics (group name → accumulator)."""
    groups = dict.fromkeys(FORECAST_METRICS[n].group for n in FORECAST_METRICS if n in chosen)
    return {g: _GROUPS[g](ctx) for g in groups}
