"""Sleep and wake as data: which objects are saved, how they are cleaned, ordered and capped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox import hibernation as h
from sandbox import manifests as m


def _obj(kind: str, name: str, api_version: str = "v1", **extra: Any) -> dict[str, Any]:
    meta = {
        "name": name,
        "namespace": "kl-u1-abc",
        "uid": "1234",
        "resourceVersion": "99",
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "generation": 3,
        "managedFields": [{"manager": "kubectl"}],
        "selfLink": f"/api/v1/x/{name}",
        **extra.pop("metadata", {}),
    }
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **extra}


OWNER = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d9", "uid": "u"}]


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (_obj("Pod", "kuard"), None),
        (_obj("Pod", "web-5d9-x", metadata={"ownerReferences": OWNER}), "owned by another object"),
        (
            _obj("ReplicaSet", "web-5d9", "apps/v1", metadata={"ownerReferences": OWNER}),
            "owned by another object",
        ),
        (_obj("Pod", "going", metadata={"deletionTimestamp": "x"}), "being deleted"),
        (
            _obj("ConfigMap", "setup", metadata={"labels": {m.MANAGED_BY_LABEL: m.MANAGED_BY}}),
            "kubelab's own setup",
        ),
        (_obj("ConfigMap", "kube-root-ca.crt"), "made by Kubernetes in every namespace"),
        (_obj("ConfigMap", "mine"), None),
        # Never Secrets, not even the learner's own: snapshots are plain JSON in the database.
        (_obj("Secret", "sa", type="kubernetes.io/service-account-token"), "kind not saved"),
        (_obj("Secret", "mine", type="Opaque"), "kind not saved"),
        (_obj("Secret", "tls", type="kubernetes.io/tls"), "kind not saved"),
        (_obj("ServiceAccount", "learner"), "kind not saved"),
        (_obj("Role", "kubelab-learner", "rbac.authorization.k8s.io/v1"), "kind not saved"),
        (_obj("RoleBinding", "x", "rbac.authorization.k8s.io/v1"), "kind not saved"),
        (_obj("ResourceQuota", "kubelab-quota"), "kind not saved"),
        (_obj("LimitRange", "kubelab-defaults"), "kind not saved"),
        (_obj("NetworkPolicy", "p", "networking.k8s.io/v1"), "kind not saved"),
        (_obj("Endpoints", "web"), "kind not saved"),
        (_obj("Event", "e"), "kind not saved"),
    ],
    ids=lambda v: v if isinstance(v, str) or v is None else h.describe(v),
)
def test_what_is_saved(obj: dict[str, Any], reason: str | None) -> None:
    assert h.skip_reason(obj) == reason


def test_every_setup_object_of_an_environment_is_skipped() -> None:
    env = m.Environment(namespace="kl-u1-abc", install="i", environment_id="e", learner_id=1)
    for manifest in m.namespaced_objects(env):
        assert h.skip_reason(manifest) is not None, h.describe(manifest)


GENERIC_DROPS = ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
                 "selfLink", "namespace"]  # fmt: skip


@pytest.mark.parametrize("field", GENERIC_DROPS)
def test_server_metadata_is_dropped(field: str) -> None:
    cleaned = h.clean(_obj("ConfigMap", "c", data={"a": "1"}, status={"x": 1}))
    assert field not in cleaned["metadata"]
    assert "status" not in cleaned
    assert cleaned["data"] == {"a": "1"} and cleaned["metadata"]["name"] == "c"


def test_annotations_labels_and_finalizers() -> None:
    last_applied = '{"kind":"Deployment"}'
    deploy = _obj(
        "Deployment",
        "web",
        "apps/v1",
        metadata={
            "labels": {"app": "web", "pod-template-hash": "5d9"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": last_applied,
                "deployment.kubernetes.io/revision": "4",
                "mine": "kept",
            },
            "finalizers": ["kubernetes.io/pvc-protection", "example.com/mine"],
        },
        spec={
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {
                    "labels": {"app": "web", "pod-template-hash": "5d9"},
                    "creationTimestamp": None,
                },
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    )
    cleaned = h.clean(deploy)
    meta = cleaned["metadata"]
    # Kept, so `kubectl apply` keeps computing its three-way merge after a wake.
    assert meta["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": last_applied,
        "mine": "kept",
    }
    assert meta["labels"] == {"app": "web"}
    assert meta["finalizers"] == ["example.com/mine"]
    assert cleaned["spec"]["template"]["metadata"] == {"labels": {"app": "web"}}
    assert cleaned["spec"]["replicas"] == 2


def _pod_spec() -> dict[str, Any]:
    return {
        "nodeName": "worker-1",
        "priority": 0,
        "containers": [
            {
                "name": "c",
                "image": "kuard",
                "volumeMounts": [
                    {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets"},
                    {"name": "data", "mountPath": "/data"},
                ],
            }
        ],
        "volumes": [{"name": "kube-api-access-x7k2p", "projected": {}}, {"name": "data"}],
    }


def test_pods_lose_placement_and_the_injected_token_volume() -> None:
    cleaned = h.clean(_obj("Pod", "kuard", spec=_pod_spec()))
    spec = cleaned["spec"]
    assert "nodeName" not in spec and "priority" not in spec
    assert spec["volumes"] == [{"name": "data"}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"], "selector": {"app": "web"},
             "ports": [{"port": 80}]},
            {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        ),
        (
            {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]},
            {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]},
        ),
        (
            {"type": "NodePort", "clusterIP": "10.0.0.8",
             "ports": [{"port": 80, "nodePort": 30080}]},
            {"type": "NodePort", "ports": [{"port": 80}]},
        ),
        (
            {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
             "healthCheckNodePort": 31000, "ports": [{"port": 80, "nodePort": 30081}]},
            {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]},
        ),
    ],
    ids=["cluster-ip", "headless", "node-port", "load-balancer"],
)  # fmt: skip
def test_services_get_fresh_addresses(spec: dict[str, Any], expected: dict[str, Any]) -> None:
    assert h.clean(_obj("Service", "web", spec=spec))["spec"] == expected


def _job(manual: bool) -> dict[str, Any]:
    uid_labels = {
        "controller-uid": "abc",
        "batch.kubernetes.io/controller-uid": "abc",
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "abc"}},
        "template": {
            "metadata": {"labels": {**uid_labels, "app": "pi"}},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "pi", "image": "perl"}]},
        },
    }
    if manual:
        spec["manualSelector"] = True
        spec["selector"] = {"matchLabels": {"app": "pi"}}
    return _obj("Job", "pi", "batch/v1", metadata={"labels": dict(uid_labels)}, spec=spec)


def test_jobs_lose_their_generated_selector_unless_manual() -> None:
    cleaned = h.clean(_job(manual=False))
    assert "selector" not in cleaned["spec"]
    assert cleaned["spec"]["template"]["metadata"]["labels"] == {"app": "pi"}
    assert "labels" not in cleaned["metadata"]
    manual = h.clean(_job(manual=True))
    assert manual["spec"]["selector"] == {"matchLabels": {"app": "pi"}}


def test_cronjob_templates_are_cleaned_like_jobs() -> None:
    job = _job(manual=False)
    cron = _obj(
        "CronJob",
        "nightly",
        "batch/v1",
        spec={"schedule": "0 0 * * *", "jobTemplate": {"spec": job["spec"]}},
    )
    cleaned = h.clean(cron)["spec"]["jobTemplate"]["spec"]
    assert "selector" not in cleaned and cleaned["template"]["metadata"]["labels"] == {"app": "pi"}


def test_claims_lose_their_volume() -> None:
    claim = _obj(
        "PersistentVolumeClaim",
        "data",
        metadata={"annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
        spec={"volumeName": "pvc-1", "resources": {"requests": {"storage": "1Gi"}}},
    )
    cleaned = h.clean(claim)
    assert cleaned["spec"] == {"resources": {"requests": {"storage": "1Gi"}}}
    assert "annotations" not in cleaned["metadata"]


def test_snapshot_keeps_the_learners_objects_in_restore_order() -> None:
    owned = {"ownerReferences": OWNER}
    listed = {
        "HorizontalPodAutoscaler": [_obj("HorizontalPodAutoscaler", "web", "autoscaling/v2")],
        "Deployment": [_obj("Deployment", "web", "apps/v1")],
        "ReplicaSet": [_obj("ReplicaSet", "web-5d9", "apps/v1", metadata=owned)],
        "Pod": [_obj("Pod", "web-5d9-a", metadata=owned), _obj("Pod", "kuard")],
        "Service": [_obj("Service", "web")],
        "Secret": [_obj("Secret", "t", type="Opaque")],
        "ConfigMap": [_obj("ConfigMap", "kube-root-ca.crt"), _obj("ConfigMap", "settings")],
        "Job": [_obj("Job", "pi", "batch/v1")],
    }  # fmt: skip
    snapshot = h.snapshot_build(listed)
    assert [h.describe(o) for o in snapshot.objects] == [
        "ConfigMap settings",
        "Service web",
        "Pod kuard",
        "Deployment web",
        "Job pi",
        "HorizontalPodAutoscaler web",
    ]
    assert snapshot.count == 6 and not snapshot.too_large
    assert snapshot.skipped == {
        "owned by another object": 2,
        "kind not saved": 1,
        "made by Kubernetes in every namespace": 1,
    }
    assert snapshot.size_bytes == len(json.dumps(snapshot.objects, separators=(",", ":")))
    tiers = h.restore_tiers(snapshot.objects)
    assert [[h.describe(o) for o in tier] for tier in tiers] == [
        ["ConfigMap settings"],
        ["Service web"],
        ["Pod kuard"],
        ["Deployment web", "Job pi"],
        ["HorizontalPodAutoscaler web"],
    ]


def test_every_saved_kind_restores_after_what_it_may_refer_to() -> None:
    tier = {k.kind: k.tier for k in h.SAVED_KINDS}
    for data in ("ConfigMap", "PersistentVolumeClaim"):
        assert tier[data] < tier["Service"] < tier["Pod"] < tier["Deployment"]
    assert tier["Pod"] < tier["ReplicaSet"]  # adopted, not duplicated
    assert tier["HorizontalPodAutoscaler"] > tier["Deployment"]
    assert tier["Ingress"] > tier["Service"]


@pytest.mark.parametrize(("size", "too_large"), [(100, True), (10_000, False)])
def test_size_cap_saves_all_or_nothing(size: int, too_large: bool) -> None:
    listed = {"ConfigMap": [_obj("ConfigMap", f"c{i}", data={"k": "x" * 40}) for i in range(10)]}
    snapshot = h.snapshot_build(listed, max_bytes=size)
    assert snapshot.too_large is too_large
    assert snapshot.count == (0 if too_large else 10)
    assert snapshot.size_bytes > 100
    sentence = h.sleep_sentence(snapshot, idle_seconds=7200, max_bytes=size)
    assert ("too large to save" in sentence) is too_large
    assert "after 2 h without activity" in sentence


def test_merge_keeps_an_unrestored_snapshot() -> None:
    older = [h.clean(_obj("ConfigMap", "a")), h.clean(_obj("Pod", "p"))]
    newer = [h.clean(_obj("ConfigMap", "a", data={"v": "2"})), h.clean(_obj("Service", "s"))]
    merged = h.snapshot_merge(older, newer)
    assert [h.describe(o) for o in merged.objects] == ["ConfigMap a", "Service s", "Pod p"]
    assert merged.objects[0]["data"] == {"v": "2"}


def test_placed_puts_a_copy_in_the_namespace() -> None:
    saved = h.clean(_obj("ConfigMap", "a"))
    placed = h.placed(saved, namespace="kl-u1-new")
    assert placed["metadata"]["namespace"] == "kl-u1-new"
    assert "namespace" not in saved["metadata"]


@pytest.mark.parametrize(
    ("restored", "failed", "expected"),
    [
        (
            ["Pod kuard", "Service web"],
            [],
            "Welcome back. Your environment slept after 2 h without activity; 2 objects were "
            "restored (Pod kuard, Service web).",
        ),
        (
            ["Pod kuard"],
            [("Deployment x", "Your environment allows 20 pods.")],
            "Welcome back. Your environment slept after 2 h without activity; 1 object was "
            "restored (Pod kuard); 1 could not be: Deployment x: Your environment allows 20 pods.",
        ),
        (
            [f"Pod p{i}" for i in range(8)],
            [],
            "Welcome back. Your environment slept after 2 h without activity; 8 objects were "
            "restored (Pod p0, Pod p1, Pod p2, Pod p3, Pod p4, Pod p5 and 2 more).",
        ),
    ],
)
def test_wake_sentence(restored: list[str], failed: list[tuple[str, str]], expected: str) -> None:
    assert h.wake_sentence(restored=restored, failed=failed, idle_seconds=7200) == expected


@pytest.mark.parametrize(
    ("seconds", "text"), [(7200, "2 h"), (5400, "90 min"), (60, "1 min"), (45, "45 s")]
)
def test_duration_text(seconds: int, text: str) -> None:
    assert h.duration_text(seconds) == text


def test_placed_moves_kubectls_last_applied_namespace() -> None:
    applied = json.dumps({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "x"}}) + "\n"
    annotations = {h.LAST_APPLIED: applied}
    saved = h.clean(_obj("ConfigMap", "a", metadata={"annotations": annotations}))
    placed = h.placed(saved, namespace="kl-new")
    moved = placed["metadata"]["annotations"][h.LAST_APPLIED]
    assert moved.endswith("\n")
    assert json.loads(moved)["metadata"] == {"name": "a", "namespace": "kl-new"}
    assert saved["metadata"]["annotations"][h.LAST_APPLIED] == applied
