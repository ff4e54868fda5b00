"""Messages and consistency: every message true, every option it names real, one way to say each thing.

Each case is a CLI run whose parameter id (``msg-…``) is a row of the table in docs/reliability.md.
A refused run exits 1 (a domain error) or 2 (a usage error: a required option missing, or click's own
checks) with one ``Error:`` line holding a stable fragment, leaves no file and no temporary, and
leaves its inputs byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import EXIT_BROKEN_PIPE, app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def ok(*args: str, stdin: bytes | None = None):
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """grf16.h5, grf32.h5 (Gaussian fields), sched.h5 (designed for grf16), odd.npy, channel_last.npy."""
    d = tmp_path_factory.mktemp("inputs")
    ok("prepare", "gaussian-field", "--res", "16", "--n", "40", "-o", str(d / "grf16.h5"), "-q")
    ok("prepare", "gaussian-field", "--res", "32", "--n", "8", "-o", str(d / "grf32.h5"), "-q")
    ok("design-schedule", "--data", str(d / "grf16.h5"), "-o", str(d / "sched.h5"), "-q")
    rng = np.random.default_rng(0)
    np.save(d / "odd.npy", rng.standard_normal((20, 16, 9, 5)).astype(np.float32))
    np.save(d / "channel_last.npy", rng.standard_normal((20, 16, 16, 1)).astype(np.float32))
    return d


# ------------------------------------------------------------------------------------- refused runs

REFUSED = [
    pytest.param(["evaluate", "{d}/grf16.h5", "--reference-spectrum", "{d}/grf32.h5", "-o", "{o}/r.h5"], 1,
                 "resolution mismatch: the samples are 16×16 but the reference spectrum", (),
                 id="msg-evaluate-spectrum-resolution"),
    pytest.param(["prepare", "gaussian-field", "--res", "16", "--n", "4", "--resolution", "9", "-o", "{o}/x.h5"], 1,
                 "--resolution must be an even number ≥ 4", (), id="msg-prepare-odd-resolution"),
    pytest.param(["prepare", "gaussian-field", "--res", "16", "--n", "4", "--ell", "inf", "-o", "{o}/x.h5"], 1,
                 "--ell must be a finite number, got inf", (".tmp", "raw"), id="msg-prepare-ell-inf"),
    pytest.param(["prepare", "allen-cahn", "--res", "8", "--kappa", "nan", "-o", "{o}/x.h5"], 1,
                 "--kappa must be a finite number, got nan", (), id="msg-prepare-kappa-nan"),
    pytest.param(["prepare", "gaussian-field", "--res", "16", "--n", "4", "--sigma2", "1e308", "--s", "0.001",
                  "-o", "{o}/x.h5"], 1, "prepare gaussian-field: the source produced NaN/inf values", (".tmp", "raw"),
                 id="msg-prepare-source-overflow"),
    pytest.param(["gaussian-check", "--ratio", "0.1", "--matern", "32"], 1,
                 "give exactly one target: --ratio, --matern, --spectrum, --gmm or --field-mixture", ("--data", "--gmm-file"),
                 id="msg-hint-gaussian-check-targets"),
    pytest.param(["gaussian-check", "--ratio", "0.1", "--base", "white:2"], 1, "does not apply to --ratio", ("--data",),
                 id="msg-hint-gaussian-check-ratio-base"),
    pytest.param(["design-schedule", "--ratio", "0.1", "--gmm", "3"], 1,
                 "--ratio, --matern, --data/--spectrum, --gmm, --field-mixture or --gmm-file", (), id="msg-hint-design-targets"),
    pytest.param(["evaluate", "{d}/odd.npy", "--reference", "{d}/grf16.h5"], 1, "cannot tell the axes", (),
                 id="msg-evaluate-layout-hint"),
    pytest.param(["sample", "--exact", "{d}/grf16.h5"], 2, "give -o PATH", (), id="msg-usage-sample-output"),
    pytest.param(["sample", "-o", "{o}/s.h5"], 2, "give the drift", (), id="msg-usage-sample-drift"),
    pytest.param(["gaussian-check", "--steps", "4"], 2, "give exactly one target", (), id="msg-usage-gaussian-check-target"),
    pytest.param(["design-schedule", "-o", "{o}/s.h5"], 2, "give exactly one target", (), id="msg-usage-design-target"),
    pytest.param(["evaluate", "{d}/grf16.h5"], 2, "give exactly one of --reference and --reference-spectrum", (),
                 id="msg-usage-evaluate-reference"),
    pytest.param(["prepare", "gmm", "--n", "5", "-o", "{o}/g.h5"], 2, "give exactly one of --two-mode", (),
                 id="msg-usage-prepare-gmm-mixture"),
]


@pytest.mark.parametrize("args,code,fragment,absent", REFUSED)
def test_refused_with_one_true_line(data, tmp_path, args, code, fragment, absent):
    before = snapshot(data)
    result = runner.invoke(app, [a.format(d=data, o=tmp_path) for a in args])
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and fragment in errors[0], result.stderr
    assert result.stderr.splitlines()[1].startswith("Hint: ") and "Traceback" not in result.output
    assert not any(word in result.stderr for word in absent), result.stderr
    assert list(tmp_path.iterdir()) == [] and snapshot(data) == before


@pytest.mark.parametrize("args,fragment", [
    pytest.param(["sample", "--bogus"], "No such option", id="msg-usage-unknown-option"),
    pytest.param(["sample", "--n", "abc"], "Invalid value for '--n'", id="msg-usage-wrong-type"),
    pytest.param(["evaluate"], "Missing argument", id="msg-usage-missing-argument"),
])
def test_click_usage_errors_exit_2(args, fragment):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and fragment in result.stderr, result.output


@pytest.mark.parametrize("error,fragment,hint", [
    pytest.param(MemoryError(), "Error: out of memory (MemoryError: allocation failed)", "--batch-size",
                 id="msg-boundary-memory-error"),
    pytest.param(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 9 bytes"),
                 "Error: out of memory (RuntimeError: DefaultCPUAllocator", "--n", id="msg-boundary-torch-oom"),
    pytest.param(zipfile.BadZipFile("File is not a zip file"), "Error: not a valid zip archive (File is not a zip file)",
                 "re-save", id="msg-boundary-bad-zip"),
])
def test_boundary_turns_resource_errors_into_one_line(monkeypatch, error, fragment, hint):
    import sictl.pipeline.gaussian_check as gc

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(gc, "run", fail)
    result = runner.invoke(app, ["gaussian-check", "--ratio", "0.1"])
    assert result.exit_code == 1 and result.stderr.splitlines()[0].startswith(fragment), result.stderr
    assert hint in result.stderr.splitlines()[1] and "internal error" not in result.stderr


# ---------------------------------------------------------------------------------- accepted inputs

@pytest.mark.parametrize("command", [
    pytest.param("sample", id="msg-schedule-stdin-sample"),
    pytest.param("gaussian-check", id="msg-schedule-stdin-gaussian-check"),
])
def test_schedule_from_stdin(data, tmp_path, command):
    schedule = ok("design-schedule", "--data", str(data / "grf16.h5"), "-o", "-").stdout_bytes
    if command == "sample":
        out = json.loads(ok("sample", "--exact", str(data / "grf16.h5"), "--schedule", "-", "--n", "4", "--steps", "2",
                            "-o", str(tmp_path / "s.h5"), "--json", stdin=schedule).stdout)
        assert out["schedule_description"]["family"].startswith("designed") and (tmp_path / "s.h5").exists()
    else:
        out = json.loads(ok("gaussian-check", "--spectrum", str(data / "grf16.h5"), "--schedules", "linear,-",
                            "--steps", "4", "--json", stdin=schedule).stdout)
        assert out["schedules"]["-"]["a2"] < out["schedules"]["linear"]["a2"]
        assert out["inputs"]["-"].startswith("sha256:")


@pytest.mark.parametrize("pipe", [pytest.param("design-schedule", id="msg-schedule-stdin-shell-pipe")])
def test_schedule_through_a_real_pipe(data, tmp_path, pipe):
    sictl = f"{sys.executable} -m sictl"
    line = (f"{sictl} {pipe} --data grf16.h5 -o - -q | "
            f"{sictl} sample --exact grf16.h5 --schedule - --n 4 --steps 2 -o {tmp_path}/piped.h5 -q")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=data, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert (tmp_path / "piped.h5").exists()


@pytest.mark.parametrize("command", [
    pytest.param(["evaluate", "{d}/channel_last.npy", "--reference", "{d}/grf16.h5", "--metrics", "spectrum", "--json"],
                 id="msg-channel-last-evaluate"),
    pytest.param(["prepare", "import", "{d}/channel_last.npy", "-o", "{o}/imported.h5", "--json"],
                 id="msg-channel-last-import"),
])
def test_channel_last_arrays_are_recognised(data, tmp_path, command):
    out = json.loads(ok(*(a.format(d=data, o=tmp_path) for a in command)).stdout)
    assert out.get("layout", "sample x y channel") == "sample x y channel"
    assert out.get("sample_shape", [1, 16, 16])[-2:] == [16, 16]


# ---------------------------------------------------------------------------------------- broken pipe

@pytest.mark.parametrize("args", [
    pytest.param(["--help"], id="msg-broken-pipe-help"),
    pytest.param(["sample", "--help"], id="msg-broken-pipe-command-help"),
    pytest.param(["sample", "--exact", "grf16.h5", "--n", "64", "--steps", "2", "-o", "-", "-q"],
                 id="msg-broken-pipe-sample"),
    pytest.param(["gaussian-check", "--ratio", "0.1", "--steps", "4", "--json"], id="msg-broken-pipe-json"),
])
def test_a_closed_stdout_ends_quietly(data, args):
    """The reader is gone before sictl writes: exit 141 (128 + SIGPIPE) and nothing on stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "sictl", *args], cwd=data, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == EXIT_BROKEN_PIPE and err == ""
    assert not [p for p in os.listdir(data) if p.endswith(".tmp")]


