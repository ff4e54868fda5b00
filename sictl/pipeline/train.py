"""`sictl train`: a dataset → a run folder (docs/train.md).

:func:`run` resolves everything before the first step (dataset, field, base noise, schedule,
network, run folder, resume state), so bad input fails at once with nothing written; then it runs
:class:`sictl.train.loop.Trainer` and writes through :mod:`sictl.io.runs` (rank 0 only under
torchrun): the log line by line, ``model.safetensors`` and ``state.safetensors`` at every checkpoint
and at the end, and the loss plot.

Base noise (the same laws as ``sictl sample``): for fields, ``white`` has unit variance per Fourier
mode, ``white:σ0`` pixel standard deviation σ0 (per-mode variance σ0²/n_pixels), ``spectral`` the
dataset's stored per-mode power; Fourier modes whose stored power is ≤ 1e-12 × the largest (the
mean mode of a Matérn field) are empty in the base too. Vectors take ``white[:σ0]``, N(0, σ0² I),
on the variance-preserving path with the schedule's β (as ``sample`` treats mixtures).
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from sictl.core.interpolants.schedules import make_schedule, variance_preserving
from sictl.core.sampling.noise import DiagonalNoise, FourierNoise
from sictl.errors import ConfigError, SchemaError
from sictl.train.data import BufferedSource, DataOrder
from sictl.train.distributed import DistInfo, init_from_env, shutdown
from sictl.train.loop import LoopOptions, Trainer
from sictl.train.objectives import TARGETS, Objective
from sictl.train.state import StateMismatch

__all__ = ["COMPARED", "KILL_HOOK", "NAN_HOOK", "TrainConfig", "run"]

#: Test-only hooks (environment variables): make the loss of step K NaN; SIGKILL the process after step K.
NAN_HOOK, KILL_HOOK = "SICTL_TEST_NAN_AT_STEP", "SICTL_TEST_KILL_AFTER_STEP"
_EMPTY = 1e-12
#: Options that must be unchanged on --resume (they change the weights); the rest may change.
COMPARED = ("field", "schedule", "base", "target", "model", "channels", "mults", "attention", "steps", "batch_size",
            "lr", "warmup", "lr_final", "weight_decay", "clip", "ema", "t_min", "t_max", "memory_budget", "seed",
            "precision", "point_source", "sigma_scale", "weighted_loss")


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Every option of `sictl train` (docs/train.md); serialised into the checkpoint."""

    data: str
    field: str | None = None
    schedule: str = "linear"
    base: str = "white"
    target: str = "velocity"
    model: str = "small"
    channels: int | None = None
    mults: str | None = None
    attention: str | None = None
    steps: int = 10000
    batch_size: int = 64
    lr: float = 2e-4
    warmup: int = 100
    lr_final: float = 0.0
    weight_decay: float = 0.01
    clip: float = 1e4
    ema: float = 0.999
    t_min: float = 1e-4
    t_max: float = 1 - 1e-4
    val: str | None = None
    val_every: int | None = None
    val_n: int = 256
    checkpoint_every: int = 1000
    log_every: int = 10
    memory_budget: float = 1024.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    point_source: str | None = None
    sigma_scale: float = 1.0
    weighted_loss: bool = False

    def validate(self) -> None:
        def need(ok: bool, message: str, hint: str) -> None:
            if not ok:
                raise ConfigError(message, hint=hint)

        need(self.steps >= 1 and self.batch_size >= 1, f"--steps and --batch-size must be ≥ 1, got {self.steps}, "
             f"{self.batch_size}", "e.g. --steps 5000 --batch-size 64")
        need(self.lr > 0 and math.isfinite(self.lr), f"--lr must be > 0, got {self.lr}", "e.g. --lr 2e-4")
        need(self.warmup >= 0 and 0 <= self.lr_final <= 1 and self.weight_decay >= 0,
             "--warmup, --weight-decay must be ≥ 0 and --lr-final in [0, 1]", "e.g. --warmup 100 --lr-final 0")
        need(self.clip >= 0, f"--clip must be ≥ 0 (0 = no clipping), got {self.clip}", "e.g. --clip 1.0")
        need(0 <= self.ema < 1, f"--ema must be in [0, 1), got {self.ema}", "e.g. --ema 0.999 (0: EMA = raw weights)")
        need(0 <= self.t_min < self.t_max <= 1, f"need 0 ≤ --t-min < --t-max ≤ 1, got {self.t_min}, {self.t_max}",
             "e.g. --t-min 1e-4 --t-max 0.9999")
        need(self.target in TARGETS, f"--target must be one of {', '.join(TARGETS)}, got {self.target!r}",
             "velocity learns b(t, x); denoiser learns E[x1 | x_t]")
        need(self.precision in ("fp32", "bf16"), f"--precision must be fp32 or bf16, got {self.precision!r}",
             "bf16 autocast works on CUDA only")
        need(self.precision == "fp32" or self.device.startswith("cuda"), "--precision bf16 needs a CUDA device",
             "use --precision fp32 on the CPU")
        need(self.checkpoint_every >= 1 and self.log_every >= 1 and self.val_n >= 1 and
             (self.val_every is None or self.val_every >= 1),
             "--checkpoint-every, --log-every, --val-every and --val-n must be ≥ 1", "e.g. --checkpoint-every 1000")
        need(self.memory_budget > 0, f"--memory-budget must be > 0 MiB, got {self.memory_budget}", "e.g. --memory-budget 1024")
        need(self.point_source in (None, "zero", "state"), f"--point-source must be zero or state, got {self.point_source!r}",
             "zero learns the increment x1 − x0; state starts from the current state")
        need(self.sigma_scale > 0 and math.isfinite(self.sigma_scale), f"--sigma-scale must be > 0, got {self.sigma_scale}",
             "σ(t) = c(1 − t): e.g. --sigma-scale 1")
        need(self.point_source is None or self.target == "velocity", "--point-source learns the drift: --target velocity",
             "drop --target denoiser")
        need(self.point_source is not None or not self.weighted_loss, "--weighted-loss needs --point-source",
             "the (1 − t) weight is for the point-source objective")
        need(self.val is not None or self.val_every is None, "--val-every needs --val FILE", "give the held-out dataset with --val")

    def compared(self) -> dict:
        return {k: getattr(self, k) for k in COMPARED}


