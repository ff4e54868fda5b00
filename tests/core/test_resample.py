"""Resolution changes and field generators of sictl.core.fields.spectra."""

import torch

from sictl.core.fields import spectra

F64 = torch.float64


def test_spectral_resample_keeps_every_shared_mode_exactly():
    x = spectra.gaussian_field(spectra.matern_power(32, 2, s=1.0), 3, generator=torch.Generator().manual_seed(0))
    y = spectra.spectral_resample(x, 16, 2)
    xh, yh = (torch.fft.fftn(a, dim=(-2, -1), norm="forward") for a in (x, y))
    k = torch.arange(-7, 8)  # |k| < 16/2 on both axes
    i32, i16 = torch.meshgrid(k % 32, k % 32, indexing="ij"), torch.meshgrid(k % 16, k % 16, indexing="ij")
    assert float((xh[(..., *i32)] - yh[(..., *i16)]).abs().max()) < 1e-14
    up = spectra.spectral_resample(y, 32, 2)  # zero padding: an exact interpolation of y
    assert float((spectra.spectral_resample(up, 16, 2) - y).abs().max()) < 1e-13
    assert float((up[..., ::2, ::2] - y).abs().max()) < 1e-13


def test_spectral_resample_one_dimension_and_odd_sizes():
    x = torch.randn(4, 9, dtype=F64)
    assert spectra.spectral_resample(x, 9, 1).allclose(x, atol=1e-14)
    y = spectra.spectral_resample(x, 5, 1)
    assert y.shape == (4, 5)
    assert float((y.mean(-1) - x.mean(-1)).abs().max()) < 1e-14  # the mean mode is kept


def test_bilinear_resample_reproduces_linear_functions_inside():
    n = 16
    xs = (torch.arange(n, dtype=F64) + 0.5) / n
    field = 3.0 * xs[:, None] - 2.0 * xs[None, :]
    out = spectra.bilinear_resample(field[None], 8, 2)[0]
    centres = (torch.arange(8, dtype=F64) + 0.5) / 8
    want = 3.0 * centres[:, None] - 2.0 * centres[None, :]
    assert float((out[1:-1, 1:-1] - want[1:-1, 1:-1]).abs().max()) < 1e-12


def test_power_law_and_field_law():
    p = spectra.power_law_power(16, 2, exponent=2.0, amplitude=5.0)
    assert float(p[0, 0]) == 0.0 and float(p[0, 1]) == 5.0 and abs(float(p[3, 4]) - 5.0 / 25.0) < 1e-15
    x = spectra.gaussian_field(p, 4000, generator=torch.Generator().manual_seed(1))
    got = spectra.mode_power(x, 2)
    # per mode: mean of 4000 scaled χ² variables, relative s.d. ≤ 1/√2000 (√(2/4000) at real modes)
    assert float(((got[1:, 1:] / p[1:, 1:]) - 1).abs().max()) < 5 * (2 / 4000) ** 0.5
    assert float((x.pow(2).mean() / p.sum() - 1).abs()) < 0.02  # Parseval: pixel variance = Σ S
