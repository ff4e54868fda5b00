"""`sictl design-schedule` through the CLI (issue acceptance points), parsing --json."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()


def design(*args: str) -> dict:
    result = runner.invoke(app, ["design-schedule", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_ratio_table_is_the_designed_schedule(tmp_path):
    from sictl.io import read_schedule

    path = tmp_path / "s.h5"
    lam = 1e-4
    out = design("--ratio", str(lam), "--lipschitz", "-o", str(path))
    assert out["schedule"] == str(path) and out["criterion"] == "a2" and out["family"] == "designed"
    assert out["a2"]["designed"] == pytest.approx(math.log(lam) ** 2 / 4, rel=1e-12)
    assert out["a2"]["linear"] > out["a2"]["trig"] * 0 + out["a2"]["designed"]
    table = read_schedule(path)
    assert table.t.size >= 2001 and table.t[0] == 0 and table.t[-1] == 1
    assert np.abs(table.alpha**2 + table.beta**2 - 1).max() < 1e-12
    assert np.abs(table.alpha**2 + table.beta**2 * lam - lam**table.t).max() < 1e-12
    # derivatives consistent with values: centred differences on the interior
    t, b = table.t[500:1500], table.beta[500:1500]
    fd = (b[2:] - b[:-2]) / (t[2:] - t[:-2])
    assert np.abs(fd / table.beta_dot[501:1499] - 1).max() < 5e-5  # O(h²) of the difference
    assert table.grid is not None and table.grid.size == 20
    assert table.metrics["a2"]["designed"] == pytest.approx(out["a2"]["designed"])
    assert table.target["kind"] == "ratios" and table.target["checksum"].startswith("sha256:")
    assert design("--ratio", "2e-4")["target"]["checksum"] != table.target["checksum"]


def test_read_back_verbatim_and_checksum_recorded(tmp_path):
    from sictl.core.interpolants.schedules import Designed
    from sictl.io import file_checksum, read_schedule
    from sictl.pipeline.schedule_files import load_schedule

    path = tmp_path / "s.h5"
    design("--ratio", "0.003", "-o", str(path))
    table = read_schedule(path)
    sched, checksum, info = load_schedule(str(path))
    v = sched(torch.from_numpy(table.t))
    for name in ("alpha", "beta"):
        assert np.abs(getattr(v, name).numpy() - getattr(table, name)).max() < 1e-12
    inner = slice(1, -1)
    assert np.abs(v.beta_dot.numpy()[inner] - table.beta_dot[inner]).max() / np.abs(table.beta_dot[inner]).max() < 1e-12
    assert checksum == file_checksum(path) and info["family"] == "designed"
    assert isinstance(sched, Designed)
    result = runner.invoke(app, ["gaussian-check", "--ratio", "0.003", "--schedules", f"designed,{path}", "--json"])
    check = json.loads(result.stdout)
    assert check["inputs"][str(path)] == checksum
    assert check["schedules"][str(path)]["a2"] == pytest.approx(check["schedules"]["designed"]["a2"], rel=1e-12)


@pytest.mark.parametrize("M, lin, opt", [(5, 2.54399, 1.50771), (20, 10.1760, 1.51093)])
def test_gmm_a2_values(M, lin, opt):
    out = design("--gmm", str(M))
    assert out["a2"]["linear"] == pytest.approx(lin, rel=5e-5)
    assert out["a2"]["designed"] == pytest.approx(opt, rel=5e-5)
    assert out["lipschitz"]["linear"] == pytest.approx(M**2)


def test_mixed_ratios_rescaled_design(tmp_path):
    out = design("--ratio", "0.01", "--ratio", "1", "--ratio", "50", "-o", str(tmp_path / "m.h5"))
    assert out["family"] == "designed-pair"
    a2 = out["a2"]
    assert a2["designed"] == pytest.approx(math.log(0.01) ** 2 / 4, rel=1e-9)
    assert a2["designed"] < min(a2["linear"], a2["trig"])
    assert out["a2_saved_by_rescaling"] > 0
    check = json.loads(runner.invoke(app, ["gaussian-check", "--ratio", "0.01,1,50", "--schedules",
                                           f"designed:0.01,{tmp_path / 'm.h5'}", "--json"]).stdout)
    assert check["schedules"][str(tmp_path / "m.h5")]["a2"] < check["schedules"]["designed:0.01"]["a2"]
    vp = design("--ratio", "0.01,1,50", "--no-rescale")
    assert vp["family"] == "vp-clock"
    assert vp["a2"]["designed"] == pytest.approx(out["a2_variance_preserving"], rel=1e-6)


def test_kinetic_criterion_compares():
    out = design("--ratio", "0.01", "--kinetic")
    assert out["criterion"] == "kinetic"
    assert out["kinetic"]["designed"] == pytest.approx(0.81, rel=1e-6)
    assert out["kinetic"]["designed"] < out["kinetic"]["linear"]
    assert out["a2"]["designed"] > math.log(0.01) ** 2 / 4  # not the Lipschitz optimum


def test_spectrum_file_target_equals_matern(tmp_path):
    from sictl.core.fields.spectra import matern_power
    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    power = matern_power(32, 2).numpy()
    fields = np.zeros((2, 1, 32, 32), np.float32)
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(32, 32))
    path = tmp_path / "d.h5"
    write_dataset(path, fields, meta, DatasetStats(power, np.ones(16), 1.0, 0.0))
    from_file = design("--data", str(path))
    direct = design("--matern", "32")
    assert from_file["params"]["lam"] == pytest.approx(direct["params"]["lam"], rel=1e-12)
    assert from_file["inputs"]["target"].startswith("sha256:")
    # a spectral base equal to the target leaves nothing to design except the λ = 1 limit
    same = design("--data", str(path), "--base", f"spectral:{path}")
    assert same["params"]["lam"] == pytest.approx(1.0)


def test_general_mixture_file(tmp_path):
    """A two-mode mixture given as a file goes through the Monte-Carlo route and agrees with --gmm."""
    spec = {"weights": [0.5, 0.5], "means": [[3.0], [-3.0]], "covs": [1.0, 1.0]}
    path = tmp_path / "mix.json"
    path.write_text(json.dumps(spec))
    out = design("--gmm-file", str(path), "-o", str(tmp_path / "m.h5"))
    exact = design("--gmm", "3")
    assert out["a2"]["designed"] < out["a2"]["linear"]
    # 2048 draws: G(β) to about 2 %, the clock's optimum is flat in G, linear is a plain average
    assert out["a2"]["designed"] == pytest.approx(exact["a2"]["designed"], rel=0.02)
    assert out["a2"]["linear"] == pytest.approx(exact["a2"]["linear"], rel=0.03)
    # the sup over x is reached on the line between the centres (sech² = 1 at the midpoint): M² exactly
    assert out["lipschitz"]["linear"] == pytest.approx(exact["lipschitz"]["linear"], rel=1e-9)
    kin = design("--gmm-file", str(path), "--kinetic")
    kin_exact = design("--gmm", "3", "--kinetic")
    assert kin["kinetic"]["designed"] == pytest.approx(kin_exact["kinetic"]["designed"], rel=0.03)
    assert kin["kinetic"]["linear"] == pytest.approx(kin_exact["kinetic"]["linear"], rel=0.03)


MIX3 = {"weights": [0.5, 0.3, 0.2], "means": [[3.0, 0.0], [-2.0, 1.5], [0.0, -3.0]],
        "covs": [[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.8]], [[2.0, 0.5], [0.5, 1.0]]]}


def _independent_g(spec: dict, beta: float, n: int = 1000, h: float = 1e-5) -> float:
    """E‖∇_x b‖₂² at β̇ = 1 from the library's exact GMM velocity, by central differences, fresh draws."""
    from sictl.core.exact.gmm import GaussianMixture, gmm_fields
    from sictl.core.interpolants.schedules import ScheduleValues

    mix = GaussianMixture.from_dict(spec)
    base = GaussianMixture.gaussian(torch.zeros(mix.dim, dtype=torch.float64), 1.0)
    gen = torch.Generator().manual_seed(123)
    x1 = mix.sample(n, generator=gen)
    a = math.sqrt(1 - beta * beta)
    sv = ScheduleValues(*(torch.tensor(v, dtype=torch.float64) for v in (a, beta, -beta / a, 1.0)))
    x = a * torch.randn(x1.shape, generator=gen, dtype=torch.float64) + beta * x1
    eye = torch.eye(mix.dim, dtype=torch.float64)
    jac = torch.stack([(gmm_fields(base, mix, sv, x + h * e).velocity - gmm_fields(base, mix, sv, x - h * e).velocity) / (2 * h)
                       for e in eye], -1)
    return float((torch.linalg.matrix_norm(jac, ord=2) ** 2).mean())


