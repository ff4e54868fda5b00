"""Errors of the field-mixture laboratory in class space, and the error model grids are designed on.

A field-mixture sample under the exact drift or any ODE solver keeps the form x̂_k = g_c x̂_k(0) for the
mode classes c of :class:`~sictl.core.exact.field_mixture.ModeClasses`, so a batch of base draws is its class
energies E (B, C) and a run is its gains g (B, C). :func:`class_errors` turns gains of a run and of the
reference run into the laboratory's errors (the same figures as
:func:`sictl.core.exact.field_mixture_lab.path_errors` on the fields, tests/core/test_field_mixture.py).

:class:`MixtureLabModel` is the :class:`~sictl.core.exact.grid_design.ErrorModel` of the laboratory: the
relative error of the shell power of the solver's samples against the reference run's, for many grids
at once (:func:`sictl.core.exact.grid_recursion.run_grids` with the mixture's data denoiser
η_x = Σ_j π_j(x) β S_j/(α² S0 + β² S_j) x̂), or by the real solver steps on
:class:`~sictl.core.exact.field_mixture.ReducedMixtureDrift`. Above ``max_classes`` classes, the design may
merge the classes of a shell into a few (:func:`coarsen`: summed counts and energies, count-weighted
geometric means of the powers), which approximates the posterior; the designed grid is then judged on the
exact classes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from sictl.core.exact.field_mixture import ModeClasses, ReducedMixtureDrift
from sictl.core.exact.grid_recursion import run_grids
from sictl.core.interpolants.schedules import Schedule
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import Solver
from sictl.errors import ConfigError

__all__ = ["class_errors", "coarsen", "MixtureLabModel"]  # _assignment: for the laboratory


def class_errors(g: Tensor, g_ref: Tensor, energies: Tensor, classes: ModeClasses, n_shells: int) -> tuple[dict, Tensor]:
    """Laboratory errors of gains ``g`` against ``g_ref`` (both (B, C)) for base-draw energies (B, C).

    Returns:
        (summary as :func:`~sictl.core.exact.field_mixture_lab.path_errors`, per-shell spectral error).
    """
    inside = classes.shell >= 0
    idx = classes.shell[inside]

    def per_shell(values: Tensor) -> Tensor:  # (C,) → (S,)
        return torch.zeros(n_shells, dtype=torch.float64).index_add_(0, idx, values[inside])

    p = per_shell((g * g * energies).sum(0))
    p_ref = per_shell((g_ref * g_ref * energies).sum(0))
    diff = (g - g_ref) ** 2 * energies
    shell = (p - p_ref).abs() / p_ref
    path = (per_shell(diff.sum(0)) / p_ref).sqrt()
    per_sample = (diff.sum(1) / (g_ref * g_ref * energies).sum(1)).sqrt()
    return {"spectral_error_mean": float(shell.mean()), "spectral_error_max": float(shell.max()),
            "path_error_mean": float(path.mean()), "path_error_max": float(path.max()),
            "sample_error_mean": float(per_sample.mean()), "sample_error_max": float(per_sample.max())}, shell


def _assignment(fine: ModeClasses, coarse: ModeClasses) -> Tensor:
    """(C_fine, C_coarse) 0/1 matrix: which coarse class holds each fine one (coarse classes are unions)."""
    flat = fine.index.reshape(-1)
    first = torch.full((len(fine.counts),), flat.numel(), dtype=torch.int64)
    first.scatter_reduce_(0, flat, torch.arange(flat.numel()), "amin")
    out = torch.zeros(len(fine.counts), len(coarse.counts), dtype=torch.float64)
    out[torch.arange(len(fine.counts)), coarse.index.reshape(-1)[first]] = 1.0
    return out


def coarsen(classes: ModeClasses, per_shell: int) -> ModeClasses:
    """At most ``per_shell`` classes per shell (those outside the shells: one group), by rank of the
    classes' mean log power within the shell; summed counts, count-weighted geometric means of the powers.
    Energies of base draws follow by ``energies @ _assignment(classes, merged)``."""
    live = (classes.base > 0) | (classes.powers > 0).any(0)
    key = torch.where(live, classes.powers.clamp_min(1e-300).log().mean(0), torch.full_like(classes.base, -1e300))
    group = torch.empty_like(classes.shell)
    next_id = 0
    for s in torch.unique(classes.shell).tolist():
        members = (classes.shell == s).nonzero().flatten()
        order = members[torch.argsort(key[members])]
        for chunk in torch.tensor_split(order, min(per_shell if s >= 0 else 1, len(order))):
            group[chunk] = next_id
            next_id += 1
    assign = torch.zeros(len(classes.counts), next_id, dtype=torch.float64)
    assign[torch.arange(len(group)), group] = 1.0

    def mean_log(values: Tensor) -> Tensor:
        logs = torch.where(values > 0, values.clamp_min(1e-300).log(), torch.zeros_like(values))
        pos = ((values > 0).double() * classes.counts) @ assign
        out = ((logs * classes.counts) @ assign) / pos.clamp_min(1e-300)
        return torch.where(pos > 0, out.exp(), torch.zeros_like(out))

    shell = torch.empty(next_id, dtype=torch.int64)
    shell[group] = classes.shell  # a group lies in one shell
    return ModeClasses(group[classes.index], classes.counts @ assign, shell, mean_log(classes.base),
                       torch.stack([mean_log(p) for p in classes.powers]))


class MixtureLabModel:
    """Shell errors of a field-mixture laboratory against its reference run, for grids (ODE solvers).

    Args:
        classes, energies: the mode classes and the base draws' class energies (B, C).
        weights: (J,) component weights.  n_shells: N/2.
        reference: (B, C) gains of the reference run (:meth:`set_reference`; :meth:`run` computes them).
    """

    def __init__(self, classes: ModeClasses, weights: Tensor, energies: Tensor, n_shells: int,
                 reference: Tensor | None = None, criterion: str = "spectral"):
        self.criterion = criterion
        self.classes, self.weights_t, self.energies_t = classes, torch.as_tensor(weights, dtype=torch.float64), energies
        self.base, self.powers = classes.base.numpy(), classes.powers.numpy()
        self.live = (self.base > 0) | (self.powers > 0).any(0)
        self.counts = np.where(self.live, classes.counts.numpy(), 0.0)
        self.log_w = self.weights_t.log().numpy()
        self.energies = energies.numpy()
        shell = classes.shell.numpy()
        self.indicator = np.zeros((len(shell), n_shells))
        inside = shell >= 0
        self.indicator[np.nonzero(inside)[0], shell[inside]] = 1.0
        self.p_ref = None
        if reference is not None:
            self.set_reference(reference)

    def set_reference(self, reference: Tensor) -> None:
        """The (B, C) gains the errors are measured against."""
        self.g_ref = np.asarray(reference)
        self.p_ref = ((self.g_ref**2 * self.energies).sum(0)) @ self.indicator

    def extreme_ratios(self) -> tuple[float, float]:
        ok = (self.base > 0)[None, :] & (self.powers > 0)
        r = (self.powers / np.where(self.base > 0, self.base, 1.0))[ok]
        return float(r.min()), float(r.max())

    def shell_errors(self, g: np.ndarray) -> np.ndarray:
        """(G, B, C) gains → (G, S) errors against the reference run: the relative error of the shell power
        (``criterion="spectral"``), or the path-wise error per shell √(Σ|x̂ − x̂_ref|²/Σ|x̂_ref|²) (``"path"``)."""
        if self.criterion == "path":
            return np.sqrt((((g - self.g_ref) ** 2 * self.energies).sum(-2) @ self.indicator) / self.p_ref)
        return ((g * g * self.energies).sum(-2) @ self.indicator) / self.p_ref - 1.0

    def run(self, alpha: np.ndarray, beta: np.ndarray, spec) -> np.ndarray:
        """(G, B, C) gains after the steps of the ODE recursion ``spec`` on G grids ((G, K + 1) schedule values)."""
        if spec.stochastic:
            raise ConfigError("the field-mixture laboratory compares ODE paths; a stochastic solver has none",
                              hint="design the grid of a stochastic solver on the components (the Gaussian model)")
        x0 = np.ones((alpha.shape[0], *self.energies.shape))

        def denoise(i: int, g: np.ndarray) -> np.ndarray:
            a2, b = alpha[:, i, None, None] ** 2, beta[:, i, None, None]
            d = a2 * self.base + b * b * self.powers  # (G, J, C)
            inv = np.where(self.live, 1.0 / np.where(self.live, d, 1.0), 0.0)
            quad = np.einsum("gbc,gjc->gbj", g * g * self.energies, inv)
            logdet = (self.counts * np.log(np.where(self.live, d, 1.0))).sum(-1)  # (G, J)
            ll = self.log_w - 0.5 * (quad + logdet[:, None, :])
            ll -= ll.max(-1, keepdims=True)
            pi = np.exp(ll)
            pi /= pi.sum(-1, keepdims=True)
            return np.einsum("gbj,gjc->gbc", pi, b * self.powers * inv) * g

        g = run_grids(alpha, beta, x0, denoise, spec)
        g[..., ~self.live] = 1.0  # no power anywhere (the mean mode, no energy): the exact flow keeps z
        return g

    def fast_errors(self, alpha: np.ndarray, beta: np.ndarray, spec) -> np.ndarray:
        return self.shell_errors(self.run(alpha, beta, spec))

    def solver_errors(self, solver: Solver, schedule: Schedule, ts: Tensor) -> np.ndarray:
        if solver.stochastic:
            raise ConfigError("the field-mixture laboratory compares ODE paths; a stochastic solver has none",
                              hint="design the grid of a stochastic solver on the components (the Gaussian model)")
        drift = ReducedMixtureDrift(schedule, self.classes, self.weights_t, self.energies_t)
        g = integrate(drift, solver, torch.ones_like(self.energies_t), ts).x
        return self.shell_errors(g.numpy()[None])[0]
