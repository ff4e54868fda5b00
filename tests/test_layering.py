"""Layers: core imports no file or CLI code; only sictl.io imports h5py/safetensors."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sictl"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_is_pure():
    for path in (ROOT / "core").glob("*.py"):
        bad = {m for m in _imports(path) if m.split(".")[0] in ("h5py", "safetensors", "typer", "rich")
               or m.startswith(("sictl.io", "sictl.cli", "sictl.pipeline"))}
        assert not bad, f"{path.name} imports {bad}"


def test_only_io_touches_file_formats():
    for path in ROOT.rglob("*.py"):
        if "io" in path.relative_to(ROOT).parts[:1]:
            continue
        bad = {m for m in _imports(path) if m.split(".")[0] in ("h5py", "safetensors")}
        assert not bad, f"{path} imports {bad}"


def test_no_unsafe_loading():
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        assert "pickle.load" not in text
        for line in text.splitlines():
            if "torch.load(" in line:
                assert "weights_only=True" in line, f"{path}: {line.strip()}"
