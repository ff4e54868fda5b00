"""The A2 profile of a drift known only as a function: Jacobian norms by Jacobian–vector products.

`design-schedule --model` designs a schedule from a learned drift (arXiv 2509.01629, A2 = ∫ β̇² G(β) dt).
The closed-form designer works on the variance-preserving path α = √(1 − β²), where the drift is
β̇ f(β, x) and G(β) = E‖∇_x f(β, ·)‖₂². A drift b(s, y) defined under another schedule (α_s, β_s) — a
network's training schedule — gives f by signal-to-noise matching (arXiv 2303.08797): at model time s,
τ = β_s/α_s, the VP point has β = τ/√(1 + τ²), α = 1/√(1 + τ²), x = y/c with c = √(α_s² + β_s²), the
data denoiser is η_x = (α_s b − α̇_s y)/W_s (W_s = α_s β̇_s − α̇_s β_s), and

    f(β, x) = (η_x − β x)/α²,      ∇_x f = a ∇_y b + d I,   a = c α_s/(W_s α²),  d = −(c α̇_s/W_s + β)/α².

So every Jacobian product of f is one of b plus a multiple of the identity. Per evaluation point y
(draws of the model's own marginal α_s z + β_s x1), this module estimates

* ‖∇f‖₂² — what G averages — by block power iteration on (∇f)ᵀ∇f with one Jacobian–vector and one
  vector–Jacobian product per iteration, then a Rayleigh–Ritz step (a lower bound that converges from
  below). Both products come from one autograd graph per chunk of draws: (∇b)ᵀu by reverse mode, (∇b)v
  as the reverse-mode derivative of the linear map u ↦ (∇b)ᵀu (the double-backward form of a JVP, which
  runs through every network layer, where ``torch.func.jvp`` lacks the fused attention kernels and
  costs several forward passes);
* ‖∇f‖_F² by Hutchinson's estimator E_v ‖(∇f) v‖² over the Rademacher starting block (a by-product);
* ‖f‖², the kinetic-energy profile.

G is their mean over the draws, with its Monte-Carlo standard error (the sample standard deviation over
√draws). The same base and data draws are used at every time, so the profile is smooth in β. Tensors
in, tensors out: no files (the pipeline loads the run and the data).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from sictl.core.interpolants.schedules import Schedule, as_time

__all__ = ["DriftProfile", "vp_coefficients", "drift_profile", "fourier_projector"]

Velocity = Callable[[float, Tensor], Tensor]
Projector = Callable[[Tensor], Tensor]


def fourier_projector(mask: Tensor) -> Projector:
    """The orthogonal projection of periodic fields (..., *spatial) onto the Fourier modes where ``mask``
    (the full FFT grid, (*spatial)) is true: the directions the base and the data span. A Fourier mode
    that neither has (the mean of a mean-free field) is never visited by x_t, so the drift's Jacobian
    along it is no part of A2 (the closed-form profiles leave such modes out too)."""
    from sictl.core.sampling.noise import even_half

    keep = (even_half(mask.to(torch.float64)) == 1).to(torch.float64)  # k kept only with −k: a projection
    spatial = tuple(mask.shape)
    dims = tuple(range(-len(spatial), 0))

    def project(v: Tensor) -> Tensor:
        vh = torch.fft.rfftn(v, dim=dims) * keep.to(device=v.device, dtype=v.dtype)
        return torch.fft.irfftn(vh, s=spatial, dim=dims).to(v.dtype)

    return project


@dataclass
class DriftProfile:
    """Monte-Carlo A2 and kinetic profiles of a drift on the variance-preserving path.

    Attributes (all (T,) float64 tensors, one entry per model time):
        times: the model times s. beta: the VP β matched to them (β = τ/√(1 + τ²), τ = β_s/α_s).
        g, g_se: E‖∇f‖₂² and its standard error. g_max: the largest ‖∇f‖₂² over the draws.
        frobenius, frobenius_se: E‖∇f‖_F² (Hutchinson) and its standard error.
        kinetic, kinetic_se: E‖f‖² and its standard error.
        samples: draws per time. probes: Hutchinson probes (the starting block's width) per draw.
    """

    times: Tensor
    beta: Tensor
    g: Tensor
    g_se: Tensor
    g_max: Tensor
    frobenius: Tensor
    frobenius_se: Tensor
    kinetic: Tensor
    kinetic_se: Tensor
    samples: int
    probes: int

    def as_dict(self) -> dict:
        """Lists under stable keys, for JSON."""
        keys = ("times", "beta", "g", "g_se", "g_max", "frobenius", "frobenius_se", "kinetic", "kinetic_se")
        out: dict = {k: getattr(self, k).tolist() for k in keys}
        return {**out, "samples": self.samples, "probes": self.probes}


def vp_coefficients(schedule: Schedule, s: float) -> dict[str, float]:
    """β, α, the scale c and the coefficients a, d of ∇f = a ∇b + d I at model time s (0 < s < 1)."""
    v = schedule(as_time(s))
    am, bm, adm, bdm = (float(q) for q in (v.alpha, v.beta, v.alpha_dot, v.beta_dot))
    if not (am > 0 and bm > 0):
        raise ValueError(f"model time {s} is at an end of the schedule (α = {am}, β = {bm})")
    tau = bm / am
    alpha = 1.0 / math.sqrt(1.0 + tau * tau)
    beta = tau * alpha
    c = math.hypot(am, bm)
    w = am * bdm - adm * bm
    return {"beta": beta, "alpha": alpha, "c": c, "a": c * am / (w * alpha * alpha),
            "d": -(c * adm / w + beta) / (alpha * alpha), "alpha_s": am, "beta_s": bm, "alpha_dot_s": adm, "w": w}


def _math_attention():
    """Scaled dot-product attention by its plain formula: twice differentiable (the fused CPU kernel's
    backward has no derivative of its own, which the Jacobian–vector product needs)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel([SDPBackend.MATH])


def _flat_norm2(x: Tensor) -> Tensor:
    return (x * x).reshape(x.shape[0], -1).sum(1)


def _orthonormal(v: Tensor, width: int) -> Tensor:
    """QR per draw of a block (P·w, *shape) laid out draw-major; returns the same layout."""
    shape = v.shape
    p = shape[0] // width
    q = torch.linalg.qr(v.reshape(p, width, -1).transpose(1, 2))[0]
    return q.transpose(1, 2).reshape(shape)


def _chunk_norms(velocity: Velocity, s: float, coef: dict, y: Tensor, *, width: int, iterations: int,
                 generator: torch.Generator, project: Projector) -> tuple[Tensor, Tensor, Tensor]:
    """(‖∇f‖₂², Hutchinson ‖∇f‖_F² (mean over the block), ‖f‖²) per draw of a chunk y (P, *shape)."""
    a, d, c = coef["a"], coef["d"], coef["c"]
    p = y.shape[0]
    with torch.enable_grad(), _math_attention():
        rep = y.repeat_interleave(width, 0).detach().requires_grad_(True)
        out = velocity(s, rep)
        # Jᵀu is the vjp of the one graph; Jv is the vjp of Jᵀ·dummy with respect to the dummy (Jᵀ·dummy
        # is linear in it): both reuse the graph, at about a backward pass each
        dummy = torch.zeros_like(out, requires_grad=True)
        (pull,) = torch.autograd.grad(out, rep, dummy, create_graph=True)
    b = out.detach()[::width]
    eta_x = (coef["alpha_s"] * b - coef["alpha_dot_s"] * y) / coef["w"]
    f = (eta_x - coef["beta"] * y / c) / coef["alpha"] ** 2
    kinetic = _flat_norm2(f)

    def jf(v: Tensor) -> Tensor:  # P(∇f)P v for a block v = Pv
        (jv,) = torch.autograd.grad(pull, dummy, v, retain_graph=True)
        return project(a * jv + d * v)

    def jft(u: Tensor) -> Tensor:  # P(∇f)ᵀP u for a block u = Pu
        (ju,) = torch.autograd.grad(out, rep, u, retain_graph=True)
        return project(a * ju + d * u)

    probe = project(torch.randint(0, 2, rep.shape, generator=generator, dtype=torch.int64).to(rep) * 2 - 1)
    ju = jf(probe)
    frobenius = _flat_norm2(ju).reshape(p, width).mean(1)
    v = _orthonormal(probe, width)
    for _ in range(iterations):
        v = _orthonormal(jft(jf(v)), width)
    jv = jf(v).reshape(p, width, -1)
    gram = jv @ jv.transpose(1, 2)
    top = torch.linalg.eigvalsh(0.5 * (gram + gram.transpose(1, 2)))[:, -1]
    return top.detach(), frobenius.detach(), kinetic


def _mean_se(v: Tensor) -> tuple[float, float]:
    n = v.numel()
    return float(v.mean()), (float(v.std(unbiased=True)) / math.sqrt(n) if n > 1 else math.inf)


def drift_profile(
    velocity: Velocity,
    schedule: Schedule,
    times: Tensor,
    x1: Tensor,
    z: Tensor,
    *,
    width: int = 4,
    iterations: int = 20,
    batch: int = 64,
    seed: int = 0,
    project: Projector | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DriftProfile:
    """The A2 profile of ``velocity`` (defined under ``schedule``) at model times ``times``.

    Args:
        velocity: (s, y) → b(s, y), twice differentiable in y by autograd; y is a batch (P, *shape),
            draws independent of each other (no batch statistics).
        times: (T,) model times strictly inside (0, 1).
        x1: (P, *shape) data draws; z: (P, *shape) base draws (the same at every time).
        width: block width of the power iteration, and the Hutchinson probes per draw.
        iterations: power iterations per time.
        batch: draws per chunk (memory: batch·width evaluation points at once).
        seed: seeds the Rademacher probes.
        project: the orthogonal projection onto the directions x_t spans (:func:`fourier_projector`);
            None: all of them. Norms are those of P(∇f)P.
        progress: called with (done, total) after every time.
    """
    if x1.shape != z.shape or x1.shape[0] < 2:
        raise ValueError(f"need matching data and base draws, at least 2, got {tuple(x1.shape)} and {tuple(z.shape)}")
    dim = x1[0].numel()
    width = max(1, min(width, dim))
    gen = torch.Generator().manual_seed(seed)
    project = project if project is not None else (lambda v: v)
    rows: list[tuple] = []
    times = torch.as_tensor(times, dtype=torch.float64).flatten()
    for i, s in enumerate(times.tolist()):
        coef = vp_coefficients(schedule, s)
        y_all = coef["alpha_s"] * z + coef["beta_s"] * x1
        parts = [_chunk_norms(velocity, s, coef, y_all[j:j + batch], width=width, iterations=iterations, generator=gen,
                              project=project)
                 for j in range(0, y_all.shape[0], batch)]
        spec, frob, kin = (torch.cat([q[k] for q in parts]).to(torch.float64) for k in range(3))
        rows.append((coef["beta"], *_mean_se(spec), float(spec.max()), *_mean_se(frob), *_mean_se(kin)))
        if progress is not None:
            progress(i + 1, times.numel())
    cols = [torch.tensor(c, dtype=torch.float64) for c in zip(*rows)]
    return DriftProfile(times, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7],
                        samples=int(x1.shape[0]), probes=width)
