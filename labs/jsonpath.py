"""A small, safe JSONPath subset for lab checks: the paths kubectl's `-o jsonpath` users write.

Pure: no Django, no ``kubernetes``, no ``eval``. Supported, with or without a leading ``$`` or
kubectl's ``{...}`` braces::

    .spec.containers[0].image            names and indexes (negative indexes count from the end)
    .metadata.labels['app.kubernetes.io/name']   bracketed keys for names with dots or slashes
    .spec.containers[*].name  .items.*   wildcards over lists and mappings
    .spec.containers[?(@.name=="kuard")].image   filters: @.path == / != a string, number, bool
    .status.conditions[?(@.type=="Ready")].status

``jsonpath_compile(text)`` raises ``JsonPathError`` with the offending column;
``jsonpath_find(compiled_or_text, document)`` returns every value the path reaches, in order
(an empty list when nothing matches; never an exception for missing keys).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["JsonPath", "JsonPathError", "jsonpath_compile", "jsonpath_find"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_INT = re.compile(r"-?[0-9]+")
_MAX_LENGTH = 500


class JsonPathError(ValueError):
    """The path text is not in the supported subset; the message says where and why."""


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    index: int


@dataclass(frozen=True)
class _Wildcard:
    pass


@dataclass(frozen=True)
class _Filter:
    path: tuple[_Key | _Index, ...]
    negate: bool
    value: Any


_Step = _Key | _Index | _Wildcard | _Filter


@dataclass(frozen=True)
class JsonPath:
    text: str
    steps: tuple[_Step, ...]

    def __str__(self) -> str:
        return self.text


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, why: str) -> JsonPathError:
        return JsonPathError(f"JSONPath {self.text!r}, column {self.pos + 1}: {why}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def eat(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.eat(token):
            raise self.fail(f"expected {token!r}")

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def name(self) -> str:
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a field name (letters, digits, '_' or '-')")
        self.pos = match.end()
        return match.group(0)

    def quoted(self) -> str:
        quote = self.peek()
        if quote not in ("'", '"'):
            raise self.fail("expected a quoted string")
        end = self.text.find(quote, self.pos + 1)
        if end < 0:
            raise self.fail("unterminated string")
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def literal(self) -> Any:
        self.skip_spaces()
        if self.peek() in ("'", '"'):
            return self.quoted()
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.eat(word):
                return value
        match = re.compile(r"-?[0-9]+(\.[0-9]+)?").match(self.text, self.pos)
        if not match:
            raise self.fail("expected a quoted string, a number, true, false or null")
        self.pos = match.end()
        return json.loads(match.group(0))

    def simple_path(self) -> tuple[_Key | _Index, ...]:
        steps: list[_Key | _Index] = []
        while True:
            if self.eat("."):
                steps.append(_Key(self.name()))
            elif self.peek(2) in ("['", '["'):
                self.pos += 1
                steps.append(_Key(self.quoted()))
                self.expect("]")
            elif self.peek() == "[":
                self.pos += 1
                steps.append(_Index(self.integer()))
                self.expect("]")
            else:
                return tuple(steps)

    def integer(self) -> int:
        match = _INT.match(self.text, self.pos)
        if not match:
            raise self.fail("expected an integer index")
        self.pos = match.end()
        return int(match.group(0))

    def bracket(self) -> _Step:
        # Called after '['.
        if self.eat("*"):
            step: _Step = _Wildcard()
        elif self.peek() in ("'", '"'):
            step = _Key(self.quoted())
        elif self.eat("?("):
            self.skip_spaces()
            self.expect("@")
            path = self.simple_path()
            if not path:
                raise self.fail("a filter needs a field after '@', like @.name")
            self.skip_spaces()
            if self.eat("=="):
                negate = False
            elif self.eat("!="):
                negate = True
            else:
                raise self.fail("filters support only == and !=")
            value = self.literal()
            self.skip_spaces()
            self.expect(")")
            step = _Filter(path, negate, value)
        else:
            step = _Index(self.integer())
        self.expect("]")
        return step

    def parse(self) -> tuple[_Step, ...]:
        steps: list[_Step] = []
        while self.pos < len(self.text):
            if self.eat(".."):
                raise self.fail("recursive descent '..' is not supported; spell the path out")
            if self.eat("."):
                if self.eat("*"):
                    steps.append(_Wildcard())
                else:
                    steps.append(_Key(self.name()))
            elif self.eat("["):
                steps.append(self.bracket())
            else:
                raise self.fail("expected '.' or '['")
        return tuple(steps)


def jsonpath_compile(text: str) -> JsonPath:
    if not isinstance(text, str):
        raise JsonPathError("a JSONPath must be a string")
    original = text
    body = text.strip()
    if len(body) > _MAX_LENGTH:
        raise JsonPathError(f"JSONPath longer than {_MAX_LENGTH} characters")
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1].strip()
    if body.startswith("$"):
        body = body[1:]
    if not body:
        raise JsonPathError(f"JSONPath {original!r} is empty; start with a field, like .spec")
    if not body.startswith((".", "[")):
        body = "." + body
    return JsonPath(original, _Parser(body).parse())


def _walk(value: Any, path: tuple[_Key | _Index, ...]) -> tuple[bool, Any]:
    for step in path:
        if isinstance(step, _Key) and isinstance(value, dict) and step.name in value:
            value = value[step.name]
        elif (
            isinstance(step, _Index)
            and isinstance(value, list)
            and -len(value) <= step.index < len(value)
        ):
            value = value[step.index]
        else:
            return False, None
    return True, value


def _same(left: Any, right: Any) -> bool:
    # kubectl compares filter values as text, so @.port==8080 matches 8080 and "8080".
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return left == right or (
        isinstance(left, int | float | str)
        and isinstance(right, int | float | str)
        and str(left) == str(right)
    )


def _apply(step: _Step, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(step, _Key):
            if isinstance(value, dict) and step.name in value:
                out.append(value[step.name])
        elif isinstance(step, _Index):
            if isinstance(value, list) and -len(value) <= step.index < len(value):
                out.append(value[step.index])
        elif isinstance(step, _Wildcard):
            if isinstance(value, list):
                out.extend(value)
            elif isinstance(value, dict):
                out.extend(value.values())
        else:
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            for item in items:
                found, field = _walk(item, step.path)
                matched = found and _same(field, step.value)
                if matched != step.negate and (found or step.negate):
                    out.append(item)
    return out


def jsonpath_find(path: JsonPath | str, document: Any) -> list[Any]:
    compiled = path if isinstance(path, JsonPath) else jsonpath_compile(path)
    values = [document]
    for step in compiled.steps:
        values = _apply(step, values)
        if not values:
            break
    return values