def _flag(key: str) -> str:
    return {"data": "DATA (dataset contents)", "schedule_checksum": "--schedule (file contents)"}.get(
        key, "--" + key.replace("_", "-"))


# ---------------------------------------------------------------------------------------- setup


@dataclass
class _Setup:
    objective: Objective
    model: torch.nn.Module
    aux: dict
    config: dict  # static part of the checkpoint metadata
    rows: object
    val: torch.Tensor | None
    reader: object = None


def _dataset(cfg: TrainConfig):
    from sictl.io import DatasetRows, read_dataset

    if str(cfg.data) == "-":
        raise ConfigError("train reads its dataset many times: give a file, not -", hint="save the stream to a file first")
    ds = read_dataset(cfg.data)
    field = cfg.field or (ds.stats.field if ds.stats is not None and len(ds.meta.field_names) > 1 else None)
    if field is not None and field not in ds.meta.field_names:
        raise ConfigError(f"{cfg.data} has no field {field!r}; it holds {list(ds.meta.field_names)}", hint="choose one with --field")
    if ds.n_samples < 1:
        raise SchemaError(f"{cfg.data} holds no samples", hint="regenerate it with `sictl prepare`")
    return ds, DatasetRows(cfg.data, field), field


def _base(cfg: TrainConfig, ds, shape: tuple[int, ...]) -> tuple[object, dict, dict, float | None]:
    """(noise law, aux tensors, description, λ_min of target/base for `designed`)."""
    from sictl.pipeline.targets import GaussianTarget, white_base_variance

    name, _, arg = cfg.base.partition(":")
    if ds.meta.vector:
        if name != "white":
            raise ConfigError(f"--base {cfg.base}: vector data take white or white:σ0 (N(0, σ0² I))",
                              hint="a spectral base needs a field dataset")
        var = float(arg) ** 2 if arg else 1.0
        if not (var > 0 and math.isfinite(var)):
            raise ConfigError(f"--base white:σ0 needs σ0 > 0, got {arg}", hint="e.g. --base white:1")
        return DiagonalNoise(torch.tensor(var, dtype=torch.float64)), {}, {"spec": cfg.base, "law": "diagonal",
                                                                           "variance": var}, None
    if ds.stats is None or ds.stats.mode_power is None:
        raise SchemaError(f"{cfg.data} stores no per-mode power (stats/mode_power), which training needs for its base noise",
                          hint="field datasets made by `sictl prepare` carry it; regenerate the file")
    power = torch.as_tensor(ds.stats.mode_power, dtype=torch.float64)
    if tuple(power.shape) != shape[1:]:
        raise SchemaError(f"{cfg.data}: stats/mode_power {tuple(power.shape)} does not match the field grid {shape[1:]}",
                          hint="regenerate the file with `sictl prepare`")
    if name == "spectral" and not arg:
        base_power, described = power.clone(), "spectral (the dataset's own power)"
    elif name == "spectral":
        raise ConfigError(f"--base {cfg.base}: train takes the dataset's own spectrum (plain `spectral`)",
                          hint="use --base spectral, white or white:σ0")
    else:
        mu, described = white_base_variance(cfg.base, power.numel())
        base_power = torch.full_like(power, mu)
    excluded = (power <= _EMPTY * float(power.max())) | (base_power <= 0)
    base_power = torch.where(excluded, torch.zeros_like(base_power), base_power)
    target = torch.where(excluded, torch.zeros_like(power), power)
    lam = GaussianTarget(target, base_power, power.ndim, power.shape[0], {}).ratio_min if power.shape[0] % 2 == 0 \
        and len(set(power.shape)) == 1 else None
    info = {"spec": cfg.base, "law": "fourier", "description": described, "power": "aux.base_power",
            "modes_excluded": int(excluded.sum()), "ratio_min": lam}
    return FourierNoise(base_power), {"base_power": base_power}, info, lam


