"""Pinned outputs of documented commands, taken before the package was reorganised.

Moving code between modules must not change what a user gets for the same seed. These values were
recorded from the commands below; samples are float32 results of ≤ 24 drift evaluations of an exact
drift, so they agree to a few float32 ulps times the number of steps. The tolerance, 1e-4 relative
to the field's scale, leaves two decades of margin over that and still catches any change of noise
stream, schedule, grid or solver arithmetic (those move values by O(1)).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from sictl.cli.app import app

runner = CliRunner()

PINS = {
    "prepare": [[-1.408592, -1.152428, -0.8493], [2.198114, 1.669413, 1.299195], [2.746645, 2.211909, 1.81903]],
    "expint2": [[-0.72747, -1.287554, -1.504572], [0.350345, 0.194701, -0.121993], [-1.957053, -1.532507, -1.143927],
                [0.531086, 0.049562, -0.516005]],
    "em": [[-472.224976, -437.605988, -394.044037], [-74.332298, -146.711761, -202.208969],
           [-230.516602, -158.852798, -79.404381], [204.222427, 190.170853, 152.085846]],
    "transfer": [[-4.161461, -0.484186, -4.934337], [5.91074, 1.030666, 1.293956], [5.764161, 0.405709, -1.016034],
                 [1.686045, 3.296048, 1.601432]],
    "mixture": [[-4.477717, 2.074076], [-5.349155, 2.391951], [-1.575433, 0.474896], [-5.598923, 0.625841]],
}


def _json(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _first(path: str, rows: int) -> np.ndarray:
    from sictl.io import iter_samples_batches

    batch = np.asarray(next(iter_samples_batches(path, 1000)), dtype=np.float64)
    return batch.reshape(len(batch), -1)[:rows, :3]


def _close(got: np.ndarray, pinned: list) -> None:
    want = np.asarray(pinned)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))


@pytest.fixture(scope="module")
def field(tmp_path_factory):
    d = tmp_path_factory.mktemp("pins")
    _json("prepare", "gaussian-field", "--res", "16", "--n", "40", "--split", "0.9", "-o", str(d / "g.h5"), "--seed", "3")
    return d


def test_prepare_gaussian_field(field):
    from sictl.io import read_dataset

    batch = np.asarray(next(iter(read_dataset(str(field / "g-train.h5")).iter_batches(batch_size=100))))
    _close(batch.reshape(len(batch), -1)[:3, :3], PINS["prepare"])


@pytest.mark.parametrize("name, args", [
    ("expint2", ["--schedule", "designed", "--solver", "expint2", "--grid", "logsnr", "--steps", "5", "--n", "8",
                 "--seed", "1"]),
    ("em", ["--solver", "em", "--diffusion", "optimal", "--steps", "6", "--n", "4", "--seed", "2"]),
    ("transfer", ["--schedule", "designed", "--drift-schedule", "linear", "--solver", "heun", "--steps", "4", "--n", "4",
                  "--seed", "5"]),
])
def test_sample_exact_field(field, name, args):
    out = str(field / f"{name}.h5")
    _json("sample", "--exact", str(field / "g-train.h5"), *args, "-o", out)
    _close(_first(out, 4), PINS[name])


def test_sample_mixture(tmp_path):
    data, out = str(tmp_path / "m.h5"), str(tmp_path / "ms.h5")
    _json("prepare", "gmm", "--weights", "0.3,0.7", "--means", "4,0;-4,1", "--n", "64", "-o", data, "--seed", "0")
    _json("sample", "--exact", data, "--solver", "rk4-38", "--steps", "4", "--n", "4", "-o", out, "--seed", "4")
    _close(_first(out, 4)[:, :2], PINS["mixture"])


def test_gaussian_check_and_design_closed_forms(tmp_path):
    g = _json("gaussian-check", "--ratio", "1e-4", "--schedules", "linear,trig,designed", "--steps", "4,9")
    lip = {name: s["lipschitz"] for name, s in g["schedules"].items()}
    np.testing.assert_allclose([lip["linear"], lip["trig"], lip["designed"]],
                               [50.004999999999995, 78.53196235811085, 4.605170185988091], rtol=1e-10)
    errs = [r["spectral_error_mean"] for r in g["runs"] if r["schedule"] == "linear"]
    np.testing.assert_allclose(errs, [9.426920650689546, 1.61290751332132], rtol=1e-9)
    d = _json("design-schedule", "--matern", "32", "--lipschitz", "-o", str(tmp_path / "d.h5"))
    np.testing.assert_allclose([d["a2"]["designed"], d["lipschitz"]["linear"]], [86.86312593039686, 5579.708267242858],
                               rtol=1e-8)
