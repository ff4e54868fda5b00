"""The `prepare` source and `evaluate` metric registries drive the CLI, and `--device` reaches the arithmetic."""

from __future__ import annotations

import dataclasses
import json
import sys
import types

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sictl.cli.app import app
from sictl.io import load_dataset_array, read_dataset

runner = CliRunner()

# a small run of every prepare source (its own options only; -o and --json are added)
SOURCE_RUNS = {
    "gaussian-field": ["--res", "16", "--n", "20", "--resolution", "8"],
    "gmm": ["--two-mode", "3,0.3", "--dim", "2", "--n", "50"],
    "allen-cahn": ["--res", "8", "--chains", "4", "--samples-per-chain", "3", "--burn-in", "10", "--thin", "2"],
    "navier-stokes": ["--res", "32", "--store-res", "16", "--trajectories", "2", "--snapshots", "2",
                      "--snapshot-dt", "0.1", "--burn-in", "0.1", "--dt", "0.01"],
    "ou-pairs": ["--res", "8", "--n", "4", "--snapshots", "3", "--lag", "1"],
    "field-mixture": ["--mixture", "8:0.5,3,1,1;0.5,3,20,0.01", "--n", "20"],
    "import": [],  # the file is made by the test
}
CUDA = torch.cuda.is_available()
WIDE = {"COLUMNS": "250"}


