"""The check engine: a pure function from an exercise and a snapshot of the learner's namespace to
pass / fail(reason) / inconclusive for every check.

Pure: no Django, no ``kubernetes``, no I/O. ``labs.snapshot`` fetches the objects (and runs
script checks) and hands them in as a ``Snapshot``; ``exercise_evaluate`` never raises for odd
objects, because learners create odd objects. A snapshot that could not be taken makes every
check inconclusive, and inconclusive never counts against the learner.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from labs.jsonpath import jsonpath_find
from labs.kubevalues import (
    QuantityError,
    quantity_parse,
    selector_from_api,
    selector_parse,
)
from labs.messages import Msg, MsgList, verbatim
from labs.messages import gettext_noop as _
from labs.spec import (
    AbsentCheck,
    AnnotationCheck,
    Check,
    CountCheck,
    Exercise,
    ExistsCheck,
    FieldCheck,
    JobCheck,
    LabelCheck,
    OwnerCheck,
    PodsOnNodesCheck,
    ReadyCheck,
    ScriptCheck,
    ServiceSelectsCheck,
)

__all__ = [
    "CheckOutcome",
    "ExerciseOutcome",
    "Needs",
    "ScriptRun",
    "Snapshot",
    "exercise_evaluate",
    "exercise_needs",
]

CheckStatus = Literal["pass", "fail", "inconclusive"]
ExerciseStatus = Literal["passed", "failed", "inconclusive"]
Obj = Mapping[str, Any]


@dataclass(frozen=True)
class ScriptRun:
    """How a script check's script ended. ``error`` is set when it could not run at all."""

    exit_code: int | None
    output: str = ""
    timed_out: bool = False
    error: str = ""
    # Not run because another check of the exercise already fails (see declarative_fails).
    skipped: bool = False


# Inconclusive results say why, so a learner whose environment is still starting is not told
# the cluster is down; neither counts against them.
CLUSTER_DID_NOT_ANSWER = Msg.of(
    _("The cluster did not answer; this is checked again shortly and does not count against you.")
)
ENVIRONMENT_STARTING = Msg.of(
    _("Your environment is still starting; this is checked again as soon as it is ready.")
)


@dataclass(frozen=True)
class Snapshot:
    namespace: str
    objects: Mapping[str, Sequence[Obj]] = field(default_factory=dict)
    nodes: Sequence[Obj] | None = None
    scripts: Mapping[str, ScriptRun] = field(default_factory=dict)
    # Why the cluster could not be read (unreachable, timed out); None when it was.
    unavailable: str | None = None
    # What the learner is told then (translated later); None: the cluster did not answer.
    unavailable_reason: Msg | None = None


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    status: CheckStatus
    # For the learner when it fails: the author's message, else a specific generated one
    # (English here; ``problem`` carries it for translation).
    message: Mapping[str, str]
    # What the engine found, in plain English ("Pod kuard: .spec.containers[0].image is ...").
    detail: str
    evidence: tuple[Mapping[str, Any], ...] = ()
    # The generated message as a message id and parameters, for translation (None when the
    # check passed or its author wrote the message).
    problem: Msg | MsgList | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class ExerciseOutcome:
    status: ExerciseStatus
    checks: tuple[CheckOutcome, ...]

    def check(self, check_id: str) -> CheckOutcome:
        for outcome in self.checks:
            if outcome.check_id == check_id:
                return outcome
        raise KeyError(check_id)

    def failing(self) -> list[str]:
        return [c.check_id for c in self.checks if c.status == "fail"]


@dataclass(frozen=True)
class Needs:
    kinds: frozenset[str]
    nodes: bool
    scripts: tuple[ScriptCheck, ...]


_TargetedCheck = (
    ExistsCheck | AbsentCheck | FieldCheck | LabelCheck | AnnotationCheck | ReadyCheck | OwnerCheck
)
_OWNER_CHAIN = {"Deployment": ("ReplicaSet",), "CronJob": ("Job",)}


