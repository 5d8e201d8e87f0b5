"""Pure builders for everything a learner environment is made of, returned as plain dicts.

One learner environment is one namespace holding: the ``learner`` ServiceAccount (whose tokens the
learner's shell uses), a Role granting exactly what the lessons need and its RoleBinding, a
ResourceQuota and a LimitRange (so one learner cannot starve the others), and a NetworkPolicy
that admits traffic only from the same namespace. Two shared "platform" objects give every
learner read access to what the chapters inspect outside their namespace (nodes, component
statuses, the kube-system add-ons); each environment binds to them with a ClusterRoleBinding and
a RoleBinding in kube-system, both owned by the environment's Namespace so the garbage collector
removes them with it.

Pure: no Django, no ``kubernetes``; tested as data in tests/sandbox/test_manifests.py.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from k8s.kinds import WIPED, KindInfo

Manifest = dict[str, Any]

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kubelab"
COMPONENT_LABEL = "app.kubernetes.io/component"
COMPONENT = "learner-environment"
INSTALL_LABEL = "kubelab.dev/install"
LEARNER_LABEL = "kubelab.dev/learner"
POOL_LABEL = "kubelab.dev/pool"
# The learner Role's rules this namespace was given (learner_rights_version).
RIGHTS_ANNOTATION = "kubelab.dev/learner-rights"
ENVIRONMENT_LABEL = "kubelab.dev/environment"
# On the bindings outside the namespace: which environment they belong to.
ENVIRONMENT_NAMESPACE_LABEL = "kubelab.dev/environment-namespace"

LEARNER_SERVICE_ACCOUNT = "learner"
LEARNER_ROLE = "kubelab-learner"
QUOTA = "kubelab-quota"
CRITICAL_PRIORITY_QUOTA = "kubelab-no-critical-priority"
LIMIT_RANGE = "kubelab-defaults"
NETWORK_POLICY = "kubelab-same-namespace-only"
CLUSTER_READ_ROLE = "kubelab:learner-cluster-read"
KUBE_SYSTEM = "kube-system"
KUBE_SYSTEM_READ_ROLE = "kubelab:learner-kube-system-read"

# Pod Security: `baseline` blocks privileged pods, host namespaces and hostPath, which would
# reach beyond the namespace on a real cluster; `restricted` would refuse the plain
# `kubectl run`/`create deployment` pods every lesson starts with, so it is only audited.
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "baseline",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/audit-version": "latest",
}

READ = ("get", "list", "watch")
WRITE = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
# `get` as well as `create`: kubectl's WebSocket streams (1.30+) open with a GET.
STREAM = ("get", "create")


@dataclass(frozen=True)
class Rule:
    api_group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def as_dict(self) -> Manifest:
        return {
            "apiGroups": [self.api_group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


# What a learner may do in their own namespace: everything the lessons do and nothing more.
# Deliberately absent: secrets (the shell must never read credentials), roles and rolebindings
# (no self-granted rights), serviceaccounts and serviceaccounts/token (no minting tokens),
# resourcequotas/limitranges writes, endpoints writes (CVE-2021-25740: hand-written Endpoints
# can point a Service at other namespaces' pods), pods/proxy and services/proxy (they make the API
# server dial pod and Service IPs), pods/ephemeralcontainers, and the namespace itself beyond get.
LEARNER_RULES: tuple[Rule, ...] = (
    Rule("", ("pods", "services", "configmaps"), WRITE, "the objects of every chapter"),
    Rule("", ("pods/log",), ("get",), "kubectl logs"),
    # Changes only the CPU and memory of a Pod the learner may already delete and recreate at
    # any size; admission checks a resize like a new Pod (LimitRange maximums, the quota).
    Rule(
        "",
        ("pods/resize",),
        ("get", "update", "patch"),
        "in-place resize: kubectl patch/edit pod --subresource resize",
    ),
    Rule(
        "",
        ("pods/exec", "pods/attach", "pods/portforward"),
        STREAM,
        "kubectl exec/attach/port-forward, answered by kwok's simulated kubelet",
    ),
    Rule("apps", ("deployments", "replicasets", "daemonsets"), WRITE, "workload chapters"),
    Rule(
        "apps",
        ("deployments/scale", "replicasets/scale"),
        ("get", "update", "patch"),
        "kubectl scale",
    ),
    Rule("batch", ("jobs",), WRITE, "the Jobs chapter"),
    Rule("autoscaling", ("horizontalpodautoscalers",), WRITE, "kubectl autoscale"),
    # Not nodes: a node's usage sums every namespace's pods on it.
    Rule("metrics.k8s.io", ("pods",), READ, "kubectl top pods: what the autoscaler sees"),
    Rule(
        "",
        ("endpoints", "events", "resourcequotas", "limitranges", "replicationcontrollers"),
        READ,
        "describe output, `kubectl describe quota`, and `kubectl get all`",
    ),
    Rule("events.k8s.io", ("events",), READ, "kubectl events"),
    Rule("discovery.k8s.io", ("endpointslices",), READ, "the Service discovery chapter"),
    Rule(
        "apps",
        ("statefulsets", "controllerrevisions"),
        READ,
        "`kubectl get all` lists statefulsets; rollout history of DaemonSets reads revisions",
    ),
    Rule("batch", ("cronjobs",), READ, "`kubectl get all` lists cronjobs"),
    # A Role's `namespaces` rule matches only GET /api/v1/namespaces/<this namespace>: the
    # learner can read their own Namespace but cannot list namespaces (and so never sees the
    # names of other learners' environments).
    Rule("", ("namespaces",), ("get",), "kubectl get namespace <own>"),
)

# Cluster-wide reads the chapters show. Not namespaces: listing them would reveal every learner.
CLUSTER_READ_RULES: tuple[Rule, ...] = (
    Rule("", ("nodes",), READ, "kubectl get/describe nodes; DaemonSet node selectors"),
    Rule("", ("componentstatuses",), ("get", "list"), "the book's health check"),
)

# kube-system reads for the "Verify the cluster" chapter and the DaemonSet/HPA chapters.
# Not configmaps, secrets, logs or exec: kube-system configuration is not course material.
KUBE_SYSTEM_READ_RULES: tuple[Rule, ...] = (
    Rule("", ("pods", "services", "endpoints", "events"), READ, "get pods,svc -n kube-system"),
    Rule("apps", ("deployments", "daemonsets", "replicasets"), READ, "coredns, kube-proxy"),
    Rule("discovery.k8s.io", ("endpointslices",), READ, "describe service"),
    Rule("events.k8s.io", ("events",), READ, "kubectl events -n kube-system"),
)


# An API kind a learner can create, and so what a reset must wipe.
Kind = KindInfo

# Wiped on reset in this order: owners before what they own, so controllers stop re-creating.
WIPE_KINDS: tuple[Kind, ...] = WIPED
# Made by Kubernetes in every namespace, not by the learner; a reset keeps them.
KEEP_CONFIGMAPS = ("kube-root-ca.crt",)


@dataclass(frozen=True)
class Limits:
    """Per-environment ceilings. Requests, not limits, are quota'd: requests are what the
    scheduler reserves on the shared nodes; limits only matter to a kubelet, which kwok lacks."""

    pods: int = 20
    services: int = 10
    node_ports: int = 2
    load_balancers: int = 1
    config_maps: int = 20
    deployments: int = 10
    replica_sets: int = 60
    daemon_sets: int = 5
    jobs: int = 10
    autoscalers: int = 5
    requests_cpu: str = "2"
    requests_memory: str = "4Gi"
    default_request_cpu: str = "10m"
    default_request_memory: str = "32Mi"
    # The default limit equals the maximum so a container that asks for more than the default
    # request but names no limit (the book's first resources example) is still admitted.
    max_cpu: str = "1"
    max_memory: str = "1Gi"


@dataclass(frozen=True)
class Environment:
    """What varies between environments: the namespace and who it belongs to."""

    namespace: str
    install: str
    environment_id: str
    learner_id: int | None = None
    # A warm-pool namespace, waiting for a learner.
    pool: bool = False
    limits: Limits = field(default_factory=Limits)
    # kubelab's own namespace on Kubernetes (sandbox.conf): learner pods may not reach it.
    platform_namespace: str = "kubelab"


def _meta(name: str, namespace: str | None = None, **labels: str) -> Manifest:
    meta: Manifest = {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def namespace_labels(env: Environment) -> dict[str, str]:
    labels = {
        MANAGED_BY_LABEL: MANAGED_BY,
        COMPONENT_LABEL: COMPONENT,
        INSTALL_LABEL: env.install,
        ENVIRONMENT_LABEL: env.environment_id,
        **POD_SECURITY_LABELS,
    }
    if env.learner_id is not None:
        labels[LEARNER_LABEL] = str(env.learner_id)
    if env.pool:
        labels[POOL_LABEL] = "true"
    return labels


def learner_rights_version() -> str:
    """A digest of the learner's Role: the Namespace carries it (RIGHTS_ANNOTATION), so an
    environment built before the rules changed is brought up to date on its next provisioning."""
    rules = json.dumps([rule.as_dict() for rule in LEARNER_RULES], sort_keys=True)
    return hashlib.sha256(rules.encode()).hexdigest()[:16]


def namespace(env: Environment) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": env.namespace,
            "labels": namespace_labels(env),
            "annotations": {RIGHTS_ANNOTATION: learner_rights_version()},
        },
    }


def namespace_rights_patch() -> Manifest:
    return {"metadata": {"annotations": {RIGHTS_ANNOTATION: learner_rights_version()}}}


def namespace_claim_patch(*, learner_id: int) -> Manifest:
    """Merge patch turning a pool namespace into a learner's (a null label value removes it)."""
    return {"metadata": {"labels": {LEARNER_LABEL: str(learner_id), POOL_LABEL: None}}}


