"""The metrics of ``sictl evaluate``: :data:`METRICS` maps each name to a :class:`Metric`.

A metric says what it applies to (fields on a periodic grid, vectors; reference samples or a
reference spectrum alone), whether it is on by default, how it is computed from the
:class:`Inputs` (a JSON block, arrays for the report) and how the CLI shows it (table rows).
``--metrics`` help, the error hints, the defaults and the summary table all follow the registry:
adding a metric is one function here and one line in :data:`METRICS`. The maths is in
:mod:`sictl.core.fields.metrics`. Nothing heavy is imported at module level (the CLI reads the
registry for its help).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

__all__ = ["Metric", "Inputs", "METRICS", "choose_metrics", "summary_rows"]

Rows = Iterator[tuple[str, str]]


class Inputs:
    """What the metrics compute from; ``arrays`` collects the report's arrays.

    ``x``: the finite samples in data units, ``(n, C, *spatial)`` fields or ``(n, dim)`` vectors (numpy);
    ``ref``: the reference samples (:class:`sictl.pipeline.evaluate.Loaded`), or None when only a
    reference spectrum is given; ``cfg``: the :class:`~sictl.pipeline.evaluate.EvaluateConfig`;
    ``generator``: one CPU generator seeded by ``--seed``, drawn from in registry order; ``device``:
    where the arithmetic runs.
    """

    def __init__(self, x, ref, cfg, generator, vorticity: bool, device: str = "cpu", arrays: dict | None = None):
        self.x, self.ref, self.cfg, self.generator = x, ref, cfg, generator
        self.vorticity, self.device, self.arrays = vorticity, device, {} if arrays is None else arrays


class Metric:
    """One entry of :data:`METRICS` (plain classes: the CLI reads the registry at start-up).

    Args:
        compute: ``compute(inputs) -> dict``, the metric's JSON block (it adds its report arrays to
            ``inputs.arrays``).
        rows: ``rows(block)`` → (quantity, value) rows of the CLI's table.
        summary: what it reports, for --help.
        vectors: it applies to vectors (every metric applies to fields).
        spectrum_only: it works against ``--reference-spectrum`` alone.
        default: the kinds of samples ("fields", "vectors") it is computed for without ``--metrics``.
    """

    __slots__ = ("compute", "rows", "summary", "vectors", "spectrum_only", "default")

    def __init__(self, compute: Callable[[Inputs], dict], rows: Callable[[dict], Rows], summary: str, *,
                 vectors: bool = True, spectrum_only: bool = False, default: tuple[str, ...] = ("fields", "vectors")):
        self.compute, self.rows, self.summary = compute, rows, summary
        self.vectors, self.spectrum_only, self.default = vectors, spectrum_only, default


# ---------------------------------------------------------------------------------------------- spectrum


def _reference_power(path: str, sample_shape):
    """Per-mode power (C, *spatial) or a shell spectrum (K,) from --reference-spectrum."""
    import numpy as np

    from sictl.errors import ConfigError, ShapeError
    from sictl.io.foreign import read_foreign

    fa = read_foreign(path)
    if fa.kind == "sictl-dataset":
        if "mode_power" not in fa.attrs:
            raise ConfigError(f"{path} stores no per-mode power (stats/mode_power)", hint="use --reference with its samples")
        power = np.asarray(fa.attrs["mode_power"])
        if power.shape != tuple(sample_shape[1:]):
            what = "resolution" if power.ndim == len(sample_shape) - 1 else "dimension"
            raise ShapeError(f"{what} mismatch: the samples are {_grid(sample_shape[1:])} but the reference spectrum "
                             f"{path} is {_grid(power.shape)}",
                             hint="give a reference at the samples' resolution (`sictl prepare … --resolution N` "
                                  "stores a dataset at N points per side)")
        return power[None], "stored statistics"
    a = np.asarray(fa.data, dtype=np.float64)
    spatial = tuple(sample_shape[1:])
    if a.shape == spatial:
        return a[None], "per-mode power file"
    if a.shape == tuple(sample_shape):
        return a, "per-mode power file"
    if a.ndim == 1 and len(spatial) >= 2 and len(a) == spatial[0] // 2:
        return a, "shell spectrum file"
    raise ShapeError(f"{path}: reference spectrum of shape {a.shape} does not fit samples {tuple(sample_shape)}",
                     hint=f"give the per-mode power E|x̂_k|² on the {spatial} FFT grid, or a dataset file")


def _grid(shape) -> str:
    return "×".join(str(int(n)) for n in shape)


def _squeeze(t):
    return t[0].tolist() if t.shape[0] == 1 else t.tolist()


def _spectrum(inp: Inputs) -> dict:
    import torch

    from sictl.core.fields import metrics as M
    from sictl.core.fields.spectra import shell_index
    from sictl.errors import ShapeError

    x, ref, dim = inp.x, inp.ref, inp.x.ndim - 2
    if ref is None:
        ref_power, source = _reference_power(inp.cfg.reference_spectrum, x.shape[1:])
    elif ref.mode_power is not None and x.shape[1] == 1:
        ref_power, source = ref.mode_power[None], "stored statistics"
    else:
        ref_power, source = M.channel_power(torch.from_numpy(ref.x), dim, device=inp.device).numpy(), "reference samples"
    n = x.shape[-1]
    if any(d != n for d in x.shape[2:]) or n % 2:
        raise ShapeError(f"spectra need a square periodic grid with an even side, got {tuple(x.shape[2:])}")
    power = M.channel_power(torch.from_numpy(x), dim, device=inp.device)
    idx = shell_index(n, dim).flatten()
    counts = torch.bincount(idx[idx > 0], minlength=n // 2 + 1)[1:].double()
    sd = 1 / torch.sqrt(len(x) * counts / 2)
    out: dict = {"reference_source": source}
    kinds = (("power", "power"),) if not inp.vorticity else (("power", "enstrophy"), ("energy", "energy"))
    for kind, name in kinds:
        k, spec = M.shell_spectra(power, dim, kind)
        if ref_power.ndim == 1:
            if kind == "energy":
                continue  # a shell spectrum file gives only the plain spectrum
            ref_spec = torch.as_tensor(ref_power).expand_as(spec)
        else:
            ref_spec = M.shell_spectra(torch.as_tensor(ref_power), dim, kind)[1].expand_as(spec)
        summary, rel = M.spectral_errors(spec, ref_spec)
        block = {"kind": name, "k": k.tolist(), "spectrum": _squeeze(spec), "reference": _squeeze(ref_spec),
                 "relative_error": _squeeze(rel), "mc_relative_sd": sd.tolist(), **summary,
                 "band_shells": {b: [int(i[0]) + 1, int(i[-1]) + 1] for b, i in M.band_indices(len(k)).items()}}
        prefix = "spectrum" if kind == "power" else "spectrum/energy"
        inp.arrays.update({f"{prefix}/k": k.numpy(), f"{prefix}/samples": spec.numpy(),
                           f"{prefix}/reference": ref_spec.numpy(), f"{prefix}/relative_error": rel.numpy()})
        if kind == "power":
            out.update(block)
        else:
            out["energy"] = block
    return out


def _spectrum_rows(spec: dict) -> Rows:
    yield f"relative error mean / max ({spec['kind']})", f"{spec['relative_error_mean']:.4g} / {spec['relative_error_max']:.4g}"
    yield "bands low / mid / high", " / ".join(f"{spec['bands'][b]:.4g}" for b in ("low", "mid", "high"))
    if "energy" in spec:
        e = spec["energy"]
        yield "energy spectrum mean / max", f"{e['relative_error_mean']:.4g} / {e['relative_error_max']:.4g}"


# ------------------------------------------------------------------------------------- sample metrics


def _pdf(inp: Inputs) -> dict:
    from sictl.core.fields import metrics as M

    cfg, gen = inp.cfg, inp.generator
    a, b = M.pooled_values(inp.x, cfg.max_values, gen), M.pooled_values(inp.ref.x, cfg.max_values, gen)
    w1 = M.wasserstein_1d(a, b, device=inp.device)
    sd = float(b.std())
    edges, da, db = M.histograms(a, b, cfg.bins)
    inp.arrays.update({"pdf/edges": edges.numpy(), "pdf/samples": da.numpy(), "pdf/reference": db.numpy()})
    return {"wasserstein1": w1, "wasserstein1_relative": w1 / sd if sd > 0 else math.nan,
            "values": int(a.numel()), "reference_values": int(b.numel())}


def _moments(inp: Inputs) -> dict:
    from sictl.core.fields import metrics as M

    summary, fields = M.moment_errors(inp.x, inp.ref.x, device=inp.device)
    inp.arrays.update({f"moments/{k}": v.numpy() for k, v in fields.items()})
    return summary


def _correlation(inp: Inputs) -> dict:
    import torch

    from sictl.core.fields import metrics as M

    dim = inp.x.ndim - 2
    curves = []
    for data in (inp.x, inp.ref.x):
        power = M.channel_power(torch.from_numpy(data), dim, device=inp.device)[0]
        r, c = M.radial_correlation(power, float(data[:, 0].mean()), dim)
        curves.append(c / c[0] if float(c[0]) != 0 else c)
    diff = (curves[0] - curves[1]).abs()
    inp.arrays.update({"correlation/r": r.numpy(), "correlation/samples": curves[0].numpy(),
                       "correlation/reference": curves[1].numpy()})
    return {"r": r.tolist(), "correlation": curves[0].tolist(), "reference": curves[1].tolist(),
            "max_abs_error": float(diff.max()), "mean_abs_error": float(diff.mean()),
            "note": "normalised C(r)/C(0) of channel 0, radially averaged"}


def _swd(inp: Inputs) -> dict:
    from sictl.core.fields import metrics as M

    n = inp.cfg.projections
    return {"sliced_wasserstein2": M.sliced_wasserstein(inp.x, inp.ref.x, n, inp.generator, device=inp.device),
            "projections": n}


def _mmd(inp: Inputs) -> dict:
    from sictl.core.fields import metrics as M

    return M.mmd_rbf(inp.x, inp.ref.x, inp.cfg.mmd_samples, inp.generator, device=inp.device)


def _modes(inp: Inputs) -> dict:
    import torch

    from sictl.core.fields import metrics as M

    ref = inp.ref
    if ref.mixture is not None:
        weights = M.mixture_mode_weights(inp.x, ref.mixture, device=inp.device)
        ref_w = ref.mixture.weights.to(torch.float64)
        method = "largest posterior under the reference mixture"
    else:
        res = M.principal_mode_weights(inp.x, ref.x, device=inp.device)
        weights, ref_w = res["weights"], res["reference_weights"]
        method = f"two modes split along the reference's principal axis at {res['threshold']:.6g}"
    minority = int(torch.argmin(ref_w))
    return {"weights": weights.tolist(), "reference_weights": ref_w.tolist(), "minority_weight": float(weights[minority]),
            "minority_reference_weight": float(ref_w[minority]), "minority_component": minority,
            "weight_error_max": float((weights - ref_w).abs().max()), "method": method}


#: name → metric, in the order they are computed (the seeded generator is drawn from in this order),
#: reported and listed by --help.
METRICS: dict[str, Metric] = {
    "spectrum": Metric(_spectrum, _spectrum_rows, "spectra and their relative error (mean, max, per band)",
                       vectors=False, spectrum_only=True, default=("fields",)),
    "pdf": Metric(_pdf, lambda m: iter([("Wasserstein-1 (÷ reference std)",
                                         f"{m['wasserstein1']:.4g} ({m['wasserstein1_relative']:.3g})")]),
                  "pointwise-value PDF (Wasserstein-1)", default=("fields",)),
    "moments": Metric(_moments, lambda m: iter([("mean / std / norm error",
                                                 f"{m['mean_error']:.3g} / {m['std_error']:.3g} / {m['norm_error']:.3g}")]),
                      "mean/std fields"),
    "correlation": Metric(_correlation, lambda m: iter([("max |ρ − ρ_ref|", f"{m['max_abs_error']:.3g}")]),
                          "two-point correlation", vectors=False, default=("fields",)),
    "swd": Metric(_swd, lambda m: iter([(f"sliced W2 ({m['projections']} directions)", f"{m['sliced_wasserstein2']:.4g}")]),
                  "sliced Wasserstein"),
    "mmd": Metric(_mmd, lambda m: iter([(f"MMD² (RBF, h = {m['bandwidth']:.3g})", f"{m['mmd2']:.4g}")]), "MMD"),
    "modes": Metric(_modes, lambda m: iter([("weights (reference)", ", ".join(
        f"{w:.4f} ({r:.4f})" for w, r in zip(m["weights"], m["reference_weights"])))]),
                    "mixture mode weights", default=("vectors",)),
}


def choose_metrics(names: tuple[str, ...] | None, vector: bool, samples_ref: bool) -> tuple[str, ...]:
    """The metrics to compute: ``names`` (checked against what they apply to), or the defaults."""
    from sictl.errors import ConfigError

    kind = "vectors" if vector else "fields"
    if not names:
        names = tuple(n for n, m in METRICS.items() if (kind in m.default if samples_ref else m.spectrum_only))
    for name in names:
        metric = METRICS[name]
        if vector and not metric.vectors:
            raise ConfigError(f"metric {name!r} needs fields on a periodic grid; these samples are vectors",
                              hint=f"for vectors: {', '.join(n for n, m in METRICS.items() if m.vectors)}")
        if not samples_ref and not metric.spectrum_only:
            raise ConfigError(f"metric {name!r} needs reference samples (--reference), not only a spectrum",
                              hint=f"with --reference-spectrum: {', '.join(n for n, m in METRICS.items() if m.spectrum_only)}")
    return tuple(dict.fromkeys(names))


def summary_rows(results: dict) -> Iterator[tuple[str, str, str]]:
    """(metric, quantity, value) rows of every metric in ``results``, the metric named on its first row."""
    for name, metric in METRICS.items():
        if results.get(name):
            for i, (quantity, value) in enumerate(metric.rows(results[name])):
                yield (name if i == 0 else ""), quantity, value
