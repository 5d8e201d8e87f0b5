"""What a scenario written for cluster-admin on a kubeadm cluster asks of the machine, and which
of it a learner's namespace can give.

Mapped (``namespaces_mapped``): every namespace a scenario names is the learner's own. The text
the learner reads and types loses ``-n ios`` and ``metadata.namespace``; the steps and checks run
behind labs.namespacing, which maps even ``-n "$NS"``.

Not mapped (``unmappable``): nodes over ssh, container runtimes, the control plane's files and
services, objects that belong to the whole cluster, the internet, real networking between Pods.
Each finding is a precise sentence; a step with one is imported as text to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CLUSTER_KINDS = (
    "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "RuntimeClass",
    "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService",
    "CSIDriver", "Node", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
)  # fmt: skip
_CREATE_CLUSTER = re.compile(
    r"\bkubectl\s+(?:create|delete|edit|patch|label|annotate|get|describe)\s+"
    r"(clusterrole(?:binding)?|pv|persistentvolume|storageclass|sc|priorityclass|crd|"
    r"customresourcedefinition|ingressclass|runtimeclass)\b"
)
_NODE_CHANGE = re.compile(
    r"\bkubectl\s+(?:(cordon|uncordon|drain|taint)\b|(?:label|annotate|edit|patch|delete)\s+"
    r"(?:nodes?|no)\b)"
)
_DELETE_NAMESPACE = re.compile(r"\bkubectl\s+delete\s+(?:ns|namespaces?)\b")


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    why: str


RULES = (
    Rule(re.compile(r"(^|[\s;&|(`$])ssh\s"), "logs in to a node over ssh; kubelab's nodes are "
         "simulated and have no shell"),
    Rule(re.compile(r"(^|[\s;&|(`$])(crictl|ctr|nerdctl|docker|podman)\s"),
         "talks to a node's container runtime; kubelab's nodes are simulated"),
    Rule(re.compile(r"(^|[\s;&|(`$])(systemctl|journalctl|service\s+kubelet)\b"),
         "manages a node's services (the kubelet); kubelab's nodes are simulated"),
    Rule(re.compile(r"(^|[\s;&|(`$])(kubeadm|etcdctl|etcdutl)\b|/etc/kubernetes|/var/lib/kubelet"
                    r"|/var/lib/etcd|/etc/cni"),
         "works on the control plane's files or tools (kubeadm, etcd, static Pods); the control "
         "plane is not the learner's"),
    Rule(re.compile(r"(^|[\s;&|(`$])(apt|apt-get|yum|dnf|snap|pip3?)\s+install\b"),
         "installs software on the machine; the learner's shell cannot"),
    Rule(re.compile(r"(^|[\s;&|(`$])helm\s"), "uses helm, which the learner's shell does not have"),
    Rule(re.compile(r"https?://[^\s/\"'$]*\.(com|io|org|net|dev|sh|co|cloud|me|app)\b"
                    r"|\bgit\s+clone\b"),
         "downloads from the internet; learners' environments have no internet"),
    Rule(re.compile(r"\b(curl|wget|nc|nslookup|dig|ping)\b[^\n]*?(https?://)?"
                    r"(?!localhost|127\.)[a-z0-9$][-a-z0-9.${}_]*(\.svc|\.cluster\.local|:\d+)"),
         "needs real networking between Pods and Services; kubelab's Pods are simulated"),
    Rule(re.compile(r"\{\{TRAFFIC_|\[ACCESS|\[\[HOST_"),
         "opens a port through Killercoda's traffic proxy, which kubelab does not have"),
    Rule(re.compile(r"kubectl\s+(?:exec|run)\b[^\n]*--[^\n]*\b(curl|wget|nc|nslookup|dig|ping)\b"),
         "needs real networking between Pods; kubelab's Pods are simulated"),
    Rule(re.compile(r"\bkubectl\s+(?:port-forward|proxy)\b[^\n]*&"),
         "keeps a port-forward running in the background across steps"),
)  # fmt: skip


# Namespaced kinds a kubelab learner may not make: their rights follow the course's chapters
# (sandbox.manifests.LEARNER_RULES; tests/labs/test_killercoda.py holds the two together).
# kind -> the words kubectl takes for it.
NOT_GRANTED = {
    "Secret": ("secret", "secrets"),
    "ServiceAccount": ("sa", "serviceaccount", "serviceaccounts"),
    "Role": ("role", "roles"),
    "RoleBinding": ("rolebinding", "rolebindings"),
    "NetworkPolicy": ("networkpolicy", "networkpolicies", "netpol"),
    "Ingress": ("ingress", "ingresses", "ing"),
    "CronJob": ("cronjob", "cronjobs", "cj"),
    "PersistentVolumeClaim": ("pvc", "persistentvolumeclaim", "persistentvolumeclaims"),
    "StatefulSet": ("statefulset", "statefulsets", "sts"),
    "ResourceQuota": ("quota", "resourcequota", "resourcequotas"),
    "LimitRange": ("limitrange", "limitranges", "limits"),
    "PodDisruptionBudget": ("pdb", "poddisruptionbudget", "poddisruptionbudgets"),
}
# Of those, the ones a learner may read (`kubectl get all`, `describe quota`).
READABLE = frozenset({"ResourceQuota", "LimitRange", "CronJob", "StatefulSet"})
_KIND_LINE = re.compile(r"^\s*kind:\s*[\"']?(\w+)", re.MULTILINE)


def not_granted(text: str) -> list[str]:
    """The kinds these commands or manifests make (or read) that a learner has no rights to."""
    found = []
    kinds = set(_KIND_LINE.findall(text))
    for kind, words in NOT_GRANTED.items():
        named = "|".join(words)
        verbs = "create|edit|patch|set|delete" + ("" if kind in READABLE else "|get|describe")
        if kind in kinds or re.search(
            rf"\b(k|kubectl)\b[^\n|;&]*\s({verbs})\s+({named})(\b|/)", text
        ):
            found.append(
                f"uses a {kind}, which kubelab's learners may not make or read (their rights "
                "follow the course's chapters)"
            )
    return found


def unmappable(text: str) -> list[str]:
    """Why these commands (or this manifest) cannot run in a learner's namespace; [] if they can."""
    found: list[str] = []

    def add(why: str) -> None:
        if why not in found:
            found.append(why)

    for rule in RULES:
        if rule.pattern.search(text):
            add(rule.why)
    kinds = sorted(set(re.findall(r"^\s*kind:\s*[\"']?(\w+)", text, re.MULTILINE)))
    for kind in kinds:
        if kind in CLUSTER_KINDS:
            add(f"makes a {kind}, which belongs to the whole cluster, not to a namespace")
    created = _CREATE_CLUSTER.search(text)
    if created:
        add(f"works on a {created.group(1)}, which belongs to the whole cluster, not a namespace")
    if _NODE_CHANGE.search(text):
        add("changes a node (cordon, drain, taint, labels); nodes belong to the whole cluster")
    if _DELETE_NAMESPACE.search(text):
        add("deletes a namespace; the learner's namespace is theirs to keep")
    for why in not_granted(text):
        add(why)
    return found


