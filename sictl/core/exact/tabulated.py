"""A design target given by a tabulated profile: G(β) measured at β nodes, not known in closed form.

`design-schedule --model RUN` estimates the A2 profile of a learned drift on the variance-preserving
path (:func:`sictl.models.jacobian.drift_profile`): E‖∇f‖₂², E‖f‖² and the largest ‖∇f‖₂² at the β
matched to a grid of the model's own times. :class:`TabulatedProfile` holds those numbers and turns
them into the smooth profile the designer integrates (the same shape-preserving interpolant as a
mixture's Monte-Carlo profile, :class:`sictl.core.exact.mixture_profile.MixtureProfile`), and
:class:`TabulatedTarget` designs the optimal clock t = H(β)/H(1) for it (arXiv 2509.01629).

Outside the measured β range the profile is extended the way every drift behaves there: near β = 0,
∇f = β (Cov(x1)/σ0² − I) + O(β²), so √G/β is held at its first measured value; beyond the last node
(the model's last time, where α ≈ 0) √G is held constant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from sictl.core.exact.design import MixtureProfile
from sictl.core.exact.targets import _TableTarget
from sictl.errors import ConfigError

__all__ = ["TabulatedProfile", "TabulatedTarget"]


@dataclass
class TabulatedProfile:
    """G(β) at β nodes (strictly inside (0, 1], increasing), with what the designer also uses.

    Attributes:
        beta: (T,) β nodes. g: E‖∇f‖₂² there (A2). kinetic: E‖f‖² (kinetic energy).
        g_max: the largest ‖∇f‖₂² seen at each node (the Lipschitz estimate per unit β̇).
    """

    beta: Tensor
    g: Tensor
    kinetic: Tensor
    g_max: Tensor

    def __post_init__(self):
        cols = {k: torch.as_tensor(getattr(self, k), dtype=torch.float64).flatten()
                for k in ("beta", "g", "kinetic", "g_max")}
        n = cols["beta"].numel()
        if n < 2 or any(c.numel() != n for c in cols.values()):
            raise ConfigError(f"a tabulated profile needs at least 2 nodes and one value per node, got {n}",
                              hint="estimate the profile at more times (--profile-times)")
        if not all(bool(torch.isfinite(c).all()) and bool((c >= 0).all()) for c in cols.values()):
            raise ConfigError("the tabulated profile has negative or non-finite values",
                              hint="the drift's Jacobian overflowed; check the model (or use fewer extreme times)")
        b = cols["beta"]
        if not (float(b[0]) > 0 and float(b[-1]) <= 1 and bool((torch.diff(b) > 0).all())):
            raise ConfigError("the β nodes of a tabulated profile must increase strictly inside (0, 1]",
                              hint="give distinct model times in increasing order")
        if not float(cols["g"].max()) > 0:
            raise ConfigError("the drift's Jacobian vanishes at every node: nothing to design",
                              hint="a drift equal to the base's needs no schedule")
        self.beta, self.g, self.kinetic, self.g_max = cols["beta"], cols["g"], cols["kinetic"], cols["g_max"]

    def table(self) -> MixtureProfile:
        """Nodes 0, β…, 1 with √G, √K, √max: the designer's interpolants (√G/β near 0, see the module)."""
        b = self.beta
        root_g, root_k, root_m = self.g.sqrt(), self.kinetic.sqrt(), self.g_max.sqrt()
        slope0 = float(root_g[0] / b[0])
        nodes = [torch.zeros(1, dtype=torch.float64), b]
        cols = [[torch.zeros(1, dtype=torch.float64), q] for q in (root_g, root_k, root_m)]
        cols[1][0] = root_k[:1]  # the kinetic profile is interpolated as √K: held at its first value
        if float(b[-1]) < 1.0:
            nodes.append(torch.ones(1, dtype=torch.float64))
            for col, q in zip(cols, (root_g, root_k, root_m)):
                col.append(q[-1:])
        return MixtureProfile(torch.cat(nodes), *(torch.cat(c) for c in cols), slope0)


@dataclass
class TabulatedTarget(_TableTarget):
    """A target known through a tabulated profile (a learned drift's), designed on the VP path.

    ``linear`` and ``trig`` are measured on the variance-preserving path with their β, through the same
    profile, as for mixtures.
    """

    profile_table: TabulatedProfile
    info: dict = field(default_factory=dict)
    checksum: str | None = None

    def __post_init__(self):
        self.table = self.profile_table.table()

    def describe(self) -> dict:
        b = self.profile_table.beta
        return {"kind": "tabulated", "nodes": int(b.numel()), "beta_min": float(b[0]), "beta_max": float(b[-1]),
                "path": "variance-preserving", **self.info}

    def _params(self, criterion: str) -> dict:
        return {"criterion": criterion, "profile": "tabulated", "nodes": int(self.profile_table.beta.numel())}
