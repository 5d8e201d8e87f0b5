"""The watcher's per-namespace debounce: first change at once, one trailing grading per burst,
and a busy namespace still graded at least every max_wait seconds; and its refusal notices."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest

from labs.watcher import Debouncer, Watcher


def make() -> tuple[Debouncer, list[tuple[str, float]], list[float]]:
    fired: list[tuple[str, float]] = []
    clock = [0.0]
    debouncer = Debouncer(debounce=0.15, max_wait=1.0, fire=lambda ns: fired.append((ns, clock[0])))
    return debouncer, fired, clock


def test_first_change_fires_at_once_and_a_burst_gets_one_trailing_grading() -> None:
    debouncer, fired, clock = make()
    assert debouncer.changed("a", now=0.0) is True
    for t in (0.02, 0.05, 0.09):
        assert debouncer.changed("a", now=t) is False
    clock[0] = 0.2
    debouncer.run_due(now=0.2)  # 0.15 s after the last change (0.09) is 0.24: not yet
    assert fired == [("a", 0.0)]
    clock[0] = 0.25
    debouncer.run_due(now=0.25)
    clock[0] = 1.0
    debouncer.run_due(now=1.0)
    assert fired == [("a", 0.0), ("a", 0.25)]


def test_a_namespace_waiting_for_its_grader_is_queued_once_and_again_once_taken() -> None:
    watcher = Watcher(debounce=0.02, graders=2)
    for _ in range(3):
        watcher.request("kl-a")
    watcher.request("kl-b")
    queued = [list(q.queue) for q in watcher.requests]
    assert sorted(ns for q in queued for ns in q) == ["kl-a", "kl-b"]
    # A namespace always goes to the same grader thread, so its gradings keep their order.
    (shard,) = [q for q in watcher.requests if "kl-a" in q.queue]
    assert watcher.next_request(shard, timeout=0) == "kl-a"  # its grader takes it
    watcher.request("kl-a")  # a change during that grading: graded again afterwards
    assert list(shard.queue).count("kl-a") == 1


def test_namespaces_are_independent() -> None:
    debouncer, fired, _ = make()
    debouncer.changed("a", now=0.0)
    debouncer.changed("b", now=0.01)
    assert [ns for ns, _ in fired] == ["a", "b"]


def test_a_quiet_namespace_fires_at_once_again() -> None:
    debouncer, fired, _ = make()
    debouncer.changed("a", now=0.0)
    assert debouncer.changed("a", now=5.0) is True
    assert len(fired) == 2


def test_a_busy_namespace_is_graded_at_least_every_max_wait() -> None:
    debouncer, fired, clock = make()
    debouncer.changed("a", now=0.0)
    t = 0.05
    while t < 3.0:  # a change every 50 ms for three seconds
        debouncer.changed("a", now=t)
        clock[0] = t
        debouncer.run_due(now=t)
        t = round(t + 0.05, 2)
    times = [at for _, at in fired]
    assert len(times) >= 3
    assert all(later - earlier <= 1.1 for earlier, later in itertools.pairwise(times))


class _Owners:
    def __init__(self, owners: dict[str, int]) -> None:
        self.owners = owners

    def owner(self, namespace: str) -> int | None:
        return self.owners.get(namespace)


def test_a_refusal_notice_is_sent_while_it_lasts_and_dropped_when_it_clears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from labs import watcher

    answers = {"kl-a": [("sig-1", 1), ("sig-1", 1), ("sig-0", 0)]}
    calls: list[tuple[int, str | None]] = []

    def announce(*, user_id: int, previous: str | None = None) -> tuple[str, int]:
        calls.append((user_id, previous))
        return answers["kl-a"].pop(0)

    monkeypatch.setattr(watcher, "denials_announce", announce)
    monkeypatch.setattr(watcher, "close_old_connections", lambda: None)
    stop = threading.Event()
    notices = watcher.DenialNotices(_Owners({"kl-a": 7}), stop)  # type: ignore[arg-type]

    notices.changed("kl-a")  # no notice up: an ordinary change reads nothing
    notices.refused("kl-other")  # not a learner's namespace
    thread = threading.Thread(target=notices.loop, daemon=True)
    thread.start()
    notices.refused("kl-a")
    _wait(lambda: len(calls) == 1)
    assert calls == [(7, None)] and notices.sent == {"kl-a": "sig-1"}
    # While it is up, a change re-reads it, saying what the page already shows.
    notices.changed("kl-a")
    _wait(lambda: len(calls) == 2)
    assert calls[1] == (7, "sig-1")
    notices.changed("kl-a")
    _wait(lambda: len(calls) == 3)
    assert notices.sent == {}  # cleared (scaled down): changes stop costing a read
    notices.changed("kl-a")
    time.sleep(0.6)
    stop.set()
    thread.join(timeout=3)
    assert len(calls) == 3


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.02)


@pytest.mark.cluster
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("after", [0.0, 0.3, 1.5])
def test_sigterm_stops_the_watcher_at_once_whenever_it_comes(
    cluster: object, redis_available: str, after: float
) -> None:
    """A CI run found `labs watch` alive an hour after scripts/stop's TERM (its handler took
    the stop Event's lock). It must exit promptly, however soon after starting it is told."""
    import signal

    from tests.fixtures.grading import _start
    from tests.fixtures.processes import ARTIFACTS, VENV_BIN

    process = _start(
        [str(VENV_BIN / "python"), "manage.py", "labs", "watch", "--debounce", "0.1"],
        ARTIFACTS / "labs-watch-term.log",
        "labs watch: watching",
    )
    try:
        time.sleep(after)
        began = time.monotonic()
        process.proc.send_signal(signal.SIGTERM)
        process.proc.wait(timeout=10)
        assert time.monotonic() - began < 5
        assert process.proc.returncode == 0, process.text()[-2000:]
        assert "labs watch: stopped" in process.text()
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
