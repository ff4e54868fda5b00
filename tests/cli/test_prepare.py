"""`sictl prepare` (gaussian-field, gmm) and the shared writer options, through the CLI and the pipeline."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.core.fields import spectra
from sictl.io import iter_pair_batches, load_dataset_array, read_dataset

runner = CliRunner()


@pytest.fixture
def one_thread():
    """The solvers' tensors are small: on a shared machine extra intra-op threads only add waiting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def prepare(*args: str) -> dict:
    result = runner.invoke(app, ["prepare", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("dim, res, n", [(1, 64, 4000), (2, 32, 1500)])
def test_gaussian_field_spectrum_matches_exact_law(tmp_path, dim, res, n):
    path = tmp_path / "g.h5"
    out = prepare("gaussian-field", "--res", str(res), "--dim", str(dim), "--n", str(n), "--seed", "3", "-o", str(path))
    assert out["outputs"][0]["path"] == str(path) and out["outputs"][0]["n_samples"] == n
    ds = read_dataset(path)
    exact = spectra.matern_power(res, dim)
    got = torch.from_numpy(ds.stats.mode_power)
    m_true, m_got = spectra.shell_mean(exact, res, dim), spectra.shell_mean(got, res, dim)
    counts = torch.bincount(spectra.shell_index(res, dim).flatten()[spectra.shell_index(res, dim).flatten() > 0] - 1)
    # each mode's |x̂_k|² is a scaled χ²₂/2 (χ²₁ at self-conjugate modes): shell-mean relative s.d. ≤ 1/√(n·count/2)
    tol = 5 / torch.sqrt(n * counts.to(torch.float64) / 2)
    assert bool(((m_got / m_true - 1).abs() <= tol).all())
    # the stored pixel RMS is Parseval's Σ_k S(k) within sampling error
    assert out["outputs"][0]["pixel_rms"] == pytest.approx(math.sqrt(float(exact.sum())), rel=0.05)


def test_same_seed_same_file_and_other_seed_differs(tmp_path):
    a, b, c = (tmp_path / f"{k}.h5" for k in "abc")
    for path, seed in ((a, 1), (b, 1), (c, 2)):
        prepare("gaussian-field", "--res", "16", "--n", "40", "--seed", str(seed), "-o", str(path))
    assert np.array_equal(load_dataset_array(a), load_dataset_array(b))
    assert not np.array_equal(load_dataset_array(a), load_dataset_array(c))
    assert read_dataset(a).provenance.seed == 1


def test_normalize_split_and_resolution(tmp_path):
    path = tmp_path / "d.h5"
    out = prepare("gaussian-field", "--res", "32", "--n", "300", "--normalize", "rms", "--split", "0.8",
                  "--resolution", "16", "-o", str(path))
    train, test = (tmp_path / "d-train.h5"), (tmp_path / "d-test.h5")
    assert [o["path"] for o in out["outputs"]] == [str(train), str(test)]
    assert [o["n_trajectories"] for o in out["outputs"]] == [240, 60]
    dtrain, dtest = read_dataset(train), read_dataset(test)
    c = out["normalization"]["constant"]
    assert dtrain.meta.normalization.scheme == "rms" and dtrain.meta.normalization.constant == pytest.approx(c)
    assert dtest.meta.normalization.constant == pytest.approx(c)  # the train constant, no leakage
    assert dtrain.stats.pixel_rms == pytest.approx(1.0, rel=1e-6)
    assert dtrain.meta.sample_shape == (16, 16)
    # spectral truncation keeps the large scales: stored power ≈ S(k)/c² on the kept modes
    exact = spectra.matern_power(32, 2)
    low = torch.from_numpy(dtrain.stats.mode_power)[1, 0] * c**2
    assert float(low) == pytest.approx(float(exact[1, 0]), rel=0.3)
    # same seed without normalisation: stored × constant reproduces the raw fields (first trajectories)
    raw = tmp_path / "raw.h5"
    prepare("gaussian-field", "--res", "32", "--n", "300", "--resolution", "16", "-o", str(raw))
    assert np.allclose(load_dataset_array(train)[:5] * c, load_dataset_array(raw)[:5], rtol=1e-5, atol=1e-6)


def test_lag_pairs_never_cross_trajectories(tmp_path):
    from sictl.pipeline.prepare import PrepareOptions, SourceData, write_prepared

    n_traj, n_time = 5, 7
    traj = np.arange(n_traj)[:, None, None] * 1000.0 + np.arange(n_time)[None, :, None] + np.zeros((1, 1, 8))
    src = SourceData(dataset_name="toy", source="import", sample_shape=(8,), time=np.arange(n_time, dtype=np.float32),
                     blocks=iter([traj[:2], traj[2:]]), n_trajectories=n_traj)
    path = tmp_path / "p.h5"
    summary = write_prepared(src, PrepareOptions(lag=2, split=0.6), str(path))
    assert [o["n_pairs"] for o in summary["outputs"]] == [3 * 5, 2 * 5]
    x0, x1 = (np.concatenate(a) for a in zip(*iter_pair_batches(tmp_path / "p-train.h5", 100)))
    assert np.all(x1[:, 0] - x0[:, 0] == 2)  # same trajectory (thousands digit), two snapshots later
    assert np.all((x1[:, 0] // 1000) == (x0[:, 0] // 1000))
    xt0, _ = (np.concatenate(a) for a in zip(*iter_pair_batches(tmp_path / "p-test.h5", 100)))
    assert set(np.unique(xt0[:, 0] // 1000)) == {3, 4}


def test_gmm_dataset_stores_its_mixture(tmp_path):
    path = tmp_path / "gmm.h5"
    out = prepare("gmm", "--two-mode", "100,0.3", "--n", "20000", "--seed", "1", "-o", str(path))
    ds = read_dataset(path)
    mix = json.loads(ds.meta.attrs["mixture"])
    assert mix["weights"] == [0.3, 0.7] and mix["means"] == [[100.0], [-100.0]]
    x = load_dataset_array(path).reshape(-1)
    assert (x > 0).mean() == pytest.approx(0.3, abs=5 * math.sqrt(0.21 / 20000))
    assert out["outputs"][0]["pixel_rms"] == pytest.approx(math.sqrt(100**2 + 1), rel=1e-2)
    rows = prepare("gmm", "--weights", "0.5,0.5", "--means", "1,0;-1,0", "--covs", "0.5,2", "--n", "10",
                   "-o", str(tmp_path / "g2.h5"))
    assert rows["sample_shape"] == [2]


def test_gmm_from_a_json_spec(tmp_path):
    spec = {"weights": [0.2, 0.5, 0.3], "means": [[4.0, 0.0], [-2.0, 1.0], [0.0, -3.0]],
            "covs": [[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.5]], [[2.0, -0.8], [-0.8, 1.0]]]}
    (tmp_path / "mix.json").write_text(json.dumps(spec))
    n = 40000
    out = prepare("gmm", "--spec", str(tmp_path / "mix.json"), "--n", str(n), "--seed", "4", "-o", str(tmp_path / "g.h5"))
    assert out["sample_shape"] == [2] and out["outputs"][0]["n_samples"] == n
    stored = json.loads(read_dataset(tmp_path / "g.h5").meta.attrs["mixture"])
    for key in ("weights", "means", "covs"):
        assert np.allclose(stored[key], spec[key], rtol=1e-12), key
    # sample mean and covariance against the mixture's, within 5 Monte Carlo standard errors
    w, mu, cov = (np.asarray(spec[k]) for k in ("weights", "means", "covs"))
    mean = w @ mu
    second = np.einsum("k,kij->ij", w, cov + np.einsum("ki,kj->kij", mu, mu))
    x = load_dataset_array(tmp_path / "g.h5").astype(np.float64)
    assert x.shape == (n, 2)
    assert np.all(np.abs(x.mean(0) - mean) <= 5 * x.std(0) / math.sqrt(n))
    centred = x - mean
    products = centred[:, :, None] * centred[:, None, :]
    assert np.all(np.abs(products.mean(0) - (second - np.outer(mean, mean))) <= 5 * products.std(0) / math.sqrt(n))
    # normalised: the stored mixture is in stored units (means / c, covariances / c²)
    out = prepare("gmm", "--spec", str(tmp_path / "mix.json"), "--n", "500", "--normalize", "rms",
                  "-o", str(tmp_path / "gn.h5"))
    c = out["normalization"]["constant"]
    scaled = json.loads(read_dataset(tmp_path / "gn.h5").meta.attrs["mixture"])
    assert np.allclose(scaled["means"], mu / c) and np.allclose(scaled["covs"], cov / c**2)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["gaussian-field", "--res", "33", "--n", "4"], "even"),
        (["gaussian-field", "--n", "4", "--split", "1.5"], "--split"),
        (["gaussian-field", "--n", "4", "--normalize", "max"], "--normalize"),
        (["gaussian-field", "--n", "4", "--lag", "1"], "--lag"),
        (["gaussian-field", "--n", "1", "--split", "0.5"], "empty"),
        (["gmm", "--weights", "0.6,0.6", "--means", "1;-1", "--n", "5"], "sum"),
        (["gmm", "--spec", "/nonexistent/mix.json", "--n", "5"], "cannot read"),
        (["gmm", "--two-mode", "a,b", "--n", "5"], "--two-mode"),
        (["navier-stokes", "--precision", "float16"], "--precision"),
    ],
)
def test_bad_input_leaves_nothing(tmp_path, args, needle):
    out = tmp_path / "out.h5"
    result = runner.invoke(app, ["prepare", *args, "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and needle in result.stderr.splitlines()[0]
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_and_failing_source(tmp_path):
    result = runner.invoke(app, ["prepare", "gaussian-field", "--n", "4", "-o", "/nonexistent_dir/x.h5"])
    assert result.exit_code == 1 and "nonexistent_dir" in result.stderr

    from sictl.errors import ConvergenceError
    from sictl.pipeline.prepare import PrepareOptions, SourceData, write_prepared

    def blocks():
        yield np.zeros((2, 1, 8))
        raise ConvergenceError("simulation blew up")

    src = SourceData(dataset_name="toy", source="import", sample_shape=(8,), time=np.zeros(1, np.float32),
                     blocks=blocks(), n_trajectories=4)
    with pytest.raises(ConvergenceError):
        write_prepared(src, PrepareOptions(), str(tmp_path / "x.h5"))
    assert list(tmp_path.iterdir()) == []


def test_allen_cahn_source(tmp_path):
    path = tmp_path / "ac.h5"
    out = prepare("allen-cahn", "--res", "16", "--chains", "32", "--samples-per-chain", "16", "--burn-in", "200",
                  "--split", "0.75", "--seed", "5", "-o", str(path))
    train = read_dataset(tmp_path / "ac-train.h5")
    assert [o["n_trajectories"] for o in out["outputs"]] == [24, 8]  # split by chain
    assert train.meta.sample_shape == (17,) and int(train.meta.attrs["fft_nodes"]) == 16
    assert train.stats.mode_power.shape == (16,)
    diag = out["diagnostics"]
    assert 0.5 < diag["acceptance_rate"] < 1.0 and diag["integrated_autocorrelation_time"] > 0
    assert diag["occupancy_positive"] > 0.1 and diag["occupancy_negative"] > 0.1


def test_allen_cahn_streams_time_slabs_split_by_chain(tmp_path):
    """The source yields a slab of all chains per thinning block; concatenated, they are the one-shot
    run; the written files split by chain, and pairs at a lag span the slabs."""
    from sictl.core.simulators.allen_cahn import AllenCahnConfig, AllenCahnSampler
    from sictl.pipeline.prepare import PrepareOptions, write_prepared
    from sictl.pipeline.sources.allen_cahn import allen_cahn_source

    cfg = AllenCahnConfig(n=8, chains=6, samples_per_chain=10, burn_in=30, thin=2)
    one_shot = torch.cat(list(AllenCahnSampler(cfg, generator=torch.Generator().manual_seed(3)).run(block=10)), 1)
    one_shot = one_shot.to(torch.float32).numpy()
    src = allen_cahn_source(cfg, 3, block=4)
    slabs = list(src.blocks)
    assert src.time_block == 4 and [b.shape for b in slabs] == [(6, 4, 9), (6, 4, 9), (6, 2, 9)]
    assert np.array_equal(np.concatenate(slabs, axis=1), one_shot)
    assert 0 < src.diagnostics["acceptance_rate"] <= 1  # filled once the sampler is exhausted

    stages = []
    summary = write_prepared(allen_cahn_source(cfg, 3, block=4), PrepareOptions(split=0.5, lag=3),
                             str(tmp_path / "ac.h5"), lambda stage, done, total: stages.append((stage, done, total)))
    assert ("write (snapshots)", 10, 10) in stages
    for part, chains in (("train", slice(0, 3)), ("test", slice(3, 6))):
        path = tmp_path / f"ac-{part}.h5"
        assert np.array_equal(load_dataset_array(path).reshape(3, 10, 9), one_shot[chains])
        x0, x1 = (np.concatenate(a) for a in zip(*iter_pair_batches(path, 1000)))
        want = np.concatenate([one_shot[chains, :-3], one_shot[chains, 3:]], axis=-1).reshape(-1, 18)
        got = np.concatenate([x0[:, 0], x1[:, 0]], axis=-1)
        assert len(got) == 3 * 7 == summary["outputs"][0]["n_pairs"]
        assert np.array_equal(np.unique(got, axis=0), np.unique(want, axis=0))


def test_allen_cahn_n64_defaults_match_the_authors_statistics(tmp_path):
    """The CLI's defaults at N = 64 (256 chains × 64 samples, burn-in 1000, thin 4; ≈ 12 s) against
    the authors' N = 64 data (docs/math.md): norm per pixel 0.10496 ± 3%, E|û_k|² for k = 0..5 within 5%,
    both wells equally occupied."""
    out = prepare("allen-cahn", "--res", "64", "--seed", "7", "-o", str(tmp_path / "ac64.h5"))
    assert out["outputs"][0]["n_samples"] == 256 * 64 >= 10_000
    ds = read_dataset(tmp_path / "ac64.h5")
    x = load_dataset_array(tmp_path / "ac64.h5").reshape(-1, 65).astype(np.float64)
    norm = float(np.mean(np.linalg.norm(x, axis=1) / 65))
    assert norm == pytest.approx(0.10496, rel=0.03)
    truth = [0.70733, 0.04213, 0.01142, 0.00507, 0.00289, 0.00188]
    assert np.allclose(ds.stats.mode_power[:6], truth, rtol=0.05)
    diag = out["diagnostics"]
    assert diag["acceptance_rate"] > 0.6
    assert diag["occupancy_positive"] == pytest.approx(diag["occupancy_negative"], abs=0.05)
    assert diag["occupancy_positive"] > 0.25


def test_navier_stokes_source(tmp_path, one_thread):
    path = tmp_path / "ns.h5"
    out = prepare("navier-stokes", "--res", "32", "--store-res", "16", "--trajectories", "3", "--batch", "2",
                  "--snapshots", "4", "--snapshot-dt", "0.1", "--burn-in", "0.2", "--dt", "0.01", "--lag", "1",
                  "--normalize", "rms", "-o", str(path))
    ds = read_dataset(path)
    assert ds.meta.sample_shape == (16, 16) and ds.n_trajectories == 3 and ds.meta.field_names == ("vorticity",)
    assert np.allclose(ds.meta.time, [0.3, 0.4, 0.5, 0.6])
    assert out["outputs"][0]["n_pairs"] == 3 * 3 and ds.stats.pixel_rms == pytest.approx(1.0, rel=1e-6)
    bad = runner.invoke(app, ["prepare", "navier-stokes", "--res", "16", "-o", str(tmp_path / "x.h5")])
    assert bad.exit_code == 1 and "2/3 box" in bad.stderr and not (tmp_path / "x.h5").exists()


def test_navier_stokes_precision_is_real_and_recorded(tmp_path, one_thread):
    """float64 and float32 runs share their random numbers: they differ at round-off level only."""
    args = ["--res", "32", "--trajectories", "2", "--snapshots", "3", "--snapshot-dt", "0.1", "--burn-in", "0.1",
            "--dt", "0.01", "--seed", "2"]
    runs = {}
    for precision in (None, "float64"):
        path = tmp_path / f"ns-{precision}.h5"
        out = prepare("navier-stokes", *args, *(["--precision", precision] if precision else []), "-o", str(path))
        ds = read_dataset(path)
        want = precision or "float32"  # the preset's
        assert ds.provenance.config["precision"] == want == out["config"]["precision"] == out["diagnostics"]["precision"]
        assert ds.meta.attrs["precision"] == want
        runs[want] = load_dataset_array(path).astype(np.float64)
    a, b = runs["float32"], runs["float64"]
    rel = np.abs(a - b).max() / np.abs(b).max()
    assert 0 < rel < 1e-5


def test_navier_stokes_progress_is_in_simulated_time(one_thread):
    from sictl.pipeline.sources.navier_stokes import NavierStokesSource, navier_stokes_source

    calls = []
    cfg = NavierStokesSource(res=32, dt=0.01, trajectories=3, batch=2, snapshots=2, snapshot_dt=0.1, burn_in=0.2)
    src = navier_stokes_source(cfg, 0, lambda *a: calls.append(a))
    assert [b.shape for b in src.blocks] == [(2, 2, 32, 32), (1, 2, 32, 32)]
    stages = {stage for stage, _, _ in calls}
    assert stages == {"navier-stokes (simulated time × trajectories)"}
    done = [d for _, d, _ in calls]
    total = 3 * (0.2 + 2 * 0.1)  # trajectories × simulated time each
    assert all(t == pytest.approx(total) for _, _, t in calls)
    assert done == sorted(done) and done[-1] == pytest.approx(total)
    assert done[0] == pytest.approx(2 * 0.1)  # first burn-in interval of the first batch of two


def test_progress_bar_shows_simulated_time():
    import io

    from rich.console import Console

    from sictl.cli.output import ProgressBar

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    with ProgressBar(console) as progress:
        progress("navier-stokes (simulated time × trajectories)", 12.5, 400.0)
        progress("navier-stokes (simulated time × trajectories)", 400.0, 400.0)
    text = buffer.getvalue()
    assert "simulated time" in text and "400" in text


class PickledThing:
    """Loading a file that holds this must never execute code: sictl refuses it."""


def _authors_files(tmp_path):
    n = 16
    rng = np.random.default_rng(0)
    ac = rng.standard_normal((2 * (n + 1), 40, n + 1)).astype(np.float32)
    ac_path = tmp_path / f"AllenCahn1D_grid{n}_samples.npy"
    np.save(ac_path, ac)
    ns = torch.randn(3, 6, 16, 16, generator=torch.Generator().manual_seed(1))
    times = torch.arange(6.0) * 0.5
    ns_path = tmp_path / "data_file01.pt"
    torch.save((ns, times), ns_path)
    return ac, ac_path, ns.numpy(), times.numpy(), ns_path


def test_import_authors_layouts_round_trip(tmp_path):
    ac, ac_path, ns, times, ns_path = _authors_files(tmp_path)
    out = prepare("import", str(ac_path), "-o", str(tmp_path / "ac.h5"))
    ds = read_dataset(tmp_path / "ac.h5")
    assert ds.meta.sample_shape == (17,) and ds.meta.boundary == "open" and int(ds.meta.attrs["fft_nodes"]) == 16
    assert np.array_equal(load_dataset_array(tmp_path / "ac.h5").reshape(ac.shape), ac)
    # statistics as the authors computed them: FFT over the first N nodes, norm="forward"
    flat = ac.reshape(-1, 17).astype(np.float64)
    power = np.mean(np.abs(np.fft.fft(flat[:, :16], norm="forward")) ** 2, axis=0)
    assert np.allclose(ds.stats.mode_power, power, rtol=1e-6)
    assert out["outputs"][0]["pixel_rms"] == pytest.approx(float(np.sqrt(np.mean(flat**2))), rel=1e-6)

    out = prepare("import", str(ns_path), "--lag", "2", "-o", str(tmp_path / "ns.h5"))
    ds = read_dataset(tmp_path / "ns.h5")
    assert np.array_equal(load_dataset_array(tmp_path / "ns.h5").reshape(ns.shape), ns)
    assert np.allclose(ds.meta.time, times)
    power = np.mean(np.abs(np.fft.fft2(ns.reshape(-1, 16, 16).astype(np.float64), norm="forward")) ** 2, axis=0)
    assert np.allclose(ds.stats.mode_power, power, rtol=1e-6)
    assert out["outputs"][0]["n_pairs"] == 3 * 4
    # the same array as .npz / .h5 with an explicit layout gives identical statistics
    np.savez(tmp_path / "ns.npz", vort=ns)
    prepare("import", str(tmp_path / "ns.npz"), "--key", "vort", "--layout", "traj time x y", "-o", str(tmp_path / "ns2.h5"))
    assert np.allclose(read_dataset(tmp_path / "ns2.h5").stats.mode_power, ds.stats.mode_power, rtol=1e-12)
    with h5py.File(tmp_path / "mine.h5", "w") as f:  # a plain HDF5 file, another tool's
        f["runs/vorticity"] = ns
        f["runs/time"] = times
    out3 = prepare("import", str(tmp_path / "mine.h5"), "--key", "runs/vorticity", "--lag", "2", "-o", str(tmp_path / "ns3.h5"))
    ds3 = read_dataset(tmp_path / "ns3.h5")
    assert ds3.meta.sample_shape == (16, 16) and ds3.n_trajectories == 3 and out3["outputs"][0]["n_pairs"] == 3 * 4
    assert np.array_equal(load_dataset_array(tmp_path / "ns3.h5"), load_dataset_array(tmp_path / "ns.h5"))
    assert np.array_equal(ds3.stats.mode_power, ds.stats.mode_power)
    assert np.array_equal(ds3.stats.shell_spectrum, ds.stats.shell_spectrum)
    assert (ds3.stats.pixel_rms, ds3.stats.pixel_mean) == (ds.stats.pixel_rms, ds.stats.pixel_mean)


@pytest.mark.parametrize("suffix", ["npy", "h5", "pt"])
def test_import_reads_slices_never_the_whole_array(tmp_path, monkeypatch, suffix):
    """With a small read budget the importer reads a few trajectories at a time (mapped .npy, HDF5
    hyperslabs, mapped .pt) and writes the same file as one whole read."""
    from sictl.io import foreign

    x = np.random.default_rng(5).standard_normal((23, 4, 8, 8)).astype(np.float32)
    src = tmp_path / f"in.{suffix}"
    if suffix == "npy":
        np.save(src, x)
    elif suffix == "h5":
        with h5py.File(src, "w") as f:
            f["x"] = x
    else:
        torch.save({"x": torch.from_numpy(x)}, src)
    prepare("import", str(src), "--layout", "traj time x y", "-o", str(tmp_path / "whole.h5"))
    row = x[0].nbytes
    monkeypatch.setattr(foreign, "BLOCK_BYTES", 5 * row)
    reads = []
    read = foreign.ArraySource.read

    def spy(self, *args, **kwargs):
        reads.append(read(self, *args, **kwargs))
        return reads[-1]

    monkeypatch.setattr(foreign.ArraySource, "read", spy)
    out = prepare("import", str(src), "--layout", "traj time x y", "--split", "0.7", "-o", str(tmp_path / "sliced.h5"))
    assert [len(r) for r in reads] == [5, 5, 5, 5, 3] and max(r.nbytes for r in reads) <= 5 * row
    assert [o["n_trajectories"] for o in out["outputs"]] == [16, 7]
    joined = np.concatenate([load_dataset_array(tmp_path / f"sliced-{p}.h5") for p in ("train", "test")])
    assert np.array_equal(joined, load_dataset_array(tmp_path / "whole.h5"))


def test_import_of_a_single_trajectory_streams_time_slabs(tmp_path, monkeypatch):
    """A layout without trajectory or sample axis is one trajectory: it is read in time slabs."""
    from sictl.io import foreign

    x = np.random.default_rng(6).standard_normal((50, 8, 8)).astype(np.float32)
    np.save(tmp_path / "run.npy", x)
    monkeypatch.setattr(foreign, "BLOCK_BYTES", 8 * x[0].nbytes)
    out = prepare("import", str(tmp_path / "run.npy"), "--layout", "time x y", "--lag", "3", "-o", str(tmp_path / "r.h5"))
    assert out["outputs"][0]["n_trajectories"] == 1 and out["outputs"][0]["n_pairs"] == 47
    assert np.array_equal(load_dataset_array(tmp_path / "r.h5")[:, 0], x)
    x0, x1 = (np.concatenate(a) for a in zip(*iter_pair_batches(tmp_path / "r.h5", 100)))
    got = np.concatenate([x0.reshape(47, -1), x1.reshape(47, -1)], axis=1)
    want = np.concatenate([x[:-3].reshape(47, -1), x[3:].reshape(47, -1)], axis=1)
    assert np.array_equal(np.unique(got, axis=0), np.unique(want, axis=0))  # every pair, across the slabs


def test_import_of_few_long_trajectories_streams_time_slabs_of_all(tmp_path, monkeypatch, foreign_reads):
    """When one trajectory is larger than a read block, the importer reads time slabs of every
    trajectory (never a whole trajectory) and writes the same fields and pairs as one whole read."""
    from sictl.io import foreign

    x = np.random.default_rng(9).standard_normal((3, 30, 8, 8)).astype(np.float32)
    np.save(tmp_path / "long.npy", x)
    args = ("import", str(tmp_path / "long.npy"), "--layout", "traj time x y", "--lag", "2")
    prepare(*args, "-o", str(tmp_path / "whole.h5"))
    monkeypatch.setattr(foreign, "BLOCK_BYTES", 4 * 3 * x[0, 0].nbytes)  # 4 snapshots of all 3 trajectories
    foreign_reads.clear()
    out = prepare(*args, "-o", str(tmp_path / "slabs.h5"))
    assert foreign_reads == [(3, 4, 8, 8)] * 7 + [(3, 2, 8, 8)]
    assert out["outputs"][0]["n_trajectories"] == 3 and out["outputs"][0]["n_pairs"] == 3 * 28
    stored = load_dataset_array(tmp_path / "slabs.h5").reshape(x.shape) * np.float32(out["normalization"]["constant"])
    assert np.allclose(stored, x, rtol=1e-6, atol=0)
    assert np.array_equal(load_dataset_array(tmp_path / "slabs.h5"), load_dataset_array(tmp_path / "whole.h5"))
    pairs = [np.concatenate([a.reshape(len(a), -1), b.reshape(len(b), -1)], axis=1)
             for a, b in (tuple(np.concatenate(c) for c in zip(*iter_pair_batches(tmp_path / f, 1000)))
                          for f in ("whole.h5", "slabs.h5"))]
    assert np.array_equal(np.unique(pairs[0], axis=0), np.unique(pairs[1], axis=0))
    # more trajectories than snapshots: one trajectory is the smaller unit, read one at a time
    y = np.random.default_rng(11).standard_normal((20, 14, 8, 8)).astype(np.float32)  # 14 snapshots > a read
    np.save(tmp_path / "many.npy", y)
    foreign_reads.clear()
    prepare("import", str(tmp_path / "many.npy"), "--layout", "traj time x y", "-o", str(tmp_path / "many.h5"))
    assert foreign_reads == [(1, 14, 8, 8)] * 20
    assert np.allclose(load_dataset_array(tmp_path / "many.h5").reshape(y.shape), y, rtol=1e-6, atol=0)


@pytest.mark.parametrize("budget_snapshots", [3 * 40, 25, 7, 2])
def test_long_trajectories_are_read_back_within_the_budget(tmp_path, monkeypatch, budget_snapshots):
    """Pass 2 reads the raw file within READ_BUDGET_BYTES: whole trajectories while one fits, otherwise
    time slabs of the part's trajectories; the fields and the set of pairs do not depend on the budget."""
    from sictl.io import _dataset_batches
    from sictl.pipeline import prepare as prepare_pipeline

    x = np.random.default_rng(8).standard_normal((5, 40, 8, 8)).astype(np.float32)
    np.save(tmp_path / "runs.npy", x)
    args = ("import", str(tmp_path / "runs.npy"), "--layout", "traj time x y", "--lag", "3", "--split", "0.6")
    prepare(*args, "-o", str(tmp_path / "ref.h5"))
    snapshot = x[0, 0].nbytes
    monkeypatch.setattr(prepare_pipeline, "READ_BUDGET_BYTES", budget_snapshots * snapshot)
    blocks = []
    iterate = _dataset_batches.iter_trajectory_blocks

    def spy(*a, **kw):
        for block in iterate(*a, **kw):
            blocks.append(block.nbytes)
            yield block

    monkeypatch.setattr("sictl.io.iter_trajectory_blocks", spy)
    out = prepare(*args, "-o", str(tmp_path / "small.h5"))
    assert [o["n_trajectories"] for o in out["outputs"]] == [3, 2]
    assert blocks and max(blocks) <= max(budget_snapshots, 3) * snapshot  # 3: one snapshot of every trajectory
    if budget_snapshots < 40:  # not even one trajectory fits: slabs of both parts
        assert len(blocks) > 2
    for part in ("train", "test"):
        ref, small = tmp_path / f"ref-{part}.h5", tmp_path / f"small-{part}.h5"
        assert np.array_equal(load_dataset_array(small), load_dataset_array(ref))
        pairs = [np.concatenate([a.reshape(len(a), -1), b.reshape(len(b), -1)], axis=1)
                 for a, b in (tuple(np.concatenate(c) for c in zip(*iter_pair_batches(f, 1000)))
                              for f in (ref, small))]
        assert len(pairs[0]) == len(pairs[1]) == read_dataset(ref).n_trajectories * 37
        assert np.array_equal(np.unique(pairs[0], axis=0), np.unique(pairs[1], axis=0))


@pytest.mark.parametrize("case", ["unknown-axis", "axis-count", "nan", "inf", "truncated", "not-hdf5", "pickled"])
def test_import_bad_input(tmp_path, case):
    arr = np.zeros((4, 8, 8), np.float32)
    src = tmp_path / "in.npy"
    args: list[str] = []
    if case == "unknown-axis":
        np.save(src, arr)
        args = ["--layout", "sample x wobble"]
    elif case == "axis-count":
        np.save(src, arr)
        args = ["--layout", "traj time x y"]
    elif case == "nan":
        arr[1, 2, 3] = np.nan
        np.save(src, arr)
    elif case == "inf":  # in a later slice of an HDF5 file
        arr = np.zeros((64, 8, 8), np.float32)
        arr[60, 0, 5] = -np.inf
        src = tmp_path / "in.h5"
        with h5py.File(src, "w") as f:
            f["u"] = arr
    elif case == "truncated":
        from sictl.io import DatasetMeta, write_dataset

        src = tmp_path / "in.h5"
        write_dataset(src, np.zeros((2, 1, 8, 8), np.float32), DatasetMeta(dataset_name="d", source="import", sample_shape=(8, 8)))
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    elif case == "not-hdf5":
        src = tmp_path / "in.h5"
        src.write_text("hello")
    else:
        src = tmp_path / "in.pt"  # a pickled object that is not a tensor (weights_only refuses it)
        torch.save({"x": torch.zeros(2), "obj": PickledThing()}, src)
    out = tmp_path / "out.h5"
    result = runner.invoke(app, ["prepare", "import", str(src), *args, "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob("*.raw.h5"))
    if case == "pickled":
        assert "pickled" in result.stderr
    if case in ("nan", "inf"):
        assert "non-finite" in result.stderr and ("(60, 0, 5)" in result.stderr) == (case == "inf")


def test_statistics_do_not_depend_on_the_chunk_of_snapshots_transformed(tmp_path, monkeypatch):
    """Pass 1 transforms a bounded number of snapshots at a time; any chunk size gives the same statistics."""
    from sictl.pipeline import prepare as prepare_pipeline

    x = np.random.default_rng(10).standard_normal((3, 20, 8, 8)).astype(np.float32)
    np.save(tmp_path / "runs.npy", x)
    args = ("import", str(tmp_path / "runs.npy"), "--layout", "traj time x y", "--normalize", "rms")
    prepare(*args, "-o", str(tmp_path / "one.h5"))
    monkeypatch.setattr(prepare_pipeline, "STATS_CHUNK_BYTES", 7 * 16 * 64)  # 7 snapshots per transform
    prepare(*args, "-o", str(tmp_path / "chunked.h5"))
    one, chunked = read_dataset(tmp_path / "one.h5").stats, read_dataset(tmp_path / "chunked.h5").stats
    assert np.allclose(chunked.mode_power, one.mode_power, rtol=1e-12, atol=0)
    assert np.allclose(chunked.shell_spectrum, one.shell_spectrum, rtol=1e-12, atol=0)
    assert chunked.pixel_rms == pytest.approx(one.pixel_rms, rel=1e-12)
    flat = x.reshape(-1, 8, 8).astype(np.float64)
    power = np.mean(np.abs(np.fft.fft2(flat, norm="forward")) ** 2, axis=0) / float(np.mean(flat**2))
    assert np.allclose(chunked.mode_power, power, rtol=1e-10, atol=0)