_FILES_READ = re.compile(r"(?<![\w.])(/opt/|/root/|~/|\$HOME\b|\$\{HOME\})[\w./${}-]*")


def verify_reads_files(verify: str) -> list[str]:
    """Why a verify.sh that checks files on the machine cannot be a check here: the learner's
    terminal and kubelab's checks run in separate jails that share only the cluster."""
    found = _FILES_READ.search(verify)
    if found is None:
        return []
    return [
        f"checks a file on the machine ({found.group(0)}); kubelab's checks run apart from the "
        "learner's terminal and see only the cluster"
    ]


_ROOT_PATHS = re.compile(r"(?<=[\s\"'=>:(])/(opt|root|usr/local/bin)/")
_ROOT_PATHS_AS = {"opt": "$HOME/opt/", "root": "$HOME/", "usr/local/bin": "$HOME/.kubelab-bin/"}


def namespaces_crossed(verify: str, names: set[str]) -> list[str]:
    """A step whose check looks at two of the scenario's namespaces (a Pod moved from prime to
    mars) cannot be mapped: both are the learner's one namespace here."""
    seen = sorted(n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", verify))
    if len(seen) < 2:
        return []
    return [
        f"works across namespaces ({', '.join(seen)}), which are all the learner's one "
        "namespace here"
    ]


def paths_mapped(script: str) -> str:
    """Root's folders in a script (``/opt/course``, ``/root``, ``/usr/local/bin``) as the
    learner's home (and the folder first on a scenario's PATH), where its setup can write."""
    return _ROOT_PATHS.sub(lambda m: _ROOT_PATHS_AS[m.group(1)], script)


_NS_WORD = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_NS_FLAG = re.compile(
    rf"(?P<flag>\s(?:-n|--namespace)(?:\s+|=))(?P<q>[\"']?)(?P<name>{_NS_WORD})(?P=q)(?=\s|$|[;|&)])"
)
_NS_CREATE = re.compile(rf"kubectl\s+create\s+(?:ns|namespace)\s+(?P<name>{_NS_WORD})")
_NS_ASSIGN = re.compile(rf"\b(?:NS|NAMESPACE|ns|namespace)=[\"']?(?P<name>{_NS_WORD})[\"']?")
_NS_FIELD = re.compile(rf"^\s*namespace:\s*[\"']?(?P<name>{_NS_WORD})[\"']?\s*$", re.MULTILINE)


def namespaces_named(text: str) -> set[str]:
    """The namespaces a scenario's text and scripts name (literally)."""
    names = {m.group("name") for m in _NS_FLAG.finditer(" " + text)}
    names |= {m.group("name") for m in _NS_CREATE.finditer(text)}
    names |= {m.group("name") for m in _NS_ASSIGN.finditer(text)}
    names |= {m.group("name") for m in _NS_FIELD.finditer(text)}
    return names - {"kube-system", "kube-public", "kube-node-lease"}


def _metadata_namespace_lines(lines: list[str]) -> set[int]:
    """Indexes of ``namespace:`` lines directly under a ``metadata:`` key."""
    found = set()
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)namespace:\s*\S", line)
        if not match:
            continue
        indent = len(match.group(1))
        for back in range(index - 1, -1, -1):
            above = lines[back]
            if not above.strip() or above.lstrip().startswith("#"):
                continue
            above_indent = len(above) - len(above.lstrip())
            if above_indent < indent:
                if above.strip().removeprefix("- ") == "metadata:":
                    found.add(index)
                break
    return found


def namespaces_mapped(text: str, names: set[str]) -> str:
    """The text with the scenario's namespaces made the learner's own: ``-n ios`` and
    ``--namespace=ios`` dropped, ``metadata.namespace`` lines removed, creating one of them
    left out (the learner's namespace exists)."""
    if not names:
        return text

    def flag(match: re.Match[str]) -> str:
        return "" if match.group("name") in names or match.group("name") == "default" else match[0]

    lines = text.split("\n")
    drop = _metadata_namespace_lines(lines)
    kept = []
    for index, line in enumerate(lines):
        if index in drop:
            continue
        created = _NS_CREATE.search(line)
        if created and created.group("name") in names:
            line = _NS_CREATE.sub(
                lambda m: f"true  # namespace {m.group('name')} is your own namespace here", line
            )
        kept.append(_NS_FLAG.sub(flag, line))
    return "\n".join(kept)