def test_full_covariance_mixture_has_finite_correct_a2(tmp_path):
    """Regression: covariances unlike the base made G(0) a rounding residue (~1e-33 instead of 0), so
    β̇(0) was finite and huge and the reported A2 and Lipschitz ~1e17. Now β̇(0) = ∞ (β ~ √t) and
    the A2 matches an independent quadrature of ∫ β̇ G dβ over the file's own table."""
    from sictl.io import read_schedule

    path, out_path = tmp_path / "mix3.json", tmp_path / "m3.h5"
    path.write_text(json.dumps(MIX3))
    out = design("--gmm-file", str(path), "-o", str(out_path))
    a2, lip = out["a2"], out["lipschitz"]
    assert all(math.isfinite(v) for v in (*a2.values(), *lip.values()))
    assert a2["designed"] < min(a2["linear"], a2["trig"])
    assert a2["designed"] == pytest.approx(out["criterion_value"], rel=1e-4)  # table realises the clock
    assert math.sqrt(a2["designed"]) <= lip["designed"] < 100  # A2 ≤ Lip²; 1e17 before the fix
    table = read_schedule(out_path)
    assert table.beta_dot[0] == math.inf and table.beta[0] == 0
    rows = np.unique(np.searchsorted(table.beta, np.linspace(0.003, 0.997, 64)))
    b, bd = table.beta[rows], table.beta_dot[rows]
    y = np.concatenate([[0.0], bd * np.array([_independent_g(MIX3, float(v)) for v in b])])  # β̇G → 0 at β = 0
    beta = np.concatenate([[0.0], b])
    independent = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(beta)) + y[-1] * (1 - beta[-1]))
    # two Monte-Carlo estimates (2048 and 1000 draws): agree to about 1 %; stated tolerance 4 %
    assert independent == pytest.approx(a2["designed"], rel=0.04)


