"""Turn the API server's refusals into sentences a learner can act on.

Input is the API server's message (from a Status, an event, or kubectl's stderr); output says what
the limit is, what was asked and what to do: "Your environment allows 20 pods; you asked for
1000." Covers quota, LimitRange, Pod Security and RBAC denials and terminating namespaces;
anything else gets None (show the original). Pure: the caller passes its translation function
(``gettext``; sandbox.selectors.explained_in_every_language gives every language's sentence);
the strings are written as ``_(...)`` and ``gettext_noop(...)`` so makemessages finds them.
Tested against messages captured from a real API server (tests/sandbox/data/denials.json).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

Translate = Callable[[str], str]


def gettext_noop(text: str) -> str:
    """Marks a string for makemessages; it is translated where it is used."""
    return text


def _same(text: str) -> str:
    return text


CRITICAL_PRIORITY_QUOTA = "kubelab-no-critical-priority"


@dataclass(frozen=True)
class Explanation:
    kind: str  # quota | limit | pod-security | forbidden | terminating
    sentence: str
    facts: dict[str, str] = field(default_factory=dict)


# resource name in a quota -> (singular, plural) as a learner would say it
_QUOTA_NOUNS: dict[str, tuple[str, str]] = {
    "pods": (gettext_noop("pod"), gettext_noop("pods")),
    "services": (gettext_noop("Service"), gettext_noop("Services")),
    "services.nodeports": (gettext_noop("NodePort port"), gettext_noop("NodePort ports")),
    "services.loadbalancers": (
        gettext_noop("LoadBalancer Service"),
        gettext_noop("LoadBalancer Services"),
    ),
    "configmaps": (gettext_noop("ConfigMap"), gettext_noop("ConfigMaps")),
    "secrets": (gettext_noop("Secret"), gettext_noop("Secrets")),
    "persistentvolumeclaims": (
        gettext_noop("PersistentVolumeClaim"),
        gettext_noop("PersistentVolumeClaims"),
    ),
    "count/deployments.apps": (gettext_noop("Deployment"), gettext_noop("Deployments")),
    "count/replicasets.apps": (gettext_noop("ReplicaSet"), gettext_noop("ReplicaSets")),
    "count/daemonsets.apps": (gettext_noop("DaemonSet"), gettext_noop("DaemonSets")),
    "count/jobs.batch": (gettext_noop("Job"), gettext_noop("Jobs")),
    "count/horizontalpodautoscalers.autoscaling": (
        gettext_noop("HorizontalPodAutoscaler"),
        gettext_noop("HorizontalPodAutoscalers"),
    ),
}
_RESERVED = {
    "requests.cpu": gettext_noop("CPU"),
    "requests.memory": gettext_noop("memory"),
    "limits.cpu": gettext_noop("CPU limits"),
    "limits.memory": gettext_noop("memory limits"),
}
_HINTS = {
    "pods": gettext_noop(
        "Scale something down (kubectl scale ... --replicas=N) or delete pods you no longer need."
    ),
    "services.nodeports": gettext_noop(
        "Use a ClusterIP Service with kubectl port-forward, or delete a NodePort Service you no "
        "longer need."
    ),
    "services.loadbalancers": gettext_noop("Delete the LoadBalancer Service you no longer need."),
    "requests.cpu": gettext_noop(
        "Ask for less (resources.requests.cpu) or delete pods you no longer need."
    ),
    "requests.memory": gettext_noop(
        "Ask for less (resources.requests.memory) or delete pods you no longer need."
    ),
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


def _count_sentence(resource: str, hard: str, used: str, asked: int | None, _: Translate) -> str:
    singular, plural = _QUOTA_NOUNS.get(resource, (resource, resource))
    noun = _(singular) if hard == "1" else _(plural)
    if asked is not None:
        return _("Your environment allows %(hard)s %(noun)s; you asked for %(asked)s.") % {
            "hard": hard,
            "noun": noun,
            "asked": asked,
        }
    if hard == "0":
        return _("Your environment does not allow %(noun)s.") % {"noun": _(plural)}
    return _("Your environment allows %(hard)s %(noun)s and already has %(used)s.") % {
        "hard": hard,
        "noun": noun,
        "used": used,
    }


def _explain_quota(match: re.Match[str], asked: int | None, _: Translate) -> Explanation:
    quota = match["quota"].strip()
    if quota == CRITICAL_PRIORITY_QUOTA:
        return Explanation(
            "quota",
            _(
                "The system-critical priority classes are reserved for the cluster's own "
                "components; remove priorityClassName from the pod."
            ),
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
            sentences.append(
                _(
                    "Your environment can reserve %(hard)s %(what)s in total; %(used)s is "
                    "reserved already and this asks for %(asked)s more."
                )
                % {
                    "hard": hard,
                    "what": _(_RESERVED[resource]),
                    "used": used.get(resource, "0"),
                    "asked": requested.get(resource, "?"),
                }
            )
        else:
            count = asked if resource == "pods" else None
            sentences.append(_count_sentence(resource, hard, used.get(resource, "?"), count, _))
    hint = _(_HINTS.get(first, gettext_noop("Delete something you no longer need to make room.")))
    facts = {"quota": quota, "resource": first, "limit": limited.get(first, "")}
    facts.update({f"used:{k}": v for k, v in used.items()})
    facts.update({f"requested:{k}": v for k, v in requested.items()})
    if asked is not None:
        facts["asked"] = str(asked)
    return Explanation("quota", " ".join([*sentences, hint]), facts)


def _explain_limits(message: str, _: Translate) -> Explanation | None:
    found = list(_LIMIT.finditer(message))
    if not found:
        return None
    parts = []
    for match in found:
        values = {
            "scope": _("container") if match["scope"] == "Container" else _("pod"),
            "allowed": match["allowed"],
            "resource": _("memory") if match["resource"] == "memory" else match["resource"],
            "asked": match["asked"],
        }
        if match["bound"] == "maximum":
            part = _(
                "each %(scope)s may use at most %(allowed)s %(resource)s, and this one asks "
                "for %(asked)s"
            )
        else:
            part = _(
                "each %(scope)s may use at least %(allowed)s %(resource)s, and this one asks "
                "for %(asked)s"
            )
        parts.append(part % values)
    sentence = _("In your environment %(rules)s.") % {"rules": _("; ").join(parts)}
    first = found[0]
    return Explanation(
        "limit",
        sentence[0].upper() + sentence[1:],
        {"resource": first["resource"], "allowed": first["allowed"], "asked": first["asked"]},
    )


def _explain_rbac(match: re.Match[str], _: Translate) -> Explanation:
    resource = match["resource"]
    group = match["group"]
    full = f"{resource}.{group}" if group else resource
    values = {"verb": match["verb"], "resource": full, "namespace": match["namespace"]}
    if match["namespace"]:
        refusal = _('Your account may not %(verb)s %(resource)s in the namespace "%(namespace)s".')
    else:
        refusal = _("Your account may not %(verb)s %(resource)s across the cluster.")
    if group == "metrics.k8s.io" and resource == "nodes":
        # `kubectl top nodes`: a node's usage sums every learner's Pods on it.
        reason = _(
            "A node's usage adds up everyone's Pods on it, so only your own Pods' usage is shown "
            "here: kubectl top pods."
        )
    else:
        reason = _(
            "Your environment can change only its own namespace, and read nodes and kube-system."
        )
    sentence = refusal % values + " " + reason
    facts = {"verb": match["verb"], "resource": full, "namespace": match["namespace"] or ""}
    return Explanation("forbidden", sentence, facts)


def explain_denial(
    message: str, *, asked: int | None = None, translate: Translate = _same
) -> Explanation | None:
    """A sentence for a refusal message, or None when it is not one kubelab knows.

    `asked` is how many pods the learner wanted (a workload's replicas), when known;
    `translate` is the caller's gettext (English when left out).
    """
    _ = translate
    text = " ".join(message.split())
    quota = _QUOTA.search(text)
    if quota:
        return _explain_quota(quota, asked, _)
    limits = _explain_limits(text, _)
    if limits:
        return limits
    security = _POD_SECURITY.search(text)
    if security:
        return Explanation(
            "pod-security",
            _(
                "Pods here must meet the %(level)s Pod Security standard, and this one does "
                "not: %(what)s. Remove those settings and try again."
            )
            % {"level": security["level"], "what": security["what"].strip()},
            {"level": security["level"]},
        )
    rbac = _RBAC.search(text)
    if rbac:
        return _explain_rbac(rbac, _)
    terminating = _TERMINATING.search(text)
    if terminating:
        return Explanation(
            "terminating",
            _(
                "The namespace %(namespace)s is being deleted; wait a moment and reload the page "
                "to get a fresh environment."
            )
            % {"namespace": terminating["namespace"]},
            {"namespace": terminating["namespace"]},
        )
    return None
