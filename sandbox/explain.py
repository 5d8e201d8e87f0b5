"""Turn the API server's refusals into sentences a learner can act on.

Input is the API server's message (from a Status, an event, or kubectl's stderr); output says what
the limit is, what was asked and what to do: "Your environment allows 20 pods; you asked for
1000." Covers quota, LimitRange, Pod Security and RBAC denials and terminating namespaces;
anything else gets None (show the original). Pure: tested against messages captured from a real
API server (tests/sandbox/data/denials.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CRITICAL_PRIORITY_QUOTA = "kubelab-no-critical-priority"


@dataclass(frozen=True)
class Explanation:
    kind: str  # quota | limit | pod-security | forbidden | terminating
    sentence: str
    facts: dict[str, str] = field(default_factory=dict)


# resource name in a quota -> (singular, plural) as a learner would say it
_QUOTA_NOUNS: dict[str, tuple[str, str]] = {
    "pods": ("pod", "pods"),
    "services": ("Service", "Services"),
    "services.nodeports": ("NodePort port", "NodePort ports"),
    "services.loadbalancers": ("LoadBalancer Service", "LoadBalancer Services"),
    "configmaps": ("ConfigMap", "ConfigMaps"),
    "secrets": ("Secret", "Secrets"),
    "persistentvolumeclaims": ("PersistentVolumeClaim", "PersistentVolumeClaims"),
    "count/deployments.apps": ("Deployment", "Deployments"),
    "count/replicasets.apps": ("ReplicaSet", "ReplicaSets"),
    "count/daemonsets.apps": ("DaemonSet", "DaemonSets"),
    "count/jobs.batch": ("Job", "Jobs"),
    "count/horizontalpodautoscalers.autoscaling": (
        "HorizontalPodAutoscaler",
        "HorizontalPodAutoscalers",
    ),
}
_RESERVED = {
    "requests.cpu": "CPU",
    "requests.memory": "memory",
    "limits.cpu": "CPU limits",
    "limits.memory": "memory limits",
}
_HINTS = {
    "pods": "Scale something down (kubectl scale ... --replicas=N) or delete pods you no longer "
    "need.",
    "services.nodeports": "Use a ClusterIP Service with kubectl port-forward, or delete a "
    "NodePort Service you no longer need.",
    "services.loadbalancers": "Delete the LoadBalancer Service you no longer need.",
    "requests.cpu": "Ask for less (resources.requests.cpu) or delete pods you no longer need.",
    "requests.memory": "Ask for less (resources.requests.memory) or delete pods you no longer "
    "need.",
}

_QUOTA = re.compile(
    r"exceeded quota: (?P<quota>[^,]+), requested: (?P<requested>\S+), "
    r"used: (?P<used>\S+), limited: (?P<limited>\S+)"
)
_LIMIT = re.compile(
    r"(?P<bound>maximum|minimum) (?P<resource>\w+) usage per (?P<scope>Container|Pod) is "
    r"(?P<allowed>[^,\]]+), but (?:limit|request) is (?P<asked>[^,\]]+)"
)
_POD_SECURITY = re.compile(r'violates PodSecurity "(?P<level>[a-z]+):[^"]*": (?P<what>.+)$')
_RBAC = re.compile(
    r'User "(?P<user>[^"]+)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)" in API group '
    r'"(?P<group>[^"]*)"(?: in the namespace "(?P<namespace>[^"]+)"| at the cluster scope)'
)
_TERMINATING = re.compile(
    r"unable to create new content in namespace (?P<namespace>\S+) because it is being terminated"
)


def _pairs(text: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in text.split(",") if "=" in item)


def _count_sentence(resource: str, hard: str, used: str, asked: int | None) -> str:
    singular, plural = _QUOTA_NOUNS.get(resource, (resource, resource))
    noun = singular if hard == "1" else plural
    if asked is not None:
        return f"Your environment allows {hard} {noun}; you asked for {asked}."
    if hard == "0":
        return f"Your environment does not allow {plural}."
    return f"Your environment allows {hard} {noun} and already has {used}."


def _explain_quota(match: re.Match[str], asked: int | None) -> Explanation:
    quota = match["quota"].strip()
    if quota == CRITICAL_PRIORITY_QUOTA:
        return Explanation(
            "quota",
            "The system-critical priority classes are reserved for the cluster's own "
            "components; remove priorityClassName from the pod.",
            {"quota": quota},
        )
    requested, used, limited = (
        _pairs(match["requested"]),
        _pairs(match["used"]),
        _pairs(match["limited"]),
    )
    sentences: list[str] = []
    first = next(iter(limited), "")
    for resource, hard in limited.items():
        if resource in _RESERVED:
            what = _RESERVED[resource]
            sentences.append(
                f"Your environment can reserve {hard} {what} in total; {used.get(resource, '0')} "
                f"is reserved already and this asks for {requested.get(resource, '?')} more."
            )
        else:
            count = asked if resource == "pods" else None
            sentences.append(_count_sentence(resource, hard, used.get(resource, "?"), count))
    hint = _HINTS.get(first, "Delete something you no longer need to make room.")
    facts = {"quota": quota, "resource": first, "limit": limited.get(first, "")}
    facts.update({f"used:{k}": v for k, v in used.items()})
    facts.update({f"requested:{k}": v for k, v in requested.items()})
    if asked is not None:
        facts["asked"] = str(asked)
    return Explanation("quota", " ".join([*sentences, hint]), facts)


def _explain_limits(message: str) -> Explanation | None:
    found = list(_LIMIT.finditer(message))
    if not found:
        return None
    parts = []
    for match in found:
        bound = "at most" if match["bound"] == "maximum" else "at least"
        parts.append(
            f"each {match['scope'].lower()} may use {bound} {match['allowed']} "
            f"{match['resource']}, and this one asks for {match['asked']}"
        )
    sentence = "In your environment " + "; ".join(parts) + "."
    first = found[0]
    return Explanation(
        "limit",
        sentence[0].upper() + sentence[1:],
        {"resource": first["resource"], "allowed": first["allowed"], "asked": first["asked"]},
    )


def _explain_rbac(match: re.Match[str]) -> Explanation:
    resource = match["resource"]
    group = match["group"]
    full = f"{resource}.{group}" if group else resource
    where = (
        f'in the namespace "{match["namespace"]}"' if match["namespace"] else "across the cluster"
    )
    sentence = (
        f"Your account may not {match['verb']} {full} {where}. Your environment can change only "
        "its own namespace, and read nodes and kube-system."
    )
    facts = {"verb": match["verb"], "resource": full, "namespace": match["namespace"] or ""}
    return Explanation("forbidden", sentence, facts)


def explain_denial(message: str, *, asked: int | None = None) -> Explanation | None:
    """A sentence for a refusal message, or None when it is not one kubelab knows.

    `asked` is how many pods the learner wanted (a workload's replicas), when known.
    """
    text = " ".join(message.split())
    quota = _QUOTA.search(text)
    if quota:
        return _explain_quota(quota, asked)
    limits = _explain_limits(text)
    if limits:
        return limits
    security = _POD_SECURITY.search(text)
    if security:
        return Explanation(
            "pod-security",
            f"Pods here must meet the {security['level']} Pod Security standard, and this one "
            f"does not: {security['what'].strip()}. Remove those settings and try again.",
            {"level": security["level"]},
        )
    rbac = _RBAC.search(text)
    if rbac:
        return _explain_rbac(rbac)
    terminating = _TERMINATING.search(text)
    if terminating:
        return Explanation(
            "terminating",
            f"The namespace {terminating['namespace']} is being deleted; wait a moment and "
            "reload the page to get a fresh environment.",
            {"namespace": terminating["namespace"]},
        )
    return None
