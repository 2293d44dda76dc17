"""Fixtures of the lab tests (builders live in tests/lab/labkit.py)."""

from __future__ import annotations

import pytest

from socialcredit.rulebook import Rulebook
from tests.lab.labkit import rulebook as make_rulebook


@pytest.fixture(scope="session")
def rulebook() -> Rulebook:
    return make_rulebook()
