"""Every option an error message or hint names is a real option of the command that can show it.

The messages are collected from the source (every ``ConfigError``/``SchemaError``/… call and every
``hint``/``HINT`` string), their ``--option`` tokens parsed, and each checked against the click
parameters of the commands whose code raises it. An option inside a `` `sictl CMD …` `` quotation is
checked against CMD instead; other quotations (`` `h5dump -A` ``) are not sictl's. Messages of shared
code (targets, layouts, files) must name options that every command using that code has.
"""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2] / "sictl"
ERRORS = {"ConfigError", "SchemaError", "ShapeError", "SictlError", "ConvergenceError", "UsageError", "BadParameter"}
TOKEN = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
QUOTED = re.compile(r"`[^`]*`")
#: "sictl CMD [SOURCE] …" up to the end of its quotation, a parenthesis, a semicolon or the message
SICTL = re.compile(r"\bsictl ([a-z-]+)(?: ([a-z][a-z-]*))?([^`);]*)")


def _commands() -> dict[str, set[str]]:
    """'sample', 'prepare gmm', … → every option name (primary and secondary) plus --help."""
    import typer

    from sictl.cli.app import app

    root = typer.main.get_command(app)
    ctx = typer.Context(root)
    out: dict[str, set[str]] = {}

    def names(cmd) -> set[str]:
        return {o for p in cmd.params for o in (*p.opts, *getattr(p, "secondary_opts", ()))} | {"--help", "-h"}

    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        if hasattr(cmd, "list_commands"):
            for sub in cmd.list_commands(ctx):
                out[f"{name} {sub}"] = names(cmd.get_command(ctx, sub))
        else:
            out[name] = names(cmd)
    return out


COMMANDS = _commands()
PREPARE = sorted(c for c in COMMANDS if c.startswith("prepare "))
EVERY = sorted(COMMANDS)

#: module (relative to sictl/) → (commands whose runs can raise its messages, "all" or "any" of them)
OWNERS: dict[str, tuple[list[str], str]] = {
    "cli/sample.py": (["sample"], "all"), "pipeline/sample.py": (["sample"], "all"),
    "pipeline/drift_sources.py": (["sample"], "all"),
    "cli/evaluate.py": (["evaluate"], "all"), "pipeline/evaluate.py": (["evaluate"], "all"),
    "pipeline/evaluate_metrics.py": (["evaluate"], "all"),
    "pipeline/layout.py": (["evaluate", "prepare import"], "any"),  # to_trajectories is import's alone
    "cli/gaussian_check.py": (["gaussian-check"], "all"), "pipeline/gaussian_check.py": (["gaussian-check"], "all"),
    "cli/design_schedule.py": (["design-schedule"], "all"), "pipeline/design.py": (["design-schedule"], "all"),
    "pipeline/targets.py": (["gaussian-check", "design-schedule"], "all"),
    "cli/prepare.py": (PREPARE, "any"), "pipeline/prepare.py": (PREPARE, "any"),
    "cli/train.py": (["train"], "all"), "pipeline/train.py": (["train"], "all"),
}
for _src in ("gaussian_field", "gmm", "allen_cahn", "navier_stokes"):
    OWNERS[f"pipeline/sources/{_src}.py"] = ([f"prepare {_src.replace('_', '-')}"], "all")
OWNERS["pipeline/sources/import_file.py"] = (["prepare import"], "all")


def _text(node) -> list[str]:
    """The literal text of a string expression (f-string fields become '{}'; both branches of an if)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in _text(node.left) for b in _text(node.right)]
    if isinstance(node, ast.IfExp):
        return _text(node.body) + _text(node.orelse)
    return []


def _messages(path: pathlib.Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            funcs = [node.func.body, node.func.orelse] if isinstance(node.func, ast.IfExp) else [node.func]
            names = {f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "") for f in funcs}
            parts = list(node.args[:1]) if names & ERRORS else []
            parts += [k.value for k in node.keywords if k.arg == "hint"]
            found += [(node.lineno, t) for p in parts for t in _text(p)]
        elif isinstance(node, ast.Assign) and any("hint" in getattr(t, "id", "").lower() for t in node.targets):
            found += [(node.lineno, t) for t in _text(node.value)]
    return found


def _claims(text: str, owners: list[str]) -> list[tuple[str, list[str]]]:
    """(option, the commands that must have it) for every option token of a message."""
    claims = []
    for m in SICTL.finditer(text):
        cmd, sub, rest = m.groups()
        if sub and f"{cmd} {sub}" in COMMANDS:
            cmd = f"{cmd} {sub}"
        elif sub:
            rest = f"{sub} {rest}"
        targets = [cmd] if cmd in COMMANDS else sorted(c for c in COMMANDS if c.startswith(cmd + " "))
        claims += [(tok, targets) for tok in TOKEN.findall(rest)]
    own = QUOTED.sub(" ", SICTL.sub(" ", text))
    claims += [(tok, owners) for tok in TOKEN.findall(own)]
    return claims


def _cases():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        owners, mode = OWNERS.get(rel, (EVERY, "any"))
        for line, text in _messages(path):
            for token, commands in _claims(text, owners):
                yield rel, line, text, token, commands, mode if commands is owners else "any"


def test_the_collector_finds_the_messages():
    texts = [t for _, t in _messages(ROOT / "pipeline" / "targets.py")]
    assert any("give exactly one target" in t for t in texts)
    assert len(list(_cases())) > 50


def test_every_option_named_in_a_message_exists():
    wrong = []
    for rel, line, text, token, commands, mode in _cases():
        have = [token in COMMANDS[c] for c in commands]
        if not (all(have) if mode == "all" else any(have)):
            missing = [c for c, h in zip(commands, have) if not h]
            wrong.append(f"sictl/{rel}:{line}: {token} is not an option of {', '.join(missing)}: {text!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("text,owners,want", [
    ("use `sictl design-schedule --gmm-file F` here, or --base", ["gaussian-check"],
     [("--gmm-file", ["design-schedule"]), ("--base", ["gaussian-check"])]),
    ("see `h5dump -A FILE --x`", ["sample"], []),
    ("resample it (sictl prepare --resolution N) or --n", ["sample"],
     [("--resolution", PREPARE), ("--n", ["sample"])]),
])
def test_claims_parse_quoted_commands(text, owners, want):
    assert _claims(text, owners) == want
