"""Guest tests start from an empty start counter: it lives in the process's cache, which would
otherwise carry one test's starts into the next."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def guest_start_counts_cleared() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()
