"""Fixtures of the classes tests (tests/fixtures/classes.py)."""

from tests.fixtures.classes import instructor, make_class  # noqa: F401
from tests.fixtures.grading import grading_queue  # noqa: F401
