"""Fixtures of the studio tests: the grading ones (tests/fixtures/grading.py)."""

from tests.fixtures.grading import event_socket, grading_queue, labs_watcher  # noqa: F401