# ------------------------------------------------------------------------------------------ infinity

@pytest.fixture(scope="module")
def infinite(tmp_path_factory):
    """design-schedule --gmm 40: the designed Lipschitz constant overflows to inf (stdout JSON, files)."""
    d = tmp_path_factory.mktemp("inf")
    out = json.loads(ok("design-schedule", "--gmm", "40", "-o", str(d / "g.h5"), "--export", "json", "--json").stdout)
    ok("design-schedule", "--ratio", "0.01", "-o", str(d / "r.h5"), "--export", "csv", "-q")
    return d, out


@pytest.mark.parametrize("where", [
    pytest.param("stdout", id="msg-inf-json-stdout"),
    pytest.param("attribute", id="msg-inf-hdf5-json-attribute"),
    pytest.param("export-json", id="msg-inf-export-json"),
    pytest.param("export-csv", id="msg-inf-export-csv-genfromtxt"),
])
def test_infinity_one_way_per_format_and_read_back(infinite, where):
    from sictl.io import read_schedule

    d, out = infinite
    if where == "stdout":
        assert out["lipschitz"]["designed"] == "inf"
    elif where == "attribute":
        with h5py.File(d / "g.h5") as f:
            raw = f.attrs["metrics"]
        assert '"designed":"inf"' in raw and "Infinity" not in raw
        assert read_schedule(d / "g.h5").metrics["lipschitz"]["designed"] == float("inf")
    elif where == "export-json":
        doc = json.loads((d / "g.json").read_text(), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
        assert doc["metrics"]["lipschitz"]["designed"] == "inf"
        assert np.asarray(doc["data"]["eps_star"], dtype=float)[0] == np.inf
    else:
        table = np.genfromtxt(d / "r.csv", names=True, delimiter=",")
        assert table.dtype.names == ("t", "alpha", "beta", "alpha_dot", "beta_dot", "eps_star")
        assert table["eps_star"][0] == np.inf and np.isfinite(table["eps_star"][1:]).all()
        with open(d / "r.csv") as handle:
            assert next(csv.reader(handle))[0] == "t"


# ------------------------------------------------------------------------------- tables, progress, wrote

@pytest.mark.parametrize("columns", [pytest.param("40", id="msg-table-numbers-whole-in-logs")])
def test_tables_never_cut_numbers_in_a_log(tmp_path, columns):
    from sictl.io import read_report

    args = ["gaussian-check", "--ratio", "1e-4,0.37,2.5", "--schedules", "linear,trig,designed", "--steps", "9,19",
            "-o", str(tmp_path / "r.h5")]
    result = runner.invoke(app, args, env={"COLUMNS": columns})
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "r.h5").report
    assert "…" not in result.stderr
    for run in report["runs"]:
        assert f"{run['spectral_error_mean']:.4g}" in result.stderr


