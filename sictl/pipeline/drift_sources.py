"""Where a drift comes from: the registry that turns a drift specification into a drift object.

A :class:`DriftSource` builds the drift under any schedule (``source.drift(schedule)``) and carries
what a samples file records about it. Sources are registered in :data:`DRIFT_SOURCES` by the name of
the ``sample`` option that selects them: ``exact`` (a Gaussian field dataset's stored per-mode power →
the Fourier-multiplier drift; a Gaussian mixture → its closed-form drift). A source whose drift is
defined under one schedule only (a trained network: its training schedule) sets ``native_schedule``;
``sample`` then re-times it to the sampling schedule by the transfer formula.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from sictl.core.exact.drifts import FourierGaussianDrift, GaussianMixtureDrift
from sictl.core.exact.gmm import GaussianMixture
from sictl.core.interpolants.schedules import Schedule, variance_preserving
from sictl.core.sampling.drift import Drift
from sictl.errors import ConfigError, SchemaError
from sictl.pipeline.targets import GaussianTarget, white_base_variance

__all__ = ["DriftSource", "DRIFT_SOURCES", "open_drift_source", "open_exact_source"]

_EMPTY = 1e-12  # modes with power ≤ _EMPTY × max power are empty: neither base nor target has them


@dataclass
class DriftSource:
    """Where the drift comes from. ``drift(schedule)`` is the drift defined under ``schedule``.

    Attributes:
        label: ``"exact:<path>"`` (later ``"checkpoint:<path>"``), recorded as ``@drift_source``.
        path, checksum: the file and its sha256 (``@drift_checksum``).
        sample_shape: ``(C, *spatial)`` or ``(dim,)`` of one sample.
        normalization_constant: multiply by it to get data units.
        native_schedule: the schedule the drift is defined under (a checkpoint's training schedule);
            None when the source can build its drift under any schedule (exact sources).
        vp_path: schedules are used on the variance-preserving path with their β (mixtures).
        default_lam: λ_min of a Gaussian target (the ``designed`` schedule's default ratio).
        info: JSON description.
        conditional: the drift is a point-source (forecasting) drift, ``info["kind"] == "point-source"``:
            ``build(schedule, condition, source)`` binds it to a batch of conditions (current states,
            (batch, *sample_shape)); it needs a point-source schedule, and the solver's diffusion is
            ε = g²/2 (:func:`sictl.core.interpolants.point_source.point_source_diffusion`).
    """

    label: str
    path: str
    checksum: str
    sample_shape: tuple[int, ...]
    build: object  # callable(schedule) -> Drift
    normalization_constant: float = 1.0
    native_schedule: Schedule | None = None
    vp_path: bool = False
    default_lam: float | None = None
    info: dict = field(default_factory=dict)
    conditional: bool = False

    def drift(self, schedule: Schedule, condition=None, source: str = "state") -> Drift:
        """The drift under ``schedule``; a conditional source binds it to ``condition`` (one per sample)
        with the point ``source`` (``state`` or ``zero``)."""
        if not self.conditional:
            return self.build(schedule)  # type: ignore[operator]
        if condition is None:
            raise ConfigError(f"{self.label} is a forecasting drift: it needs the current states to start from",
                              hint="give the conditions (e.g. sictl sample --condition FILE)")
        return self.build(schedule, condition, source)  # type: ignore[operator]


def _gaussian_source(path: str, ds, base: str, checksum: str) -> DriftSource:
    power = torch.as_tensor(ds.stats.mode_power, dtype=torch.float64)
    dim, n_pixels = power.ndim, power.numel()
    empty = power <= _EMPTY * float(power.max())
    name, _, arg = base.partition(":")
    if name == "spectral":
        if arg:
            from sictl.io import read_dataset

            other = read_dataset(arg)
            if other.stats is None or other.stats.mode_power is None or other.stats.mode_power.shape != power.shape:
                raise ConfigError(f"--base spectral:{arg}: needs a dataset with stats/mode_power on the grid {tuple(power.shape)}",
                                  hint="give a dataset of the same resolution made by `sictl prepare`, or plain --base spectral")
            base_power, info = torch.as_tensor(other.stats.mode_power, dtype=torch.float64), f"spectral ({arg})"
        else:
            base_power, info = power.clone(), "spectral (the dataset's own power)"
    else:
        mu, info = white_base_variance(base, n_pixels)
        base_power = torch.full_like(power, mu)
    excluded = empty | (base_power <= 0)
    target = torch.where(excluded, torch.zeros_like(power), power)
    base_power = torch.where(excluded, torch.zeros_like(base_power), base_power)
    lam = GaussianTarget(target, base_power, dim, power.shape[0], {}).ratio_min
    c = ds.meta.normalization.constant
    return DriftSource(
        f"exact:{path}", path, checksum, (1, *power.shape),
        lambda s: FourierGaussianDrift(s, target, base_power), normalization_constant=c, default_lam=lam,
        info={"kind": "gaussian-field", "grid": list(power.shape), "base": info, "ratio_min": lam,
              "modes_excluded": int(excluded.sum()), "normalization_constant": c},
    )


def _mixture_source(path: str, mixture: GaussianMixture, base: str, c: float, checksum: str) -> DriftSource:
    name, _, arg = base.partition(":")
    if name != "white":
        raise ConfigError(f"--base {base}: a mixture target takes white or white:σ0", hint="spectral noise needs a field dataset")
    base_var = float(arg) ** 2 if arg else 1.0  # the mixture is in stored units (a dataset's @mixture is)
    return DriftSource(
        f"exact:{path}", path, checksum, (mixture.dim,),
        lambda s: GaussianMixtureDrift(variance_preserving(s), mixture, base_var), normalization_constant=c,
        vp_path=True,
        info={"kind": "gmm", "dim": mixture.dim, "components": mixture.n_components, "base_var": base_var,
              "path": "variance-preserving", "normalization_constant": c},
    )


def _forecast_source(path: str, ds, base: str, checksum: str) -> DriftSource:
    """The exact point-source drift of a dataset of Ornstein–Uhlenbeck pairs (``sictl prepare ou-pairs --lag``)."""
    import json

    from sictl.core.exact.forecast import OUField

    where = f"{path} @forecast_target"
    try:
        spec = json.loads(ds.meta.attrs["forecast_target"])
        field_ = OUField(**spec["field"])
        dt = float(spec["dt"])
    except (ValueError, TypeError, KeyError) as exc:
        raise SchemaError(f"{where} is not a forecast description ({exc})", hint="regenerate it with `sictl prepare ou-pairs`") from None
    if spec.get("kind") != "ornstein-uhlenbeck":
        raise SchemaError(f"{where}: unknown kind {spec.get('kind')!r}", hint="regenerate it with `sictl prepare ou-pairs`")
    if not ds.meta.pairs_lag:
        raise ConfigError(f"{path} stores no forecasting pairs, so there is no lag to forecast over",
                          hint="make it with `sictl prepare ou-pairs --lag 1`")
    if base not in (None, "white"):
        raise ConfigError(f"--base {base}: a point-source drift starts from the current state, not from base noise",
                          hint="drop --base")
    c = ds.meta.normalization.constant
    lag = ds.meta.pairs_lag * dt
    target = field_.forecast(lag, scale=c)  # stored units: the field divided by c
    grid = target.grid
    return DriftSource(
        f"exact:{path}", path, checksum, (1, *grid), lambda s, cond, src: target.drift(s, cond, src),
        normalization_constant=c, conditional=True,
        info={"kind": "point-source", "target": "ornstein-uhlenbeck", "field": spec["field"], "lag_time": lag,
              "lag": ds.meta.pairs_lag, "grid": list(grid), "xi": "white", "normalization_constant": c},
    )


def open_exact_source(path: str, base: str | None = "white") -> DriftSource:
    """An exact drift source from a dataset file (Gaussian field or mixture) or a mixture JSON file."""
    base = base or "white"
    from sictl.io import file_checksum, mixture_from_json, read_dataset, read_mixture, read_provenance

    if str(path) != "-" and not os.path.exists(path):
        raise SchemaError(f"{path}: no such file", hint="give a dataset made by `sictl prepare` or a mixture JSON file")
    checksum = file_checksum(path)
    if str(path).endswith(".json"):
        return _mixture_source(path, read_mixture(path), base, 1.0, checksum)
    kind = read_provenance(path).kind
    if kind != "dataset":
        raise SchemaError(f"{path} is a '{kind}' file; --exact needs a dataset (or a mixture JSON file)",
                          hint="make one with `sictl prepare gaussian-field` or `sictl prepare gmm`")
    ds = read_dataset(path)
    if "forecast_target" in ds.meta.attrs:
        return _forecast_source(path, ds, base, checksum)
    if "field_mixture" in ds.meta.attrs:
        from sictl.pipeline.field_mixtures import field_mixture_drift_source

        return field_mixture_drift_source(path, base, checksum)
    if "mixture" in ds.meta.attrs:
        mixture = mixture_from_json(ds.meta.attrs["mixture"], f"{path} @mixture")
        if not ds.meta.vector or ds.meta.sample_shape != (mixture.dim,):
            raise SchemaError(f"{path}: @mixture has dimension {mixture.dim} but the samples are {ds.meta.sample_shape}",
                              hint="the file is inconsistent; regenerate it with `sictl prepare gmm` or pass the mixture JSON file")
        return _mixture_source(path, mixture, base, ds.meta.normalization.constant, checksum)
    if ds.meta.vector:
        raise ConfigError(f"{path} holds vectors but no @mixture attribute, so there is no exact drift",
                          hint="pass the mixture JSON file itself to --exact")
    if ds.stats is None or ds.stats.mode_power is None:
        raise ConfigError(f"{path} stores no per-mode power (stats/mode_power)", hint="datasets from `sictl prepare` carry it")
    return _gaussian_source(path, ds, base, checksum)


def open_model_source(path: str, base: str | None = None, *, weights: str = "ema", device: str = "cpu") -> DriftSource:
    """A trained network (a run folder or its ``model.safetensors``) as a drift source.

    The network's drift exists under its training schedule only (``native_schedule``), with the base
    noise it was trained with; ``sample`` transfers it to any other sampling schedule.

    Args:
        weights: ``ema`` (default) or ``raw``.
        base: must be None or the model's own base (a network cannot change its base noise).
    """
    from sictl.core.interpolants.schedules import VariancePreserving
    from sictl.io import read_run_checkpoint
    from sictl.models import build_model
    from sictl.models.drift import NetworkDrift
    from sictl.pipeline.train import checkpoint_base, checkpoint_schedule

    if weights not in ("ema", "raw"):
        raise ConfigError(f"--weights must be ema or raw, got {weights!r}", hint="ema (the default) or raw")
    ck = read_run_checkpoint(path, device="cpu")
    cfg = ck.config
    if base is not None and base != cfg["base"].get("spec", base):
        raise ConfigError(f"--base {base}: the model was trained with base {cfg['base'].get('spec')!r}",
                          hint="drop --base: a model samples from the base noise it was trained with")
    net = build_model(cfg["model"]["config"])
    state = ck.ema_weights if weights == "ema" else ck.weights
    if not state:
        raise ConfigError(f"{ck.path} holds no {weights} weights", hint="use --weights raw" if weights == "ema" else "")
    net.load_state_dict(state)
    net = net.to(device)
    if cfg.get("point_source"):
        return _point_source_model(ck, str(path), net, weights)
    schedule = checkpoint_schedule(cfg, ck.aux)
    drift = NetworkDrift(net, schedule, checkpoint_base(cfg, ck.aux), cfg["target"])
    native = schedule.inner if isinstance(schedule, VariancePreserving) else schedule
    c = float(cfg["data"]["normalization"]["constant"])
    return DriftSource(
        f"model:{path}", str(path), ck.checksum, tuple(cfg["sample_shape"]), lambda s: drift,
        normalization_constant=c, native_schedule=native, vp_path=isinstance(schedule, VariancePreserving),
        default_lam=cfg["base"].get("ratio_min"),
        info={"kind": "model", "weights": weights, "target": cfg["target"], "base": cfg["base"],
              "preset": cfg["model"]["preset"], "parameters": cfg["model"]["parameters"],
              "training_schedule": cfg["schedule"]["description"], "data_checksum": cfg["data"]["checksum"],
              "normalization_constant": c},
    )


def _point_source_model(ck, path: str, net, weights: str) -> DriftSource:
    """A forecasting checkpoint (``train --point-source``) as a conditional drift source."""
    from sictl.models.point_source import NetworkPointSourceDrift
    from sictl.pipeline.train_point_source import point_source_noise, point_source_schedule

    cfg = ck.config
    trained, noise, ps = point_source_schedule(cfg), point_source_noise(cfg, ck.aux), cfg["point_source"]
    c = float(cfg["data"]["normalization"]["constant"])

    def build(schedule, condition, source):
        if source != ps["source"]:
            raise ConfigError(f"the model was trained with the {ps['source']!r} source, not {source!r}",
                              hint="forecast with the model's own source")
        return NetworkPointSourceDrift(net, schedule, condition, source, noise)

    return DriftSource(
        f"model:{path}", path, ck.checksum, tuple(cfg["sample_shape"]), build, normalization_constant=c,
        native_schedule=trained, conditional=True,
        info={"kind": "point-source", "target": "model", "weights": weights, "source": ps["source"],
              "family": ps["family"], "c": ps["c"], "xi": ps["xi"].get("law"), "lag": ps.get("lag"),
              "preset": cfg["model"]["preset"], "parameters": cfg["model"]["parameters"],
              "data_checksum": cfg["data"]["checksum"], "normalization_constant": c},
    )


#: Drift sources by the ``sample`` option that names them: each opens a file with a base-noise spec.
DRIFT_SOURCES: dict[str, Callable[..., DriftSource]] = {
    "exact": open_exact_source,
    "model": open_model_source,
}


def open_drift_source(kind: str, path: str, base: str | None = None, **options) -> DriftSource:
    """Open the drift source ``kind`` (a key of :data:`DRIFT_SOURCES`) from ``path``."""
    if kind not in DRIFT_SOURCES:
        raise ConfigError(f"unknown drift source {kind!r}", hint=f"choose one of {', '.join(DRIFT_SOURCES)}")
    return DRIFT_SOURCES[kind](path, base, **options)