def exercise_needs(exercise: Exercise) -> Needs:
    """What a snapshot for this exercise must contain."""
    kinds: set[str] = set()
    nodes = False
    scripts: list[ScriptCheck] = []
    for check in exercise.checks:
        if isinstance(check, ScriptCheck):
            scripts.append(check)
        elif isinstance(check, JobCheck):
            kinds.add("Job")
        elif isinstance(check, ServiceSelectsCheck):
            kinds.update(("Service", "Pod"))
        elif isinstance(check, PodsOnNodesCheck):
            kinds.add("Pod")
            nodes = True
        else:
            kinds.add(check.kind)
            if isinstance(check, OwnerCheck) and check.owner is not None:
                kinds.add(check.owner.kind)
                kinds.update(_OWNER_CHAIN.get(check.owner.kind, ()))
    return Needs(frozenset(kinds), nodes, tuple(scripts))


# ---------------------------------------------------------------------------------------------
# Helpers over plain objects


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name", "?"))


def _labels(obj: Obj) -> Mapping[str, str]:
    labels = _meta(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _annotations(obj: Obj) -> Mapping[str, str]:
    found = _meta(obj).get("annotations")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, Mapping) else {}


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _live(objects: Iterable[Obj]) -> list[Obj]:
    # Objects being deleted are on their way out; learners see them vanish a moment later.
    return [o for o in objects if isinstance(o, Mapping) and not _meta(o).get("deletionTimestamp")]


def _ref(kind: str, obj: Obj) -> dict[str, Any]:
    meta = _meta(obj)
    return {"kind": kind, "name": meta.get("name"), "resourceVersion": meta.get("resourceVersion")}


def _names(objects: Iterable[Obj], limit: int = 6) -> Msg:
    names = sorted(_name(o) for o in objects)
    shown = ", ".join(names[:limit])
    if len(names) > limit:
        return Msg.of(_("{names} and {count} more"), names=shown, count=len(names) - limit)
    return verbatim(shown)


def _show(values: Sequence[Any]) -> Msg:
    if not values:
        return Msg(_("nothing"))
    text = ", ".join(repr(v) if isinstance(v, str) else _compact(v) for v in values[:5])
    return verbatim(text[:300])


def _compact(value: Any) -> str:
    text = str(value)
    return text if len(text) < 120 else text[:117] + "..."


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    if isinstance(left, int | float | str) and isinstance(right, int | float | str):
        return left == right or str(left) == str(right)
    return bool(left == right)