@pytest.mark.parametrize("width", [pytest.param(24, id="msg-table-numbers-fold-on-a-terminal")])
def test_tables_fold_numbers_on_a_narrow_terminal(width):
    import io

    from rich.console import Console

    from sictl.cli.output import make_table as table

    out = io.StringIO()
    t = table("quantity", "value")
    t.add_row("relative error mean / max", "0.0123456789012 / 0.0987654321098")
    Console(file=out, force_terminal=True, width=width, color_system=None).print(t)
    text = out.getvalue()
    assert "…" not in text
    flat = "".join(ch for ch in text if ch in "0123456789./")
    assert "0.0123456789012" in flat.replace("/", " /").replace(" ", "") or "0123456789012" in flat


@pytest.fixture
def terminal(monkeypatch):
    """err_console as a terminal writing into a buffer (the progress bar draws on terminals only)."""
    import io

    from rich.console import Console

    from sictl.cli import output

    buffer = io.StringIO()
    monkeypatch.setattr(output, "err_console", lambda quiet=False: Console(file=buffer, force_terminal=True, width=100,
                                                                            quiet=quiet, color_system=None))
    return buffer


@pytest.mark.parametrize("args,bar,shown", [
    pytest.param(["gaussian-check", "--matern", "16", "--steps", "2", "--monte-carlo", "8"], "runs", True,
                 id="msg-progress-gaussian-check-monte-carlo"),
    pytest.param(["gaussian-check", "--matern", "16", "--steps", "2", "--monte-carlo", "8", "--quiet"], "runs", False,
                 id="msg-progress-quiet"),
    pytest.param(["evaluate", "{d}/grf16.h5", "--reference", "{d}/grf16.h5", "--metrics", "pdf,moments"],
                 "/2 metrics", True, id="msg-progress-evaluate"),
    pytest.param(["design-schedule", "--gmm", "3"], "designing the schedule", True, id="msg-progress-design-schedule"),
])
def test_long_work_shows_progress(data, terminal, args, bar, shown):
    """On a terminal a progress bar (transient: erased when done, so it is looked for in what was drawn)."""
    result = runner.invoke(app, [a.format(d=data) for a in args])
    assert result.exit_code == 0, result.output
    assert (bar in terminal.getvalue()) == shown


