"""What kubelab itself may do on a cluster it runs on, as data (pure): the ServiceAccount of a
kubelab installed on Kubernetes, its ClusterRole, and the binding between them.

Exactly what managing learner environments takes, each rule with the code that needs it:

- learner Namespaces: made, labelled (a warm-pool slot is claimed by relabelling), listed by label
  (pool, sleep, cleanup) and deleted;
- inside them: the ServiceAccounts (and their short-lived tokens), the learner's Role and
  RoleBinding, the quotas (and their status, written once so pods are admitted at once), the
  LimitRange and the NetworkPolicy;
- the learner's rights themselves (`LEARNER_RULES`) and the shared read rules: Kubernetes lets an
  account grant only rights it holds (RBAC's escalation check), and grading, reset and sleep read
  and delete those same kinds;
- the two shared learner roles and each environment's bindings to them.

Never: Secrets (no rule names them), impersonation, nodes beyond reading, anything on the
platform's own configuration. Holding the learner's rights cluster-wide (exec into pods
included) is the price of granting them with plain RBAC; deploy/kubernetes keeps kubelab in its
own namespace and NetworkPolicies keep learner pods from it.
"""

from __future__ import annotations

from typing import Any

from sandbox.manifests import (
    CLUSTER_READ_RULES,
    KUBE_SYSTEM_READ_RULES,
    LEARNER_RULES,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    READ,
    Rule,
)

Manifest = dict[str, Any]

PLATFORM_ROLE = "kubelab:platform"
MANAGE = ("get", "list", "watch", "create", "update", "patch", "delete")

PLATFORM_OWN_RULES: tuple[Rule, ...] = (
    Rule(
        "",
        ("namespaces",),
        MANAGE,
        "sandbox.services.build/pool/lifecycle/sleep: make, claim, list by label, delete",
    ),
    Rule("", ("serviceaccounts",), MANAGE, "the learner and default ServiceAccounts"),
    Rule("", ("serviceaccounts/token",), ("create",), "credentials.py: learners' tokens"),
    Rule(
        "",
        ("resourcequotas", "limitranges"),
        MANAGE,
        "every environment's quota and defaults",
    ),
    Rule("", ("resourcequotas/status",), ("update",), "quota_status_write: pods admitted at once"),
    Rule("networking.k8s.io", ("networkpolicies",), MANAGE, "same-namespace-only ingress"),
    Rule(
        "rbac.authorization.k8s.io",
        ("roles", "rolebindings", "clusterroles", "clusterrolebindings"),
        MANAGE,
        "the learner's Role and binding; the shared read roles and each environment's bindings",
    ),
    Rule("", ("persistentvolumeclaims",), READ, "hibernation saves them"),
    Rule("networking.k8s.io", ("ingresses",), READ, "hibernation saves them"),
    Rule("", ("events",), READ, "labs.watcher: refusal notices from every learner namespace"),
)


def _merged(rules: tuple[Rule, ...]) -> list[Manifest]:
    """One rule per (group, resource), with every verb any rule gives it, in a stable order."""
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for resource in rule.resources:
            verbs.setdefault((rule.api_group, resource), set()).update(rule.verbs)
    return [
        {"apiGroups": [group], "resources": [resource], "verbs": sorted(given)}
        for (group, resource), given in sorted(verbs.items())
    ]


def platform_rules() -> list[Manifest]:
    return _merged(PLATFORM_OWN_RULES + LEARNER_RULES + CLUSTER_READ_RULES + KUBE_SYSTEM_READ_RULES)


def platform_manifests(*, namespace: str = "kubelab", name: str = "kubelab") -> list[Manifest]:
    """The ServiceAccount kubelab runs as, its ClusterRole and their binding."""
    labels = {MANAGED_BY_LABEL: MANAGED_BY}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": PLATFORM_ROLE, "labels": labels},
            "rules": platform_rules(),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{PLATFORM_ROLE}:{namespace}", "labels": labels},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": PLATFORM_ROLE,
            },
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    ]
