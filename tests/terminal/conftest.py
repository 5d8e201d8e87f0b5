"""Terminal tests: every session a test started is ended when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from terminal.manager import terminal_manager
from tests.fixtures.shells import kubeconfig_dir, make_shell_learner  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
async def terminals_closed_after_test() -> AsyncIterator[None]:
    """Every session a test started is ended (and its processes killed) when the test ends."""
    yield
    await terminal_manager().shutdown()
