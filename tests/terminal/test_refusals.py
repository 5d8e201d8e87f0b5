"""The refusal spotter on a shell's output: whole lines only, split reads, ANSI colours, bounded
lines, and a flood of refusals turned into one notice a second."""

from __future__ import annotations

from sandbox.selectors import explained_in_every_language
from terminal.refusals import MAX_LINE, RefusalSpotter

LIMIT = (
    'Error from server (Forbidden): error when creating "big.yaml": pods "big" is forbidden: '
    "maximum cpu usage per Container is 1, but limit is 100\n"
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def spotter(clock: Clock | None = None) -> tuple[RefusalSpotter, list[str]]:
    seen: list[str] = []

    def explain(line: str) -> dict[str, str]:
        seen.append(line)
        return explained_in_every_language(line)

    return RefusalSpotter(explain, clock=clock or Clock()), seen


def test_a_limit_refusal_is_explained_in_every_language() -> None:
    spot, seen = spotter()
    found = spot.feed(b"$ kubectl apply -f big.yaml\r\n" + LIMIT.encode() + b"$ ")
    assert len(found) == 1
    assert found[0]["en"].startswith("In your environment each container may use at most 1 cpu")
    assert found[0]["zh-hant"] and found[0]["zh-hant"] != found[0]["en"]
    assert seen == [LIMIT.strip()]


def test_a_line_split_across_reads_and_coloured_is_still_one_refusal() -> None:
    spot, _seen = spotter()
    coloured = LIMIT.replace("Error from server", "\x1b[31mError from\x1b[0m server").encode()
    # kubectl's own colour codes sit inside the opening: the spotter needs the plain opening, so a
    # coloured one is missed, which is fine; the plain one split between reads is not.
    assert spot.feed(coloured) == []
    raw = LIMIT.encode()
    for cut in (3, 11, len(raw) - 5):
        spot2, _ = spotter()
        assert spot2.feed(raw[:cut]) == []
        assert len(spot2.feed(raw[cut:])) == 1, cut


def test_output_that_is_no_refusal_is_never_explained() -> None:
    spot, seen = spotter()
    assert spot.feed(b"NAME    READY   STATUS\nkuard   1/1     Running\n" * 50) == []
    assert spot.feed(b'Error from server (NotFound): pods "x" not found\n') == []
    assert seen == ['Error from server (NotFound): pods "x" not found']


def test_a_flood_of_refusals_gives_one_notice_a_second() -> None:
    clock = Clock()
    spot, _ = spotter(clock)
    assert len(spot.feed(LIMIT.encode() * 200)) == 1
    clock.now += 1.5
    assert spot.feed(LIMIT.encode()) == []  # the same refusal again within ten seconds
    other = LIMIT.replace("limit is 100", "limit is 50").encode()
    assert len(spot.feed(other)) == 1
    clock.now += 20
    assert len(spot.feed(LIMIT.encode())) == 1


def test_an_endless_line_is_bounded() -> None:
    spot, seen = spotter()
    spot.feed(b"Error from server (Forbidden): " + b"x" * 100_000)
    spot.feed(b"y" * 100_000 + b"\n")
    assert len(seen) == 1 and len(seen[0]) <= MAX_LINE
