"""The shell registry in Redis: an attached screen keeps its learner's entry alive past the
entry's own lifetime, and a detached one lets it expire (a reload after hours of typing must
still reach the daemon that holds the shell)."""

from __future__ import annotations

import asyncio

import pytest
from django.core.cache import cache

from terminal.daemon import shell_keep_placed
from terminal.daemon_wire import redirect_line, redirect_target
from terminal.registry import shell_claim, shell_forget, shell_place, shell_placed

pytestmark = pytest.mark.django_db(transaction=True)
USER = 987_654_321


@pytest.fixture(autouse=True)
def _clean() -> None:
    cache.delete(f"terminal:shell-of:{USER}")


def test_an_attached_screen_renews_the_entry_and_a_detached_one_does_not() -> None:
    async def scenario() -> tuple[str | None, str | None]:
        shell_placed(USER, "unix:/run/a.sock", 60)
        keeper = asyncio.create_task(shell_keep_placed(USER, "unix:/run/a.sock", 60, every=0.05))
        # What an expired entry looks like, while the screen is still attached.
        cache.delete(f"terminal:shell-of:{USER}")
        await asyncio.sleep(0.3)
        while_attached = shell_place(USER)
        keeper.cancel()
        await asyncio.sleep(0.05)
        cache.delete(f"terminal:shell-of:{USER}")
        await asyncio.sleep(0.2)
        return while_attached, shell_place(USER)

    while_attached, after = asyncio.run(scenario())
    assert while_attached == "unix:/run/a.sock"
    assert after is None


def test_the_renewal_sets_the_lifetime_again() -> None:
    async def scenario() -> float | None:
        shell_placed(USER, "tcp:127.0.0.1:7070", 60)
        cache.touch(f"terminal:shell-of:{USER}", 5)
        keeper = asyncio.create_task(shell_keep_placed(USER, "tcp:127.0.0.1:7070", 600, every=0.05))
        await asyncio.sleep(0.3)
        keeper.cancel()
        # Django's RedisCache has no ttl(): ask Redis itself, under the cache's own key.
        client = cache._cache.get_client()  # type: ignore[attr-defined]
        return float(client.ttl(cache.make_key(f"terminal:shell-of:{USER}")))

    assert (asyncio.run(scenario()) or 0) > 500


def test_forget_leaves_an_entry_another_daemon_took_over() -> None:
    shell_placed(USER, "tcp:127.0.0.1:7071", 60)
    shell_forget(USER, "tcp:127.0.0.1:7070")
    assert shell_place(USER) == "tcp:127.0.0.1:7071"
    shell_forget(USER, "tcp:127.0.0.1:7071")
    assert shell_place(USER) is None


def test_a_claim_goes_to_the_first_daemon_and_names_it_to_the_second() -> None:
    """Two daemons that each got one of a learner's two new screens at the same moment."""
    assert shell_claim(USER, "tcp:127.0.0.1:7070", 60) == "tcp:127.0.0.1:7070"
    assert shell_claim(USER, "tcp:127.0.0.1:7071", 60) == "tcp:127.0.0.1:7070"
    assert shell_place(USER) == "tcp:127.0.0.1:7070"
    # The holder went away (its relay forgot it): the next daemon's claim wins.
    shell_forget(USER, "tcp:127.0.0.1:7070")
    assert shell_claim(USER, "tcp:127.0.0.1:7071", 60) == "tcp:127.0.0.1:7071"


def test_redirect_lines_round_trip_and_garbage_is_no_redirect() -> None:
    assert redirect_target(redirect_line("tcp:10.1.2.3:7070")) == "tcp:10.1.2.3:7070"
    for line in (b"", b"hello\n", b'{"close": 4403}\n', b'{"redirect": 5}\n', b'{"redirect"\n'):
        assert redirect_target(line) is None
