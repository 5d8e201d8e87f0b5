# ruff: noqa: E501 (the cases are a table; one case per line reads best)
"""The check engine as data: a check, the objects in a namespace, the verdict and its message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from labs.checks import ScriptRun, Snapshot, check_evaluate, exercise_evaluate, exercise_needs
from labs.spec import Exercise

NS = "learner-a1b2"


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    *,
    node: str | None = "worker-1",
    phase: str = "Running",
    ready: bool = True,
    owner: tuple[str, str] | None = None,
    image: str = "gcr.io/kuar-demo/kuard-amd64:blue",
    deleting: bool = False,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels or {}, "resourceVersion": "1"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "kind": "Pod",
        "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "kuard", "image": image}], **spec},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def obj(kind: str, name: str, labels: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    meta = {"name": name, "labels": labels or {}, "generation": 1, **body.pop("metadata", {})}
    return {"kind": kind, "metadata": meta, **body}


def node(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": labels or {}}}


NODES = [
    node("control-plane", {"node-role.kubernetes.io/control-plane": ""}),
    node("worker-1", {"ssd": "true"}),
    node("worker-2", {"ssd": "true"}),
    node("worker-3"),
]


@dataclass
class Case:
    name: str
    check: dict[str, Any]
    objects: dict[str, list[dict[str, Any]]]
    status: str
    says: str = ""  # a fragment of the learner-facing message (for failures)
    nodes: list[dict[str, Any]] | None = None
    scripts: dict[str, ScriptRun] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


KUARD = pod("kuard", {"app": "kuard"}, ports=[])
KUARD["spec"]["containers"][0].update(
    ports=[{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
    resources={"requests": {"cpu": "500m", "memory": "128Mi"}, "limits": {"cpu": "1"}},
)

DEPLOYMENT = obj(
    "Deployment",
    "alpaca-prod",
    {"app": "alpaca"},
    spec={"replicas": 3},
    status={
        "observedGeneration": 1,
        "replicas": 3,
        "readyReplicas": 3,
        "updatedReplicas": 3,
        "availableReplicas": 3,
    },
)
ROLLING = obj(
    "Deployment",
    "alpaca-prod",
    spec={"replicas": 3},
    status={"observedGeneration": 1, "replicas": 4, "readyReplicas": 3, "updatedReplicas": 1,
            "availableReplicas": 3},
)  # fmt: skip
STALE = obj(
    "Deployment",
    "alpaca-prod",
    metadata={"generation": 2},
    spec={"replicas": 3},
    status={"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3,
            "availableReplicas": 3},
)  # fmt: skip
DAEMONSET = obj(
    "DaemonSet",
    "fluentd",
    status={"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2,
            "updatedNumberScheduled": 2, "numberReady": 2, "numberAvailable": 2},
)  # fmt: skip
EMPTY_DAEMONSET = obj(
    "DaemonSet", "nginx", status={"observedGeneration": 1, "desiredNumberScheduled": 0}
)
SERVICE = obj("Service", "alpaca-prod", spec={"selector": {"app": "alpaca", "env": "prod"}})
WIDE_SERVICE = obj("Service", "alpaca-prod", spec={"selector": {"env": "prod"}})
NO_SELECTOR = obj("Service", "alpaca-prod", spec={})
ALPACAS = [pod(f"alpaca-{i}", {"app": "alpaca", "env": "prod"}) for i in range(3)]
BANDICOOT = pod("bandicoot-1", {"app": "bandicoot", "env": "prod"})
JOB_DONE = obj(
    "Job",
    "oneshot",
    status={"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]},
)
JOB_RUNNING = obj("Job", "parallel", status={"succeeded": 4, "active": 5})
JOB_FAILED = obj(
    "Job", "oneshot", status={"failed": 6, "conditions": [{"type": "Failed", "status": "True"}]}
)

CASES = [
    # exists / absent
    Case("exists by name", {"type": "exists", "kind": "Pod", "name": "kuard"}, {"Pod": [KUARD]}, "pass"),
    Case("exists missing", {"type": "exists", "kind": "Pod", "name": "kuard"}, {"Pod": []}, "fail",
         "no Pod named kuard in your namespace learner-a1b2"),
    Case("exists ignores deleting", {"type": "exists", "kind": "Pod", "name": "kuard"},
         {"Pod": [pod("kuard", deleting=True)]}, "fail", "no Pod named kuard"),
    Case("exists by selector", {"type": "exists", "kind": "Pod", "selector": "app=kuard"},
         {"Pod": [KUARD]}, "pass"),
    Case("exists selector none", {"type": "exists", "kind": "Pod", "selector": "app=x"},
         {"Pod": [KUARD]}, "fail", "no Pod with the labels app=x"),
    Case("author message wins", {"type": "exists", "kind": "Pod", "name": "x", "message": "Make x."},
         {}, "fail", "Make x."),
    Case("absent", {"type": "absent", "kind": "ReplicaSet", "name": "kuard"}, {"ReplicaSet": []}, "pass"),
    Case("absent still there", {"type": "absent", "kind": "Pod", "selector": "app=alpaca"},
         {"Pod": ALPACAS}, "fail", "3 Pod(s) with the labels app=alpaca still exist"),
    Case("absent while terminating", {"type": "absent", "kind": "Pod", "name": "kuard"},
         {"Pod": [pod("kuard", deleting=True)]}, "pass"),
    # field
    Case("field equals", {"type": "field", "kind": "Pod", "name": "kuard",
                          "path": ".spec.containers[0].image", "equals": "gcr.io/kuar-demo/kuard-amd64:blue"},
         {"Pod": [KUARD]}, "pass"),
    Case("field equals wrong", {"type": "field", "kind": "Pod", "name": "kuard",
                                "path": ".spec.containers[0].image", "equals": "kuard:2"},
         {"Pod": [KUARD]}, "fail", "should equal 'kuard:2', but it is 'gcr.io/kuar-demo/kuard-amd64:blue'"),
    Case("field missing path", {"type": "field", "kind": "Pod", "name": "kuard",
                                "path": ".spec.containers[0].livenessProbe.httpGet.path", "equals": "/healthy"},
         {"Pod": [KUARD]}, "fail", "has no .spec.containers[0].livenessProbe.httpGet.path"),
    Case("field on missing object", {"type": "field", "kind": "Pod", "name": "nope", "path": ".spec",
                                     "exists": True}, {"Pod": [KUARD]}, "fail", "no Pod named nope"),
    Case("field number vs text", {"type": "field", "kind": "Pod", "name": "kuard",
                                  "path": ".spec.containers[0].ports[0].containerPort", "equals": "8080"},
         {"Pod": [KUARD]}, "pass"),
    Case("field matches", {"type": "field", "kind": "Pod", "name": "kuard",
                           "path": ".spec.containers[0].image", "matches": ".*kuard-amd64:(blue|green)"},
         {"Pod": [KUARD]}, "pass"),
    Case("field matches is anchored", {"type": "field", "kind": "Pod", "name": "kuard",
                                       "path": ".spec.containers[0].image", "matches": "kuard"},
         {"Pod": [KUARD]}, "fail", "should match 'kuard'"),
    Case("field contains mapping", {"type": "field", "kind": "Pod", "name": "kuard",
                                    "path": ".spec.containers[0].ports",
                                    "contains": {"containerPort": 8080, "name": "http"}},
         {"Pod": [KUARD]}, "pass"),
    Case("field contains mapping wrong", {"type": "field", "kind": "Pod", "name": "kuard",
                                          "path": ".spec.containers[0].ports",
                                          "contains": {"containerPort": 80}},
         {"Pod": [KUARD]}, "fail", "should contain"),
    Case("field contains text", {"type": "field", "kind": "Pod", "name": "kuard",
                                 "path": ".spec.containers[0].image", "contains": "kuard-amd64"},
         {"Pod": [KUARD]}, "pass"),
    Case("field exists false", {"type": "field", "kind": "Pod", "name": "kuard",
                                "path": ".spec.containers[0].resources.limits.memory", "exists": False},
         {"Pod": [KUARD]}, "pass"),
    Case("field exists false but set", {"type": "field", "kind": "Pod", "name": "kuard",
                                        "path": ".spec.containers[0].resources.limits.cpu", "exists": False},
         {"Pod": [KUARD]}, "fail", "should not set .spec.containers[0].resources.limits.cpu"),
    Case("quantity 1000m is 1", {"type": "field", "kind": "Pod", "name": "kuard",
                                 "path": ".spec.containers[0].resources.limits.cpu", "quantity": "1000m"},
         {"Pod": [KUARD]}, "pass"),
    Case("quantity Mi is not M", {"type": "field", "kind": "Pod", "name": "kuard",
                                  "path": ".spec.containers[0].resources.requests.memory", "quantity": "128M"},
         {"Pod": [KUARD]}, "fail", "should be the quantity 128M"),
    Case("at least", {"type": "field", "kind": "Deployment", "name": "alpaca-prod", "path": ".spec.replicas",
                      "at_least": 2, "at_most": 3}, {"Deployment": [DEPLOYMENT]}, "pass"),
    Case("at most", {"type": "field", "kind": "Deployment", "name": "alpaca-prod", "path": ".spec.replicas",
                     "at_most": 2}, {"Deployment": [DEPLOYMENT]}, "fail", "should be at most 2, but it is 3"),
    Case("field all of selector", {"type": "field", "kind": "Pod", "selector": "app=alpaca",
                                   "path": ".spec.containers[0].image", "equals": "gcr.io/kuar-demo/kuard-amd64:blue"},
         {"Pod": [*ALPACAS[:2], pod("alpaca-x", {"app": "alpaca"}, image="nginx")]}, "fail",
         "Pod alpaca-x: .spec.containers[0].image should equal"),
    Case("match all", {"type": "field", "kind": "Pod", "name": "kuard", "path": ".spec.containers[*].name",
                       "equals": "kuard", "match": "all"},
         {"Pod": [pod("kuard", containers=[{"name": "kuard"}, {"name": "side"}])]}, "fail"),
    Case("match any", {"type": "field", "kind": "Pod", "name": "kuard", "path": ".spec.containers[*].name",
                       "equals": "side"},
         {"Pod": [pod("kuard", containers=[{"name": "kuard"}, {"name": "side"}])]}, "pass"),
    # labels and annotations
    Case("label equals", {"type": "label", "kind": "Pod", "name": "kuard", "key": "app", "equals": "kuard"},
         {"Pod": [KUARD]}, "pass"),
    Case("label other value", {"type": "label", "kind": "Pod", "name": "kuard", "key": "app", "equals": "x"},
         {"Pod": [KUARD]}, "fail", "has label app=kuard, not app=x"),
    Case("label missing", {"type": "label", "kind": "Pod", "name": "kuard", "key": "color", "equals": "blue"},
         {"Pod": [KUARD]}, "fail", "has no label color; it should be color=blue"),
    Case("label absent", {"type": "label", "kind": "Pod", "name": "kuard", "key": "color", "present": False},
         {"Pod": [KUARD]}, "pass"),
    Case("label empty still present", {"type": "label", "kind": "Pod", "name": "p", "key": "color",
                                       "present": False},
         {"Pod": [pod("p", {"color": ""})]}, "fail", "still has the label color="),
    Case("annotation contains", {"type": "annotation", "kind": "ReplicaSet", "name": "kuard",
                                 "key": "kubectl.kubernetes.io/last-applied-configuration",
                                 "contains": '"replicas":3'},
         {"ReplicaSet": [obj("ReplicaSet", "kuard", metadata={"annotations": {
             "kubectl.kubernetes.io/last-applied-configuration": '{"spec":{"replicas":1}}'}})]},
         "fail", "should contain"),
    # count
    Case("count equals", {"type": "count", "kind": "Pod", "selector": "app=alpaca", "equals": 3},
         {"Pod": [*ALPACAS, BANDICOOT]}, "pass"),
    Case("count too many", {"type": "count", "kind": "Pod", "selector": "env=prod", "equals": 3},
         {"Pod": [*ALPACAS, BANDICOOT]}, "fail", "has 4 Pods with the labels env=prod; it should have exactly 3"),
    Case("count bounds", {"type": "count", "kind": "Pod", "at_least": 1, "at_most": 2},
         {"Pod": ALPACAS}, "fail", "at least 1 and at most 2"),
    # ready
    Case("pod ready", {"type": "ready", "kind": "Pod", "name": "kuard"}, {"Pod": [KUARD]}, "pass"),
    Case("pod pending", {"type": "ready", "kind": "Pod", "name": "kuard"},
         {"Pod": [pod("kuard", phase="Pending", ready=False, node=None)]}, "fail", "Pod kuard is Pending"),
    Case("deployment ready", {"type": "ready", "kind": "Deployment", "name": "alpaca-prod", "replicas": 3},
         {"Deployment": [DEPLOYMENT]}, "pass"),
    Case("deployment wrong replicas", {"type": "ready", "kind": "Deployment", "name": "alpaca-prod",
                                       "replicas": 2}, {"Deployment": [DEPLOYMENT]}, "fail",
         "asks for 3 replica(s); it should ask for 2"),
    Case("deployment mid rollout", {"type": "ready", "kind": "Deployment", "name": "alpaca-prod"},
         {"Deployment": [ROLLING]}, "fail", "not fully ready yet"),
    Case("deployment stale status", {"type": "ready", "kind": "Deployment", "name": "alpaca-prod"},
         {"Deployment": [STALE]}, "fail", "has not caught up"),
    Case("daemonset ready", {"type": "ready", "kind": "DaemonSet", "name": "fluentd"},
         {"DaemonSet": [DAEMONSET]}, "pass"),
    Case("daemonset on no node", {"type": "ready", "kind": "DaemonSet", "name": "nginx"},
         {"DaemonSet": [EMPTY_DAEMONSET]}, "fail", "matches no node"),
    # owner
    Case("owned", {"type": "owner", "selector": "app=kuard", "owner": {"kind": "ReplicaSet", "name": "kuard"}},
         {"Pod": [pod("k-1", {"app": "kuard"}, owner=("ReplicaSet", "kuard"))], "ReplicaSet": []}, "pass"),
    Case("owned through a chain", {"type": "owner", "selector": "app=alpaca",
                                   "owner": {"kind": "Deployment", "name": "alpaca-prod"}},
         {"Pod": [pod("a-1", {"app": "alpaca"}, owner=("ReplicaSet", "alpaca-prod-abc"))],
          "ReplicaSet": [obj("ReplicaSet", "alpaca-prod-abc", metadata={"ownerReferences": [
              {"kind": "Deployment", "name": "alpaca-prod"}]})]}, "pass"),
    Case("orphaned wanted", {"type": "owner", "selector": "app=kuard", "owner": None},
         {"Pod": [pod("k-1", {"app": "kuard"}, owner=("ReplicaSet", "kuard"))]}, "fail",
         "is still owned by ReplicaSet kuard; it should have no owner"),
    Case("owned by someone else", {"type": "owner", "selector": "app=kuard",
                                   "owner": {"kind": "ReplicaSet", "name": "kuard"}},
         {"Pod": [pod("k-1", {"app": "kuard"})]}, "fail", "is owned by nothing, not by ReplicaSet kuard"),
    # job
    Case("job done", {"type": "job", "name": "oneshot", "succeeded": 1}, {"Job": [JOB_DONE]}, "pass"),
    Case("job still running", {"type": "job", "name": "parallel", "succeeded": 10}, {"Job": [JOB_RUNNING]},
         "fail", "has 4 succeeded pod(s); it needs 10"),
    Case("job failed", {"type": "job", "name": "oneshot"}, {"Job": [JOB_FAILED]}, "fail", "has failed"),
    Case("job missing", {"type": "job", "name": "oneshot"}, {"Job": []}, "fail", "no Job named oneshot"),
    # service_selects
    Case("service exact", {"type": "service_selects", "service": "alpaca-prod", "pods": "app=alpaca"},
         {"Service": [SERVICE], "Pod": [*ALPACAS, BANDICOOT]}, "pass"),
    Case("service too wide", {"type": "service_selects", "service": "alpaca-prod", "pods": "app=alpaca"},
         {"Service": [WIDE_SERVICE], "Pod": [*ALPACAS, BANDICOOT]}, "fail",
         "also selects 1 pod(s) it should not: bandicoot-1"),
    Case("service misses pods", {"type": "service_selects", "service": "alpaca-prod", "pods": "env=prod"},
         {"Service": [SERVICE], "Pod": [*ALPACAS, BANDICOOT]}, "fail", "misses 1 pod(s)"),
    Case("service without selector", {"type": "service_selects", "service": "alpaca-prod", "pods": "app=alpaca"},
         {"Service": [NO_SELECTOR], "Pod": ALPACAS}, "fail", "has no selector"),
    Case("service nothing to select", {"type": "service_selects", "service": "alpaca-prod", "pods": "app=x"},
         {"Service": [SERVICE], "Pod": ALPACAS}, "fail", "No pods match app=x yet"),
    Case("service ignores finished pods", {"type": "service_selects", "service": "alpaca-prod",
                                           "pods": "app=alpaca"},
         {"Service": [WIDE_SERVICE], "Pod": [*ALPACAS, pod("done", {"env": "prod"}, phase="Succeeded")]}, "pass"),
    # pods_on_nodes
    Case("on ssd nodes", {"type": "pods_on_nodes", "pods": "app=nginx", "nodes": "ssd=true", "every_node": True},
         {"Pod": [pod("n1", {"app": "nginx"}, node="worker-1"), pod("n2", {"app": "nginx"}, node="worker-2")]},
         "pass", nodes=NODES),
    Case("off ssd nodes", {"type": "pods_on_nodes", "pods": "app=nginx", "nodes": "ssd=true"},
         {"Pod": [pod("n1", {"app": "nginx"}, node="worker-1"), pod("n3", {"app": "nginx"}, node="worker-3")]},
         "fail", "n3 on worker-3", nodes=NODES),
    Case("missing a node", {"type": "pods_on_nodes", "pods": "app=nginx", "nodes": "ssd=true",
                            "every_node": True},
         {"Pod": [pod("n1", {"app": "nginx"}, node="worker-1")]}, "fail", "No pod runs on worker-2", nodes=NODES),
    Case("every node incl control plane", {"type": "pods_on_nodes", "pods": "app=f", "every_node": True},
         {"Pod": [pod(f"f{i}", {"app": "f"}, node=n["metadata"]["name"]) for i, n in enumerate(NODES[1:])]},
         "fail", "No pod runs on control-plane", nodes=NODES),
    Case("unscheduled", {"type": "pods_on_nodes", "pods": "app=nginx", "nodes": "ssd=true"},
         {"Pod": [pod("n1", {"app": "nginx"}, node=None, phase="Pending")]}, "fail", "not scheduled", nodes=NODES),
    Case("no node list", {"type": "pods_on_nodes", "pods": "app=nginx"}, {"Pod": []}, "inconclusive"),
    # script
    Case("script passes", {"type": "script", "run": "true"}, {}, "pass",
         scripts={"c": ScriptRun(exit_code=0)}),
    Case("script fails with its last line", {"type": "script", "run": "false"}, {}, "fail",
         "ip is wrong", scripts={"c": ScriptRun(exit_code=1, output="debug\nip is wrong\n")}),
    Case("script author message", {"type": "script", "run": "false", "message": "Record the IP."}, {},
         "fail", "Record the IP.", scripts={"c": ScriptRun(exit_code=1, output="x")}),
    Case("script timeout", {"type": "script", "run": "sleep 9"}, {}, "inconclusive",
         scripts={"c": ScriptRun(exit_code=None, timed_out=True)}),
    Case("script could not run", {"type": "script", "run": "x"}, {}, "inconclusive",
         scripts={"c": ScriptRun(exit_code=None, error="jail down")}),
]  # fmt: skip


def exercise_of(*checks: dict[str, Any]) -> Exercise:
    return Exercise.model_validate(
        {
            "id": "e",
            "title": "t",
            "instructions": "i",
            "checks": [
                {"id": "c", **checks[0]},
                *[{"id": f"c{i}", **c} for i, c in enumerate(checks[1:])],
            ],
            "solution": {"commands": ["true"]},
            "near_misses": [{"id": "m", "description": "d", "commands": ["true"], "fails": ["c"]}],
        }
    )


@pytest.mark.parametrize("case", CASES, ids=str)
def test_check(case: Case) -> None:
    exercise = exercise_of(case.check)
    snapshot = Snapshot(NS, objects=case.objects, nodes=case.nodes, scripts=case.scripts)
    outcome = check_evaluate(exercise.checks[0], snapshot)
    assert outcome.status == case.status, outcome.detail
    if case.status == "fail":
        assert outcome.message["en"], "a failing check always says something to the learner"
        assert case.says in outcome.message["en"], outcome.message["en"]
    if case.status == "pass":
        assert outcome.message == {}


def test_unreachable_cluster_makes_every_check_inconclusive() -> None:
    exercise = exercise_of(
        {"type": "exists", "kind": "Pod", "name": "kuard"},
        {"type": "count", "kind": "Pod", "equals": 0},
    )
    outcome = exercise_evaluate(exercise, Snapshot(NS, unavailable="connection refused"))
    assert outcome.status == "inconclusive"
    assert {c.status for c in outcome.checks} == {"inconclusive"}
    assert all("connection refused" in c.detail for c in outcome.checks)
    assert all(str(c.problem).startswith("The cluster did not answer") for c in outcome.checks)


def test_a_definite_failure_beats_inconclusive() -> None:
    exercise = exercise_of(
        {"type": "exists", "kind": "Pod", "name": "kuard"},
        {"type": "script", "run": "true"},
    )
    outcome = exercise_evaluate(
        exercise, Snapshot(NS, objects={"Pod": []}, scripts={"c0": ScriptRun(None, timed_out=True)})
    )
    assert outcome.status == "failed"
    assert outcome.failing() == ["c"]


def test_malformed_objects_fail_instead_of_crashing() -> None:
    # Any: these break Snapshot's types on purpose, as a broken API answer would.
    weird: list[Any] = [
        {"metadata": None},
        {"metadata": {"name": "kuard", "labels": "not-a-map"}, "spec": [], "status": "x"},
        "not an object",
    ]
    for check in (
        {"type": "ready", "kind": "Pod", "name": "kuard"},
        {
            "type": "field",
            "kind": "Pod",
            "name": "kuard",
            "path": ".spec.containers[0]",
            "exists": True,
        },
        {"type": "label", "kind": "Pod", "name": "kuard", "key": "a", "present": True},
        {"type": "owner", "kind": "Pod", "name": "kuard", "owner": None},
        {"type": "service_selects", "service": "kuard", "pods": "a=b"},
    ):
        outcome = check_evaluate(
            exercise_of(check).checks[0], Snapshot(NS, objects={"Pod": weird, "Service": weird})
        )
        assert outcome.status in ("pass", "fail")


def test_needs() -> None:
    exercise = exercise_of(
        {"type": "owner", "selector": "app=a", "owner": {"kind": "Deployment", "name": "a"}},
        {"type": "service_selects", "service": "s", "pods": "app=a"},
        {"type": "pods_on_nodes", "pods": "app=a"},
        {"type": "job", "name": "j"},
        {"type": "script", "run": "true"},
    )
    needs = exercise_needs(exercise)
    assert needs.kinds == {"Pod", "Deployment", "ReplicaSet", "Service", "Job"}
    assert needs.nodes is True
    assert [s.id for s in needs.scripts] == ["c3"]