def test_gmm_designed_lipschitz_is_the_clocks(tmp_path):
    """The designed clock's Lipschitz constant is M² sup ββ̇ = H(1)/√C(1) (the sup is at t = 1, where
    the clock jumps through the region in which E sech⁴ is ~e^{−M²/2}). It is finite, ≥ √A2, and far
    above linear's M²: A2-optimal clocks trade the worst case for the average (docs/math.md)."""
    M = 20.0
    out = design("--gmm", "20", "-o", str(tmp_path / "g.h5"))
    lip, a2 = out["lipschitz"], out["a2"]
    u = np.linspace(-1.0, 1.0, 400001)  # C(1) = E sech⁴(M u), u ~ N(M, 1): mass of the integrand near u = 0
    e = np.exp(-np.abs(M * u))
    integrand = np.exp(-0.5 * (u - M) ** 2) / math.sqrt(2 * math.pi) * (2 * e / (1 + e * e)) ** 4
    c1 = float(np.sum(0.5 * (integrand[1:] + integrand[:-1])) * (u[1] - u[0]))
    assert math.isfinite(lip["designed"]) and lip["designed"] >= math.sqrt(a2["designed"])
    assert lip["designed"] == pytest.approx(math.sqrt(out["criterion_value"]) / math.sqrt(c1), rel=1e-5)
    assert lip["designed"] > 1e40 > lip["linear"] == pytest.approx(M * M)