@pytest.mark.parametrize("args,written", [
    pytest.param(["prepare", "gaussian-field", "--res", "8", "--n", "10", "--split", "0.5", "-o", "{o}/g.h5"],
                 ["g-train.h5", "g-test.h5"], id="msg-wrote-prepare"),
    pytest.param(["design-schedule", "--ratio", "0.1", "-o", "{o}/s.h5", "--export", "csv", "--plot", "{o}/s.png"],
                 ["s.h5", "s.csv", "s.png"], id="msg-wrote-design-schedule"),
    pytest.param(["gaussian-check", "--ratio", "0.1", "--steps", "4", "-o", "{o}/r.h5"], ["r.h5"],
                 id="msg-wrote-gaussian-check"),
    pytest.param(["sample", "--exact", "{d}/grf16.h5", "--n", "4", "--steps", "2", "-o", "{o}/s.h5",
                  "--save-noise", "{o}/z.h5"], ["s.h5", "z.h5"], id="msg-wrote-sample"),
    pytest.param(["evaluate", "{d}/grf16.h5", "--reference", "{d}/grf16.h5", "--metrics", "spectrum", "-o", "{o}/r.h5",
                  "--plot", "{o}/figs"], ["r.h5", "figs/spectrum.png", "figs/samples.png"], id="msg-wrote-evaluate"),
])
def test_every_written_file_is_announced(data, tmp_path, args, written):
    argv = [a.format(d=data, o=tmp_path) for a in args]
    said = [line for line in ok(*argv).stderr.splitlines() if line.startswith("wrote ")]
    assert said == [f"wrote {tmp_path / name}" for name in written]
    assert all((tmp_path / name).exists() for name in written)
    assert "wrote" not in ok(*argv, "--quiet").stderr  # --quiet: nothing on stderr