def service_account(namespace: str, name: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(name, namespace),
        # Pods have no use for an API token here; the learner's shell gets its own via TokenRequest.
        "automountServiceAccountToken": False,
    }


def learner_role(namespace: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(LEARNER_ROLE, namespace),
        "rules": [rule.as_dict() for rule in LEARNER_RULES],
    }


def learner_subject(namespace: str) -> Manifest:
    return {"kind": "ServiceAccount", "name": LEARNER_SERVICE_ACCOUNT, "namespace": namespace}


def learner_role_binding(namespace: str) -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(LEARNER_ROLE, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LEARNER_ROLE},
        "subjects": [learner_subject(namespace)],
    }


def resource_quota(namespace: str, limits: Limits) -> Manifest:
    hard = {
        "pods": str(limits.pods),
        "services": str(limits.services),
        "services.nodeports": str(limits.node_ports),
        "services.loadbalancers": str(limits.load_balancers),
        "configmaps": str(limits.config_maps),
        "count/deployments.apps": str(limits.deployments),
        "count/replicasets.apps": str(limits.replica_sets),
        "count/daemonsets.apps": str(limits.daemon_sets),
        "count/jobs.batch": str(limits.jobs),
        "count/horizontalpodautoscalers.autoscaling": str(limits.autoscalers),
        "requests.cpu": limits.requests_cpu,
        "requests.memory": limits.requests_memory,
    }
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(QUOTA, namespace),
        "spec": {"hard": hard},
    }


