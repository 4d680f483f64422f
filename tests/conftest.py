"""Fixtures shared by several test files (plain helpers are in tests/helpers.py)."""
import pytest

from ganhelpers.data import make_shapes


@pytest.fixture(scope="session")
def shapes():
    """2,000 generated shapes (seed 0): the synthetic set's and the sampler's tests read it, never change it."""
    return make_shapes(2000, seed=0)
