"""Modes that float32 samples cannot tell from zero are not designed for.

Fields with an empty Nyquist line and mean (as after `prepare --resolution`) are rounded to float32; the
estimated power of the empty modes is rounding noise, ~1e-19 here, and the schedule design must use the
smallest real ratio instead (on Navier–Stokes data the empty modes made the designed schedule 100× worse).
"""

import torch

from sictl.core.exact.targets import GaussianTarget
from sictl.pipeline.targets import float32_power_floor

F64 = torch.float64


def test_float32_rounding_of_empty_modes_is_below_the_floor_and_real_modes_above():
    n, samples = 32, 256
    gen = torch.Generator().manual_seed(0)
    k = torch.fft.fftfreq(n, 1 / n, dtype=F64)
    kk = (k[:, None] ** 2 + k[None, :] ** 2).sqrt()
    power = (1 + kk**2) ** -3.0  # a steep spectrum: the weakest real mode is ~1e-9 of the strongest
    empty = (k[:, None].abs() == n // 2) | (k[None, :].abs() == n // 2)
    empty[0, 0] = True
    power[empty] = 0.0
    noise = torch.complex(torch.randn(samples, n, n, generator=gen, dtype=F64),
                          torch.randn(samples, n, n, generator=gen, dtype=F64))
    fields = torch.fft.ifft2(noise * power.sqrt(), norm="forward").real.to(torch.float32)  # rounded to float32
    estimated = (torch.fft.fft2(fields.to(F64), norm="forward").abs() ** 2).mean(0)
    floor = float32_power_floor(estimated)
    assert float(estimated[empty].max()) < floor / 10  # rounding noise, with room to spare
    assert float(estimated[~empty].min()) > floor * 10  # the weakest real mode is far above it
    target = GaussianTarget(estimated, torch.ones_like(estimated), 2, n, {}, power_floor=floor)
    assert target.ratio_min == float(estimated[~empty].min())
    assert target.ratios.numel() == int((~empty).sum())
    unfloored = GaussianTarget(estimated, torch.ones_like(estimated), 2, n, {})
    assert unfloored.ratio_min < floor  # without the floor the design would aim at rounding noise
