"""Fixtures shared by every test package."""

from tests.fixtures.browser import browser, page  # noqa: F401
from tests.fixtures.cluster import *  # noqa: F403
from tests.fixtures.processes import (  # noqa: F401
    celery_worker_process,
    redis_available,
    web_server,
)
