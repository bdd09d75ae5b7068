"""Shared fixtures (the helpers themselves are in :mod:`tests.helpers`)."""

import pytest

from tests.helpers import three_islands


@pytest.fixture
def islands() -> dict:
    return three_islands()