def _schedule(cfg: TrainConfig, default_lam: float | None, vector: bool) -> tuple[object, dict, dict]:
    """(schedule, aux tensors, description) of --schedule."""
    from sictl.io import description_checksum

    spec, aux = cfg.schedule, {}
    if os.sep in spec or spec.endswith((".h5", ".hdf5")) or os.path.exists(spec):
        from sictl.io import read_schedule
        from sictl.pipeline.schedule_files import load_schedule

        sched, checksum, described = load_schedule(spec)
        table = read_schedule(spec)
        aux = {f"schedule.{c}": torch.as_tensor(np.asarray(getattr(table, c), dtype=np.float64))
               for c in ("t", "alpha", "beta", "alpha_dot", "beta_dot")}
        info = {"spec": spec, "source": "file", "family": described["family"], "params": described["params"],
                "checksum": checksum, "table": sorted(f"aux.{k}" for k in aux)}
    else:
        sched = make_schedule(spec, default_lam=default_lam)
        params = sched.describe()
        described = {"family": params.pop("name"), "params": params}
        info = {"spec": spec, "source": "name", "family": described["family"], "params": params,
                "checksum": description_checksum(described), "table": None}
    info["description"] = described
    info["variance_preserving"] = vector
    return (variance_preserving(sched) if vector else sched), aux, info


def _model(cfg: TrainConfig, shape: tuple[int, ...], cond_channels: int = 0) -> tuple[torch.nn.Module, dict]:
    from sictl.models import count_parameters, make_model

    overrides = {"channels": cfg.channels}
    for key, text in (("mults", cfg.mults), ("attention", cfg.attention)):
        if text is None:
            continue
        try:
            overrides[key] = () if text.strip() in ("", "none") else tuple(int(v) for v in text.split(","))
        except ValueError:
            raise ConfigError(f"--{key} {text!r}: expected comma-separated integers", hint="e.g. --mults 1,2,2 --attention -1") from None
    torch.manual_seed(cfg.seed)
    try:
        model = make_model(cfg.model, shape, cond_channels=cond_channels, **overrides)
    except ValueError as exc:
        raise ConfigError(f"--model {cfg.model} does not fit the data {shape}: {exc}",
                          hint="choose tiny/small/medium, fewer levels (--mults) or a grid divisible by 2^(levels-1)") from None
    return model, {"preset": cfg.model, "overrides": {k: v for k, v in overrides.items() if v is not None},
                   "config": model.config.to_dict(), "parameters": count_parameters(model)}


