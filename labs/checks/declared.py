"""Evaluators of the checks on what objects declare, read off each object itself: ``exists``,
``absent``, ``field``, ``label`` and ``annotation``, and ``count``; one function per check type,
each returning a ``CheckOutcome`` whose failure is worded as a translatable ``Msg``."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from labs.checks.evaluation import _Evaluation, _outcome, _per_object, _target
from labs.checks.inputs import Obj
from labs.checks.objects import (
    _annotations,
    _labels,
    _names,
    _number,
    _ref,
    _same,
    _scope,
    _show,
    _subset,
)
from labs.checks.outcomes import CheckOutcome
from labs.jsonpath import jsonpath_find
from labs.kubevalues import quantity_parse
from labs.messages import Msg
from labs.messages import gettext_noop as _
from labs.spec import AbsentCheck, AnnotationCheck, CountCheck, ExistsCheck, FieldCheck, LabelCheck


def _exists(ev: _Evaluation, check: ExistsCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    missing = ev.missing(check.kind, check.name, check.selector)
    detail = f"found {_names(found)}" if found else str(missing)
    target = "" if found else _target(check.kind, check.name, check.selector)
    return _outcome(check, bool(found), missing, detail, refs, missing_target=target)


def _absent(ev: _Evaluation, check: AbsentCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if check.name:
        problem = Msg.of(
            _("{kind} {name} still exists; it should be gone."), kind=check.kind, name=check.name
        )
    else:
        problem = Msg.of(
            _(
                "{count} {kind}(s) with the labels {selector} still exist ({names}); there should "
                "be none."
            ),
            count=len(found),
            kind=check.kind,
            selector=str(check.selector),
            names=_names(found),
        )
    return _outcome(check, not found, problem, f"found {_names(found)}" if found else "none", refs)


def _field_test(check: FieldCheck) -> tuple[Callable[[Any], bool], Msg]:
    fields = check.model_fields_set
    if "equals" in fields:
        return (lambda v: _same(v, check.equals)), Msg.of(
            _("equal {value}"), value=repr(check.equals)
        )
    if "matches" in fields:
        pattern = re.compile(check.matches or "")
        return (
            lambda v: (
                isinstance(v, str | int | float)
                and not isinstance(v, bool)
                and pattern.fullmatch(str(v)) is not None
            )
        ), Msg.of(_("match {pattern}"), pattern=repr(check.matches))
    if "contains" in fields:

        def contains(value: Any) -> bool:
            if isinstance(value, str):
                return str(check.contains) in value
            if isinstance(value, list):
                return any(_subset(item, check.contains) for item in value)
            return _subset(value, check.contains)

        return contains, Msg.of(_("contain {value}"), value=repr(check.contains))
    if "quantity" in fields:
        want = quantity_parse(check.quantity)
        return (lambda v: _number(v) == want), Msg.of(
            _("be the quantity {quantity}"), quantity=str(check.quantity)
        )
    low = Decimal(str(check.at_least)) if check.at_least is not None else None
    high = Decimal(str(check.at_most)) if check.at_most is not None else None

    def bounded(value: Any) -> bool:
        number = _number(value)
        return (
            number is not None
            and (low is None or number >= low)
            and (high is None or number <= high)
        )

    if check.at_least is not None and check.at_most is not None:
        return bounded, Msg.of(
            _("be between {low} and {high}"), low=f"{check.at_least:g}", high=f"{check.at_most:g}"
        )
    if check.at_least is not None:
        return bounded, Msg.of(_("be at least {low}"), low=f"{check.at_least:g}")
    return bounded, Msg.of(_("be at most {high}"), high=f"{check.at_most:g}")


def _field(ev: _Evaluation, check: FieldCheck) -> CheckOutcome:
    def judge(obj: Obj, where: str) -> tuple[str, Msg | None]:
        values = jsonpath_find(check.path, obj)
        shown = _show(values)
        detail = f"{where}: {check.path} is {shown}"
        if "exists" in check.model_fields_set:
            if bool(values) == check.exists:
                return detail, None
            if check.exists:
                return detail, Msg.of(_("{where} has no {path}."), where=where, path=check.path)
            return detail, Msg.of(
                _("{where} should not set {path} (it is {values})."),
                where=where,
                path=check.path,
                values=shown,
            )
        test, wanted = _field_test(check)
        results = [test(v) for v in values]
        if results and (all(results) if check.match == "all" else any(results)):
            return detail, None
        if not values:
            return detail, Msg.of(
                _("{where} has no {path}; it should {wanted}."),
                where=where,
                path=check.path,
                wanted=wanted,
            )
        return detail, Msg.of(
            _("{where}: {path} should {wanted}, but it is {values}."),
            where=where,
            path=check.path,
            wanted=wanted,
            values=shown,
        )

    return _per_object(ev, check, judge)


def _metadata(ev: _Evaluation, check: LabelCheck | AnnotationCheck) -> CheckOutcome:
    is_label = isinstance(check, LabelCheck)
    what = Msg(_("label")) if is_label else Msg(_("annotation"))
    key = check.key

    def judge(obj: Obj, where: str) -> tuple[str, Msg | None]:
        value = (_labels(obj) if is_label else _annotations(obj)).get(key)
        detail = f"{where}: {key}={value!r}" if value is not None else f"{where}: no {key}"
        common: dict[str, str | Msg] = {"where": where, "what": what, "key": key}
        if check.present is not None:
            if (value is not None) == check.present:
                return detail, None
            if check.present:
                return detail, Msg.of(_("{where} has no {what} {key}."), **common)
            return detail, Msg.of(
                _("{where} still has the {what} {key}={value}; remove it."),
                value=str(value),
                **common,
            )
        if check.equals is not None:
            if value == check.equals:
                return detail, None
            if value is None:
                return detail, Msg.of(
                    _("{where} has no {what} {key}; it should be {key}={expected}."),
                    expected=check.equals,
                    **common,
                )
            return detail, Msg.of(
                _("{where} has {what} {key}={value}, not {key}={expected}."),
                value=value,
                expected=check.equals,
                **common,
            )
        if check.contains is None or (value is not None and check.contains in value):
            return detail, None
        if value is None:
            return detail, Msg.of(
                _("The {what} {key} of {where} should contain {expected}, but it is not set."),
                expected=repr(check.contains),
                **common,
            )
        return detail, Msg.of(
            _("The {what} {key} of {where} should contain {expected}, but it is {value}."),
            expected=repr(check.contains),
            value=repr(value),
            **common,
        )

    return _per_object(ev, check, judge)


def _count(ev: _Evaluation, check: CountCheck) -> CheckOutcome:
    found = ev.targets(check.kind, None, check.selector)
    count = len(found)
    refs = [_ref(check.kind, o) for o in found]
    scope = (
        _scope(check.kind, check.selector)
        if check.selector
        else Msg.of(_("{kind}s"), kind=check.kind)
    )
    wanted: Msg
    if check.equals is not None:
        ok = count == check.equals
        wanted = Msg.of(_("exactly {count}"), count=check.equals)
    else:
        ok = (check.at_least is None or count >= check.at_least) and (
            check.at_most is None or count <= check.at_most
        )
        low = Msg.of(_("at least {count}"), count=check.at_least or 0)
        high = Msg.of(_("at most {count}"), count=check.at_most or 0)
        if check.at_least is not None and check.at_most is not None:
            wanted = Msg.of(_("{first} and {second}"), first=low, second=high)
        else:
            wanted = low if check.at_least is not None else high
    detail = f"{count} {scope}" + (f": {_names(found)}" if found else "")
    problem = Msg.of(
        _("Your namespace has {count} {scope}; it should have {wanted}."),
        count=count,
        scope=scope,
        wanted=wanted,
    )
    return _outcome(check, ok, problem, detail, refs)
