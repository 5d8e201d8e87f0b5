"""The namespace picture from objects (pure), and its wording in each language."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.picture import MAX_OBJECTS, Selector, picture_build, revision_of
from sandbox.picture_texts import picture_worded


def meta(name: str, labels: dict[str, str] | None = None, owner: str | None = None) -> Any:
    found: dict[str, Any] = {"name": name, "namespace": "ns", "labels": labels or {}}
    if owner:
        kind, _, owner_name = owner.partition("/")
        found["ownerReferences"] = [{"kind": kind, "name": owner_name, "controller": True}]
    return found


def pod(
    name: str,
    labels: dict[str, str],
    *,
    owner: str | None = None,
    node: str | None = "n1",
    phase: str = "Running",
    ready: bool = True,
    config_map: str | None = None,
) -> Any:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "kuard"}]}
    if node:
        spec["nodeName"] = node
    if config_map:
        spec["volumes"] = [{"name": "v", "configMap": {"name": config_map}}]
    return {
        "metadata": meta(name, labels, owner),
        "spec": spec,
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def node(name: str, **labels: str) -> Any:
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **labels}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def namespace_objects() -> dict[str, list[Any]]:
    return {
        "Deployment": [
            {
                "metadata": meta("web", {"app": "web"}),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                "status": {"readyReplicas": 2},
            }
        ],
        "ReplicaSet": [
            {
                "metadata": meta("web-1", {"app": "web"}, owner="Deployment/web"),
                "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                "status": {"readyReplicas": 2},
            }
        ],
        "Pod": [
            pod("web-1-a", {"app": "web"}, owner="ReplicaSet/web-1", config_map="cfg"),
            pod("web-1-b", {"app": "web"}, owner="ReplicaSet/web-1", node="n2"),
            pod(
                "web-1-c",
                {"app": "web"},
                owner="ReplicaSet/web-1",
                node=None,
                phase="Pending",
                ready=False,
            ),
            # Relabelled out of the ReplicaSet: no owner, no Service.
            pod("web-1-q", {"app": "debug"}, config_map="gone"),
        ],
        "Service": [
            {
                "metadata": meta("web"),
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]},
            },
            {"metadata": meta("db"), "spec": {"selector": {"app": "db"}}},
        ],
        "ConfigMap": [{"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}}],
        "EndpointSlice": [
            {
                "metadata": meta("web-x", {"kubernetes.io/service-name": "web"}),
                "endpoints": [
                    {
                        "targetRef": {"kind": "Pod", "name": "web-1-a"},
                        "conditions": {"ready": True},
                    },
                    {
                        "targetRef": {"kind": "Pod", "name": "web-1-b"},
                        "conditions": {"ready": False},
                    },
                ],
            }
        ],
        "Job": [
            {
                "metadata": meta("pi"),
                "spec": {"completions": 3, "selector": {"matchLabels": {"job": "pi"}}},
                "status": {"succeeded": 1, "active": 1},
            }
        ],
    }


def built() -> dict[str, Any]:
    return picture_build(
        namespace="ns",
        objects=namespace_objects(),
        nodes=[node("n1", ssd="true"), node("n2")],
        revision=812,
    )


def edges(picture: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(e["from"], e["to"]) for e in picture["edges"] if e["kind"] == kind}


def test_owners_selectors_nodes_and_mounts_become_edges() -> None:
    picture = built()
    assert edges(picture, "owns") == {
        ("Deployment/web", "ReplicaSet/web-1"),
        ("ReplicaSet/web-1", "Pod/web-1-a"),
        ("ReplicaSet/web-1", "Pod/web-1-b"),
        ("ReplicaSet/web-1", "Pod/web-1-c"),
    }
    assert edges(picture, "selects") == {
        ("Service/web", "Pod/web-1-a"),
        ("Service/web", "Pod/web-1-b"),
        ("Service/web", "Pod/web-1-c"),
    }
    assert edges(picture, "runs-on") == {
        ("Pod/web-1-a", "Node/n1"),
        ("Pod/web-1-b", "Node/n2"),
        ("Pod/web-1-q", "Node/n1"),
    }
    assert edges(picture, "mounts") == {("Pod/web-1-a", "ConfigMap/cfg")}


def test_readiness_behind_a_service_comes_from_its_endpoint_slices() -> None:
    ready = {e["to"]: e["ready"] for e in built()["edges"] if e["kind"] == "selects"}
    # web-1-b's Pod says ready, but the Service's endpoints do not: the Service is what counts.
    assert ready == {"Pod/web-1-a": True, "Pod/web-1-b": False, "Pod/web-1-c": False}


def test_a_selector_matching_nothing_and_a_missing_config_map_dangle() -> None:
    assert built()["dangling"] == [
        {"from": "Service/db", "kind": "selects", "target": "app=db"},
        {"from": "Pod/web-1-q", "kind": "mounts", "target": "ConfigMap/gone"},
    ]


def test_states_facts_labels_and_nodes() -> None:
    picture = built()
    by_id = {o["id"]: o for o in picture["objects"]}
    assert by_id["Pod/web-1-a"]["state"] == "ok" and by_id["Pod/web-1-a"]["node"] == "n1"
    assert by_id["Pod/web-1-c"]["state"] == "pending" and by_id["Pod/web-1-c"]["node"] is None
    assert by_id["ReplicaSet/web-1"]["state"] == "progressing"
    assert by_id["ReplicaSet/web-1"]["selector"] == "app=web"
    assert by_id["Pod/web-1-q"]["labels"] == {"app": "debug"}
    assert by_id["Job/pi"]["facts"] == {"completions": 3, "succeeded": 1, "failed": 0, "active": 1}
    assert picture["revision"] == 812 and picture["truncated"] is False
    # Every node's own labels are noise; the ones a lesson sets stay.
    assert picture["nodes"][0] == {
        "id": "Node/n1",
        "kind": "Node",
        "name": "n1",
        "labels": {"ssd": "true"},
        "ready": True,
    }
    assert "_obj" not in by_id["Pod/web-1-a"]


def test_a_pod_being_deleted_and_a_crash_loop_are_told_apart() -> None:
    deleting = pod("a", {"app": "x"})
    deleting["metadata"]["deletionTimestamp"] = "2026-12-07T00:00:00Z"
    crashing = pod("b", {"app": "x"}, ready=False)
    crashing["status"]["containerStatuses"] = [
        {"restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    ]
    picture = picture_build(
        namespace="ns", objects={"Pod": [deleting, crashing]}, nodes=[], revision=1
    )
    states = {o["name"]: (o["state"], o["facts"]) for o in picture["objects"]}
    assert states["a"][0] == "deleting" and states["a"][1]["deleting"] is True
    assert states["b"] == (
        "failed",
        {"phase": "Running", "ready": False, "waiting": "CrashLoopBackOff", "restarts": 4},
    )


def test_a_big_namespace_is_cut_owners_first() -> None:
    pods = [pod(f"p{i:04}", {"app": "x"}, owner="ReplicaSet/rs") for i in range(MAX_OBJECTS + 5)]
    rs = {
        "metadata": meta("rs"),
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}},
    }
    picture = picture_build(
        namespace="ns", objects={"Pod": pods, "ReplicaSet": [rs]}, nodes=[], revision=1
    )
    assert picture["truncated"] is True
    assert len(picture["objects"]) == MAX_OBJECTS
    assert picture["objects"][0]["id"] == "ReplicaSet/rs"
    kept = {o["id"] for o in picture["objects"]}
    assert all(e["to"] in kept and e["from"] in kept for e in picture["edges"])


@pytest.mark.parametrize(
    ("raw", "labels", "matches", "text"),
    [
        ({"app": "web"}, {"app": "web", "x": "1"}, True, "app=web"),
        ({"matchLabels": {"app": "web"}}, {"app": "db"}, False, "app=web"),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            {"tier": "b"},
            True,
            "tier in (a,b)",
        ),
        (
            {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
            {"tier": "a"},
            False,
            "tier notin (a)",
        ),
        (
            {"matchExpressions": [{"key": "debug", "operator": "DoesNotExist"}]},
            {"debug": ""},
            False,
            "!debug",
        ),
        ({"matchExpressions": [{"key": "ssd", "operator": "Exists"}]}, {"ssd": "x"}, True, "ssd"),
    ],
)
def test_selectors_match_and_read_as_kubectl_writes_them(
    raw: Any, labels: dict[str, str], matches: bool, text: str
) -> None:
    selector = Selector.of(raw)
    assert selector is not None
    assert selector.matches(labels) is matches
    assert selector.text() == text
    assert Selector.of({}) is None and Selector.of(None) is None


def test_revision_is_the_newest_read_and_zero_when_not_numbers() -> None:
    assert revision_of(["120", "99", "130"]) == 130
    assert revision_of(["12", "abc"]) == 0
    assert revision_of([]) == 0


def test_each_reader_gets_summaries_in_their_language() -> None:
    picture = built()
    english = {o["id"]: o["summary"] for o in picture_worded(picture, language="en")["objects"]}
    chinese = {
        o["id"]: o["summary"] for o in picture_worded(picture, language="zh-hant")["objects"]
    }
    assert english["ReplicaSet/web-1"] == "2/3 ready"
    assert english["Pod/web-1-a"] == "Running, ready"
    assert english["ConfigMap/cfg"] == "2 keys"
    assert english["Job/pi"] == "1/3 completions"
    assert english["Service/web"] == "ClusterIP 80/TCP"
    assert "summary" not in picture["objects"][0]  # the shared picture is not changed
    assert chinese["ReplicaSet/web-1"] != english["ReplicaSet/web-1"]


def test_what_the_cluster_puts_in_every_namespace_is_left_out() -> None:
    with_token = pod("a", {"app": "x"})
    with_token["spec"]["volumes"] = [
        {
            "name": "kube-api-access-x1y2z",
            "projected": {"sources": [{"configMap": {"name": "kube-root-ca.crt"}}]},
        }
    ]
    picture = picture_build(
        namespace="ns",
        objects={"Pod": [with_token], "ConfigMap": [{"metadata": meta("kube-root-ca.crt")}]},
        nodes=[],
        revision=1,
    )
    assert [o["id"] for o in picture["objects"]] == ["Pod/a"]
    assert picture["edges"] == [] and picture["dangling"] == []
