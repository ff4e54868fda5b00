"""Schedule files: exact round trip, every validation rule, CSV/JSON export."""

from __future__ import annotations

import csv
import dataclasses
import json
import re

import numpy as np
import pytest

from sictl.errors import SchemaError
from sictl.io import ScheduleTable, export_schedule_csv, export_schedule_json, read_schedule, write_schedule
from sictl.io.fixtures import linear_schedule_table
from sictl.io.schedules import COLUMNS


def designed_like(n: int = 257) -> ScheduleTable:
    """A schedule with β̇(0) = +inf (β = sqrt(t)) to exercise infinite endpoint derivatives."""
    t = np.linspace(0.0, 1.0, n)
    beta = np.sqrt(t)
    alpha = 1.0 - beta
    with np.errstate(divide="ignore"):
        beta_dot = 0.5 / np.sqrt(t)
        eps = alpha**2 * beta_dot / beta - alpha * -beta_dot
    eps[0] = np.inf
    return ScheduleTable(
        t=t,
        alpha=alpha,
        beta=beta,
        alpha_dot=-beta_dot,
        beta_dot=beta_dot,
        eps_star=eps,
        family="designed",
        params={"lambda_min": 1e-4, "kind": "closed-form"},
        grid=np.linspace(0.0, 1.0, 10) ** 2,
        target={"type": "gaussian-ratio", "lambda": 1e-4},
        metrics={"a2": {"designed": 21.2, "linear": 1e5}},
        config={"criterion": "lipschitz"},
        inputs={"data.h5": "sha256:ab"},
        seed=3,
    )


def assert_tables_equal(a: ScheduleTable, b: ScheduleTable) -> None:
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(b, name).dtype == np.float64
    if a.grid is None:
        assert b.grid is None
    else:
        np.testing.assert_array_equal(a.grid, b.grid)
    for name in ("family", "params", "target", "metrics", "config", "inputs", "seed"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize(
    "table",
    [designed_like(), linear_schedule_table(2), dataclasses.replace(linear_schedule_table(), grid=None)],
)
def test_round_trip_exact(tmp_path, table):
    write_schedule(tmp_path / "s.h5", table)
    assert_tables_equal(table, read_schedule(tmp_path / "s.h5"))


def _bad(**changes) -> ScheduleTable:
    base = linear_schedule_table(11)
    cols = {name: np.array(getattr(base, name)) for name in COLUMNS}
    for key, edit in changes.items():
        if callable(edit):
            edit(cols[key])
        else:
            cols[key] = edit
    return dataclasses.replace(base, **cols)


def _set(index, value):
    def edit(array):
        array[index] = value

    return edit


BAD = {
    "one point": (
        _bad(
            t=np.zeros(1),
            alpha=np.ones(1),
            beta=np.zeros(1),
            alpha_dot=-np.ones(1),
            beta_dot=np.ones(1),
            eps_star=np.ones(1),
        ),
        "at least 2 points",
    ),
    "lengths": (_bad(eps_star=np.ones(10)), "/eps_star has 10 points but /t has 11"),
    "t start": (_bad(t=np.linspace(0.1, 1.0, 11)), "t must run from exactly 0 to exactly 1"),
    "t end": (_bad(t=_set(-1, 0.99999)), "t must run from exactly 0 to exactly 1"),
    "t order": (_bad(t=_set(5, 0.35)), "t is not strictly increasing"),
    "alpha(0)": (_bad(alpha=_set(0, 0.9)), "alpha(0) must be 1"),
    "beta(1)": (_bad(beta=_set(-1, 0.999)), "beta(1) must be 1"),
    "beta non-monotone": (_bad(beta=_set(5, 0.35)), "schedule is not monotone: beta decreases at t=0.5"),
    "alpha non-monotone": (_bad(alpha=_set(5, 0.65)), "schedule is not monotone: alpha increases at t=0.5"),
    "nan": (_bad(alpha=_set(3, np.nan)), "alpha is NaN at t=0.3"),
    "inner inf": (_bad(beta_dot=_set(4, np.inf)), "beta_dot is infinite at t=0.4"),
    "inf value": (_bad(beta=_set(-1, np.inf)), "beta holds infinite values"),
    "sign": (_bad(beta_dot=_set(2, -0.5)), "beta_dot < 0 at t=0.2"),
    "alpha_dot sign": (_bad(alpha_dot=_set(2, 0.5)), "alpha_dot > 0 at t=0.2"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_validation_on_write(tmp_path, case):
    table, message = BAD[case]
    with pytest.raises(SchemaError, match=re.escape(message)) as info:
        write_schedule(tmp_path / "s.h5", table)
    assert str(tmp_path / "s.h5") in str(info.value)
    assert "design-schedule" in info.value.hint
    assert not (tmp_path / "s.h5").exists()


@pytest.mark.parametrize("case", ["t start", "beta non-monotone", "inner inf"])
def test_validation_on_read(tmp_path, case):
    import h5py

    write_schedule(tmp_path / "s.h5", linear_schedule_table(11))
    table, message = BAD[case]
    with h5py.File(tmp_path / "s.h5", "r+") as f:
        for name in COLUMNS:
            f[name][...] = getattr(table, name)
    with pytest.raises(SchemaError, match=re.escape(message)) as info:
        read_schedule(tmp_path / "s.h5")
    assert str(info.value).startswith(str(tmp_path / "s.h5"))


def test_infinite_endpoint_derivative_allowed(tmp_path):
    table = designed_like(33)
    assert np.isinf(table.beta_dot[0])
    write_schedule(tmp_path / "s.h5", table)
    assert np.isposinf(read_schedule(tmp_path / "s.h5").beta_dot[0])


def test_bad_grid(tmp_path):
    table = dataclasses.replace(linear_schedule_table(), grid=np.array([0.0, 0.5, 0.4, 1.0]))
    with pytest.raises(SchemaError, match="/grid must be strictly increasing"):
        write_schedule(tmp_path / "s.h5", table)


def test_export_csv_exact(tmp_path):
    table = designed_like(65)
    export_schedule_csv(table, tmp_path / "s.csv")
    text = (tmp_path / "s.csv").read_text()
    meta = {
        line[2:].split(": ", 1)[0]: json.loads(line[2:].split(": ", 1)[1])
        for line in text.splitlines()
        if line.startswith("# ")
    }
    assert meta["family"] == "designed" and meta["params"] == table.params
    assert meta["grid"] == table.grid.tolist()
    rows = list(csv.reader(line for line in text.splitlines() if not line.startswith("#")))
    assert tuple(rows[0]) == COLUMNS
    data = np.array(rows[1:], dtype=np.float64)
    for j, name in enumerate(COLUMNS):
        np.testing.assert_array_equal(data[:, j], getattr(table, name))


def test_export_json_strict(tmp_path, fake_stdout):
    table = designed_like(17)
    out = fake_stdout()
    export_schedule_json(table, "-")
    obj = json.loads(out.buffer.getvalue(), parse_constant=lambda c: pytest.fail(f"non-strict {c}"))
    assert obj["columns"] == list(COLUMNS)
    assert obj["data"]["beta_dot"][0] == "inf"  # +inf endpoint: strict JSON spells it "inf"
    assert np.asarray(obj["data"]["beta_dot"], dtype=float)[0] == np.inf
    np.testing.assert_array_equal(np.array(obj["data"]["beta_dot"][1:]), table.beta_dot[1:])
    np.testing.assert_array_equal(np.array(obj["data"]["t"]), table.t)
    assert obj["metrics"] == table.metrics
