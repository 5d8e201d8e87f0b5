"""How a spec problem is reported: ``Problem`` (file, line, field, message, fix), ``SpecError``
carrying every problem found, and the translation of a pydantic validation error into a
``Problem`` that names the field as the author wrote it (``exercises[0].checks[2].type``), the
line it is on, and what to write instead."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel

from labs.spec.fields import SLUG_PATTERN
from labs.spec.schema import CHECK_TYPES, Lab

# A field's place in the data: keys and list indexes from the top, ("exercises", 0, "checks").
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    field: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = f"{self.field}: {self.message}" if self.field else self.message
        return f"{where}: {what}" + (f" Fix: {self.fix}" if self.fix else "")


class SpecError(ValueError):
    """One or more labs are invalid; ``problems`` says where and how to fix each."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid lab spec")


def _dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_path(data: Any, loc: tuple[Any, ...]) -> Path_:
    """The part of a pydantic error location that exists in the data (drops union tags)."""
    path: list[str | int] = []
    current = data
    for part in loc:
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        in_map = isinstance(current, dict) and isinstance(part, str) and part in current
        if in_list or in_map:
            current = current[part]
            path.append(part)
        elif isinstance(part, str) and isinstance(current, dict):
            # Either a union tag (skip it) or a missing/extra field (stop here but name it).
            if part in CHECK_TYPES:
                continue
            path.append(part)
            break
    return tuple(path)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class a pydantic error location points into, to list its fields."""
    current: Any = Lab
    for part in loc:
        current = _unwrap(current, part)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any, part: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0], part)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if isinstance(part, str) and part in annotation.model_fields:
            return annotation.model_fields[part].annotation
        # A union tag (the check type) or an unknown field: stay on this model.
        return annotation if isinstance(part, str) else None
    if origin in (list, tuple) and isinstance(part, int):
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if isinstance(part, str):
            for member in members:
                member = typing.get_args(member)[0] if typing.get_origin(member) else member
                if isinstance(member, type) and issubclass(member, BaseModel):
                    tag = member.model_fields.get("type")
                    if tag is not None and typing.get_args(tag.annotation) == (part,):
                        return member
        if len(members) == 1:
            return _unwrap(members[0], part)
        for member in members:
            unwrapped = _unwrap(member, part)
            if unwrapped is not None:
                return unwrapped
    return None


def _problem_from_error(
    error: Mapping[str, Any], data: Any, file: str, lines: dict[Path_, int]
) -> Problem:
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "union_tag_invalid":
        loc = (*loc, "type")  # point at the `type:` line itself
    path = _data_path(data, loc)
    line = None
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            line = lines[path[:cut]]
            break
    kind = error.get("type", "")
    message = str(error.get("msg", "invalid value"))
    fix = ""
    name = str(path[-1]) if path else ""
    if kind == "missing":
        message = f"`{name}` is required"
        fix = f"add `{name}:` here"
    elif kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        allowed = [a for a in allowed if a != "files" or model is not Lab]
        guess = difflib.get_close_matches(name, allowed, n=1)
        message = f"unknown field `{name}`"
        fix = (f"did you mean `{guess[0]}`? " if guess else "") + (
            f"allowed here: {', '.join(allowed)}" if allowed else "remove it"
        )
    elif kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "")
        message = f"unknown check type {tag!r}"
        guess = difflib.get_close_matches(str(tag), CHECK_TYPES, n=1)
        fix = (
            (f"did you mean {guess[0]!r}? " if guess else "")
            + "use one of "
            + ", ".join(CHECK_TYPES)
        )
    elif kind == "union_tag_not_found":
        message = "the check has no `type`"
        fix = "add `type:` with one of " + ", ".join(CHECK_TYPES)
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = f"{error.get('input')!r} is not allowed"
        fix = f"use {expected}"
    elif kind == "string_pattern_mismatch":
        message = f"{error.get('input')!r} is not a valid {name or 'value'}"
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        if pattern == SLUG_PATTERN:
            fix = "use lowercase letters, digits and single dashes, like kuard-pod"
        elif "A-Za-z0-9_.-" in pattern:
            fix = "name a file in the lab's files/ folder, like kuard-pod.yaml (no folders)"
        else:
            fix = "use a valid Kubernetes name: lowercase letters, digits, '-' and '.'"
    elif kind in ("value_error", "assertion_error"):
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if ". Fix: " in message:
            message, fix = message.split(". Fix: ", 1)
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        value = error.get("input")
        message = f"{message} (got {type(value).__name__})"
        if isinstance(value, bool):
            fix = "quote it: YAML reads yes/no/on/off/true/false as booleans"
        elif isinstance(value, dict) and kind == "string_type":
            fix = "quote it or use a block (>- or |): YAML reads a ': ' inside as a mapping"
        else:
            fix = "check the indentation and the value's type"
    elif kind == "too_short":
        fix = "add at least one item"
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        fix = "pick a value in range"
    return Problem(file, line, _dotted(path), message, fix)
