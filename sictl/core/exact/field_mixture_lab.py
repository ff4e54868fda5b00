"""The field-mixture laboratory: a :class:`~sictl.core.exact.field_mixture.FieldMixture` as a target of
`design-schedule` and `gaussian-check`, with the solver error measured against a reference solution.

**The error.** The generated law of a mixture has no closed form, so the solver is judged path by path:
the same base draws z (``samples`` fields from ``seed``) are carried by the solver on its grid and by a
reference solution of the same ODE — ``unipc3`` (fourth order) with ``reference_steps`` uniform log-SNR
steps from ℓ = −½ ln r_max − :data:`MARGIN` (where x_t and z differ by e^{−2·MARGIN} in variance) to
ℓ = −½ ln r_min + :data:`MARGIN` (where the base has left a fraction e^{−2·MARGIN} of the smallest ratio),
i.e. the flow map from t ≈ 0 to t ≈ 1. Reported: the relative error of the shell-averaged power of the
solver's fields against the reference fields' per shell κ = 1..N/2 (max, mean), the path-wise error per
shell √(Σ|x̂ − x̂_ref|²/Σ|x̂_ref|²), and per sample the relative L2 distance ‖x − x_ref‖/‖x_ref‖ (mean, max).
Sampling noise is common to both runs, so it does not hide the solver error. The reference's own error is
checked in tests/core/test_field_mixture.py (``rk4`` with 4000 steps agrees).

**Computation.** The components and the base being Fourier-diagonal, a field under the exact drift or
any ODE solver keeps x̂_k = g_c x̂_k(0) on classes c of modes with equal powers
(:class:`~sictl.core.exact.field_mixture.ModeClasses`): ODE solvers and the reference run on the class
gains (:class:`~sictl.core.exact.field_mixture.ReducedMixtureDrift`, exact to round-off, no FFT);
stochastic solvers on the fields.

**Design.** The Lipschitz quantities and the designed schedule are those of the components' Gaussian
envelope (a Gaussian with the extreme ratios S_jk/S0_k over all components): an approximation of the
mixture's, labelled so in :meth:`FieldMixtureTarget.describe`. Grids are designed (:meth:`grid_model`) on
the path-wise shell error against the reference run, on base draws from seed + :data:`DESIGN_SEED_OFFSET`,
and judged on the laboratory's own draws: the spectral error of a few dozen draws alone can be tuned to
those draws (0.02 % on them, 6 % on others, N = 32), the path-wise error cannot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sictl.core.exact.field_mixture import FieldMixture, FieldMixtureDrift, ModeClasses, ReducedMixtureDrift
from sictl.core.exact.gaussian import generated_variance
from sictl.core.exact.grid_design import GaussianProblem
from sictl.core.exact.grid_recursion import recursion_spec
from sictl.core.exact.mixture_grid import MixtureLabModel, _assignment, class_errors, coarsen
from sictl.core.exact.targets import Design, GaussianTarget
from sictl.core.fields import spectra
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import Solver, make_solver
from sictl.errors import ConfigError

__all__ = ["MARGIN", "DESIGN_SEED_OFFSET", "FieldMixtureTarget", "path_errors"]

#: log-SNR margin of the reference window beyond the extreme ratios' transitions
MARGIN = 8.0
#: grids are designed on base draws from seed + this offset and judged on those from seed (held out)
DESIGN_SEED_OFFSET = 1000


def path_errors(x: Tensor, ref: Tensor, n: int, dim: int) -> tuple[dict, Tensor]:
    """Errors of fields ``x`` against reference fields ``ref`` (same shape, (..., *grid)).

    Returns:
        (summary, per-shell relative error of the shell-averaged power, κ = 1..n/2).
    """
    p_x = spectra.shell_mean(spectra.mode_power(x.double(), dim), n, dim)
    p_ref = spectra.shell_mean(spectra.mode_power(ref.double(), dim), n, dim)
    p_diff = spectra.shell_mean(spectra.mode_power((x - ref).double(), dim), n, dim)
    shell = (p_x - p_ref).abs() / p_ref
    flat_x, flat_r = x.reshape(-1, n**dim).double(), ref.reshape(-1, n**dim).double()
    per_sample = (flat_x - flat_r).norm(dim=1) / flat_r.norm(dim=1)
    path = (p_diff / p_ref).sqrt()
    return {"spectral_error_mean": float(shell.mean()), "spectral_error_max": float(shell.max()),
            "path_error_mean": float(path.mean()), "path_error_max": float(path.max()),
            "sample_error_mean": float(per_sample.mean()), "sample_error_max": float(per_sample.max())}, shell


@dataclass
class FieldMixtureTarget:
    """A field mixture over a Fourier-diagonal base (power ``base_power`` on the full FFT grid).

    Attributes:
        samples, seed: the base draws of the laboratory.  reference_steps: steps of the reference run.
    """

    mixture: FieldMixture
    base_power: Tensor
    info: dict = field(default_factory=dict)
    checksum: str | None = None
    samples: int = 64
    seed: int = 0
    reference_steps: int = 2000

    def __post_init__(self):
        grid = (self.mixture.n,) * self.mixture.dim
        self.base_power = torch.as_tensor(self.base_power, dtype=torch.float64).expand(grid).clone()
        self.powers = self.mixture.powers()
        live = (self.base_power > 0) & (self.powers > 0)
        ratios = (self.powers / torch.where(self.base_power > 0, self.base_power, torch.ones_like(self.base_power)))[live]
        if ratios.numel() == 0:
            raise ConfigError("the field mixture has no mode with positive power in a component and the base",
                              hint="check the base noise (--base)")
        self.ratio_min, self.ratio_max = float(ratios.min()), float(ratios.max())
        r = torch.tensor([self.ratio_min, self.ratio_max], dtype=torch.float64)
        self.envelope = GaussianTarget(r, torch.ones_like(r), None, None, {"kind": "ratios"})
        self._references: dict = {}
        self._base: dict[int, Tensor] = {}
        self._classes: ModeClasses | None = None

    # ---------------------------------------------------------------- what design-schedule asks
    def describe(self) -> dict:
        return {**self.info, **self.mixture.to_dict(), "ratio_min": self.ratio_min, "ratio_max": self.ratio_max,
                "regularity": "Lipschitz, A2 and the designed schedule of the components' Gaussian envelope "
                              "(the extreme ratios over all components)",
                "lab": {"samples": self.samples, "seed": self.seed, "reference": f"unipc3, {self.reference_steps} "
                        f"uniform log-SNR steps, margin {MARGIN:g}", "design_seed": self.seed + DESIGN_SEED_OFFSET}}

    def path(self, schedule: Schedule) -> Schedule:
        return schedule

    def a2(self, schedule: Schedule) -> float:
        return self.envelope.a2(schedule)

    def lipschitz(self, schedule: Schedule) -> float:
        return self.envelope.lipschitz(schedule)

    def kinetic(self, schedule: Schedule) -> float:
        return self.envelope.kinetic(schedule)

    def lipschitz_profile(self, schedule: Schedule, ts: Tensor) -> Tensor:
        return self.envelope.lipschitz_profile(schedule, ts)

    def profile(self, criterion: str = "a2"):
        return self.envelope.profile(criterion)

    def design(self, criterion: str = "a2", *, rescale: bool = True) -> Design:
        made = self.envelope.design(criterion, rescale=rescale)
        made.note = "the design of the components' Gaussian envelope (extreme ratios over all components)"
        return made

    def problems(self) -> list[GaussianProblem]:
        """Each component as a Gaussian measured by shells (the grid-design objective)."""
        shells = spectra.shell_index(self.mixture.n, self.mixture.dim) - 1
        return [GaussianProblem(p, self.base_power, shells) for p in self.powers]

    # ---------------------------------------------------------------- the laboratory
    def named_schedule(self, spec: str) -> Schedule:
        return self.envelope.named_schedule(spec)

    def schedule_report(self, schedule: Schedule, checksum: str | None = None) -> dict:
        out = self.envelope.schedule_report(schedule, checksum)
        out["note"] = "of the components' Gaussian envelope"
        return out

    def drift(self, schedule: Schedule) -> FieldMixtureDrift:
        return FieldMixtureDrift(schedule, self.powers, self.mixture.weights, self.base_power)

    @property
    def classes(self) -> ModeClasses:
        if self._classes is None:
            self._classes = ModeClasses.of(self.powers, self.base_power, self.mixture.n, self.mixture.dim)
        return self._classes

    def base_draws(self, seed: int | None = None) -> Tensor:
        """``samples`` base fields from ``seed`` (default: the laboratory's), float64."""
        seed = self.seed if seed is None else seed
        if seed not in self._base:
            gen = torch.Generator().manual_seed(seed)
            like = torch.empty(0, dtype=torch.float64)
            self._base[seed] = self.drift(self.envelope.named_schedule("linear")).sample_base(
                (self.samples, *self.powers.shape[1:]), generator=gen, like=like)
        return self._base[seed]

    def reference_grid(self, schedule: Schedule) -> Tensor:
        """The reference run's grid: uniform in log-SNR over the window of the module docstring."""
        lo = -0.5 * math.log(self.ratio_max) - MARGIN
        hi = -0.5 * math.log(self.ratio_min) + MARGIN
        ts = schedule.time_at_log_snr(torch.linspace(lo, hi, self.reference_steps + 1, dtype=torch.float64))
        if not (float(ts[0]) > 0 and float(ts[-1]) < 1 and bool((torch.diff(ts) > 0).all())):
            raise ConfigError(f"the reference window ℓ ∈ [{lo:.3g}, {hi:.3g}] is not resolved by this schedule's times",
                              hint="use a schedule whose log-SNR covers the window (linear, trig or designed)")
        return ts

    def reference(self, schedule: Schedule, seed: int | None = None, classes: ModeClasses | None = None
                  ) -> tuple[Tensor, Tensor]:
        """(class energies, class gains of the reference run) of the base draws from ``seed`` (once each).

        The reference is the ``unipc3`` recursion on the class gains (:meth:`MixtureLabModel.run`, the real
        steps in numpy), on :meth:`reference_grid`."""
        seed = self.seed if seed is None else seed
        classes = self.classes if classes is None else classes
        key = (repr(schedule.describe()), seed, len(classes.counts))
        if key not in self._references:
            energies = self.classes.energies(self.base_draws(seed))
            if classes is not self.classes:
                energies = energies @ _assignment(self.classes, classes)
            model = MixtureLabModel(classes, self.mixture.weights, energies, self.mixture.n // 2)
            v = schedule(self.reference_grid(schedule))
            g = model.run(v.alpha.numpy()[None], v.beta.numpy()[None], recursion_spec(make_solver("unipc3")))[0]
            self._references[key] = (energies, torch.from_numpy(g))
        return self._references[key]

    def exact_run(self, solver: Solver, schedule: Schedule, ts: Tensor) -> tuple[dict, Tensor]:
        """The solver's error against the reference run from the same base draws (module docstring), and
        the largest exact per-component Gaussian shell error. ODE solvers run on the class gains
        (:class:`ReducedMixtureDrift`, exact to round-off); stochastic ones on the fields."""
        energies, g_ref = self.reference(schedule)
        n, dim = self.mixture.n, self.mixture.dim
        if not solver.stochastic:
            drift = ReducedMixtureDrift(schedule, self.classes, self.mixture.weights, energies)
            out = integrate(drift, solver, torch.ones_like(energies), ts)
            summary, shell = class_errors(out.x, g_ref, energies, self.classes, n // 2)
        else:
            z = self.base_draws()
            gen = torch.Generator().manual_seed(self.seed + 1)  # the step noises
            out = integrate(self.drift(schedule), solver, z, ts, generator=gen)
            dims = tuple(range(-dim, 0))
            zh = torch.fft.fftn(z, dim=dims, norm="forward") * g_ref[:, self.classes.index]
            ref = torch.fft.ifftn(zh, dim=dims, norm="forward").real
            summary, shell = path_errors(out.x, ref, n, dim)
            summary["note"] = "stochastic solver: against the ODE reference, so the errors include the SDE's own noise"
        return {"nfe": out.nfe, **summary, "component_error_max": self.component_error_max(solver, schedule, ts)}, shell

    def grid_model(self, schedule: Schedule, *, max_classes: int = 300, per_shell: int = 2,
                   criterion: str = "path") -> MixtureLabModel:
        """The error model grids are designed on: base draws from seed + :data:`DESIGN_SEED_OFFSET` (so the
        laboratory's own draws judge the grid), classes merged to ``per_shell`` per shell above ``max_classes``
        (:func:`~sictl.core.exact.mixture_grid.coarsen`)."""
        classes = self.classes
        if len(classes.counts) > max_classes:
            classes = coarsen(classes, per_shell)
        energies, g_ref = self.reference(schedule, self.seed + DESIGN_SEED_OFFSET, classes)
        return MixtureLabModel(classes, self.mixture.weights, energies, self.mixture.n // 2, g_ref, criterion)

    def component_error_max(self, solver: Solver, schedule: Schedule, ts: Tensor) -> float:
        """max over components and shells of the exact Gaussian shell error of each component."""
        worst = 0.0
        for pb in self.problems():
            var, _ = generated_variance(solver, schedule, pb.target_var, ts, self.base_power)
            gen = spectra.shell_mean(var, self.mixture.n, self.mixture.dim)
            true = spectra.shell_mean(pb.target_var, self.mixture.n, self.mixture.dim)
            worst = max(worst, float(((gen - true).abs() / true).max()))
        return worst

    def monte_carlo(self, solver: Solver, schedule: Schedule, ts: Tensor, *, samples: int, seed: int,
                    device: str = "cpu") -> dict:
        """Nothing more to sample: :meth:`exact_run` already samples against the reference."""
        return {}

    def report_arrays(self) -> dict:
        return {"target/component_powers": self.powers.numpy(), "target/base_power": self.base_power.numpy()}