def critical_priority_quota(namespace: str) -> Manifest:
    """No pods at the system-critical priorities: they would preempt other learners' pods."""
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": _meta(CRITICAL_PRIORITY_QUOTA, namespace),
        "spec": {
            "hard": {"pods": "0"},
            "scopeSelector": {
                "matchExpressions": [
                    {
                        "scopeName": "PriorityClass",
                        "operator": "In",
                        "values": ["system-cluster-critical", "system-node-critical"],
                    }
                ]
            },
        },
    }


def limit_range(namespace: str, limits: Limits) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta(LIMIT_RANGE, namespace),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {
                        "cpu": limits.default_request_cpu,
                        "memory": limits.default_request_memory,
                    },
                    "default": {"cpu": limits.max_cpu, "memory": limits.max_memory},
                    "max": {"cpu": limits.max_cpu, "memory": limits.max_memory},
                }
            ]
        },
    }


# Cloud providers' instance metadata (AWS, GCP, Azure; AWS's IPv6 one): credentials of the
# node live there, so no learner pod may reach it.
METADATA_ADDRESSES = {"0.0.0.0/0": ["169.254.169.254/32"], "::/0": ["fd00:ec2::254/128"]}


def network_policy(namespace: str, platform_namespace: str = "kubelab") -> Manifest:
    """Ingress only from pods in the same namespace; egress anywhere but kubelab's own namespace
    and the cloud's metadata address (inert without a CNI, as on kwok)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(NETWORK_POLICY, namespace),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"podSelector": {}}]}],
            "egress": [
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchExpressions": [
                                    {
                                        "key": "kubernetes.io/metadata.name",
                                        "operator": "NotIn",
                                        "values": [platform_namespace],
                                    }
                                ]
                            }
                        }
                    ]
                },
                {
                    "to": [
                        {"ipBlock": {"cidr": cidr, "except": list(excepted)}}
                        for cidr, excepted in METADATA_ADDRESSES.items()
                    ]
                },
            ],
        },
    }


def _owned_by_namespace(namespace: str, namespace_uid: str) -> list[Manifest]:
    return [{"apiVersion": "v1", "kind": "Namespace", "name": namespace, "uid": namespace_uid}]


def cluster_read_role() -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(CLUSTER_READ_ROLE),
        "rules": [rule.as_dict() for rule in CLUSTER_READ_RULES],
    }


def binding_name(namespace: str) -> str:
    return f"kubelab:learner:{namespace}"


def cluster_read_binding(namespace: str, namespace_uid: str) -> Manifest:
    meta = _meta(binding_name(namespace), None, **{ENVIRONMENT_NAMESPACE_LABEL: namespace})
    meta["ownerReferences"] = _owned_by_namespace(namespace, namespace_uid)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": CLUSTER_READ_ROLE,
        },
        "subjects": [learner_subject(namespace)],
    }


def kube_system_read_role() -> Manifest:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(KUBE_SYSTEM_READ_ROLE, KUBE_SYSTEM),
        "rules": [rule.as_dict() for rule in KUBE_SYSTEM_READ_RULES],
    }


def kube_system_read_binding(namespace: str, namespace_uid: str) -> Manifest:
    meta = _meta(binding_name(namespace), KUBE_SYSTEM, **{ENVIRONMENT_NAMESPACE_LABEL: namespace})
    meta["ownerReferences"] = _owned_by_namespace(namespace, namespace_uid)
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": KUBE_SYSTEM_READ_ROLE,
        },
        "subjects": [learner_subject(namespace)],
    }


def platform_objects() -> list[Manifest]:
    """Shared by every environment; applied once per process before the first provisioning."""
    return [cluster_read_role(), kube_system_read_role()]


def namespaced_objects(env: Environment) -> list[Manifest]:
    """Everything inside the environment's namespace, in the order it is applied.

    The ``default`` ServiceAccount is included because pods are refused until it exists, and
    Kubernetes' own controller creates it only some time after the namespace.
    """
    ns = env.namespace
    return [
        service_account(ns, "default"),
        service_account(ns, LEARNER_SERVICE_ACCOUNT),
        learner_role(ns),
        learner_role_binding(ns),
        resource_quota(ns, env.limits),
        critical_priority_quota(ns),
        limit_range(ns, env.limits),
        network_policy(ns, env.platform_namespace),
    ]


def bindings_outside(namespace: str, namespace_uid: str) -> list[Manifest]:
    """The environment's grants outside its namespace, owned by (and deleted with) the Namespace."""
    return [
        cluster_read_binding(namespace, namespace_uid),
        kube_system_read_binding(namespace, namespace_uid),
    ]


