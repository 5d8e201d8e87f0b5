"""Evaluators of the checks on what the cluster made of the objects, which takes more than an
object's own manifest: ``ready`` (workload status), ``owner`` (ownership chains), ``job``,
``service_selects``, ``pods_on_nodes`` (scheduling) and ``script`` (the author's script, run
against the namespace); one function per check type, each returning a ``CheckOutcome``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labs.checks.evaluation import _Evaluation, _outcome, _per_object, _target
from labs.checks.inputs import Obj
from labs.checks.objects import _get, _int, _labels, _meta, _name, _ref
from labs.checks.outcomes import CheckOutcome
from labs.kubevalues import selector_from_api, selector_parse
from labs.messages import Msg, MsgList, verbatim
from labs.messages import gettext_noop as _
from labs.spec import (
    JobCheck,
    OwnerCheck,
    PodsOnNodesCheck,
    ReadyCheck,
    ScriptCheck,
    ServiceSelectsCheck,
)

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
        return _outcome(
            check, False, problem, str(problem), missing_target=_target("Job", check.name, None)
        )
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
        target = _target("Service", check.service, None)
        return _outcome(check, False, problem, str(problem), missing_target=target)
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