def _subset(value: Any, expected: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(value, Mapping) and all(
            k in value and _subset(value[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(value, list) and all(
            any(_subset(item, want) for item in value) for want in expected
        )
    return _same(value, expected)


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        return quantity_parse(value)
    except QuantityError:
        return None


def _scope(kind: str, selector: str) -> Msg:
    return Msg.of(_("{kind}s with the labels {selector}"), kind=kind, selector=selector)


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
) -> CheckOutcome:
    if ok:
        return CheckOutcome(check.id, "pass", {}, detail, tuple(evidence))
    if check.message:
        return CheckOutcome(
            check.id, "fail", dict(check.message), detail or str(problem), tuple(evidence)
        )
    english = problem.render()
    return CheckOutcome(
        check.id, "fail", {"en": english}, detail or english, tuple(evidence), problem
    )


def _label_of(check: Check) -> Msg:
    if isinstance(check, ExistsCheck | AbsentCheck | FieldCheck | LabelCheck | AnnotationCheck):
        if check.name:
            return verbatim(f"{check.kind} {check.name}")
        return _scope(check.kind, str(check.selector))
    return verbatim(check.id)


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
        return _outcome(check, False, problem, str(problem), refs)
    problems: list[Msg] = []
    details: list[str] = []
    for obj in found:
        detail, problem_or_none = judge(obj, f"{check.kind} {_name(obj)}")
        details.append(detail)
        if problem_or_none is not None:
            problems.append(problem_or_none)
    shown = MsgList(tuple(problems[:3]))
    return _outcome(check, not problems, shown, "; ".join(details)[:1000], refs)


# ---------------------------------------------------------------------------------------------
# One function per check type


def _exists(ev: _Evaluation, check: ExistsCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    missing = ev.missing(check.kind, check.name, check.selector)
    detail = f"found {_names(found)}" if found else str(missing)
    return _outcome(check, bool(found), missing, detail, refs)


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


_WORKLOAD_COUNTS = {
    "scheduled": _("scheduled"),
    "updated": _("updated"),
    "ready": _("ready"),
    "available": _("available"),
    "running": _("running"),
}


def _workload_ready(kind: str, obj: Obj) -> tuple[bool, int, Msg]:
    """(ready?, desired count, explanation) for a workload object's status."""
    spec = _get(obj, "spec", default={})
    status = _get(obj, "status", default={})
    name = _name(obj)
    generation = _int(_meta(obj).get("generation"))
    observed = _int(_get(status, "observedGeneration"))
    if kind == "Pod":
        phase = str(_get(status, "phase", default="Pending"))
        conditions = _get(status, "conditions", default=[]) or []
        ready = any(
            isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in conditions
        )
        ok = phase == "Running" and ready
        template = _("Pod {name} is {phase}") if ready else _("Pod {name} is {phase}, not Ready")
        return ok, 1, Msg.of(template, name=name, phase=phase)
    if observed < generation:
        return (
            False,
            0,
            Msg.of(
                _("{kind} {name}: the controller has not caught up with your last change yet"),
                kind=kind,
                name=name,
            ),
        )
    if kind == "DaemonSet":
        desired = _int(_get(status, "desiredNumberScheduled"))
        counts = {
            "scheduled": _int(_get(status, "currentNumberScheduled")),
            "updated": _int(_get(status, "updatedNumberScheduled")),
            "ready": _int(_get(status, "numberReady")),
            "available": _int(_get(status, "numberAvailable")),
        }
        ok = desired > 0 and all(v == desired for v in counts.values())
        if desired == 0:
            return (
                False,
                0,
                Msg.of(_("DaemonSet {name} matches no node, so it runs no pods"), name=name),
            )
    else:
        raw = _get(spec, "replicas")
        desired = 1 if raw is None else _int(raw)
        counts = {
            "running": _int(_get(status, "replicas")),
            "ready": _int(_get(status, "readyReplicas")),
        }
        if kind in ("Deployment", "StatefulSet"):
            counts["updated"] = _int(_get(status, "updatedReplicas"))
        if kind == "Deployment":
            counts["available"] = _int(_get(status, "availableReplicas"))
        ok = all(v == desired for v in counts.values())
    shown = MsgList(
        tuple(
            Msg.of("{state} {count}", state=Msg(_WORKLOAD_COUNTS[k]), count=v)
            for k, v in counts.items()
        ),
        separator=", ",
    )
    return (
        ok,
        desired,
        Msg.of(
            _("{kind} {name} wants {desired}: {counts}"),
            kind=kind,
            name=name,
            desired=desired,
            counts=shown,
        ),
    )


def _ready(ev: _Evaluation, check: ReadyCheck) -> CheckOutcome:
    def judge(obj: Obj, where: str) -> tuple[str, Msg | None]:
        ok, desired, explanation = _workload_ready(check.kind, obj)
        if check.replicas is not None and check.kind != "Pod" and desired != check.replicas:
            return str(explanation), Msg.of(
                _("{where} asks for {desired} replica(s); it should ask for {replicas}."),
                where=where,
                desired=desired,
                replicas=check.replicas,
            )
        if not ok:
            return str(explanation), Msg.of(
                _("{explanation}; it is not fully ready yet."), explanation=explanation
            )
        return str(explanation), None

    return _per_object(ev, check, judge)


def _owners(obj: Obj) -> list[Mapping[str, Any]]:
    refs = _meta(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []


def _owner(ev: _Evaluation, check: OwnerCheck) -> CheckOutcome:
    def judge(obj: Obj, where: str) -> tuple[str, Msg | None]:
        owners = _owners(obj)
        listed = ", ".join(f"{r.get('kind')} {r.get('name')}" for r in owners)
        shown = verbatim(listed) if listed else Msg(_("nothing"))
        detail = f"{where} is owned by {shown}"
        if check.owner is None:
            if not owners:
                return detail, None
            return detail, Msg.of(
                _("{where} is still owned by {owners}; it should have no owner."),
                where=where,
                owners=shown,
            )
        if _owned_by(ev, obj, check.owner.kind, check.owner.name, depth=0):
            return detail, None
        return detail, Msg.of(
            _("{where} is owned by {owners}, not by {kind} {name}."),
            where=where,
            owners=shown,
            kind=check.owner.kind,
            name=check.owner.name,
        )

    return _per_object(ev, check, judge)


def _owned_by(ev: _Evaluation, obj: Obj, kind: str, name: str, depth: int) -> bool:
    if depth > 4:
        return False
    for ref in _owners(obj):
        if ref.get("kind") == kind and ref.get("name") == name:
            return True
        parent_kind = str(ref.get("kind"))
        for parent in ev.snapshot.objects.get(parent_kind, ()):
            if _name(parent) == ref.get("name") and _owned_by(ev, parent, kind, name, depth + 1):
                return True
    return False


def _condition(status: Mapping[str, Any], kind: str) -> bool:
    conditions = _get(status, "conditions", default=[]) or []
    return any(
        isinstance(c, Mapping) and c.get("type") == kind and c.get("status") == "True"
        for c in conditions
    )


def _job(ev: _Evaluation, check: JobCheck) -> CheckOutcome:
    found = ev.targets("Job", check.name, None)
    if not found:
        problem = ev.missing("Job", check.name, None)
        return _outcome(check, False, problem, str(problem))
    job = found[0]
    status = _get(job, "status", default={}) or {}
    succeeded = _int(_get(status, "succeeded"))
    failed = _int(_get(status, "failed"))
    complete = _condition(status, "Complete")
    detail = (
        f"Job {check.name}: {succeeded} succeeded, {failed} failed, "
        f"{'complete' if complete else 'not complete'}"
    )
    problems = []
    if check.succeeded is not None and succeeded < check.succeeded:
        problems.append(
            Msg.of(
                _("Job {name} has {succeeded} succeeded pod(s); it needs {wanted}."),
                name=check.name,
                succeeded=succeeded,
                wanted=check.succeeded,
            )
        )
    if check.complete and not complete:
        template = (
            _("Job {name} has failed; look at its pods with kubectl describe.")
            if _condition(status, "Failed")
            else _("Job {name} has not completed yet.")
        )
        problems.append(Msg.of(template, name=check.name))
    return _outcome(check, not problems, MsgList(tuple(problems)), detail, [_ref("Job", job)])


def _service_selects(ev: _Evaluation, check: ServiceSelectsCheck) -> CheckOutcome:
    services = ev.targets("Service", check.service, None)
    if not services:
        problem = ev.missing("Service", check.service, None)
        return _outcome(check, False, problem, str(problem))
    service = services[0]
    pods = [
        p for p in ev.objects("Pod") if _get(p, "status", "phase") not in ("Succeeded", "Failed")
    ]
    raw_selector = _get(service, "spec", "selector")
    chosen = selector_from_api(raw_selector, empty_matches_all=False)
    selected = {_name(p) for p in pods if chosen.matches(_labels(p))}
    intended_selector = selector_parse(check.pods)
    intended = {_name(p) for p in pods if intended_selector.matches(_labels(p))}
    evidence = [_ref("Service", service)] + [
        _ref("Pod", p) for p in pods if _name(p) in selected | intended
    ]
    detail = (
        f"Service {check.service} selects {chosen}: "
        f"{', '.join(sorted(selected)) or 'no pods'}; intended ({check.pods}): "
        f"{', '.join(sorted(intended)) or 'no pods'}"
    )
    if not intended:
        problem = Msg.of(
            _(
                "No pods match {selector} yet, so Service {service} has nothing to send traffic "
                "to. Create those pods first."
            ),
            selector=check.pods,
            service=check.service,
        )
        return _outcome(check, False, problem, detail, evidence)
    if not raw_selector:
        problem = Msg.of(
            _("Service {service} has no selector, so it selects no pods."), service=check.service
        )
        return _outcome(check, False, problem, detail, evidence)
    extra = sorted(selected - intended)
    missing = sorted(intended - selected)
    problems = []
    if extra:
        problems.append(
            Msg.of(
                _(
                    "Service {service} (selector {selector}) also selects {count} pod(s) it should "
                    "not: {pods}."
                ),
                service=check.service,
                selector=str(chosen),
                count=len(extra),
                pods=", ".join(extra[:4]),
            )
        )
    if missing:
        problems.append(
            Msg.of(
                _(
                    "Service {service} (selector {selector}) misses {count} pod(s) it should "
                    "select: {pods}."
                ),
                service=check.service,
                selector=str(chosen),
                count=len(missing),
                pods=", ".join(missing[:4]),
            )
        )
    return _outcome(check, not problems, MsgList(tuple(problems)), detail, evidence)


def _pods_on_nodes(ev: _Evaluation, check: PodsOnNodesCheck) -> CheckOutcome:
    if ev.snapshot.nodes is None:
        return CheckOutcome(check.id, "inconclusive", {}, "the node list was not read")
    pod_selector = selector_parse(check.pods)
    pods = [
        p
        for p in ev.objects("Pod")
        if pod_selector.matches(_labels(p))
        and _get(p, "status", "phase") not in ("Succeeded", "Failed")
    ]
    node_selector = selector_parse(check.nodes)
    nodes = {_name(n): n for n in ev.snapshot.nodes if isinstance(n, Mapping)}
    wanted = sorted(name for name, node in nodes.items() if node_selector.matches(_labels(node)))
    evidence = [_ref("Pod", p) for p in pods] + [_ref("Node", nodes[n]) for n in wanted]
    placement = {_name(p): _get(p, "spec", "nodeName") for p in pods}
    detail = ", ".join(f"{pod} on {node or 'no node'}" for pod, node in sorted(placement.items()))
    if not pods:
        problem = Msg.of(
            _("There are no running pods with the labels {selector} in your namespace."),
            selector=check.pods,
        )
        return _outcome(check, False, problem, str(problem), evidence)
    problems = []
    unscheduled = sorted(p for p, n in placement.items() if not n)
    if unscheduled:
        problems.append(
            Msg.of(
                _("{count} pod(s) are not scheduled on any node: {pods}."),
                count=len(unscheduled),
                pods=", ".join(unscheduled[:4]),
            )
        )
    misplaced = sorted(f"{p} on {n}" for p, n in placement.items() if n and n not in wanted)
    if misplaced:
        labels = verbatim(check.nodes) if check.nodes else Msg(_("the right labels"))
        problems.append(
            Msg.of(
                _("These pods run on nodes without {labels}: {pods}."),
                labels=labels,
                pods=", ".join(misplaced[:4]),
            )
        )
    if check.every_node:
        per_node = {name: sum(1 for n in placement.values() if n == name) for name in wanted}
        empty = [name for name, count in per_node.items() if count == 0]
        doubled = [name for name, count in per_node.items() if count > 1]
        if empty:
            problems.append(
                Msg.of(
                    _("No pod runs on {nodes}; every such node needs one."),
                    nodes=", ".join(empty[:4]),
                )
            )
        if doubled:
            problems.append(
                Msg.of(_("More than one pod runs on {nodes}."), nodes=", ".join(doubled[:4]))
            )
    return _outcome(check, not problems, MsgList(tuple(problems)), detail or "no pods", evidence)


def _script(ev: _Evaluation, check: ScriptCheck) -> CheckOutcome:
    run = ev.snapshot.scripts.get(check.id)
    if run is None:
        return CheckOutcome(check.id, "inconclusive", {}, "the check script did not run")
    if run.skipped:
        return CheckOutcome(
            check.id,
            "fail",
            {},
            "not run: another check of this exercise fails",
            problem=Msg.of(_("This is checked once the other checks of this exercise pass.")),
        )
    output = run.output.strip()[-1000:]
    if run.error:
        return CheckOutcome(
            check.id, "inconclusive", {}, f"the check script could not run: {run.error}"
        )
    if run.timed_out:
        return CheckOutcome(
            check.id, "inconclusive", {}, f"the check script timed out after {check.timeout:g}s"
        )
    # The script's last line is the author's own message to the learner; it is shown as is.
    last_line = output.splitlines()[-1] if output else ""
    problem = (
        verbatim(last_line)
        if last_line
        else Msg.of(
            _("The check {check} failed (exit code {code})."),
            check=check.id,
            code=str(run.exit_code),
        )
    )
    detail = f"exit code {run.exit_code}" + (f": {output}" if output else "")
    return _outcome(check, run.exit_code == 0, problem, detail)


_EVALUATORS: dict[type, Callable[[_Evaluation, Any], CheckOutcome]] = {
    ExistsCheck: _exists,
    AbsentCheck: _absent,
    FieldCheck: _field,
    LabelCheck: _metadata,
    AnnotationCheck: _metadata,
    CountCheck: _count,
    ReadyCheck: _ready,
    OwnerCheck: _owner,
    JobCheck: _job,
    ServiceSelectsCheck: _service_selects,
    PodsOnNodesCheck: _pods_on_nodes,
    ScriptCheck: _script,
}


def check_evaluate(check: Check, snapshot: Snapshot) -> CheckOutcome:
    if snapshot.unavailable is not None and not isinstance(check, ScriptCheck):
        reason = snapshot.unavailable_reason or CLUSTER_DID_NOT_ANSWER
        return CheckOutcome(check.id, "inconclusive", {}, snapshot.unavailable, problem=reason)
    evaluation = _Evaluation(snapshot)
    try:
        return _EVALUATORS[type(check)](evaluation, check)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # A malformed object must not take the grader down; say so instead of guessing.
        problem = Msg.of(_("{target} could not be read."), target=_label_of(check))
        return _outcome(
            check, False, problem, f"could not evaluate: {exc.__class__.__name__}: {exc}"
        )


def declarative_fails(exercise: Exercise, snapshot: Snapshot) -> bool:
    """Whether a check that reads objects already fails: the exercise cannot pass, so its script
    checks need not run. They cost a jail and a token each, and the namespace watcher grades
    every auto-checked exercise on every change, so a script left to run on every change
    delays every other exercise's result."""
    return any(
        check_evaluate(check, snapshot).status == "fail"
        for check in exercise.checks
        if not isinstance(check, ScriptCheck)
    )


def exercise_evaluate(exercise: Exercise, snapshot: Snapshot) -> ExerciseOutcome:
    outcomes = tuple(check_evaluate(check, snapshot) for check in exercise.checks)
    if all(o.status == "pass" for o in outcomes):
        status: ExerciseStatus = "passed"
    elif any(o.status == "fail" for o in outcomes):
        status = "failed"
    else:
        status = "inconclusive"
    return ExerciseOutcome(status, outcomes)