def _json(*args: str, env: dict | None = None) -> dict:
    result = runner.invoke(app, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _source_args(name: str, tmp_path) -> list[str]:
    if name != "import":
        return SOURCE_RUNS[name]
    np.save(tmp_path / "in.npy", np.random.default_rng(0).standard_normal((3, 4, 8, 8)).astype(np.float32))
    return [str(tmp_path / "in.npy"), "--layout", "traj time x y"]


def test_every_registered_source_is_a_command_with_its_declared_options():
    from sictl.pipeline.sources import REGISTRY, source

    assert set(SOURCE_RUNS) == set(REGISTRY)
    top = runner.invoke(app, ["prepare", "--help"], env=WIDE)
    assert top.exit_code == 0
    assert f"Simulate or import a dataset: {', '.join(REGISTRY)}." in top.output
    for name in REGISTRY:
        assert name in top.output.split("Commands")[1]
        result = runner.invoke(app, ["prepare", name, "--help"], env=WIDE)
        assert result.exit_code == 0, result.output
        src = source(name)
        assert src.name == name and src.help.splitlines()[0] in result.output
        for f in dataclasses.fields(src.options):
            if not f.metadata.get("argument"):
                for flag in f.metadata["flag"].split("/"):
                    assert flag in result.output, (name, flag)
        for writer_option in ("--normalize", "--resolution", "--resample", "--split", "--lag"):
            assert (writer_option in result.output) == (writer_option[2:] in src.writer_options), (name, writer_option)


def test_an_unknown_source_names_the_registry():
    from sictl.errors import ConfigError
    from sictl.pipeline.sources import REGISTRY, source

    with pytest.raises(ConfigError) as err:
        source("netcdf")
    assert all(name in err.value.hint for name in REGISTRY)


def test_a_new_source_is_one_module_and_one_registry_line(tmp_path, monkeypatch):
    """A toy source module registered with one line is a working `sictl prepare` command, options and all."""
    from sictl.pipeline import sources
    from sictl.pipeline.sources import base

    module = types.ModuleType("sictl.pipeline.sources.ramp")

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class RampOptions:
        n: int = base.option(3, "--n", "Number of ramps.")
        slope: float = base.option(1.0, "--slope", "Slope of each ramp.")

    def build(opts, *, seed, progress, device):
        from sictl.pipeline.prepare import SourceData

        ramps = opts.slope * np.tile(np.arange(8, dtype=np.float32), (opts.n, 1, 1))
        return SourceData(dataset_name="ramp", source="import", sample_shape=(8,), time=np.zeros(1, np.float32),
                          blocks=iter([ramps]), n_trajectories=opts.n)

    module.SOURCE = base.Source(name="ramp", help="Straight lines.", options=RampOptions, build=build,
                                writer_options=("normalize",))
    monkeypatch.setitem(sys.modules, "sictl.pipeline.sources.ramp", module)
    monkeypatch.setitem(sources.REGISTRY, "ramp", "ramp")
    top = runner.invoke(app, ["prepare", "--help"], env=WIDE).output
    assert "import, ramp." in top and "Straight lines." in top
    help_text = runner.invoke(app, ["prepare", "ramp", "--help"], env=WIDE).output
    assert "--slope" in help_text and "--normalize" in help_text and "--split" not in help_text
    result = runner.invoke(app, ["prepare", "ramp", "--n", "2", "--slope", "2", "-o", str(tmp_path / "r.h5"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["outputs"][0]["n_trajectories"] == 2
    assert np.array_equal(load_dataset_array(tmp_path / "r.h5").reshape(2, 8), 2 * np.tile(np.arange(8.0), (2, 1)))


@pytest.fixture
def device_spy(monkeypatch):
    """--device resolved to 'cpu:0' (a distinct name for the CPU): every per-mode power records the device it got."""
    from sictl.cli import options
    from sictl.core.fields import spectra

    seen: list = []
    real = spectra.mode_power

    def spy(*args, **kwargs):
        seen.append(kwargs.get("device"))
        return real(*args, **kwargs)

    monkeypatch.setattr(spectra, "mode_power", spy)
    monkeypatch.setattr(options, "resolve_device", lambda choice: "cpu:0")
    return seen


@pytest.mark.parametrize("name", list(SOURCE_RUNS))
def test_prepare_honours_the_device(tmp_path, name, device_spy):
    """The resolved device reaches the source and the statistics; on the CPU the file is the default run's."""
    args = _source_args(name, tmp_path)
    default, moved = tmp_path / "default.h5", tmp_path / "moved.h5"
    _json("prepare", name, *args, "-o", str(default))
    device_spy.clear()
    _json("prepare", name, *args, "--device", "cuda", "-o", str(moved))  # resolved to cpu:0 by the spy
    assert np.array_equal(load_dataset_array(moved), load_dataset_array(default))
    a, b = read_dataset(default).stats, read_dataset(moved).stats
    if a.mode_power is not None:
        assert np.array_equal(a.mode_power, b.mode_power)
        assert device_spy and set(device_spy) == {"cpu:0"}


def test_evaluate_honours_the_device(tmp_path, device_spy):
    x = np.random.default_rng(1).standard_normal((60, 8, 8)).astype(np.float32)
    y = np.random.default_rng(2).standard_normal((50, 8, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    args = ["evaluate", str(tmp_path / "x.npy"), "--reference", str(tmp_path / "y.npy"), "--projections", "20",
            "--mmd-samples", "30", "--metrics", "spectrum,pdf,moments,correlation,swd,mmd,modes"]
    moved = _json(*args, "--device", "cuda")  # resolved to cpu:0 by the spy
    assert device_spy and set(device_spy) == {"cpu:0"}
    device_spy.clear()
    default = _json(*args)
    assert moved["metrics"] == default["metrics"]


@pytest.mark.skipif(CUDA, reason="checks the error on a machine without CUDA")
@pytest.mark.parametrize("command", [*(["prepare", n] for n in SOURCE_RUNS), ["evaluate"]])
def test_cuda_without_cuda_is_a_one_line_error(tmp_path, command):
    out = tmp_path / "out.h5"
    if command[0] == "evaluate":
        np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.float32))
        args = [str(tmp_path / "x.npy"), "--reference", str(tmp_path / "x.npy")]
    else:
        args = _source_args(command[1], tmp_path)
    result = runner.invoke(app, [*command, *args, "--device", "cuda", "-o", str(out)])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert result.stderr.startswith("Error: ") and len(errors) == 1 and "--device cuda" in errors[0]
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize("command", [["prepare", "gaussian-field", "--n", "4"], ["evaluate"]])
def test_auto_and_cpu_devices_run(tmp_path, command):
    if command[0] == "evaluate":
        np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((10, 8, 8)))
        command = [*command, str(tmp_path / "x.npy"), "--reference", str(tmp_path / "x.npy"), "--metrics", "spectrum"]
    for device in ("auto", "cpu"):
        assert _json(*command, "--device", device, "-o", str(tmp_path / f"{device}.h5"))


def test_evaluate_help_and_hints_list_every_registered_metric(tmp_path):
    from sictl.pipeline.evaluate_metrics import METRICS

    result = runner.invoke(app, ["evaluate", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert f"Comma list of {', '.join(METRICS)}" in " ".join(result.output.split())
    assert all(m.summary in " ".join(result.output.split()) for m in METRICS.values())
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8), np.float32))
    bad = runner.invoke(app, ["evaluate", str(tmp_path / "x.npy"), "--reference", str(tmp_path / "x.npy"),
                              "--metrics", "fid"])
    assert bad.exit_code == 1 and "unknown metric 'fid'" in bad.stderr
    hint = [line for line in bad.stderr.splitlines() if line.startswith("Hint: ")][0]
    assert all(name in hint for name in METRICS)


def test_a_new_metric_is_one_registry_line(tmp_path, monkeypatch):
    """A metric added to the registry is accepted by --metrics, computed, reported and shown in the table."""
    from sictl.pipeline.evaluate_metrics import METRICS, Metric

    count = Metric(lambda inp: {"n": len(inp.x), "reference_n": len(inp.ref.x)},
                   lambda m: iter([("samples / reference", f"{m['n']} / {m['reference_n']}")]), "sample counts")
    monkeypatch.setitem(METRICS, "count", count)
    np.save(tmp_path / "x.npy", np.zeros((6, 8, 8), np.float32))
    np.save(tmp_path / "y.npy", np.zeros((5, 8, 8), np.float32))
    args = ["evaluate", str(tmp_path / "x.npy"), "--reference", str(tmp_path / "y.npy"), "--metrics", "count"]
    assert _json(*args)["metrics"] == {"count": {"n": 6, "reference_n": 5}}
    table = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "count" in table.stderr and "6 / 5" in table.stderr


def test_metric_applicability_comes_from_the_registry(tmp_path):
    from sictl.pipeline.evaluate_metrics import METRICS

    np.save(tmp_path / "v.npy", np.random.default_rng(0).standard_normal((40, 3)))
    vec = _json("evaluate", str(tmp_path / "v.npy"), "--reference", str(tmp_path / "v.npy"), "--projections", "10")
    assert list(vec["metrics"]) == [n for n, m in METRICS.items() if "vectors" in m.default]
    bad = runner.invoke(app, ["evaluate", str(tmp_path / "v.npy"), "--reference", str(tmp_path / "v.npy"),
                              "--metrics", "correlation"])
    assert bad.exit_code == 1 and "needs fields" in bad.stderr
    hint = [line for line in bad.stderr.splitlines() if line.startswith("Hint: ")][0]
    assert hint == "Hint: for vectors: " + ", ".join(n for n, m in METRICS.items() if m.vectors)
