"""``sictl sample --diffusion FILE``: a tabulated g(t) (sictl.io.diffusion_tables, sictl.core.sampling.diffusion)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.core.sampling.diffusion import TabulatedDiffusion
from sictl.errors import ConfigError, SchemaError

runner = CliRunner()


def _invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def g_follmer(t):
    """g_F of beta-t2 with c = 1: √((3 − t)(1 − t)) (arXiv 2403.13724, App. A.1), written out here."""
    return np.sqrt((3 - t) * (1 - t))


def g_follmer_dd(t):
    """g_F'' for u = (3 − t)(1 − t): u''/(2√u) − u'²/(4 u^{3/2})."""
    u, du = (3 - t) * (1 - t), 2 * t - 4
    return 2 / (2 * np.sqrt(u)) - du**2 / (4 * u**1.5)


def write_csv(path, t, g):
    np.savetxt(path, np.c_[t, g], delimiter=",", header="t,g", comments="", fmt="%.17g")
    return str(path)


# ---- core: the interpolant --------------------------------------------------------------------------------
def test_linear_interpolation_is_exact_on_lines_and_within_its_bound_on_curves():
    t = np.linspace(0.0, 1.0, 7)
    tab = TabulatedDiffusion(t, 2 + 3 * t)
    q = torch.linspace(0, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(tab.g(q), 2 + 3 * q, rtol=0, atol=1e-14)
    torch.testing.assert_close(tab.epsilon(q), 0.5 * (2 + 3 * q) ** 2, rtol=0, atol=1e-13)
    assert tab.g(0.5).shape == () and tab.covers(0.0, 1.0) and not tab.covers(0.0, 1.01)
    # g = sin(πt) + 1 on 41 nodes: |error| ≤ h²/8 max|g''| = h²π²/8
    t = np.linspace(0.0, 1.0, 41)
    tab = TabulatedDiffusion(t, np.sin(np.pi * t) + 1)
    err = (tab.g(q) - (torch.sin(math.pi * q) + 1)).abs().max().item()
    assert 0 < err <= (t[1] ** 2) * math.pi**2 / 8
    with pytest.raises(ConfigError, match="outside"):
        TabulatedDiffusion([0.2, 0.5], [1, 1]).g(torch.tensor([0.1]))
    for bad in (([0, 0.5, 0.5], [1, 1, 1]), ([0, 1], [1, -1]), ([0, 1], [1, math.nan]), ([0], [1])):
        with pytest.raises(ConfigError):
            TabulatedDiffusion(*bad)


# ---- io: the reader ---------------------------------------------------------------------------------------
def test_csv_and_json_tables_read_the_same_nodes(tmp_path):
    from sictl.io import read_diffusion_table

    t, g = np.array([0.0, 0.25, 1.0]), np.array([1.0, 0.5, 0.0])
    (tmp_path / "a.csv").write_text("g, extra ,t\n1,9,0\n0.5,9,0.25\n0,9,1\n", encoding="utf-8")
    (tmp_path / "a.json").write_text(json.dumps({"t": t.tolist(), "g": g.tolist(), "note": "x"}), encoding="utf-8")
    for name in ("a.csv", "a.json"):
        tt, gg = read_diffusion_table(tmp_path / name)
        np.testing.assert_array_equal(tt, t)
        np.testing.assert_array_equal(gg, g)
    (tmp_path / "b.json").write_text('{"t": [0, 1], "g": [1, "x"]}', encoding="utf-8")
    (tmp_path / "c.json").write_text('[0, 1]', encoding="utf-8")
    (tmp_path / "d.csv").write_text("t,g\n0,1\n", encoding="utf-8")
    for name, words in (("b.json", "g[1] is not a number"), ("c.json", "JSON object"), ("d.csv", "at least 2"),
                        ("missing.csv", "no such file")):
        with pytest.raises(SchemaError, match=words.replace("[", r"\[").replace("]", r"\]")):
            read_diffusion_table(tmp_path / name)


# ---- forecasts: a tabulated g_F reproduces --diffusion follmer ---------------------------------------------
@pytest.fixture(scope="module")
def ou(tmp_path_factory):
    d = tmp_path_factory.mktemp("tab")
    torch.set_num_threads(1)
    for name, n, seed in (("ou.h5", 8, 0), ("cond.h5", 3, 1)):
        _invoke("prepare", "ou-pairs", "--snapshots", "3", "--lag", "1", "--res", "16", "--n", str(n), "--seed", str(seed),
                "-o", str(d / name), "--quiet")
    return d


def test_a_tabulated_follmer_coefficient_reproduces_follmer_forecasts(ou):
    """Same seed, same noise: the two forecasts differ only through g_table − g_F at the em times t_k.

    Linearising em in g (the OU drift is linear, so this is exact to first order), the difference of
    the endpoints is Σ_k Φ_k (√h n_k + h g_k s_k) δ_k with δ_k = g_table(t_k) − g_F(t_k), Φ_k the
    (contracting, |Φ| ≤ 1) propagator of the remaining steps, n_k the unit increments and s_k the score,
    of the size of n_k/√C_t, which h g_k bounds by √h n_k for the times t ≥ 1/2 where δ_k is not
    negligible. With |n_k| ≤ 6 the bound is 2 · 6 · Σ_k √h |δ_k|; δ_k itself is bounded by the linear
    interpolation error h_tab²/8 · max|g_F''|, which the test checks first. float64 throughout, and
    the forecasts are stored as float32 (rounding ≤ 1e-6 at these magnitudes).
    """
    from sictl.io import read_forecasts

    steps, nodes = 20, 333  # node spacing 1/332: the em times k/20 fall between nodes
    t_nodes = np.linspace(0.0, 1.0, nodes)
    table = write_csv(ou / "gf.csv", t_nodes, g_follmer(t_nodes))
    tk = np.arange(steps) / steps  # em evaluates g at the left end of each step
    delta = np.abs(TabulatedDiffusion(t_nodes, g_follmer(t_nodes)).g(torch.as_tensor(tk)).numpy() - g_follmer(tk))
    dense = np.linspace(0.0, tk[-1] + t_nodes[1], 20001)
    assert delta.max() <= t_nodes[1] ** 2 / 8 * np.abs(g_follmer_dd(dense)).max()
    tol = 2 * 6 * np.sum(np.sqrt(1 / steps) * delta) + 1e-6

    common = ["sample", "--exact", str(ou / "ou.h5"), "--condition", str(ou / "cond.h5"), "--members", "8", "--rollout", "2",
              "--steps", str(steps), "--dtype", "float64", "--seed", "5", "--quiet"]
    _invoke(*common, "--diffusion", "follmer", "-o", str(ou / "follmer.h5"))
    result = _invoke(*common, "--diffusion", table, "-o", str(ou / "table.h5"), "--json")
    summary = json.loads(result.stdout)
    assert summary["diffusion"] == table
    ref, got = read_forecasts(ou / "follmer.h5"), read_forecasts(ou / "table.h5")
    assert got.config["diffusion"] == table
    diff = np.abs(got.forecasts[:, :, 0] - ref.forecasts[:, :, 0]).max()  # lead 1: the same start for both
    assert diff <= tol, (diff, tol)
    # not vacuous: a table of 1.1 g_F moves the forecasts far beyond the tolerance
    other = write_csv(ou / "gf11.csv", t_nodes, 1.1 * g_follmer(t_nodes))
    _invoke(*common, "--diffusion", other, "-o", str(ou / "other.h5"))
    assert np.abs(read_forecasts(ou / "other.h5").forecasts[:, :, 0] - ref.forecasts[:, :, 0]).max() > 100 * tol


def test_ordinary_sde_sampling_takes_a_table_too(tmp_path):
    """For the Gaussian-base SDE the table's g gives ε = g²/2: a constant g = √(2c) table is const:c."""
    from sictl.io import read_samples

    _invoke("prepare", "gaussian-field", "--res", "16", "--n", "8", "-o", str(tmp_path / "grf.h5"), "--quiet")
    table = tmp_path / "g.json"
    table.write_text(json.dumps({"t": [0.0, 0.5, 1.0], "g": [1.0, 1.0, 1.0]}), encoding="utf-8")
    common = ["sample", "--exact", str(tmp_path / "grf.h5"), "--solver", "em", "--steps", "10", "--n", "16",
              "--dtype", "float64", "--quiet"]
    _invoke(*common, "--diffusion", "const:0.5", "-o", str(tmp_path / "c.h5"))
    result = _invoke(*common, "--diffusion", str(table), "-o", str(tmp_path / "t.h5"), "--json")
    assert str(table) in json.loads(result.stdout)["inputs"]
    a, b = read_samples(tmp_path / "c.h5"), read_samples(tmp_path / "t.h5")
    np.testing.assert_allclose(b.load(), a.load(), rtol=0, atol=1e-6)