def quota_status(quota: Manifest) -> Manifest:
    """A freshly created quota's status: nothing used yet.

    Admission refuses every pod while a quota has no status, and Kubernetes' quota controller
    fills it in only after a moment; writing it ourselves makes the namespace usable at once.
    The controller recounts on its next sync and corrects anything that was already there.
    """
    hard = dict(quota["spec"]["hard"])
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {
            "name": quota["metadata"]["name"],
            "namespace": quota["metadata"]["namespace"],
            "resourceVersion": quota["metadata"].get("resourceVersion"),
        },
        "spec": quota["spec"],
        "status": {"hard": hard, "used": dict.fromkeys(hard, "0")},
    }


def learner_kubeconfig(
    *,
    server: str,
    namespace: str,
    token: str,
    certificate_authority_data: str | None,
    insecure_skip_tls_verify: bool = False,
) -> Manifest:
    """A kubeconfig for the learner's shell: their token, their namespace as the default."""
    cluster: Manifest = {"server": server}
    if certificate_authority_data:
        cluster["certificate-authority-data"] = certificate_authority_data
    if insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubelab", "cluster": cluster}],
        "users": [{"name": "learner", "user": {"token": token}}],
        "contexts": [
            {
                "name": "kubelab",
                "context": {"cluster": "kubelab", "user": "learner", "namespace": namespace},
            }
        ],
        "current-context": "kubelab",
        "preferences": {},
    }
