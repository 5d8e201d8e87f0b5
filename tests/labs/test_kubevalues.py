"""Label selectors and quantities, as data."""

from decimal import Decimal

import pytest

from labs.kubevalues import (
    QuantityError,
    SelectorError,
    quantity_parse,
    selector_from_api,
    selector_parse,
)

LABELS = {"app": "alpaca", "env": "prod", "ver": "1"}

SELECTORS = [
    ("", True),
    ("app=alpaca", True),
    ("app==alpaca", True),
    ("app=bandicoot", False),
    ("app!=bandicoot", True),
    ("canary!=true", True),
    ("app=alpaca,env=prod", True),
    ("app=alpaca,env=test", False),
    ("app in (alpaca,bandicoot)", True),
    ("app in (bandicoot)", False),
    ("env notin (test,staging)", True),
    ("canary notin (true)", True),
    ("ver", True),
    ("canary", False),
    ("!canary", True),
    ("!ver", False),
    ("app in (alpaca, bandicoot), env = prod", True),
]


@pytest.mark.parametrize(("text", "matches"), SELECTORS)
def test_selector_matching(text: str, matches: bool) -> None:
    assert selector_parse(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    "text", ["=x", "a,,b", "app in ()", "app in (a", "a)", "app in (a b)", "-bad=x", "a=b c"]
)
def test_bad_selectors(text: str) -> None:
    with pytest.raises(SelectorError):
        selector_parse(text)


def test_api_selectors() -> None:
    service = selector_from_api({"app": "alpaca", "env": "prod"}, empty_matches_all=False)
    assert service.matches(LABELS) and not service.matches({"app": "alpaca"})
    assert not selector_from_api({}, empty_matches_all=False).matches(LABELS)
    assert selector_from_api(None, empty_matches_all=True).matches(LABELS)
    expressions = selector_from_api(
        {
            "matchLabels": {"app": "alpaca"},
            "matchExpressions": [
                {"key": "ver", "operator": "In", "values": ["1", "2"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        },
        empty_matches_all=True,
    )
    assert expressions.matches(LABELS)
    assert not expressions.matches({**LABELS, "canary": "true"})
    assert not selector_from_api(
        {"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, empty_matches_all=True
    ).matches(LABELS)


QUANTITIES = [
    ("1000m", Decimal(1)),
    ("1", Decimal(1)),
    (1, Decimal(1)),
    ("0.5", Decimal("0.5")),
    ("500m", Decimal("0.5")),
    ("128Mi", Decimal(128 * 2**20)),
    ("128M", Decimal(128 * 10**6)),
    ("1Gi", Decimal(2**30)),
    ("1e3", Decimal(1000)),
    ("2k", Decimal(2000)),
    (".5", Decimal("0.5")),
]


@pytest.mark.parametrize(("text", "value"), QUANTITIES)
def test_quantities(text: object, value: Decimal) -> None:
    assert quantity_parse(text) == value


@pytest.mark.parametrize("text", ["", "Mi", "1 Mi", "1mi", "1KB", "abc", True, None, "1e99"])
def test_bad_quantities(text: object) -> None:
    with pytest.raises(QuantityError):
        quantity_parse(text)