def _setup(cfg: TrainConfig) -> _Setup:
    from sictl.io import file_checksum

    if cfg.point_source is not None:
        from sictl.pipeline.train_point_source import point_source_setup

        return point_source_setup(cfg)
    ds, reader, field = _dataset(cfg)
    nodes = ds.meta.attrs.get("fft_nodes")
    stored = tuple(ds.meta.sample_shape)
    spatial = stored if nodes is None else (*stored[:-1], int(nodes))
    shape = stored if ds.meta.vector else (1, *spatial)
    crop = None if nodes is None else (lambda a, n=int(nodes): np.ascontiguousarray(a[..., :n]))
    base, aux, base_info, lam = _base(cfg, ds, shape)
    sched, sched_aux, sched_info = _schedule(cfg, lam, ds.meta.vector)
    model, model_info = _model(cfg, shape)
    # blocks of ≤ 1 MiB (and ≤ 1/16 of the budget); a buffer of blocks takes ≤ half the budget (the
    # other half is the transient copy made while a buffer is assembled)
    sample_bytes, budget = 4 * int(np.prod(stored)), int(cfg.memory_budget * (1 << 20))
    block = max(1, min(1 << 20, budget // 16) // sample_bytes)
    buffer_blocks = max(1, budget // (2 * block * sample_bytes))
    order = DataOrder(ds.n_samples, block, buffer_blocks, cfg.seed)
    source = BufferedSource(order, reader.read, crop)
    val, val_info = None, None
    if cfg.val is not None:
        val, val_info = _validation(cfg, ds, stored, crop, field)
    c = ds.meta.normalization
    config = {
        "sample_shape": list(shape), "target": cfg.target, "model": model_info, "schedule": sched_info, "base": base_info,
        "objective": {"t_min": cfg.t_min, "t_max": cfg.t_max, "loss": "squared error summed over channels and "
                      "pixels, mean over the batch", "network_output": "b(t, x)" if cfg.target == "velocity" else "E[x1 | x_t]"},
        "data": {"path": str(cfg.data), "checksum": file_checksum(cfg.data), "field": field or ds.meta.field_names[0],
                 "dataset_name": ds.meta.dataset_name, "source": ds.meta.source, "stored_shape": list(stored),
                 "fft_nodes": nodes, "n_samples": ds.n_samples, "n_trajectories": ds.n_trajectories, "vector": ds.meta.vector,
                 "boundary": ds.meta.boundary, "normalization": {"scheme": c.scheme, "constant": c.constant},
                 "order": order.describe()},
        "validation": val_info, "weights": {"raw": "", "ema": "ema.", "aux": "aux."},
        "options": asdict(cfg), "seed": cfg.seed,
    }
    objective = Objective(cfg.target, sched, base, shape, cfg.t_min, cfg.t_max)
    return _Setup(objective, model, {**aux, **sched_aux}, config, source.rows, val, reader)


def _validation(cfg: TrainConfig, ds, stored, crop, field) -> tuple[torch.Tensor, dict]:
    from sictl.io import DatasetRows, file_checksum, read_dataset

    vd = read_dataset(cfg.val)
    if tuple(vd.meta.sample_shape) != stored or vd.meta.vector != ds.meta.vector:
        raise ConfigError(f"--val {cfg.val}: samples of shape {vd.meta.sample_shape}, the training data {stored}",
                          hint="use the held-out part of the same dataset (sictl prepare --split)")
    a, b = vd.meta.normalization.constant, ds.meta.normalization.constant
    if abs(a - b) > 1e-6 * b:
        raise ConfigError(f"--val {cfg.val} is normalised by {a}, the training data by {b}",
                          hint="use files written together by `sictl prepare --split` (they share the constant)")
    n = min(cfg.val_n, vd.n_samples)
    rows = DatasetRows(cfg.val, field if field in vd.meta.field_names else None)
    x = rows.read_indices(np.unique(np.linspace(0, vd.n_samples - 1, n).round().astype(np.int64)))
    rows.close()
    x = crop(x) if crop is not None else x
    return torch.from_numpy(np.ascontiguousarray(x)), {"path": str(cfg.val), "checksum": file_checksum(cfg.val),
                                                        "n": len(x), "every": cfg.val_every or cfg.checkpoint_every}


# ------------------------------------------------------------------------------------------ run


def _check_resume(cfg: TrainConfig, meta: dict, config: dict) -> None:
    before = dict(meta.get("compared", {}))
    now = {**cfg.compared(), "data": config["data"]["checksum"], "schedule_checksum": config["schedule"]["checksum"]}
    changed = [k for k in now if k in before and before[k] != now[k]]
    if changed:
        def show(value):
            return f"{value[:19]}…" if isinstance(value, str) and value.startswith("sha256:") else repr(value)

        detail = ", ".join(f"{_flag(k)} ({show(before[k])} → {show(now[k])})" for k in changed)
        raise ConfigError(f"--resume with changed options: {detail}",
                          hint="resume with the original options, or start a new run (another -o, or --force)")


def _env_step(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    return int(value) if value.isdigit() else None


def run(cfg: TrainConfig, run_dir: str, *, resume: bool = False, force: bool = False, progress=None) -> dict:
    """Train and write the run folder. Returns the JSON summary (on every rank).

    Args:
        cfg: the options.
        run_dir: the run folder (``-o``).
        resume: continue from ``run_dir/state.safetensors``; refused if an option in :data:`COMPARED`
            (or the dataset or schedule file contents) changed.
        force: start over in a folder that holds a run.
        progress: called as ``progress(step, total, record)`` after every step (rank 0 only).
    """
    from sictl.io import prepare_run_dir

    info, device = init_from_env(cfg.device)
    try:
        cfg.validate()
        if cfg.batch_size % info.world:
            raise ConfigError(f"--batch-size {cfg.batch_size} is not divisible by the {info.world} processes",
                              hint="the global batch is split evenly over the ranks; choose a multiple")
        paths = prepare_run_dir(run_dir, resume=resume, force=force, create=False)
        return _run(cfg, paths, info, device, resume, force, progress)
    finally:
        shutdown(info)


def _run(cfg: TrainConfig, paths, info: DistInfo, device: str, resume: bool, force: bool, progress) -> dict:
    from sictl.io import LogWriter, read_training_state, write_run_checkpoint, write_training_state

    setup = _setup(cfg)
    setup.model.to(device)
    opts = LoopOptions(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr, warmup=cfg.warmup, lr_final=cfg.lr_final,
                       weight_decay=cfg.weight_decay, clip=cfg.clip, ema=cfg.ema, log_every=cfg.log_every,
                       checkpoint_every=cfg.checkpoint_every, val_every=(cfg.val_every or cfg.checkpoint_every) if cfg.val else 0,
                       precision=cfg.precision, seed=cfg.seed)
    trainer = Trainer(setup.model, setup.objective, opts, setup.rows, info, device, val=setup.val,
                      inject_nan_at=_env_step(NAN_HOOK))
    compared = {**cfg.compared(), "data": setup.config["data"]["checksum"],
                "schedule_checksum": setup.config["schedule"]["checksum"]}
    start_step, wall_before = 0, 0.0
    if resume:
        tensors, meta = read_training_state(paths.state)
        _check_resume(cfg, meta, setup.config)
        try:
            trainer.restore(tensors, meta["trainer"])
        except (StateMismatch, KeyError) as exc:
            raise SchemaError(f"{paths.state} does not fit this model and optimizer ({exc})",
                              hint="the state belongs to another run; start over with --force") from None
        start_step, wall_before = trainer.step, float(trainer.progress.get("wall_time_s", 0.0))
    main = info.is_main
    if main:
        os.makedirs(paths.root, exist_ok=True)
        if force and not resume:
            for stale in (paths.model, paths.state, paths.plot):
                if os.path.exists(stale):
                    os.remove(stale)
    log = LogWriter(paths.log, keep_until=start_step if resume else None, enabled=main)
    started = time.perf_counter()
    kill_after = _env_step(KILL_HOOK)

    def metadata(t: Trainer) -> dict:
        p = t.progress
        return {**setup.config, "step": t.step, "steps": cfg.steps, "complete": t.step >= cfg.steps,
                "world_size": info.world, "wall_time_s": p["wall_time_s"],
                "ema": {"decay": cfg.ema, "n_averaged": int(t.ema.n_averaged)},
                "losses": {"last": p["last"], "best_loss": p["best_loss"], "best_loss_step": p["best_loss_step"],
                           "best_val_loss": p["best_val_loss"], "best_val_step": p["best_val_step"]}}

    def on_log(record: dict) -> None:
        log.write({**record, "time_s": round(wall_before + time.perf_counter() - started, 3)})

    def on_checkpoint(t: Trainer) -> None:
        t.progress["wall_time_s"] = wall_before + time.perf_counter() - started
        if not main:
            return
        raw, ema = t.weights()
        write_run_checkpoint(paths.model, raw, ema, setup.aux, metadata(t))
        tensors, meta = t.capture()
        write_training_state(paths.state, tensors, {"compared": compared, "trainer": meta, "options": asdict(cfg)})
        _plot(log.records, paths.plot)

    def on_step(t: Trainer) -> None:
        if progress is not None and main:
            progress(t.step, cfg.steps, t.progress.get("last"))
        if kill_after is not None and t.step == kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    try:
        trainer.run(on_log=on_log, on_checkpoint=on_checkpoint, on_step=on_step)
        if start_step >= cfg.steps and main and not os.path.exists(paths.model):
            on_checkpoint(trainer)
    finally:
        log.close()
        setup.reader.close()
    p = trainer.progress
    p.setdefault("wall_time_s", wall_before + time.perf_counter() - started)
    return {"run": paths.root, "model": paths.model, "state": paths.state, "log": paths.log, "plot": paths.plot,
            "steps": trainer.step, "resumed_from": start_step if resume else None, "world_size": info.world,
            "device": device, "parameters": setup.config["model"]["parameters"], "model_preset": cfg.model,
            "sample_shape": setup.config["sample_shape"], "target": cfg.target, "schedule": cfg.schedule, "base": cfg.base,
            "final_loss": (p["last"] or {}).get("loss"), "final_ema_loss": (p["last"] or {}).get("ema_loss"),
            "best_loss": p["best_loss"], "best_val_loss": p["best_val_loss"], "best_val_step": p["best_val_step"],
            "final_val_loss": (p["last"] or {}).get("val_loss"), "wall_time_s": p["wall_time_s"],
            "session_time_s": time.perf_counter() - started, "config": asdict(cfg)}


# ------------------------------------------------------------------------- reading a checkpoint back


def checkpoint_schedule(config: dict, aux: dict):
    """The training schedule of a checkpoint (``RunCheckpoint.config``, ``.aux``), without the file it
    may have come from: a stored table is rebuilt by :func:`schedule_from_table` (closed forms exactly,
    anything else as the tabulated interpolant); a named schedule from its family and parameters.
    Vector models get the variance-preserving path they were trained on."""
    from types import SimpleNamespace

    from sictl.core.interpolants.schedules import Designed, DesignedPair
    from sictl.pipeline.schedule_files import schedule_from_table

    info = config["schedule"]
    family, params = info["family"], dict(info["params"])
    if info.get("table"):
        cols = {c: aux[f"schedule.{c}"].numpy() for c in ("t", "alpha", "beta", "alpha_dot", "beta_dot")}
        sched = schedule_from_table(SimpleNamespace(family=family, params=params, **cols), info["spec"])
    elif family == "designed" and "lam_lo" in params:
        sched = DesignedPair(float(params["lam_lo"]), float(params["lam_hi"]))
    elif family == "designed":
        sched = Designed(float(params["lam"]))
    else:
        sched = make_schedule(family)
    return variance_preserving(sched) if info.get("variance_preserving") else sched


def checkpoint_base(config: dict, aux: dict):
    """The base-noise law a checkpoint was trained with (``sample(shape, *, generator, like)``)."""
    base = config["base"]
    if base["law"] == "fourier":
        return FourierNoise(aux["base_power"].to(torch.float64))
    return DiagonalNoise(torch.tensor(float(base["variance"]), dtype=torch.float64))


def _plot(records: list[dict], path: str) -> None:
    from sictl.pipeline.train_plots import loss_figure

    loss_figure(records, path)  # without matplotlib (optional) the run goes on without its plot
