"""Fixtures shared by every test package, and the order browser tests run in."""

import logging
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.management.base import CommandError
from django.test import TransactionTestCase
from django.utils import translation

from kubelab.serve import descriptors_raise
from tests.fixtures.browser import browser, page  # noqa: F401
from tests.fixtures.cluster import *  # noqa: F403
from tests.fixtures.learners import make_learner  # noqa: F401
from tests.fixtures.processes import (  # noqa: F401
    celery_worker_process,
    learner_site,
    redis_available,
    web_server,
)
from tests.fixtures.sockets import worker_thread_connections_closed  # noqa: F401

# The test process serves terminals as the web server does, with the same descriptor limit.
descriptors_raise()

_flush_tables = TransactionTestCase._fixture_teardown  # type: ignore[attr-defined]


def _flush_tables_again_if_refused(self: TransactionTestCase) -> None:
    """The session's Celery worker and watcher keep writing while a test's TRUNCATE runs; the
    two can deadlock, and PostgreSQL then aborts the flush. Waiting a moment and flushing
    again is what an operator would do; the cause is logged so a real fault still shows."""
    for attempt in range(3):
        try:
            return _flush_tables(self)
        except CommandError as exc:
            if attempt == 2:
                raise
            logging.getLogger("tests").warning("flush refused (%r); again", exc.__cause__)
            time.sleep(0.5)


TransactionTestCase._fixture_teardown = _flush_tables_again_if_refused  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def language_reset() -> Iterator[None]:
    """A request in another language leaves it active in this thread (LocaleMiddleware never
    switches back), which would make the next test's messages come out in Chinese."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last: Playwright's sync API switches greenlets under asyncio and leaves
    asgiref's thread-sensitive executor unusable for async tests that would run after it."""
    browser_tests = [item for item in items if item.get_closest_marker("e2e") or _is_e2e(item)]
    if browser_tests:
        others = [item for item in items if item not in browser_tests]
        items[:] = others + browser_tests


def _is_e2e(item: pytest.Item) -> bool:
    path = str(item.path)
    return "/e2e/" in path or path.endswith("_e2e.py") or item.path.name == "test_e2e.py"
