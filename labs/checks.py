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


@dataclass(frozen=True)
class Snapshot:
    namespace: str
    objects: Mapping[str, Sequence[Obj]] = field(default_factory=dict)
    nodes: Sequence[Obj] | None = None
    scripts: Mapping[str, ScriptRun] = field(default_factory=dict)
    # Why the cluster could not be read (unreachable, timed out); None when it was.
    unavailable: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    check_id: str
    status: CheckStatus
    # For the learner when it fails: the author's message, else a specific generated one.
    message: Mapping[str, str]
    # What the engine found, in plain English ("Pod kuard: .spec.containers[0].image is ...").
    detail: str
    evidence: tuple[Mapping[str, Any], ...] = ()

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


def _names(objects: Iterable[Obj], limit: int = 6) -> str:
    names = sorted(_name(o) for o in objects)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _show(values: Sequence[Any]) -> str:
    if not values:
        return "nothing"
    text = ", ".join(repr(v) if isinstance(v, str) else _compact(v) for v in values[:5])
    return text[:300]


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


def _en(text: str) -> dict[str, str]:
    return {"en": text}


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

    def missing(self, kind: str, name: str | None, selector: str | None) -> str:
        if name is not None:
            return f"There is no {kind} named {name} in your namespace {self.namespace}."
        return f"There is no {kind} with the labels {selector} in your namespace {self.namespace}."


def _outcome(
    check: Check,
    ok: bool,
    problem: str,
    detail: str,
    evidence: Iterable[Mapping[str, Any]] = (),
) -> CheckOutcome:
    if ok:
        return CheckOutcome(check.id, "pass", {}, detail, tuple(evidence))
    message = dict(check.message) if check.message else _en(problem)
    return CheckOutcome(check.id, "fail", message, detail or problem, tuple(evidence))


def _label_of(check: Check) -> str:
    if isinstance(check, ExistsCheck | AbsentCheck | FieldCheck | LabelCheck | AnnotationCheck):
        return (
            f"{check.kind} {check.name}"
            if check.name
            else f"{check.kind}s with labels {check.selector}"
        )
    return check.id


# ---------------------------------------------------------------------------------------------
# One function per check type


