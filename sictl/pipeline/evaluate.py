"""`sictl evaluate`: compare samples with a reference (SPEC §2.5).

Inputs are sictl files (samples, datasets) or foreign arrays (``.npy/.npz/.pt/.h5`` with a key and a
layout, :mod:`sictl.io.foreign` and :mod:`sictl.pipeline.layout`); everything is compared in data
units as ``(n, C, *spatial)`` fields or ``(n, dim)`` vectors. The reference is a set of samples
(``--reference``: a dataset, samples file, foreign array or a mixture JSON file, whose exact law is
then sampled), or only a spectrum (``--reference-spectrum``). The maths is in :mod:`sictl.core.fields.metrics`.

Non-finite samples are counted and reported; they make the evaluation fail unless ``allow_nan``, in
which case the finite ones are evaluated (and the count is still reported). They are never dropped
silently.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.exact.gmm import GaussianMixture
from sictl.core.fields import metrics as M
from sictl.errors import ConfigError, SchemaError, ShapeError, SictlError
from sictl.pipeline.layout import resolve_layout, to_samples

__all__ = ["EvaluateConfig", "METRICS", "run", "load_samples"]

METRICS = ("spectrum", "pdf", "moments", "correlation", "swd", "mmd", "modes")
_FIELD_DEFAULT = ("spectrum", "pdf", "moments", "correlation", "swd", "mmd")
_VECTOR_DEFAULT = ("moments", "swd", "mmd", "modes")
_VORTICITY_NAMES = ("vorticity", "omega", "w")


@dataclass(frozen=True, kw_only=True)
class EvaluateConfig:
    samples: str
    reference: str | None = None
    reference_spectrum: str | None = None
    key: str | None = None
    layout: str | None = None
    reference_key: str | None = None
    reference_layout: str | None = None
    metrics: tuple[str, ...] | None = None
    allow_nan: bool = False
    drop_last_node: bool = False
    vorticity: bool | None = None
    bins: int = 100
    projections: int = 500
    mmd_samples: int = 512
    max_values: int = 4_000_000
    seed: int = 0

    def validate(self) -> None:
        if (self.reference is None) == (self.reference_spectrum is None):
            raise ConfigError("give exactly one of --reference and --reference-spectrum",
                              hint="e.g. --reference train.h5 (a dataset or samples file)")
        unknown = [m for m in self.metrics or () if m not in METRICS]
        if unknown:
            raise ConfigError(f"unknown metric {', '.join(map(repr, unknown))}", hint=f"choose among {', '.join(METRICS)}")
        if self.bins < 2 or self.projections < 1 or self.mmd_samples < 2 or self.max_values < 2:
            raise ConfigError("--bins, --projections and --mmd-samples must be ≥ 2 (projections ≥ 1)")


@dataclass
class Loaded:
    """A set of samples in data units with what its file says about it."""

    x: np.ndarray
    path: str
    kind: str
    layout: str
    mode_power: np.ndarray | None = None
    mixture: GaussianMixture | None = None
    field: str | None = None

    @property
    def vector(self) -> bool:
        return self.x.ndim == 2


def load_samples(path: str, key=None, layout=None, *, prefer=None, drop_last_node=False,
                 allow_nonfinite=False) -> Loaded:
    """Read any supported file as samples ``(n, C, *spatial)`` or ``(n, dim)`` in data units."""
    from sictl.io.foreign import read_foreign

    fa = read_foreign(path, key, allow_nonfinite=allow_nonfinite)
    sictl_file = fa.kind.startswith("sictl")
    lay = resolve_layout(fa.data.shape, layout, fa.layout, name=os.path.basename(str(path)), prefer=prefer)
    x = to_samples(fa.data, lay, drop_last_node=drop_last_node and not sictl_file)
    mixture = None
    if "mixture" in fa.attrs:
        from sictl.io import mixture_from_json

        mixture = mixture_from_json(fa.attrs["mixture"], f"{path} @mixture")
    return Loaded(x, str(path), fa.kind, str(lay), fa.attrs.get("mode_power"), mixture, fa.attrs.get("field"))


def _mixture_reference(path: str, n: int, seed: int) -> Loaded:
    from sictl.io import read_mixture

    mixture = read_mixture(path)
    x = mixture.sample(max(n, 2000), generator=torch.Generator().manual_seed(seed))
    return Loaded(x.numpy(), path, "mixture", "sample dim", mixture=mixture)


def _stated_kind(path: str | None, layout: str | None) -> str | None:
    """'field' or 'vector' when a --layout says so."""
    if layout:
        from sictl.pipeline.layout import parse_layout

        return "vector" if parse_layout(layout).vector else "field"
    return None


def _reference_power(path: str, sample_shape) -> tuple[np.ndarray, str]:
    """Per-mode power (C, *spatial) or a shell spectrum (K,) from --reference-spectrum."""
    from sictl.io.foreign import read_foreign

    fa = read_foreign(path)
    if fa.kind == "sictl-dataset":
        if "mode_power" not in fa.attrs:
            raise ConfigError(f"{path} stores no per-mode power (stats/mode_power)", hint="use --reference with its samples")
        return fa.attrs["mode_power"][None], "stored statistics"
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


def _check_match(s: Loaded, r: Loaded) -> None:
    if s.vector != r.vector:
        raise ShapeError(f"the samples are {'vectors' if s.vector else 'fields'} but the reference holds "
                         f"{'vectors' if r.vector else 'fields'}", hint="check --layout / --reference-layout")
    if s.x.shape[1:] != r.x.shape[1:]:
        what = "channels" if s.x.shape[2:] == r.x.shape[2:] else "resolution"
        raise ShapeError(f"{what} mismatch: samples are {tuple(s.x.shape[1:])} but the reference is {tuple(r.x.shape[1:])}",
                         hint="compare at the same resolution and channels (resample the reference with `sictl prepare`)")


def _finite(s: Loaded, cfg: EvaluateConfig) -> tuple[np.ndarray, int]:
    bad = M.nonfinite_rows(s.x)
    count = int(bad.sum())
    if count and not cfg.allow_nan:
        raise SictlError(f"{s.path}: {count} of {len(s.x)} samples hold NaN/inf values",
                         hint="the sampler diverged (fewer steps? another schedule?); --allow-nan evaluates the finite ones")
    keep = s.x[~bad.numpy()]
    if len(keep) < 2:
        raise SictlError(f"{s.path}: fewer than 2 finite samples ({len(keep)} of {len(s.x)})")
    return keep, count


def _spectrum(x: np.ndarray, dim: int, ref_power, ref_source: str, vorticity: bool, arrays: dict) -> dict:
    n = x.shape[-1]
    if any(d != n for d in x.shape[2:]) or n % 2:
        raise ShapeError(f"spectra need a square periodic grid with an even side, got {tuple(x.shape[2:])}")
    power = M.channel_power(torch.from_numpy(x), dim)
    out: dict = {"reference_source": ref_source}
    kinds = (("power", "power"),) if not vorticity else (("power", "enstrophy"), ("energy", "energy"))
    for kind, name in kinds:
        k, spec = M.shell_spectra(power, dim, kind)
        if ref_power.ndim == 1:
            if kind == "energy":
                continue  # a shell spectrum file gives only the plain spectrum
            ref = torch.as_tensor(ref_power).expand_as(spec)
        else:
            ref = M.shell_spectra(torch.as_tensor(ref_power), dim, kind)[1].expand_as(spec)
        summary, rel = M.spectral_errors(spec, ref)
        counts = torch.bincount(torch.as_tensor(_shell_counts(n, dim)), minlength=n // 2 + 1)[1:].double()
        sd = 1 / torch.sqrt(len(x) * counts / 2)
        block = {"kind": name, "k": k.tolist(), "spectrum": _squeeze(spec), "reference": _squeeze(ref),
                 "relative_error": _squeeze(rel), "mc_relative_sd": sd.tolist(), **summary,
                 "band_shells": {b: [int(i[0]) + 1, int(i[-1]) + 1] for b, i in M.band_indices(len(k)).items()}}
        prefix = "spectrum" if kind == "power" else "spectrum/energy"
        arrays.update({f"{prefix}/k": k.numpy(), f"{prefix}/samples": spec.numpy(), f"{prefix}/reference": ref.numpy(),
                       f"{prefix}/relative_error": rel.numpy()})
        if kind == "power":
            out.update(block)
        else:
            out["energy"] = block
    return out


def _shell_counts(n: int, dim: int) -> np.ndarray:
    from sictl.core.fields.spectra import shell_index

    idx = shell_index(n, dim).flatten()
    return idx[idx > 0].numpy()


def _squeeze(t: torch.Tensor):
    return t[0].tolist() if t.shape[0] == 1 else t.tolist()


def _choose_metrics(cfg: EvaluateConfig, vector: bool, samples_ref: bool) -> tuple[str, ...]:
    chosen = cfg.metrics or ((_VECTOR_DEFAULT if vector else _FIELD_DEFAULT) if samples_ref else ("spectrum",))
    for m in chosen:
        if vector and m in ("spectrum", "correlation"):
            raise ConfigError(f"metric {m!r} needs fields on a periodic grid; these samples are vectors")
        if not samples_ref and m != "spectrum":
            raise ConfigError(f"metric {m!r} needs reference samples (--reference), not only a spectrum")
    return tuple(dict.fromkeys(chosen))


def run(cfg: EvaluateConfig, *, plot_dir: str | None = None) -> tuple[dict, dict]:
    """Evaluate. Returns (JSON summary, arrays for the HDF5 report)."""
    cfg.validate()
    started = time.perf_counter()
    from sictl.io import file_checksum

    # the reference is read first: when the samples' layout has to be guessed, its kind decides
    ref, mixture_json = None, cfg.reference is not None and str(cfg.reference).endswith(".json")
    if cfg.reference is not None and not mixture_json:
        ref = load_samples(cfg.reference, cfg.reference_key, cfg.reference_layout,
                           prefer=_stated_kind(None, cfg.layout), drop_last_node=cfg.drop_last_node)
    prefer = "vector" if mixture_json else (None if ref is None else ("vector" if ref.vector else "field"))
    s = load_samples(cfg.samples, cfg.key, cfg.layout, prefer=prefer, drop_last_node=cfg.drop_last_node,
                     allow_nonfinite=True)
    x, nonfinite = _finite(s, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    if mixture_json:
        ref = _mixture_reference(cfg.reference, len(x), cfg.seed)
    if ref is not None:
        _check_match(s, ref)
    chosen = _choose_metrics(cfg, s.vector, ref is not None)
    summary: dict = {"samples": cfg.samples, "reference": cfg.reference, "reference_spectrum": cfg.reference_spectrum,
                     "layout": s.layout, "reference_layout": None if ref is None else ref.layout,
                     "n_samples": len(x), "n_samples_total": len(s.x), "nonfinite_samples": nonfinite,
                     "n_reference": None if ref is None else len(ref.x), "sample_shape": list(x.shape[1:]),
                     "metrics": {}}
    arrays: dict = {}
    dim = x.ndim - 2
    vorticity = cfg.vorticity if cfg.vorticity is not None else (
        dim == 2 and any(f in _VORTICITY_NAMES for f in (s.field, None if ref is None else ref.field) if f))
    if "spectrum" in chosen:
        if ref is None:
            ref_power, source = _reference_power(cfg.reference_spectrum, x.shape[1:])
        elif ref.mode_power is not None and x.shape[1] == 1:
            ref_power, source = ref.mode_power[None], "stored statistics"
        else:
            ref_power, source = M.channel_power(torch.from_numpy(ref.x), dim).numpy(), "reference samples"
        summary["metrics"]["spectrum"] = _spectrum(x, dim, ref_power, source, vorticity, arrays)
    if ref is not None:
        _sample_metrics(chosen, x, ref, cfg, gen, summary["metrics"], arrays)
    if plot_dir is not None:
        summary["plots"] = _plots(plot_dir, x, ref, summary["metrics"], arrays)
    summary["inputs"] = {p: file_checksum(p) for p in (cfg.samples, cfg.reference, cfg.reference_spectrum)
                         if p is not None and p != "-"}
    summary["config"] = asdict(cfg)
    summary["seed"] = cfg.seed
    summary["wall_time_s"] = time.perf_counter() - started
    return summary, arrays


def _sample_metrics(chosen, x, ref: Loaded, cfg: EvaluateConfig, gen, out: dict, arrays: dict) -> None:
    y = ref.x
    if "pdf" in chosen:
        a, b = M.pooled_values(x, cfg.max_values, gen), M.pooled_values(y, cfg.max_values, gen)
        w1 = M.wasserstein_1d(a, b)
        sd = float(b.std())
        edges, da, db = M.histograms(a, b, cfg.bins)
        out["pdf"] = {"wasserstein1": w1, "wasserstein1_relative": w1 / sd if sd > 0 else math.nan,
                      "values": int(a.numel()), "reference_values": int(b.numel())}
        arrays.update({"pdf/edges": edges.numpy(), "pdf/samples": da.numpy(), "pdf/reference": db.numpy()})
    if "moments" in chosen:
        summary, fields = M.moment_errors(x, y)
        out["moments"] = summary
        arrays.update({f"moments/{k}": v.numpy() for k, v in fields.items()})
    if "correlation" in chosen:
        dim = x.ndim - 2
        curves = []
        for data in (x, y):
            power = M.channel_power(torch.from_numpy(data), dim)[0]
            r, c = M.radial_correlation(power, float(data[:, 0].mean()), dim)
            curves.append(c / c[0] if float(c[0]) != 0 else c)
        diff = (curves[0] - curves[1]).abs()
        out["correlation"] = {"r": r.tolist(), "correlation": curves[0].tolist(), "reference": curves[1].tolist(),
                              "max_abs_error": float(diff.max()), "mean_abs_error": float(diff.mean()),
                              "note": "normalised C(r)/C(0) of channel 0, radially averaged"}
        arrays.update({"correlation/r": r.numpy(), "correlation/samples": curves[0].numpy(),
                       "correlation/reference": curves[1].numpy()})
    if "swd" in chosen:
        out["swd"] = {"sliced_wasserstein2": M.sliced_wasserstein(x, y, cfg.projections, gen),
                      "projections": cfg.projections}
    if "mmd" in chosen:
        out["mmd"] = M.mmd_rbf(x, y, cfg.mmd_samples, gen)
    if "modes" in chosen:
        out["modes"] = _modes(x, ref)


def _modes(x: np.ndarray, ref: Loaded) -> dict:
    if ref.mixture is not None:
        weights = M.mixture_mode_weights(x, ref.mixture)
        ref_w = ref.mixture.weights.to(torch.float64)
        method = "largest posterior under the reference mixture"
    else:
        res = M.principal_mode_weights(x, ref.x)
        weights, ref_w = res["weights"], res["reference_weights"]
        method = f"two modes split along the reference's principal axis at {res['threshold']:.6g}"
    minority = int(torch.argmin(ref_w))
    return {"weights": weights.tolist(), "reference_weights": ref_w.tolist(), "minority_weight": float(weights[minority]),
            "minority_reference_weight": float(ref_w[minority]), "minority_component": minority,
            "weight_error_max": float((weights - ref_w).abs().max()), "method": method}


def _plots(plot_dir: str, x, ref: Loaded | None, results: dict, arrays: dict) -> list[str]:
    from sictl.pipeline import plots

    os.makedirs(plot_dir, exist_ok=True)
    made = []
    if "spectrum" in results:
        path = os.path.join(plot_dir, "spectrum.png")
        plots.spectrum_figure(path, arrays["spectrum/k"], {"samples": arrays["spectrum/samples"],
                                                           "reference": arrays["spectrum/reference"]},
                              f"{results['spectrum']['kind']} spectrum, mean relative error "
                              f"{results['spectrum']['relative_error_mean']:.3g}")
        made.append(path)
    path = os.path.join(plot_dir, "samples.png")
    plots.samples_figure(path, x[:16], "samples")
    made.append(path)
    if "pdf/edges" in arrays:
        path = os.path.join(plot_dir, "pdf.png")
        plots.pdf_figure(path, arrays["pdf/edges"], {"samples": arrays["pdf/samples"], "reference": arrays["pdf/reference"]},
                         f"pointwise values, W1 = {results['pdf']['wasserstein1']:.3g}")
        made.append(path)
    return made


def check_outputs(report: str | None, plot_dir: str | None) -> None:
    """Fail before any work if the report or the plots cannot be written."""
    from sictl.io import check_writable

    if report is not None:
        check_writable(report)
    if plot_dir is not None:
        if os.path.exists(plot_dir) and not os.path.isdir(plot_dir):
            raise SchemaError(f"--plot {plot_dir}: exists and is not a directory", hint="give a directory for the PNG files")
        parent = os.path.dirname(os.path.abspath(plot_dir))
        if not os.path.isdir(parent):
            raise ConfigError(f"--plot {plot_dir}: directory {parent} does not exist", hint=f"mkdir -p {parent}")
