"""Fixtures for the autograder tests; helpers live in autograder_helpers.py."""
import pytest
from autograder_helpers import copy_course, released_fixture_course


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """A course folder with ps1 released; copy it (`fresh_course`) before writing to it."""
    return released_fixture_course(tmp_path_factory.mktemp("released") / "course")


@pytest.fixture
def fresh_course(released_course, tmp_path):
    return copy_course(released_course, tmp_path / "course")