# -------------------------------------------------------------------------------------------- plots

@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plots would save."""
    from sictl.pipeline import plots

    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, tight=True: saved.append(fig))
    return saved


@pytest.mark.parametrize("ratio", [pytest.param("1e-4", id="msg-plot-schedule-resolves-peak")])
def test_schedule_plot_resolves_the_lipschitz_peak(tmp_path, figures, ratio):
    import torch

    from sictl.core.exact.gaussian import closed_form_lipschitz
    from sictl.core.exact.targets import GaussianTarget
    from sictl.core.interpolants.schedules import Designed, Linear
    from sictl.pipeline.design import plot_times

    ok("design-schedule", "--ratio", ratio, "-o", str(tmp_path / "s.h5"), "--plot", str(tmp_path / "s.png"), "-q")
    ax1, ax2 = figures[0].axes
    assert ax1.get_xscale() == "logit" and ax1.get_xlabel() and ax1.get_ylabel() and ax2.get_ylabel()
    lam = torch.tensor([float(ratio)], dtype=torch.float64)
    target = GaussianTarget(lam, torch.ones_like(lam), None, None, {})
    peak = float(target.lipschitz_profile(Linear(), plot_times(Designed(float(ratio)))).max())
    assert peak >= 0.999 * closed_form_lipschitz(Linear(), (float(ratio), float(ratio)))


@pytest.mark.parametrize("reference", [pytest.param(True, id="msg-plot-samples-shared-scale-reference")])
def test_samples_plot_has_one_scale_a_colour_bar_and_a_reference_row(data, tmp_path, figures, reference):
    ok("evaluate", str(data / "grf16.h5"), "--reference", str(data / "grf16.h5"), "--metrics", "spectrum",
       "--plot", str(tmp_path / "figs"), "-q")
    fig = figures[1]
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len({im.get_clim() for im in images}) == 1 and len(images) == 16
    assert any(ax.get_ylabel() == "reference" for ax in fig.axes)
    assert any(ax.get_label() == "<colorbar>" for ax in fig.axes)


# --------------------------------------------------------------------------------- options and docs

@pytest.mark.parametrize("source,counts", [
    pytest.param("gaussian-field", {"--n"}, id="msg-prepare-count-gaussian-field"),
    pytest.param("gmm", {"--n"}, id="msg-prepare-count-gmm"),
    pytest.param("allen-cahn", {"--n", "--snapshots", "--chains", "--samples-per-chain"}, id="msg-prepare-count-allen-cahn"),
    pytest.param("navier-stokes", {"--n", "--snapshots", "--trajectories"}, id="msg-prepare-count-navier-stokes"),
])
def test_prepare_sources_count_samples_the_same_way(source, counts):
    import typer

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    cmd = root.get_command(ctx, "prepare").get_command(ctx, source)
    names = {o for p in cmd.params for o in p.opts}
    assert counts <= names
    assert not {"--chains", "--samples-per-chain", "--trajectories"} & {p.opts[0] for p in cmd.params}


@pytest.mark.parametrize("doc,absent", [
    pytest.param("docs/cli.md", ("--force", "not implemented"), id="msg-docs-cli-match-behaviour"),
    pytest.param("docs/file-formats.md", ("--force", "may contain `NaN`/`Infinity`", "written `null`"), id="msg-docs-formats-match-behaviour"),
    pytest.param("README.md", ("not implemented",), id="msg-docs-readme-match-behaviour"),
])
def test_docs_say_what_the_commands_do(doc, absent):
    text = (ROOT / doc).read_text(encoding="utf-8")
    assert not [word for word in absent if word in text]
