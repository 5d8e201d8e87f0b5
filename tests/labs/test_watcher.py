"""The watcher's per-namespace debounce: first change at once, one trailing grading per burst,
and a busy namespace still graded at least every max_wait seconds."""

from __future__ import annotations

import itertools

from labs.watcher import Debouncer


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
