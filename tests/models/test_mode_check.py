"""Per-shell drift errors (sictl.models.mode_check) on drifts whose errors are known exactly."""

from __future__ import annotations

import torch

from sictl.core.exact.drifts import FourierGaussianDrift
from sictl.core.fields.spectra import matern_power
from sictl.core.interpolants.schedules import make_schedule
from sictl.models.mode_check import drift_mode_errors

N = 16


def _setup():
    power = matern_power(N, 1)
    base = torch.ones_like(power)
    base[0] = 0.0
    sched = make_schedule("linear")
    return sched, power, base, FourierGaussianDrift(sched, power, base)


def test_exact_drift_has_no_error_and_a_wrong_shell_is_found():
    sched, power, base, exact = _setup()
    times = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    same = drift_mode_errors(exact.velocity, sched, power, base, times, samples=8,
                             generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(same.target_error.abs().max()) < 1e-12 and float(same.total.max()) < 1e-12

    def wrong(t, x):  # exact, except 1.1 × the drift on shell 3 (modes ±3)
        b = exact.velocity(t, x)
        bh = torch.fft.fft(b, dim=-1)
        k = torch.fft.fftfreq(N, 1 / N).abs()
        gain = torch.where(k == 3, torch.tensor(1.1, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
        return torch.fft.ifft(gain * bh, dim=-1).real

    off = drift_mode_errors(wrong, sched, power, base, times, samples=8, generator=torch.Generator().manual_seed(0),
                            dtype=torch.float64)
    assert torch.allclose(off.relative_error[:, 2], torch.full((3,), 0.1, dtype=torch.float64), rtol=1e-9)
    assert torch.allclose(off.gain[:, 2], torch.full((3,), 1.1, dtype=torch.float64), rtol=1e-9)
    # elsewhere only round-off: in loss units (at t = 0.5 shell 1's exact drift is 0 — λ = 1 on the linear
    # schedule — so its relative error is round-off over round-off)
    others = torch.cat([off.target_error[:, :2], off.target_error[:, 3:]], 1)
    assert float(others.abs().max()) < 1e-12
    assert bool((off.target_error[:, 2] <= off.relative_error[:, 2] + 1e-12).all())  # b = E[R | x_t]: |b| ≤ |R| on average
    d = off.as_dict()
    assert d["worst_shell"] == [3, 3, 3] and len(d["relative_error"][0]) == N // 2
