"""The learner environment's objects, checked as data: what is granted, what never is."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import manifests as m

ENV = m.Environment(
    namespace="kl-u5-0123abcd", install="inst1234", environment_id="e" * 16, learner_id=5
)
POOL_ENV = m.Environment(
    namespace="kl-p3-0123abcd", install="inst1234", environment_id="p" * 16, pool=True
)
UID = "5b0d8c3e-0000-4000-8000-000000000000"

# Never granted to a learner, anywhere: reading credentials, granting rights, minting tokens,
# changing their own limits, making the API server dial pod/Service IPs.
FORBIDDEN_RESOURCES = {
    "secrets",
    "roles",
    "rolebindings",
    "clusterroles",
    "clusterrolebindings",
    "serviceaccounts",
    "serviceaccounts/token",
    "pods/proxy",
    "services/proxy",
    "nodes/proxy",
    "pods/ephemeralcontainers",
    "certificatesigningrequests",
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "customresourcedefinitions",
    "persistentvolumes",
}
FORBIDDEN_VERBS = {"*", "escalate", "bind", "impersonate", "approve", "sign"}
READ = {"get", "list", "watch"}


def _grants(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.setdefault((group, resource), set()).update(rule["verbs"])
    return found


def _all_role_rules() -> list[dict[str, Any]]:
    return (
        m.learner_role(ENV.namespace)["rules"]
        + m.cluster_read_role()["rules"]
        + m.kube_system_read_role()["rules"]
    )


def test_namespace_is_labelled_as_kubelabs_and_the_learners() -> None:
    ns = m.namespace(ENV)
    labels = ns["metadata"]["labels"]
    assert ns["metadata"]["name"] == ENV.namespace
    assert labels["app.kubernetes.io/managed-by"] == "kubelab"
    assert labels["kubelab.dev/learner"] == "5"
    assert labels["kubelab.dev/install"] == "inst1234"
    assert labels["kubelab.dev/environment"] == "e" * 16
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"
    assert "kubelab.dev/pool" not in labels


def test_pool_namespace_has_no_learner_until_claimed() -> None:
    labels = m.namespace(POOL_ENV)["metadata"]["labels"]
    assert labels["kubelab.dev/pool"] == "true"
    assert "kubelab.dev/learner" not in labels
    patch = m.namespace_claim_patch(learner_id=9)
    assert patch == {"metadata": {"labels": {"kubelab.dev/learner": "9", "kubelab.dev/pool": None}}}


def test_every_namespaced_object_lives_in_the_environment() -> None:
    objects = m.namespaced_objects(ENV)
    kinds = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert kinds == [
        ("ServiceAccount", "default"),
        ("ServiceAccount", "learner"),
        ("Role", "kubelab-learner"),
        ("RoleBinding", "kubelab-learner"),
        ("ResourceQuota", "kubelab-quota"),
        ("ResourceQuota", "kubelab-no-critical-priority"),
        ("LimitRange", "kubelab-defaults"),
        ("NetworkPolicy", "kubelab-same-namespace-only"),
    ]
    for obj in objects:
        assert obj["metadata"]["namespace"] == ENV.namespace
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubelab"


def test_learner_role_grants_what_the_lessons_use() -> None:
    grants = _grants(m.learner_role(ENV.namespace)["rules"])
    full = {"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}
    for resource in [("", "pods"), ("", "services"), ("", "configmaps")]:
        assert grants[resource] == full
    for resource in [("apps", "deployments"), ("apps", "replicasets"), ("apps", "daemonsets")]:
        assert grants[resource] == full
    assert grants[("batch", "jobs")] == full
    assert grants[("autoscaling", "horizontalpodautoscalers")] == full
    assert grants[("apps", "deployments/scale")] >= {"patch", "update"}
    assert grants[("", "pods/log")] == {"get"}
    # In-place resize: CPU and memory of the learner's own pods, nothing else of theirs.
    assert grants[("", "pods/resize")] == {"get", "update", "patch"}
    assert ("", "pods/status") not in grants and ("", "pods/binding") not in grants
    for stream in ("pods/exec", "pods/attach", "pods/portforward"):
        assert grants[("", stream)] == {"get", "create"}
    for read_only in [
        ("", "endpoints"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("discovery.k8s.io", "endpointslices"),
        ("", "resourcequotas"),
        ("", "limitranges"),
    ]:
        assert grants[read_only] == READ, read_only
    assert grants[("", "namespaces")] == {"get"}


@pytest.mark.parametrize("rules_of", ["learner", "cluster", "kube-system"])
def test_nothing_dangerous_is_ever_granted(rules_of: str) -> None:
    rules = {
        "learner": m.learner_role(ENV.namespace)["rules"],
        "cluster": m.cluster_read_role()["rules"],
        "kube-system": m.kube_system_read_role()["rules"],
    }[rules_of]
    for rule in rules:
        assert "*" not in rule["apiGroups"]
        assert "*" not in rule["resources"]
        assert not FORBIDDEN_VERBS & set(rule["verbs"]), rule
        assert not FORBIDDEN_RESOURCES & set(rule["resources"]), rule
        assert "resourceNames" not in rule and "nonResourceURLs" not in rule


def test_outside_the_namespace_everything_is_read_only() -> None:
    for rules in (m.cluster_read_role()["rules"], m.kube_system_read_role()["rules"]):
        for rule in rules:
            assert set(rule["verbs"]) <= READ, rule
    cluster = _grants(m.cluster_read_role()["rules"])
    assert set(cluster) == {("", "nodes"), ("", "componentstatuses")}
    kube_system = _grants(m.kube_system_read_role()["rules"])
    assert ("", "configmaps") not in kube_system
    assert {("", "pods"), ("apps", "deployments"), ("apps", "daemonsets"), ("", "services")} <= set(
        kube_system
    )


def test_bindings_bind_only_the_learner_and_are_owned_by_the_namespace() -> None:
    inside = m.learner_role_binding(ENV.namespace)
    outside = m.bindings_outside(ENV.namespace, UID)
    assert [b["kind"] for b in outside] == ["ClusterRoleBinding", "RoleBinding"]
    assert outside[1]["metadata"]["namespace"] == "kube-system"
    assert outside[0]["roleRef"]["name"] == m.CLUSTER_READ_ROLE
    assert outside[1]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": m.KUBE_SYSTEM_READ_ROLE,
    }
    for binding in [inside, *outside]:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "learner", "namespace": ENV.namespace}
        ]
    for binding in outside:
        assert binding["metadata"]["ownerReferences"] == [
            {"apiVersion": "v1", "kind": "Namespace", "name": ENV.namespace, "uid": UID}
        ]
        assert binding["metadata"]["labels"]["kubelab.dev/environment-namespace"] == ENV.namespace


def test_quota_caps_pods_and_shared_cluster_resources() -> None:
    hard = m.resource_quota(ENV.namespace, m.Limits())["spec"]["hard"]
    assert hard["pods"] == "20"
    assert hard["services.nodeports"] == "2"
    assert hard["services.loadbalancers"] == "1"
    assert hard["requests.cpu"] == "2"
    assert hard["requests.memory"] == "4Gi"
    assert hard["count/jobs.batch"] == "10"
    assert hard["configmaps"] == "20"
    assert not any(key.startswith("limits.") for key in hard)
    assert m.resource_quota(ENV.namespace, m.Limits(pods=3))["spec"]["hard"]["pods"] == "3"


def test_no_pods_at_critical_priority() -> None:
    quota = m.critical_priority_quota(ENV.namespace)
    assert quota["spec"]["hard"] == {"pods": "0"}
    (expression,) = quota["spec"]["scopeSelector"]["matchExpressions"]
    assert expression["scopeName"] == "PriorityClass"
    assert set(expression["values"]) == {"system-cluster-critical", "system-node-critical"}


def test_limit_range_defaults_admit_pods_without_resources() -> None:
    (limits,) = m.limit_range(ENV.namespace, m.Limits())["spec"]["limits"]
    assert limits["type"] == "Container"
    assert limits["defaultRequest"] == {"cpu": "10m", "memory": "32Mi"}
    # default limit == max, so a request above the default request but without a limit passes
    assert limits["default"] == limits["max"] == {"cpu": "1", "memory": "1Gi"}


def test_network_policy_admits_only_the_same_namespace_and_keeps_pods_from_the_platform() -> None:
    spec = m.network_policy(ENV.namespace, "kubelab-prod")["spec"]
    assert spec["podSelector"] == {}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"from": [{"podSelector": {}}]}]
    (namespaces,) = spec["egress"][0]["to"]
    (expression,) = namespaces["namespaceSelector"]["matchExpressions"]
    assert expression == {
        "key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kubelab-prod"]
    }  # fmt: skip
    blocks = {b["ipBlock"]["cidr"]: b["ipBlock"]["except"] for b in spec["egress"][1]["to"]}
    assert blocks == {"0.0.0.0/0": ["169.254.169.254/32"], "::/0": ["fd00:ec2::254/128"]}


def test_quota_status_starts_at_zero() -> None:
    quota = m.resource_quota(ENV.namespace, m.Limits())
    quota["metadata"]["resourceVersion"] = "42"
    status = m.quota_status(quota)
    assert status["metadata"]["resourceVersion"] == "42"
    assert status["status"]["hard"] == quota["spec"]["hard"]
    assert set(status["status"]["used"].values()) == {"0"}


def test_reset_wipes_every_kind_a_learner_can_create() -> None:
    grants = _grants(m.learner_role(ENV.namespace)["rules"])
    creatable = {
        resource
        for (_group, resource), verbs in grants.items()
        if "create" in verbs and "/" not in resource
    }
    assert creatable <= {kind.plural for kind in m.WIPE_KINDS}
    plurals = [kind.plural for kind in m.WIPE_KINDS]
    # owners go before what they own, so controllers stop re-creating what is being wiped
    assert plurals.index("deployments") < plurals.index("replicasets") < plurals.index("pods")


def test_learner_kubeconfig() -> None:
    config = m.learner_kubeconfig(
        server="https://127.0.0.1:6443",
        namespace=ENV.namespace,
        token="tok",
        certificate_authority_data="Q0E=",
    )
    assert config["current-context"] == "kubelab"
    (context,) = config["contexts"]
    assert context["context"]["namespace"] == ENV.namespace
    assert config["users"] == [{"name": "learner", "user": {"token": "tok"}}]
    (cluster,) = config["clusters"]
    assert cluster["cluster"] == {
        "server": "https://127.0.0.1:6443",
        "certificate-authority-data": "Q0E=",
    }