def _exists(ev: _Evaluation, check: ExistsCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    detail = (
        f"found {_names(found)}" if found else ev.missing(check.kind, check.name, check.selector)
    )
    return _outcome(
        check, bool(found), ev.missing(check.kind, check.name, check.selector), detail, refs
    )


def _absent(ev: _Evaluation, check: AbsentCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if check.name:
        problem = f"{check.kind} {check.name} still exists; it should be gone."
    else:
        problem = (
            f"{len(found)} {check.kind}(s) with the labels {check.selector} still exist "
            f"({_names(found)}); there should be none."
        )
    return _outcome(check, not found, problem, f"found {_names(found)}" if found else "none", refs)


def _field_test(check: FieldCheck) -> tuple[Callable[[Any], bool], str]:
    fields = check.model_fields_set
    if "equals" in fields:
        return (lambda v: _same(v, check.equals)), f"equal {check.equals!r}"
    if "matches" in fields:
        pattern = re.compile(check.matches or "")
        return (
            lambda v: (
                isinstance(v, str | int | float)
                and not isinstance(v, bool)
                and pattern.fullmatch(str(v)) is not None
            )
        ), f"match {check.matches!r}"
    if "contains" in fields:

        def contains(value: Any) -> bool:
            if isinstance(value, str):
                return str(check.contains) in value
            if isinstance(value, list):
                return any(_subset(item, check.contains) for item in value)
            return _subset(value, check.contains)

        return contains, f"contain {check.contains!r}"
    if "quantity" in fields:
        want = quantity_parse(check.quantity)
        return (lambda v: _number(v) == want), f"be the quantity {check.quantity}"
    low = Decimal(str(check.at_least)) if check.at_least is not None else None
    high = Decimal(str(check.at_most)) if check.at_most is not None else None

    def bounded(value: Any) -> bool:
        number = _number(value)
        return (
            number is not None
            and (low is None or number >= low)
            and (high is None or number <= high)
        )

    if low is not None and high is not None:
        return bounded, f"be between {check.at_least:g} and {check.at_most:g}"
    if low is not None:
        return bounded, f"be at least {check.at_least:g}"
    return bounded, f"be at most {check.at_most:g}"


def _field(ev: _Evaluation, check: FieldCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if not found:
        problem = ev.missing(check.kind, check.name, check.selector)
        return _outcome(check, False, problem, problem, refs)
    problems: list[str] = []
    details: list[str] = []
    for obj in found:
        values = jsonpath_find(check.path, obj)
        where = f"{check.kind} {_name(obj)}"
        details.append(f"{where}: {check.path} is {_show(values)}")
        if "exists" in check.model_fields_set:
            if bool(values) != check.exists:
                problems.append(
                    f"{where} has no {check.path}."
                    if check.exists
                    else f"{where} should not set {check.path} (it is {_show(values)})."
                )
            continue
        test, wanted = _field_test(check)
        results = [test(v) for v in values]
        ok = bool(results) and (all(results) if check.match == "all" else any(results))
        if not ok:
            if not values:
                problems.append(f"{where} has no {check.path}; it should {wanted}.")
            else:
                problems.append(
                    f"{where}: {check.path} should {wanted}, but it is {_show(values)}."
                )
    return _outcome(check, not problems, " ".join(problems[:3]), "; ".join(details)[:1000], refs)


def _metadata(ev: _Evaluation, check: LabelCheck | AnnotationCheck) -> CheckOutcome:
    what = "label" if isinstance(check, LabelCheck) else "annotation"
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if not found:
        problem = ev.missing(check.kind, check.name, check.selector)
        return _outcome(check, False, problem, problem, refs)
    problems: list[str] = []
    details: list[str] = []
    for obj in found:
        values = _labels(obj) if what == "label" else _annotations(obj)
        where = f"{check.kind} {_name(obj)}"
        value = values.get(check.key)
        details.append(
            f"{where}: {check.key}={value!r}" if value is not None else f"{where}: no {check.key}"
        )
        if check.present is not None:
            if (value is not None) != check.present:
                problems.append(
                    f"{where} has no {what} {check.key}."
                    if check.present
                    else f"{where} still has the {what} {check.key}={value}; remove it."
                )
        elif check.equals is not None:
            if value != check.equals:
                problems.append(
                    f"{where} has no {what} {check.key}; it should be {check.key}={check.equals}."
                    if value is None
                    else f"{where} has {what} {check.key}={value}, not {check.key}={check.equals}."
                )
        elif check.contains is not None and (value is None or check.contains not in value):
            problems.append(
                f"The {what} {check.key} of {where} should contain {check.contains!r}"
                + (f", but it is {value!r}." if value is not None else ", but it is not set.")
            )
    return _outcome(check, not problems, " ".join(problems[:3]), "; ".join(details)[:1000], refs)


def _count(ev: _Evaluation, check: CountCheck) -> CheckOutcome:
    found = ev.targets(check.kind, None, check.selector)
    count = len(found)
    refs = [_ref(check.kind, o) for o in found]
    scope = (
        f"{check.kind}s with the labels {check.selector}" if check.selector else f"{check.kind}s"
    )
    if check.equals is not None:
        ok = count == check.equals
        wanted = f"exactly {check.equals}"
    else:
        ok = (check.at_least is None or count >= check.at_least) and (
            check.at_most is None or count <= check.at_most
        )
        parts = []
        if check.at_least is not None:
            parts.append(f"at least {check.at_least}")
        if check.at_most is not None:
            parts.append(f"at most {check.at_most}")
        wanted = " and ".join(parts)
    detail = f"{count} {scope}" + (f": {_names(found)}" if found else "")
    problem = f"Your namespace has {count} {scope}; it should have {wanted}."
    return _outcome(check, ok, problem, detail, refs)


def _workload_ready(kind: str, obj: Obj) -> tuple[bool, int, str]:
    """(ready?, desired count, explanation) for a workload object's status."""
    spec = _get(obj, "spec", default={})
    status = _get(obj, "status", default={})
    name = _name(obj)
    generation = _int(_meta(obj).get("generation"))
    observed = _int(_get(status, "observedGeneration"))
    if kind == "Pod":
        phase = _get(status, "phase", default="Pending")
        conditions = _get(status, "conditions", default=[]) or []
        ready = any(
            isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in conditions
        )
        ok = phase == "Running" and ready
        return ok, 1, f"Pod {name} is {phase}{'' if ready else ', not Ready'}"
    if observed < generation:
        return (
            False,
            0,
            f"{kind} {name}: the controller has not caught up with your last change yet",
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
            return False, 0, f"DaemonSet {name} matches no node, so it runs no pods"
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
    shown = ", ".join(f"{k} {v}" for k, v in counts.items())
    return ok, desired, f"{kind} {name} wants {desired}: {shown}"


def _ready(ev: _Evaluation, check: ReadyCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if not found:
        problem = ev.missing(check.kind, check.name, check.selector)
        return _outcome(check, False, problem, problem, refs)
    problems, details = [], []
    for obj in found:
        ok, desired, explanation = _workload_ready(check.kind, obj)
        details.append(explanation)
        if check.replicas is not None and check.kind != "Pod" and desired != check.replicas:
            problems.append(
                f"{check.kind} {_name(obj)} asks for {desired} replica(s); it should ask for "
                f"{check.replicas}."
            )
        elif not ok:
            problems.append(f"{explanation}; it is not fully ready yet.")
    return _outcome(check, not problems, " ".join(problems[:3]), "; ".join(details), refs)


def _owners(obj: Obj) -> list[Mapping[str, Any]]:
    refs = _meta(obj).get("ownerReferences")
    return [r for r in refs if isinstance(r, Mapping)] if isinstance(refs, list) else []


def _owner(ev: _Evaluation, check: OwnerCheck) -> CheckOutcome:
    found = ev.targets(check.kind, check.name, check.selector)
    refs = [_ref(check.kind, o) for o in found]
    if not found:
        problem = ev.missing(check.kind, check.name, check.selector)
        return _outcome(check, False, problem, problem, refs)
    problems, details = [], []
    for obj in found:
        where = f"{check.kind} {_name(obj)}"
        owners = _owners(obj)
        shown = ", ".join(f"{r.get('kind')} {r.get('name')}" for r in owners) or "nothing"
        details.append(f"{where} is owned by {shown}")
        if check.owner is None:
            if owners:
                problems.append(f"{where} is still owned by {shown}; it should have no owner.")
            continue
        if not _owned_by(ev, obj, check.owner.kind, check.owner.name, depth=0):
            problems.append(
                f"{where} is owned by {shown}, not by {check.owner.kind} {check.owner.name}."
            )
    return _outcome(check, not problems, " ".join(problems[:3]), "; ".join(details)[:1000], refs)


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


def _job(ev: _Evaluation, check: JobCheck) -> CheckOutcome:
    found = ev.targets("Job", check.name, None)
    if not found:
        problem = ev.missing("Job", check.name, None)
        return _outcome(check, False, problem, problem)
    job = found[0]
    status = _get(job, "status", default={}) or {}
    succeeded = _int(_get(status, "succeeded"))
    failed = _int(_get(status, "failed"))
    conditions = _get(status, "conditions", default=[]) or []
    complete = any(
        isinstance(c, Mapping) and c.get("type") == "Complete" and c.get("status") == "True"
        for c in conditions
    )
    job_failed = any(
        isinstance(c, Mapping) and c.get("type") == "Failed" and c.get("status") == "True"
        for c in conditions
    )
    detail = (
        f"Job {check.name}: {succeeded} succeeded, {failed} failed, "
        f"{'complete' if complete else 'not complete'}"
    )
    problems = []
    if check.succeeded is not None and succeeded < check.succeeded:
        problems.append(
            f"Job {check.name} has {succeeded} succeeded pod(s); it needs {check.succeeded}."
        )
    if check.complete and not complete:
        problems.append(
            f"Job {check.name} has failed; look at its pods with kubectl describe."
            if job_failed
            else f"Job {check.name} has not completed yet."
        )
    return _outcome(check, not problems, " ".join(problems), detail, [_ref("Job", job)])


def _service_selects(ev: _Evaluation, check: ServiceSelectsCheck) -> CheckOutcome:
    services = ev.targets("Service", check.service, None)
    if not services:
        problem = ev.missing("Service", check.service, None)
        return _outcome(check, False, problem, problem)
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
        problem = (
            f"No pods match {check.pods} yet, so Service {check.service} has nothing to send "
            "traffic to. Create those pods first."
        )
        return _outcome(check, False, problem, detail, evidence)
    if not raw_selector:
        problem = f"Service {check.service} has no selector, so it selects no pods."
        return _outcome(check, False, problem, detail, evidence)
    extra = sorted(selected - intended)
    missing = sorted(intended - selected)
    problems = []
    if extra:
        problems.append(
            f"Service {check.service} (selector {chosen}) also selects {len(extra)} pod(s) it "
            f"should not: {', '.join(extra[:4])}."
        )
    if missing:
        problems.append(
            f"Service {check.service} (selector {chosen}) misses {len(missing)} pod(s) it should "
            f"select: {', '.join(missing[:4])}."
        )
    return _outcome(check, not problems, " ".join(problems), detail, evidence)


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
        problem = f"There are no running pods with the labels {check.pods} in your namespace."
        return _outcome(check, False, problem, problem, evidence)
    problems = []
    unscheduled = sorted(p for p, n in placement.items() if not n)
    if unscheduled:
        problems.append(
            f"{len(unscheduled)} pod(s) are not scheduled on any node: "
            f"{', '.join(unscheduled[:4])}."
        )
    misplaced = sorted(f"{p} on {n}" for p, n in placement.items() if n and n not in wanted)
    if misplaced:
        problems.append(
            f"These pods run on nodes without {check.nodes or 'the right labels'}: "
            f"{', '.join(misplaced[:4])}."
        )
    if check.every_node:
        per_node = {name: sum(1 for n in placement.values() if n == name) for name in wanted}
        empty = [name for name, count in per_node.items() if count == 0]
        doubled = [name for name, count in per_node.items() if count > 1]
        if empty:
            problems.append(f"No pod runs on {', '.join(empty[:4])}; every such node needs one.")
        if doubled:
            problems.append(f"More than one pod runs on {', '.join(doubled[:4])}.")
    return _outcome(check, not problems, " ".join(problems), detail or "no pods", evidence)


def _script(ev: _Evaluation, check: ScriptCheck) -> CheckOutcome:
    run = ev.snapshot.scripts.get(check.id)
    if run is None:
        return CheckOutcome(check.id, "inconclusive", {}, "the check script did not run")
    output = run.output.strip()[-1000:]
    if run.error:
        return CheckOutcome(
            check.id, "inconclusive", {}, f"the check script could not run: {run.error}"
        )
    if run.timed_out:
        return CheckOutcome(
            check.id, "inconclusive", {}, f"the check script timed out after {check.timeout:g}s"
        )
    last_line = output.splitlines()[-1] if output else ""
    problem = last_line or f"The check {check.id} failed (exit code {run.exit_code})."
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
        return CheckOutcome(check.id, "inconclusive", {}, snapshot.unavailable)
    evaluation = _Evaluation(snapshot)
    try:
        return _EVALUATORS[type(check)](evaluation, check)
    except (TypeError, ValueError, KeyError, AttributeError, RecursionError) as exc:
        # A malformed object must not take the grader down; say so instead of guessing.
        return CheckOutcome(
            check.id,
            "fail",
            dict(check.message) if check.message else _en(f"{_label_of(check)} could not be read."),
            f"could not evaluate: {exc.__class__.__name__}: {exc}",
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
