"""docs/reliability.md's table of cases and the tests stay in sync: every ``files-…`` (``msg-…``) row is a
test parameter id in tests/bad_input/test_bad_input_files*.py (test_bad_input_messages.py), and every such id is a row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "files-"


def table_ids(prefix: str) -> list[str]:
    """First cells (without backticks) of the table rows of docs/reliability.md that start with ``prefix``."""
    ids = []
    for line in (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`?([^`|\s]+)`?\s*\|", line)
        if match and match.group(1).startswith(prefix):
            ids.append(match.group(1))
    return ids


def param_ids(paths: list[Path], prefix: str) -> list[str]:
    """The ``id=`` of every ``pytest.param(...)`` in ``paths`` that starts with ``prefix``."""
    ids = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "param":
                for kw in node.keywords:
                    if kw.arg == "id" and isinstance(kw.value, ast.Constant) and str(kw.value.value).startswith(prefix):
                        ids.append(kw.value.value)
    return ids


@pytest.mark.parametrize("prefix, pattern", [(PREFIX, "test_bad_input_files*.py"), ("msg-", "test_bad_input_messages*.py")])
def test_every_case_is_a_row_and_every_row_a_case(prefix, pattern):
    rows = table_ids(prefix)
    tests = param_ids(sorted((ROOT / "tests" / "bad_input").glob(pattern)), prefix)
    assert rows, f"no {prefix} rows in docs/reliability.md"
    assert len(rows) == len(set(rows)), "a case id appears twice in docs/reliability.md"
    assert len(tests) == len(set(tests)), "a case id appears twice in the tests"
    assert sorted(set(rows) - set(tests)) == [], "rows of docs/reliability.md without a test"
    assert sorted(set(tests) - set(rows)) == [], "tests without a row in docs/reliability.md"
