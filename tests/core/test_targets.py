"""Design targets (sictl.core.exact.targets): one protocol — path, A2, Lipschitz, kinetic energy, profile,
designed schedule — answered by each target itself; and the pipeline's design without the CLI."""

from __future__ import annotations

import math

import pytest
import torch

from sictl.core.exact.gmm import GaussianMixture
from sictl.core.exact.targets import GaussianTarget, LabTarget, MixtureTarget, TwoModeTarget
from sictl.core.interpolants.schedules import Designed, DesignedPair, Linear, Tabulated, Trig, VariancePreserving


def _ratios(*lam: float) -> GaussianTarget:
    r = torch.tensor(lam, dtype=torch.float64)
    return GaussianTarget(r, torch.ones_like(r), None, None, {"kind": "ratios"})


def test_path_is_the_schedule_actually_used():
    lin = Linear()
    assert _ratios(0.01).path(lin) is lin  # a Gaussian takes any schedule as it is
    t = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
    for target in (TwoModeTarget(5.0), MixtureTarget(GaussianMixture.two_mode(3.0), samples=64)):
        vp = target.path(lin)
        assert isinstance(vp, VariancePreserving) and target.path(vp) is vp  # built once, never twice
        v = vp(t)
        assert torch.equal(v.beta, t) and torch.allclose(v.alpha, (1 - t * t).sqrt(), rtol=0, atol=1e-15)


def test_only_lab_targets_answer_gaussian_check():
    assert isinstance(_ratios(0.01), LabTarget) and isinstance(TwoModeTarget(5.0), LabTarget)
    assert not isinstance(MixtureTarget(GaussianMixture.two_mode(3.0)), LabTarget)


def test_gaussian_design_picks_the_method():
    one_side = _ratios(1e-4, 0.5).design()
    assert one_side.family == "designed" and isinstance(one_side.schedule, Designed)
    assert one_side.params == {"lam": 1e-4} and one_side.path == "designed" and one_side.lipschitz is None
    mixed = _ratios(0.01, 1.0, 50.0)
    pair = mixed.design()
    assert pair.family == "designed-pair" and isinstance(pair.schedule, DesignedPair)
    assert pair.info["a2_saved_by_rescaling"] == pytest.approx(pair.info["a2_variance_preserving"] - mixed.a2(pair.schedule))
    assert mixed.a2(pair.schedule) == pytest.approx(math.log(0.01) ** 2 / 4, rel=1e-9)
    clock = mixed.design(rescale=False)
    assert clock.family == "vp-clock" and clock.vp_clock and clock.path == "variance-preserving"
    assert isinstance(clock.schedule, Tabulated)
    assert mixed.a2(clock.schedule) == pytest.approx(clock.info["a2_variance_preserving"], rel=1e-6)
    assert clock.lipschitz == pytest.approx(math.sqrt(clock.info["a2_variance_preserving"]), rel=1e-6)
    kin = _ratios(0.01).design("kinetic")
    assert kin.params == {"criterion": "kinetic"} and kin.info["kinetic_energy"] == pytest.approx(0.81, rel=1e-6)
    assert _ratios(0.01).kinetic(kin.schedule) == pytest.approx(0.81, rel=1e-5)


def test_two_mode_target_values_and_design():
    target = TwoModeTarget(5.0)
    assert target.a2(Linear()) == pytest.approx(2.54399, rel=5e-5)
    assert target.lipschitz(Linear()) == pytest.approx(25.0)
    # on the VP path with β = t, ββ̇ = t: the Lipschitz constant at t is M² t
    ts = torch.tensor([0.25, 0.5], dtype=torch.float64)
    assert torch.allclose(target.lipschitz_profile(Linear(), ts), 25.0 * ts)
    made = target.design()
    assert made.family == "vp-clock" and made.params == {"criterion": "a2", "M": 5.0, "p": 0.5}
    assert made.note and made.info["criterion_value"] == pytest.approx(1.50771, rel=5e-5)
    assert target.a2(made.schedule) == pytest.approx(made.info["criterion_value"], rel=1e-4)
    assert made.lipschitz >= math.sqrt(made.info["criterion_value"])
    assert target.a2(made.schedule) < min(target.a2(Linear()), target.a2(Trig()))


def test_mixture_target_agrees_with_the_two_mode_closed_forms():
    """A two-mode mixture given as any mixture: Monte-Carlo profiles (computed once) against the closed forms."""
    target = MixtureTarget(GaussianMixture.two_mode(3.0), samples=2048, seed=0)
    exact = TwoModeTarget(3.0)
    assert target.table is target.table
    assert target.lipschitz(Linear()) == pytest.approx(exact.lipschitz(Linear()), rel=1e-9)
    # 2048 draws: G(β) to about 2 % (as in tests/cli/test_design_schedule.py::test_general_mixture_file)
    assert target.a2(Linear()) == pytest.approx(exact.a2(Linear()), rel=0.03)
    assert target.kinetic(Linear()) == pytest.approx(exact.kinetic(Linear()), rel=0.03)
    made = target.design()
    assert made.params == {"criterion": "a2", "mc_samples": 2048}
    assert made.info["criterion_value"] == pytest.approx(exact.design().info["criterion_value"], rel=0.02)


def test_two_mode_refuses_designed_by_name():
    from sictl.errors import ConfigError

    with pytest.raises(ConfigError, match="designed"):
        TwoModeTarget(5.0).named_schedule("designed")
    assert isinstance(_ratios(0.01).named_schedule("designed"), Designed)


def test_pipeline_design_without_the_cli(tmp_path):
    from sictl.pipeline.design import DesignConfig, DesignOutputs, design_schedule

    _, made, summary = design_schedule(DesignConfig(ratios=(1e-4,)))
    assert summary["family"] == made.family == "designed"
    assert summary["a2"]["designed"] == pytest.approx(math.log(1e-4) ** 2 / 4, rel=1e-12)
    out = DesignOutputs.resolve(str(tmp_path / "s.h5"), "csv")
    assert out.export_path == str(tmp_path / "s.csv")
    assert DesignOutputs.resolve(None, "json").stdout_users() == {"-o": None, "--export-path": "-"}
