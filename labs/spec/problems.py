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

from labs.messages import Msg, Translate, verbatim
from labs.messages import gettext_noop as _
from labs.spec.fields import SLUG_PATTERN, SpecValueError
from labs.spec.schema import CHECK_TYPES, Lab

# A field's place in the data: keys and list indexes from the top, ("exercises", 0, "checks").
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One problem: ``message`` and ``fix`` are messages (labs.messages) so the studio can say
    them in the author's language; ``str()`` is the English sentence `labs validate` prints."""

    file: str
    line: int | None
    field: str
    message: str | Msg
    fix: str | Msg = ""

    def __str__(self) -> str:
        return self.render()

    def render(self, translate: Translate | None = None) -> str:
        """The sentence, its words in ``translate``'s language (English without one)."""
        where = f"{self.file}:{self.line}" if self.line else self.file
        what = _said(self.message, translate)
        if self.field:
            what = f"{self.field}: {what}"
        if not self.fix:
            return f"{where}: {what}"
        fix = _said(self.fix, translate)
        return _said(
            Msg.of(_("{where}: {what} Fix: {fix}"), where=where, what=what, fix=fix), translate
        )


def _said(text: str | Msg, translate: Translate | None) -> str:
    if isinstance(text, str):
        return text
    return text.render(translate) if translate is not None else text.render()


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


_EXPECTED: dict[str, Msg] = {
    "string": Msg.of(_("text")),
    "int": Msg.of(_("a whole number")),
    "float": Msg.of(_("a number")),
    "bool": Msg.of(_("true or false")),
    "list": Msg.of(_("a list")),
    "dict": Msg.of(_("a mapping")),
    "model": Msg.of(_("a mapping")),
}


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
    message: str | Msg = str(error.get("msg", "invalid value"))
    fix: str | Msg = ""
    name = str(path[-1]) if path else ""
    raised = (error.get("ctx") or {}).get("error")
    if isinstance(raised, SpecValueError):
        message, fix = raised.message, raised.fix
    elif kind == "missing":
        message = Msg.of(_("`{name}` is required"), name=name)
        fix = Msg.of(_("add `{name}:` here"), name=name)
    elif kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        allowed = [a for a in allowed if a != "files" or model is not Lab]
        guess = difflib.get_close_matches(name, allowed, n=1)
        message = Msg.of(_("unknown field `{name}`"), name=name)
        if allowed and guess:
            fix = Msg.of(
                _("did you mean `{guess}`? allowed here: {allowed}"),
                guess=guess[0], allowed=", ".join(f"`{a}`" for a in allowed),
            )  # fmt: skip
        elif allowed:
            fix = Msg.of(_("allowed here: {allowed}"), allowed=", ".join(f"`{a}`" for a in allowed))
        else:
            fix = Msg.of(_("remove it"))
    elif kind == "union_tag_invalid":
        tag = error.get("ctx", {}).get("tag", "")
        message = Msg.of(_("unknown check type {tag}"), tag=repr(tag))
        guess = difflib.get_close_matches(str(tag), CHECK_TYPES, n=1)
        types = ", ".join(f"`{t}`" for t in CHECK_TYPES)
        fix = (
            Msg.of(_("did you mean {guess}? use one of {types}"), guess=repr(guess[0]), types=types)
            if guess
            else Msg.of(_("use one of {types}"), types=types)
        )
    elif kind == "union_tag_not_found":
        message = Msg.of(_("the check has no `type`"))
        fix = Msg.of(
            _("add `type:` with one of {types}"), types=", ".join(f"`{t}`" for t in CHECK_TYPES)
        )
    elif kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        message = Msg.of(_("{value} is not allowed"), value=repr(error.get("input")))
        fix = Msg.of(_("use {expected}"), expected=str(expected))
    elif kind == "string_pattern_mismatch":
        message = Msg.of(
            _("{value} is not a valid {what}"), value=repr(error.get("input")), what=name or "value"
        )
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        if pattern == SLUG_PATTERN:
            fix = Msg.of(_("use lowercase letters, digits and single dashes, like kuard-pod"))
        elif "A-Za-z0-9_.-" in pattern:
            fix = Msg.of(
                _("name a file in the lab's files/ folder, like kuard-pod.yaml (no folders)")
            )
        else:
            fix = Msg.of(_("use a valid Kubernetes name: lowercase letters, digits, '-' and '.'"))
    elif kind in ("value_error", "assertion_error"):
        text = str(message).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        message = text
        if ". Fix: " in text:
            message, fix = text.split(". Fix: ", 1)
    elif kind.endswith("_type") or kind.endswith("_parsing"):
        value = error.get("input")
        message = Msg.of(
            _("expected {what} (got {type})"),
            what=_EXPECTED.get(kind.rsplit("_", 1)[0], verbatim(str(message))),
            type=type(value).__name__,
        )
        if isinstance(value, bool):
            fix = Msg.of(_("quote it: YAML reads yes/no/on/off/true/false as booleans"))
        elif isinstance(value, dict) and kind == "string_type":
            fix = Msg.of(
                _("quote it or use a block (>- or |): YAML reads a ': ' inside as a mapping")
            )
        else:
            fix = Msg.of(_("check the indentation and the value's type"))
    elif kind == "too_short":
        context = error.get("ctx") or {}
        message = Msg.of(_("needs at least {n} item(s)"), n=int(context.get("min_length", 1)))
        fix = Msg.of(_("add at least one item"))
    elif kind == "string_too_long":
        context = error.get("ctx") or {}
        message = Msg.of(_("longer than {n} characters"), n=int(context.get("max_length", 0)))
        fix = Msg.of(_("shorten it"))
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        context = error.get("ctx") or {}
        bound = next(iter(context.values()), "")
        message = Msg.of(
            {"greater_than": _("must be more than {bound}"),
             "greater_than_equal": _("must be at least {bound}"),
             "less_than": _("must be less than {bound}"),
             "less_than_equal": _("must be at most {bound}")}[kind],
            bound=str(bound),
        )  # fmt: skip
        fix = Msg.of(_("pick a value in range"))
    return Problem(file, line, _dotted(path), message, fix)
