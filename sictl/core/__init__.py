"""Pure mathematics of sictl: tensors in, tensors out; no files, no command line.

Sub-packages, by concept:

* :mod:`sictl.core.interpolants` — schedules α, β; conversions between velocity, denoisers and
  score; the transfer of a drift from one schedule to another;
* :mod:`sictl.core.sampling` — the :class:`~sictl.core.sampling.drift.Drift` interface, solvers,
  time grids, diffusion coefficients and the one integration loop;
* :mod:`sictl.core.exact` — closed forms for Gaussian and mixture targets: exact drifts, Lipschitz
  constants and A2, mixture profiles, schedule design;
* :mod:`sictl.core.simulators` — the stochastic Allen–Cahn sampler and the Navier–Stokes solver;
* :mod:`sictl.core.fields` — spectra of periodic fields and the sample metrics.
"""