def test_exports_and_plot(tmp_path):
    base = tmp_path / "s.h5"
    out = design("--ratio", "0.01", "-o", str(base), "--export", "csv", "--plot", str(tmp_path / "s.png"))
    csv = tmp_path / "s.csv"
    assert out["export"] == str(csv) and csv.exists()
    rows = [line for line in csv.read_text().splitlines() if not line.startswith("#")]
    assert rows[0].split(",")[:3] == ["t", "alpha", "beta"] and len(rows) > 2001
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    js = design("--ratio", "0.01", "--export", "json", "--export-path", str(tmp_path / "s.json"))
    doc = json.loads((tmp_path / "s.json").read_text())
    assert js["export"] == str(tmp_path / "s.json") and "beta" in json.dumps(doc)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ratio", "0"], "must be > 0"),
        (["--ratio", "-2"], "must be > 0"),
        (["--ratio", "0.1", "--lipschitz", "--kinetic"], "exclude"),
        (["--gmm", "5,1.2"], "(0, 1)"),
        (["--ratio", "0.1", "-o", "/nonexistent_dir/s.h5"], "nonexistent_dir"),
    ],
)
def test_bad_input(args, needle, tmp_path):
    result = runner.invoke(app, ["design-schedule", *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and needle in result.stderr.splitlines()[0]
    assert "Traceback" not in result.output


def test_bad_mixture_weights_and_spectra_leave_no_file(tmp_path):
    import h5py

    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    out = tmp_path / "out.h5"
    mix = tmp_path / "bad.json"
    mix.write_text(json.dumps({"weights": [0.6, 0.6], "means": [[1.0], [-1.0]], "covs": [1, 1]}))
    result = runner.invoke(app, ["design-schedule", "--gmm-file", str(mix), "-o", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and not out.exists()
    assert "sum" in result.stderr.splitlines()[0] and "Hint: " in result.stderr

    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=(8, 8))
    empty = tmp_path / "empty.h5"
    write_dataset(empty, np.zeros((1, 1, 8, 8), np.float32), meta, DatasetStats(np.zeros((8, 8)), np.zeros(4), 0.0, 0.0))
    result = runner.invoke(app, ["design-schedule", "--data", str(empty), "-o", str(out)])
    assert result.exit_code == 1 and "empty" in result.stderr and not out.exists()

    nan = tmp_path / "nan.h5"
    write_dataset(nan, np.zeros((1, 1, 8, 8), np.float32), meta, DatasetStats(np.ones((8, 8)), np.ones(4), 1.0, 0.0))
    with h5py.File(nan, "r+") as f:
        f["stats/mode_power"][0, 1] = np.nan
    result = runner.invoke(app, ["design-schedule", "--data", str(nan), "-o", str(out)])
    assert result.exit_code == 1 and result.stderr.startswith("Error: ") and not out.exists()
    assert list(tmp_path.glob("*.tmp")) == [] and list(tmp_path.glob(".*tmp")) == []


# ------------------------------------------------------------------------------ bases and targets


def _power_file(tmp_path, power: np.ndarray, name: str = "d.h5"):
    from sictl.io import DatasetMeta, DatasetStats, write_dataset

    n = power.shape[0]
    meta = DatasetMeta(dataset_name="grf", source="gaussian-field", sample_shape=power.shape)
    path = tmp_path / name
    write_dataset(path, np.zeros((2, 1, *power.shape), np.float32), meta,
                  DatasetStats(power, np.ones(n // 2 if power.ndim == 2 else n), 1.0, 0.0))
    return path


def _matern(n: int, dim: int, s: float, ell: float) -> np.ndarray:
    """σ²(4π²|k|² + ℓ²)^{−s} on the FFT grid with σ² = (4π² + ℓ²)^s (S(|k| = 1) = 1), mean mode 0."""
    k = np.fft.fftfreq(n, 1.0 / n)
    k2 = sum(np.meshgrid(*([k**2] * dim), indexing="ij"))
    power = ((4 * math.pi**2 + ell**2) / (4 * math.pi**2 * k2 + ell**2)) ** s
    power.flat[0] = 0.0
    return power


def test_spectrum_option_equals_data_option(tmp_path):
    path = _power_file(tmp_path, _matern(16, 2, 3.0, 1.0))
    a, b = design("--data", str(path)), design("--spectrum", str(path))
    for key in ("family", "params", "a2", "lipschitz"):
        assert a[key] == b[key]
    assert a["inputs"] == b["inputs"] and a["target"]["checksum"] == b["target"]["checksum"]


def test_white_sigma0_base_is_pixel_std(tmp_path):
    """white:σ0 has per-mode variance σ0²/n_pixels (SPEC §1): ratios = power · N²/σ0²."""
    power = _matern(32, 2, 3.0, 1.0)
    path = _power_file(tmp_path, power)
    lo = float(power[power > 0].min())
    unit = design("--data", str(path), "--base", "white:32")  # σ0 = N: unit per-mode variance
    assert unit["params"]["lam"] == pytest.approx(lo, rel=1e-12)
    assert unit == {**unit, **{k: design("--data", str(path))[k] for k in ("params", "a2")}}
    out = design("--data", str(path), "--base", "white:4")  # ratios × 64: on both sides of 1
    assert out["family"] == "designed-pair"
    assert out["params"]["lam_lo"] == pytest.approx(64 * lo, rel=1e-12)
    assert out["params"]["lam_hi"] == pytest.approx(64.0, rel=1e-12)
    assert out["a2"]["designed"] == pytest.approx(max(math.log(64 * lo) ** 2, math.log(64) ** 2) / 4, rel=1e-12)
    mat = design("--matern", "32", "--base", "white:4")
    assert mat["params"] == pytest.approx(out["params"], rel=1e-12)


def test_matern_non_default_parameters():
    lam = float(_matern(16, 1, 2.0, 0.5)[8])  # 1-D Nyquist mode |k| = 8, the smallest ratio
    out = design("--matern", "16,2,0.5", "--dim", "1")
    assert out["target"]["s"] == 2.0 and out["target"]["ell"] == 0.5
    assert out["params"]["lam"] == pytest.approx(lam, rel=1e-12)
    assert out["a2"]["designed"] == pytest.approx(math.log(lam) ** 2 / 4, rel=1e-12)
    assert out["lipschitz"]["designed"] == pytest.approx(abs(math.log(lam)) / 2, rel=1e-12)
    assert out["lipschitz"]["linear"] == pytest.approx((1 + lam) / (2 * math.sqrt(lam)), rel=1e-12)


def test_spectral_base_without_file_is_the_targets_own(tmp_path):
    """--base spectral = the file's stored spectrum: every ratio is 1, nothing to design (A2 = 0)."""
    path = _power_file(tmp_path, _matern(16, 2, 3.0, 1.0))
    out = design("--data", str(path), "--base", "spectral")
    assert out["family"] == "designed" and out["params"]["lam"] == 1.0
    assert out["a2"]["designed"] == 0.0 and out["lipschitz"]["designed"] == 0.0
    assert out["target"]["ratio_min"] == out["target"]["ratio_max"] == 1.0
    assert out["params"] == design("--data", str(path), "--base", f"spectral:{path}")["params"]
    assert design("--matern", "16", "--base", "spectral")["params"]["lam"] == 1.0
    # a Matérn target over another file's spectrum: ratios S_matern/S_file
    other = _power_file(tmp_path, _matern(16, 2, 2.0, 1.0), "o.h5")
    mat = design("--matern", "16", "--base", f"spectral:{other}")
    num, den = _matern(16, 2, 3.0, 1.0), _matern(16, 2, 2.0, 1.0)
    assert mat["params"]["lam"] == pytest.approx(float((num[den > 0] / den[den > 0]).min()), rel=1e-12)


def test_gmm_base_sets_the_units():
    """--gmm M over white:σ0 is --gmm M/σ0 over a unit base (x ↦ x/σ0 leaves ∇b unchanged)."""
    scaled, plain = design("--gmm", "10,0.3", "--base", "white:2"), design("--gmm", "5,0.3")
    assert scaled["a2"] == plain["a2"] and scaled["lipschitz"] == plain["lipschitz"]
    assert scaled["params"] == plain["params"] == {"criterion": "a2", "M": 5.0, "p": 0.3}
    assert scaled["target"]["M"] == 5.0 and scaled["target"]["M_given"] == 10.0
    assert plain["a2"]["designed"] < plain["a2"]["linear"]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--ratio", "0.1", "--base", "white:2"], "does not apply to --ratio"),
        (["--ratio", "0.1", "--base", "spectral"], "does not apply to --ratio"),
        (["--gmm", "5", "--base", "spectral"], "does not apply to --gmm"),
        (["--gmm", "5", "--base", "white:-1"], "σ0 > 0"),
        (["--matern", "16", "--base", "pink"], "unknown base"),
    ],
)
def test_base_errors(args, needle):
    result = runner.invoke(app, ["design-schedule", *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Error: ") and needle in lines[0] and lines[1].startswith("Hint: ")


# ------------------------------------------------------------------------------------ file columns


def test_eps_star_column_from_the_files_own_columns(tmp_path):
    from sictl.io import read_schedule

    lam = 0.003
    for args, name in ((["--ratio", str(lam)], "c.h5"), (["--gmm", "5"], "v.h5")):
        design(*args, "-o", str(tmp_path / name))
        tab = read_schedule(tmp_path / name)
        inner = slice(1, -1)
        a, b, ad, bd = tab.alpha[inner], tab.beta[inner], tab.alpha_dot[inner], tab.beta_dot[inner]
        ref = a * a * bd / b - a * ad
        assert np.abs(tab.eps_star[inner] / ref - 1).max() < 1e-10
        assert tab.eps_star[0] == math.inf  # β = 0
    tab = read_schedule(tmp_path / "c.h5")  # t = 1: α = 0, −αα̇ = ½ λ ln λ/(λ − 1) (closed form)
    assert tab.eps_star[-1] == pytest.approx(0.5 * lam * math.log(lam) / (lam - 1), rel=1e-12)
    tab = read_schedule(tmp_path / "v.h5")  # variance preserving: −αα̇ = ββ̇, so ε*(1) = β̇(1)
    assert tab.eps_star[-1] == pytest.approx(tab.beta_dot[-1], rel=1e-12)


def test_lipschitz_of_designed_linear_trig_in_json_and_file(tmp_path):
    from sictl.io import read_schedule

    lam = 1e-9
    out = design("--ratio", str(lam), "-o", str(tmp_path / "s.h5"))
    s = math.sqrt(lam)
    expected = {"designed": abs(math.log(lam)) / 2, "linear": (1 + lam) / (2 * s), "trig": math.pi * abs(lam - 1) / (4 * s)}
    a2 = {"designed": math.log(lam) ** 2 / 4, "linear": math.pi * (1 + lam) / (4 * s) - 1,
          "trig": math.pi**2 / 4 * ((1 + lam) / (2 * s) - 1)}
    metrics = read_schedule(tmp_path / "s.h5").metrics
    for name in ("designed", "linear", "trig"):
        assert out["lipschitz"][name] == pytest.approx(expected[name], rel=1e-10)
        assert out["a2"][name] == pytest.approx(a2[name], rel=1e-10)
        assert metrics["lipschitz"][name] == out["lipschitz"][name] and metrics["a2"][name] == out["a2"][name]


def test_variance_preserving_clock_lipschitz_is_sqrt_a2():
    """A Gaussian variance-preserving optimum has a constant worst rate H(1): Lip = √A2 exactly."""
    out = design("--ratio", "0.01,1,50", "--no-rescale")
    assert out["lipschitz"]["designed"] == pytest.approx(math.sqrt(out["a2"]["designed"]), rel=1e-6)


@pytest.mark.parametrize("args, family", [(["--ratio", "0.003"], "designed"), (["--gmm", "5"], "vp-clock")])
def test_read_back_all_columns(args, family, tmp_path):
    from sictl.io import read_schedule
    from sictl.pipeline.schedule_files import load_schedule

    path = tmp_path / "s.h5"
    assert design(*args, "-o", str(path))["family"] == family
    table = read_schedule(path)
    sched, _, info = load_schedule(str(path))
    assert info["family"] == family
    v = sched(torch.from_numpy(table.t))
    for name in ("alpha", "beta", "alpha_dot", "beta_dot"):
        got, want = getattr(v, name).numpy(), getattr(table, name)
        finite = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), finite) and np.array_equal(got[~finite], want[~finite])
        assert np.abs(got[finite] - want[finite]).max() <= 1e-12 * max(1.0, np.abs(want[finite]).max())


def test_vp_clock_derivatives_match_differences(tmp_path):
    from sictl.io import read_schedule

    design("--gmm", "5", "-o", str(tmp_path / "g.h5"))
    tab = read_schedule(tmp_path / "g.h5")
    assert np.abs(tab.alpha**2 + tab.beta**2 - 1).max() < 1e-12
    uniform = (tab.t >= 0.05) & (tab.t <= 0.95)  # the 2001-point part of the table (h = 5e-4)
    i = np.nonzero(uniform)[0][1:-1]
    h = tab.t[i + 1] - tab.t[i - 1]
    for y, dy in ((tab.beta, tab.beta_dot), (tab.alpha, tab.alpha_dot)):
        fd = (y[i + 1] - y[i - 1]) / h
        assert np.abs(fd / dy[i] - 1).max() < 1e-4  # O(h²) of the centred difference


def test_kinetic_with_gmm():
    out = design("--gmm", "5", "--kinetic")
    kin = out["kinetic"]
    assert out["criterion"] == "kinetic" and out["params"]["criterion"] == "kinetic"
    assert kin["designed"] == pytest.approx(out["criterion_value"], rel=1e-5)
    assert kin["designed"] < min(kin["linear"], kin["trig"])
    assert out["a2"]["designed"] > 1.50771  # above the A2 optimum (designed for another criterion)
