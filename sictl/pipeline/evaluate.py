"""`sictl evaluate`: compare samples with a reference (docs/cli.md, "sictl evaluate SAMPLES").

Inputs are sictl files (samples, datasets) or foreign arrays (``.npy/.npz/.pt/.h5`` with a key and a
layout, :mod:`sictl.io.foreign` and :mod:`sictl.pipeline.layout`); everything is compared in data
units as ``(n, C, *spatial)`` fields or ``(n, dim)`` vectors. The reference is a set of samples
(``--reference``: a dataset, samples file, foreign array or a mixture JSON file, whose exact law is
then sampled), or only a spectrum (``--reference-spectrum``). The metrics are the registry
:data:`sictl.pipeline.evaluate_metrics.METRICS`; their maths is in :mod:`sictl.core.fields.metrics`.

Non-finite samples are counted and reported; they make the evaluation fail unless ``allow_nan``, in
which case the finite ones are evaluated (and the count is still reported). They are never dropped
silently.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.exact.gmm import GaussianMixture
from sictl.core.fields import metrics as M
from sictl.errors import ConfigError, SchemaError, ShapeError, SictlError, UsageError
from sictl.pipeline.evaluate_metrics import METRICS, Inputs, choose_metrics
from sictl.pipeline.layout import resolve_layout, to_samples

__all__ = ["EvaluateConfig", "METRICS", "run", "load_samples"]

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
    truth: str | None = None  # forecast mode (sictl/pipeline/evaluate_forecast.py)
    truth_key: str | None = None
    truth_layout: str | None = None

    def validate(self) -> None:
        if self.truth is not None:
            from sictl.pipeline.evaluate_forecast import validate

            return validate(self)
        if (self.reference is None) == (self.reference_spectrum is None):
            raise (UsageError if self.reference is None else ConfigError)(  # none given: a usage error (exit 2)
                "give exactly one of --reference and --reference-spectrum",
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


def run(cfg: EvaluateConfig, *, plot_dir: str | None = None, device: str = "cpu",
        progress=None) -> tuple[dict, dict]:
    """Evaluate. Returns (JSON summary, arrays for the HDF5 report).

    ``progress(done, total)``, if given, is called as the metrics are computed.
    ``device`` is where the metrics' arithmetic runs (Fourier transforms, sorting, projections,
    kernels); inputs are read and random subsets and directions are drawn on the CPU, so the seed
    picks the same ones on every device.
    """
    if cfg.truth is not None:  # forecasts against the truth
        from sictl.pipeline.evaluate_forecast import run as run_forecast

        return run_forecast(cfg, plot_dir=plot_dir, device=device)
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
    chosen = choose_metrics(cfg.metrics, s.vector, ref is not None)
    summary: dict = {"samples": cfg.samples, "reference": cfg.reference, "reference_spectrum": cfg.reference_spectrum,
                     "layout": s.layout, "reference_layout": None if ref is None else ref.layout,
                     "n_samples": len(x), "n_samples_total": len(s.x), "nonfinite_samples": nonfinite,
                     "n_reference": None if ref is None else len(ref.x), "sample_shape": list(x.shape[1:]),
                     "metrics": {}}
    arrays: dict = {}
    dim = x.ndim - 2
    vorticity = cfg.vorticity if cfg.vorticity is not None else (
        dim == 2 and any(f in _VORTICITY_NAMES for f in (s.field, None if ref is None else ref.field) if f))
    inputs = Inputs(x, ref, cfg, gen, vorticity, device, arrays)
    todo = [name for name in METRICS if name in chosen]
    for done, name in enumerate(todo):
        if progress is not None:
            progress(done, len(todo))
        summary["metrics"][name] = METRICS[name].compute(inputs)
    if plot_dir is not None:
        summary["plots"] = _plots(plot_dir, x, ref, summary["metrics"], arrays)
    summary["inputs"] = {p: file_checksum(p) for p in (cfg.samples, cfg.reference, cfg.reference_spectrum)
                         if p is not None and p != "-"}
    summary["config"] = asdict(cfg)
    summary["seed"] = cfg.seed
    summary["wall_time_s"] = time.perf_counter() - started
    return summary, arrays


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
    plots.samples_figure(path, x[:16], "samples" if ref is None else "samples (top) and reference (bottom)",
                         reference=None if ref is None else ref.x[:16])
    made.append(path)
    if "pdf/edges" in arrays:
        path = os.path.join(plot_dir, "pdf.png")
        plots.pdf_figure(path, arrays["pdf/edges"], {"samples": arrays["pdf/samples"], "reference": arrays["pdf/reference"]},
                         f"pointwise values, W1 = {results['pdf']['wasserstein1']:.3g}")
        made.append(path)
    return made


PLOT_FILES = ("spectrum.png", "samples.png", "pdf.png")


def check_outputs(report: str | None, plot_dir: str | None, inputs: dict[str, str | None] | None = None) -> None:
    """Fail before any work if the report or the plots cannot be written, or if one of them is an
    input (option -> path in ``inputs``) or the other output."""
    from sictl.io import check_distinct, check_writable

    plots = None if plot_dir is None else [plot_dir, *(os.path.join(plot_dir, name) for name in PLOT_FILES)]
    check_distinct(inputs or {}, {"-o": report, "--plot": plots})
    if report is not None:
        check_writable(report)
    if plot_dir is not None:
        if os.path.exists(plot_dir) and not os.path.isdir(plot_dir):
            raise SchemaError(f"--plot {plot_dir}: exists and is not a directory", hint="give a directory for the PNG files")
        parent = os.path.dirname(os.path.abspath(plot_dir))
        if not os.path.isdir(parent):
            raise ConfigError(f"--plot {plot_dir}: directory {parent} does not exist", hint=f"mkdir -p {parent}")
