"""Layers and house rules, checked on every module of the package (recursively).

* ``sictl.core``, ``sictl.models`` and ``sictl.train`` are mathematics: they import neither
  ``sictl.io``, ``sictl.pipeline``, ``sictl.cli``, nor h5py, safetensors, typer or rich;
* only ``sictl.io`` touches file formats (h5py, safetensors) and opens files: core and pipeline call
  no ``open``, ``json.load``, ``np.load``/``np.loadtxt`` and no h5py;
* no solver is recognised by its name outside the solver registry;
* no module is longer than 500 lines;
* nothing loads pickles.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "sictl"
MATHS = ("core", "models", "train")
FORBIDDEN_IN_MATHS = ("sictl.io", "sictl.pipeline", "sictl.cli")
FORBIDDEN_PACKAGES = ("h5py", "safetensors", "typer", "rich")


def _modules(*packages: str) -> list[Path]:
    roots = [ROOT / p for p in packages] if packages else [ROOT]
    return sorted(p for r in roots for p in r.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "sictl":
                names |= {f"sictl.{a.name}" for a in node.names}
    return names


def test_the_packages_exist():
    for package in (*MATHS, "io", "pipeline", "cli", "core/interpolants", "core/sampling", "core/exact",
                    "core/simulators", "core/fields"):
        assert (ROOT / package / "__init__.py").exists(), package
    assert len(_modules("core")) > 20  # the walk below is recursive


@pytest.mark.parametrize("path", _modules(*MATHS), ids=lambda p: str(p.relative_to(ROOT)))
def test_maths_imports_no_files_or_cli(path):
    bad = {m for m in _imports(path)
           if m.split(".")[0] in FORBIDDEN_PACKAGES or m.startswith(FORBIDDEN_IN_MATHS)}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_only_io_touches_file_formats():
    for path in _modules():
        if path.relative_to(ROOT).parts[0] == "io":
            continue
        bad = {m for m in _imports(path) if m.split(".")[0] in ("h5py", "safetensors")}
        assert not bad, f"{path} imports {bad}"


def _file_calls(path: Path) -> list[str]:
    """Calls that read or write files: open(), json.load/dump(), np.load/loadtxt/save(), h5py.*."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "open":
            found.append(f"open() at line {node.lineno}")
        elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
            owner, attr = f.value.id, f.attr
            if (owner == "json" and attr in ("load", "dump")) or (owner in ("np", "numpy") and attr in (
                    "load", "loadtxt", "save", "savez", "savetxt", "genfromtxt", "fromfile")) or owner == "h5py":
                found.append(f"{owner}.{attr}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("path", _modules("core", "models", "train", "pipeline"), ids=lambda p: str(p.relative_to(ROOT)))
def test_files_are_opened_only_in_io(path):
    assert not _file_calls(path), f"{path.relative_to(ROOT)}: {_file_calls(path)}"


def test_no_solver_is_recognised_by_name_outside_the_registry():
    registry = ROOT / "core" / "sampling" / "solvers.py"
    for path in _modules():
        if path == registry:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c.value for c in [node.left, *node.comparators] if isinstance(c, ast.Constant)]
                assert "em" not in consts, f"{path.relative_to(ROOT)}:{node.lineno} compares with 'em'"


def test_no_module_over_500_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 500}
    assert not long, long


def test_no_unsafe_loading():
    for path in _modules():
        text = path.read_text()
        assert "pickle.load" not in text
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"
