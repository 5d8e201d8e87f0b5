"""What every evaluator shares: ``_Evaluation`` (one snapshot: its live objects, the targets of
a name or a selector, the message when there are none), ``_outcome`` (a pass, or a failure with
the author's message or the generated one) and ``_per_object``, the find-the-targets-then-judge-
each-one shape most checks have."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from labs.checks.inputs import Obj, Snapshot
from labs.checks.objects import _labels, _live, _name, _ref
from labs.checks.outcomes import CheckOutcome
from labs.kubevalues import selector_parse
from labs.messages import Msg, MsgList
from labs.messages import gettext_noop as _
from labs.spec import (
    AbsentCheck,
    AnnotationCheck,
    Check,
    ExistsCheck,
    FieldCheck,
    LabelCheck,
    OwnerCheck,
    ReadyCheck,
)

_TargetedCheck = (
    ExistsCheck | AbsentCheck | FieldCheck | LabelCheck | AnnotationCheck | ReadyCheck | OwnerCheck
)


class _Evaluation:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.namespace = snapshot.namespace

    def objects(self, kind: str) -> list[Obj]:
        return _live(self.snapshot.objects.get(kind, ()))

    def targets(self, kind: str, name: str | None, selector: str | None) -> list[Obj]:
        objects = self.objects(kind)
        if name is not None:
            return [o for o in objects if _name(o) == name]
        chosen = selector_parse(selector or "")
        return [o for o in objects if chosen.matches(_labels(o))]

    def missing(self, kind: str, name: str | None, selector: str | None) -> Msg:
        if name is not None:
            return Msg.of(
                _("There is no {kind} named {name} in your namespace {namespace}."),
                kind=kind,
                name=name,
                namespace=self.namespace,
            )
        return Msg.of(
            _("There is no {kind} with the labels {selector} in your namespace {namespace}."),
            kind=kind,
            selector=str(selector),
            namespace=self.namespace,
        )


Problem = Msg | MsgList


def _outcome(
    check: Check,
    ok: bool,
    problem: Problem,
    detail: str,
    evidence: Iterable[Mapping[str, Any]] = (),
    *,
    missing_target: str = "",
) -> CheckOutcome:
    if ok:
        return CheckOutcome(check.id, "pass", {}, detail, tuple(evidence))
    if check.message:
        return CheckOutcome(
            check.id,
            "fail",
            dict(check.message),
            detail or str(problem),
            tuple(evidence),
            # The author's message says what was expected; the engine's, what it found (a
            # missing object says nothing the author's message does not).
            found=None if missing_target else problem,
            missing_target=missing_target,
        )
    english = problem.render()
    return CheckOutcome(
        check.id,
        "fail",
        {"en": english},
        detail or english,
        tuple(evidence),
        problem,
        missing_target=missing_target,
    )


def _target(kind: str, name: str | None, selector: object | None) -> str:
    return f"{kind}/{name}" if name else f"{kind}/{selector}"


def _per_object(
    ev: _Evaluation,
    check: _TargetedCheck,
    judge: Callable[[Obj, str], tuple[str, Msg | None]],
) -> CheckOutcome:
    """The shape most checks share: find the targets (failing when there are none), then let
    `judge` give each object a detail line and maybe a problem."""
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if not found:
        problem = ev.missing(check.kind, check.name, check.selector)
        missing = _target(check.kind, check.name, check.selector)
        return _outcome(check, False, problem, str(problem), refs, missing_target=missing)
    problems: list[Msg] = []
    details: list[str] = []
    for obj in found:
        detail, problem_or_none = judge(obj, f"{check.kind} {_name(obj)}")
        details.append(detail)
        if problem_or_none is not None:
            problems.append(problem_or_none)
    shown = MsgList(tuple(problems[:3]))
    return _outcome(check, not problems, shown, "; ".join(details)[:1000], refs)
