"""Doctests (in src/ and README.md) run against the bundled sandbox world."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _sandbox_for_doctests(request: pytest.FixtureRequest) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        request.getfixturevalue("aind_sandbox")
