"""Help texts that list what the registries hold, filled in only when ``--help`` is asked for.

Option help may name a registry by a placeholder — ``{solvers}``, ``{schedules}``, ``{grids}``,
``{diffusions}`` — and a command registered with ``cls=RegistryHelpCommand`` replaces it by the
registry's names when its help is printed. So adding a solver or a schedule changes the help by
itself, and ``sictl --help`` still imports no torch (the registries live in torch modules).
"""

from __future__ import annotations

from collections.abc import Callable

from typer.core import TyperCommand


def _solvers() -> str:
    from sictl.core.sampling.solvers import SOLVERS

    return ", ".join(SOLVERS)


def _stochastic_solvers() -> str:
    from sictl.core.sampling.solvers import stochastic_solvers

    return ", ".join(stochastic_solvers())


def _schedules() -> str:
    from sictl.core.interpolants.schedules import SCHEDULES

    return ", ".join(f"{n}[:λ]" if n == "designed" else n for n in SCHEDULES)


def _grids() -> str:
    from sictl.core.sampling.grids import GRIDS

    return ", ".join(GRIDS)


def _diffusions() -> str:
    from sictl.core.sampling.diffusion import DIFFUSIONS

    return ", ".join(DIFFUSIONS)


PLACEHOLDERS: dict[str, Callable[[], str]] = {
    "{solvers}": _solvers,
    "{stochastic_solvers}": _stochastic_solvers,
    "{schedules}": _schedules,
    "{grids}": _grids,
    "{diffusions}": _diffusions,
}


def fill(text: str | None) -> str | None:
    """Replace every registry placeholder in ``text`` by the registry's names."""
    if not text:
        return text
    for key, names in PLACEHOLDERS.items():
        if key in text:
            text = text.replace(key, names())
    return text


class RegistryHelpCommand(TyperCommand):
    """A typer command whose help (and its options' help) lists registry names at display time."""

    def format_help(self, ctx, formatter):
        self.help = fill(self.help)
        for param in self.params:
            if getattr(param, "help", None):
                param.help = fill(param.help)
        return super().format_help(ctx, formatter)
