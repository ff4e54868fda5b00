"""Fixtures shared by the test packages."""

import pytest


@pytest.fixture
def foreign_reads(monkeypatch):
    """The shapes of every slice a foreign-file ArraySource reads during the test, in order."""
    from sictl.io import foreign

    shapes: list[tuple[int, ...]] = []
    read = foreign.ArraySource.read

    def spy(self, *args, **kwargs):
        block = read(self, *args, **kwargs)
        shapes.append(block.shape)
        return block

    monkeypatch.setattr(foreign.ArraySource, "read", spy)
    return shapes
