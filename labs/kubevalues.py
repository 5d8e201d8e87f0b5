"""Kubernetes value semantics the check engine needs: label selectors and resource quantities.

Pure: no Django, no ``kubernetes``. Label selectors use kubectl's string syntax
(``app=alpaca,env!=prod,ver in (1,2),tier notin (db),canary,!legacy``) or the API's
``matchLabels``/``matchExpressions`` form; quantities follow the API's rules, so ``1000m`` equals
``1`` and ``128Mi`` equals ``134217728``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from podsim.quantity import QuantityRangeError, parse_quantity

__all__ = [
    "LabelSelector",
    "QuantityError",
    "SelectorError",
    "quantity_parse",
    "selector_from_api",
    "selector_parse",
]


class SelectorError(ValueError):
    """The selector text is not valid; the message says which part."""


class QuantityError(ValueError):
    """The text is not a Kubernetes resource quantity."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator == "=":
            return present and value == self.values[0]
        if self.operator == "!=":
            return not present or value != self.values[0]
        if self.operator == "in":
            return present and value in self.values
        if self.operator == "notin":
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        return not present

    def __str__(self) -> str:
        if self.operator in ("=", "!="):
            return f"{self.key}{self.operator}{self.values[0]}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        return self.key if self.operator == "exists" else f"!{self.key}"


@dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]
    # A selector that matches nothing (an API selector with no requirements on a Service means
    # "no selector", which selects no pods).
    matches_nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.matches_nothing:
            return False
        labels = labels or {}
        return all(requirement.matches(labels) for requirement in self.requirements)

    def __str__(self) -> str:
        if self.matches_nothing:
            return "<nothing>"
        return ",".join(str(r) for r in self.requirements) or "<everything>"


_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def _check_key(key: str, text: str) -> str:
    if not _KEY.match(key) or len(key) > 316:
        raise SelectorError(f"selector {text!r}: {key!r} is not a valid label key")
    return key


def _check_value(value: str, text: str) -> str:
    if not _VALUE.match(value):
        raise SelectorError(f"selector {text!r}: {value!r} is not a valid label value")
    return value


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError(f"selector {text!r}: unbalanced ')'")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise SelectorError(f"selector {text!r}: unbalanced '('")
    parts.append("".join(current))
    return parts


_SET_EXPR = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")


def selector_parse(text: str) -> LabelSelector:
    """Parse kubectl's `-l` syntax; an empty string selects everything."""
    if not isinstance(text, str):
        raise SelectorError("a label selector must be a string like app=alpaca,env=prod")
    if not text.strip():
        return LabelSelector(())
    requirements: list[Requirement] = []
    for raw in _split_top_level(text):
        part = raw.strip()
        if not part:
            raise SelectorError(f"selector {text!r}: empty requirement (doubled or trailing ',')")
        set_match = _SET_EXPR.match(part)
        if set_match:
            values = tuple(
                _check_value(v.strip(), text) for v in set_match.group("values").split(",")
            )
            if not any(values):
                raise SelectorError(f"selector {text!r}: {part!r} needs at least one value")
            key = _check_key(set_match.group("key"), text)
            requirements.append(Requirement(key, set_match.group("op"), values))
            continue
        for operator, token in (("!=", "!="), ("=", "=="), ("=", "=")):
            if token in part:
                key, _, value = part.partition(token)
                requirements.append(
                    Requirement(
                        _check_key(key.strip(), text),
                        operator,
                        (_check_value(value.strip(), text),),
                    )
                )
                break
        else:
            if part.startswith("!"):
                requirements.append(Requirement(_check_key(part[1:].strip(), text), "!"))
            else:
                requirements.append(Requirement(_check_key(part, text), "exists"))
    return LabelSelector(tuple(requirements))


_API_OPERATORS = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}


def selector_from_api(selector: Any, *, empty_matches_all: bool) -> LabelSelector:
    """A selector from an object: a plain map (Service) or matchLabels/matchExpressions.

    ``empty_matches_all`` says what an absent or empty selector means for that object: for a
    Service it selects nothing, for a ReplicaSet's or Job's ``metav1.LabelSelector`` everything.
    """
    if not selector:
        return LabelSelector((), matches_nothing=not empty_matches_all)
    if not isinstance(selector, Mapping):
        return LabelSelector((), matches_nothing=True)
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        pairs = selector.items()
        expressions: list[Any] = []
    else:
        pairs = (selector.get("matchLabels") or {}).items()
        expressions = list(selector.get("matchExpressions") or [])
    requirements = [Requirement(str(k), "=", (str(v),)) for k, v in pairs]
    for expression in expressions:
        if not isinstance(expression, Mapping):
            continue
        operator = _API_OPERATORS.get(str(expression.get("operator")))
        if operator is None:
            return LabelSelector((), matches_nothing=True)
        values = tuple(str(v) for v in expression.get("values") or ())
        requirements.append(Requirement(str(expression.get("key")), operator, values))
    return LabelSelector(tuple(requirements))


def quantity_parse(value: Any) -> Decimal:
    """The exact value of a quantity: ``quantity_parse("1000m") == quantity_parse(1)``.

    Parsed by ``podsim.quantity``, the simulated containers' own parser, so the check
    engine and the pods agree on what a quantity means."""
    if isinstance(value, bool):
        raise QuantityError(f"{value!r} is not a quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if not isinstance(value, str):
        raise QuantityError(f"{value!r} is not a quantity")
    try:
        exact = parse_quantity(value, max_exponent=30)
    except QuantityRangeError as exc:
        raise QuantityError(f"{value!r}: exponent out of range") from exc
    except ValueError as exc:
        raise QuantityError(
            f"{value!r} is not a quantity; write it like 500m, 0.5, 128Mi or 1Gi"
        ) from exc
    return Decimal(exact.numerator) / Decimal(exact.denominator)
