"""Fixtures shared by every test package."""

from tests.fixtures.processes import (  # noqa: F401
    celery_worker_process,
    redis_available,
    web_server,
)
