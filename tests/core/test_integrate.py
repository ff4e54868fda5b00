"""The one integration loop: transfers, mixtures and stochastic runs all go through ``integrate``.

Exact references: for a Gaussian target each ODE solver's output is z times its per-mode gain, which
``generated_variance`` computes by stepping the state 1 through the same solver; Euler–Maruyama's
per-step noise is supplied, so the result is a deterministic function we can recompute by hand.
"""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

from sictl.core.exact.drifts import DiagonalGaussianDrift, GaussianMixtureDrift
from sictl.core.exact.gaussian import generated_variance
from sictl.core.exact.gmm import GaussianMixture
from sictl.core.interpolants.schedules import Designed, Linear, variance_preserving
from sictl.core.sampling.diffusion import make_diffusion
from sictl.core.sampling.drift import Drift, TransferredDrift
from sictl.core.sampling.grids import time_grid
from sictl.core.sampling.integrate import integrate
from sictl.core.sampling.solvers import SOLVERS, make_solver
from sictl.errors import ConfigError

F64 = torch.float64
EPS64 = torch.finfo(F64).eps


def test_transfer_through_the_loop_matches_the_native_drift():
    """Linear-schedule drift transferred to `designed` = the designed drift itself (exact transfer),
    so both runs give the same samples up to round-off of ~steps × 4 stages × a few ulps."""
    lam = torch.tensor([1e-3, 0.1, 1.0], dtype=F64)
    ts = time_grid("uniform", 12, 1e-3, 1 - 1e-3)
    z = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    native = integrate(DiagonalGaussianDrift(Designed(1e-3), lam), make_solver("rk4"), z, ts)
    moved = integrate(TransferredDrift(DiagonalGaussianDrift(Linear(), lam), Designed(1e-3)), make_solver("rk4"), z, ts)
    assert moved.nfe == native.nfe == 48
    torch.testing.assert_close(moved.x, native.x, rtol=1e-9, atol=1e-9)


def test_mixture_single_component_is_the_gaussian_gain():
    """A one-component 'mixture' N(0, v I) is Gaussian: integrate's output equals z × the exact gain."""
    v, dim = 0.3, 2
    mixture = GaussianMixture.gaussian(torch.zeros(dim, dtype=F64), v)
    path = variance_preserving(Linear())
    ts = time_grid("uniform", 8, 1e-3, 1 - 1e-3)
    z = torch.randn(7, dim, generator=torch.Generator().manual_seed(1), dtype=F64)
    solver = make_solver("heun")
    out = integrate(GaussianMixtureDrift(path, mixture), solver, z, ts)
    var, nfe = generated_variance(solver, path, torch.full((dim,), v, dtype=F64), ts)
    assert out.nfe == nfe == 16
    torch.testing.assert_close(out.x, z * var.sqrt(), rtol=1e-10, atol=1e-12)


def test_stochastic_run_uses_the_supplied_noise_step_by_step():
    """em with ε* and given noises: recompute x ← x + h b − g η_z + √(2εh) n by hand (float64)."""
    lam = torch.tensor([0.05, 2.0], dtype=F64)
    sched = Linear()
    drift = DiagonalGaussianDrift(sched, lam)
    eps = make_diffusion("optimal", sched)
    ts = time_grid("uniform", 6, 0.05, 0.95)
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(4, 2, generator=gen, dtype=F64)
    noises = [torch.randn(4, 2, generator=gen, dtype=F64) for _ in range(6)]
    out = integrate(drift, make_solver("em", diffusion=eps), z, ts, noises=lambda i: noises[i])
    x = z.clone()
    for i, (t0, t1) in enumerate(zip(ts[:-1].tolist(), ts[1:].tolist())):
        h, e, a = t1 - t0, float(eps(torch.tensor(t0, dtype=F64))), 1 - t0
        b = drift.velocity(t0, x)
        score = drift.preconditioned_score(t0, x, b)
        assert torch.allclose(score, -x / (a * a + t0 * t0 * lam), rtol=1e-12)  # exact Gaussian score
        x = x + h * (b + e * score) + math.sqrt(2 * e * h) * noises[i]
    assert out.nfe == 6
    torch.testing.assert_close(out.x, x, rtol=1e-12, atol=1e-12)


class _NoScore(Drift):
    has_score = False

    def __init__(self):
        self.schedule = Linear()

    def velocity(self, t, x):
        return -x


class _OwnScore(_NoScore):
    """A drift whose score is given separately (not from the velocity): em must use it."""

    has_score, score_from_velocity = True, False

    def preconditioned_score(self, t, x, b=None):
        return 2 * x


def test_em_refuses_a_drift_without_score_and_uses_a_drift_s_own_score():
    ts = time_grid("uniform", 3, 0.1, 0.9)
    z = torch.ones(2, 3, dtype=F64)
    em = make_solver("em", diffusion=make_diffusion("const:0.5", Linear()))
    with pytest.raises(ConfigError, match="has none"):
        integrate(_NoScore(), em, z, ts)
    assert integrate(_NoScore(), make_solver("em"), z, ts).nfe == 3  # no diffusion: no score needed
    zero = [torch.zeros_like(z)] * 3
    got = integrate(_OwnScore(), em, z, ts, noises=zero).x
    expect = z.clone()
    for t0, t1 in zip(ts[:-1].tolist(), ts[1:].tolist()):
        expect = expect + (t1 - t0) * (-expect + 0.5 * 2 * expect)
    torch.testing.assert_close(got, expect, rtol=1e-14, atol=0)


def test_solvers_declare_their_needs():
    assert {n for n, c in SOLVERS.items() if c.takes_diffusion} == {"em", "sde-expint1", "sde-expint2", "sde-heun"}
    assert make_solver("em", diffusion=make_diffusion("optimal", Linear())).needs_score
    assert not make_solver("rk4-38", diffusion=make_diffusion("optimal", Linear())).needs_score


@pytest.mark.parametrize("args", [
    ["--schedule", "trig", "--drift-schedule", "linear"],
    ["--solver", "em", "--diffusion", "optimal"],
])
def test_sample_command_runs_through_integrate(tmp_path, monkeypatch, args):
    """`sictl sample` (transfer, stochastic and mixture runs) calls the one loop for each batch."""
    import json

    from sictl.cli.app import app
    from sictl.pipeline import sample as sample_module

    calls = []
    real = sample_module.integrate

    def spy(drift, solver, x, ts, **kw):
        calls.append((type(drift).__name__, solver.name))
        return real(drift, solver, x, ts, **kw)

    monkeypatch.setattr(sample_module, "integrate", spy)
    runner = CliRunner()
    data = str(tmp_path / "m.h5")
    r = runner.invoke(app, ["prepare", "gmm", "--two-mode", "3,0.4", "--n", "32", "-o", data, "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["sample", "--exact", data, "--n", "8", "--batch-size", "4", "--steps", "4",
                            "--t-min", "1e-2", "-o", str(tmp_path / "s.h5"), "--json", *args])
    assert r.exit_code == 0, r.output
    assert len(calls) == 2  # two batches
    assert json.loads(r.stdout)["nfe"] == 4 * SOLVERS[calls[0][1]].nfe_per_step
