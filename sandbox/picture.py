"""The namespace picture: a learner's objects as a graph a beginner can read. Pure: objects in
(as the API server or the watcher's cache gives them), a picture out, no Django, no client.

Who owns whom comes from owner references (a Deployment's ReplicaSets, a ReplicaSet's Pods, a
Job's Pods), which Pods a Service selects from its selector and, for readiness, its
EndpointSlices, where a Pod runs from its node name, and what it mounts from its volumes and
environment. A Service whose selector matches no Pod, and a Pod naming a ConfigMap that does not
exist, are drawn as dangling arrows: the mistakes chapter 4 and chapter 5 teach to see.

The picture carries facts, not sentences: one picture is sent to the learner and to every
instructor watching, each in their own language (sandbox.picture_texts words it per socket).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]

WORKLOAD_KINDS = ("Deployment", "DaemonSet", "StatefulSet", "CronJob")
# Drawn, in this order of importance: a picture cut at MAX_OBJECTS keeps the owners first.
DRAWN_KINDS = (*WORKLOAD_KINDS, "ReplicaSet", "Job", "Service", "Pod", "ConfigMap")
# Read but not drawn: which Pods stand behind each Service, and ready.
PICTURE_KINDS = (*DRAWN_KINDS, "EndpointSlice")
MAX_OBJECTS = 300
MAX_NODES = 50
# Labels every node carries; they say nothing a learner set or a lesson asks about.
_NODE_LABEL_NOISE = ("kubernetes.io/", "beta.kubernetes.io/", "node.kubernetes.io/", "type")
_SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Put in every namespace and every Pod by the cluster itself (the API server's CA for
# in-cluster clients): on every Pod's arrows it would hide what the learner made.
_CLUSTER_CONFIG_MAP = "kube-root-ca.crt"
_API_ACCESS_VOLUME = "kube-api-access-"


@dataclass(frozen=True)
class Selector:
    """A label selector, either a Service's plain map or a workload's LabelSelector."""

    labels: tuple[tuple[str, str], ...] = ()
    expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, raw: Any) -> Selector | None:
        """None when there is no selector at all (an ExternalName Service, a bare Pod)."""
        if not isinstance(raw, Mapping) or not raw:
            return None
        if "matchLabels" in raw or "matchExpressions" in raw:
            labels = raw.get("matchLabels") or {}
            expressions = tuple(
                (
                    str(e.get("key") or ""),
                    str(e.get("operator") or ""),
                    tuple(str(v) for v in e.get("values") or ()),
                )
                for e in raw.get("matchExpressions") or ()
                if isinstance(e, Mapping)
            )
        else:
            labels, expressions = raw, ()
        pairs = tuple(sorted((str(k), str(v)) for k, v in dict(labels).items()))
        return cls(pairs, expressions) if pairs or expressions else None

    def matches(self, labels: Mapping[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.labels):
            return False
        for key, operator, values in self.expressions:
            present = key in labels
            if operator == "In" and not (present and labels[key] in values):
                return False
            if operator == "NotIn" and present and labels[key] in values:
                return False
            if operator == "Exists" and not present:
                return False
            if operator == "DoesNotExist" and present:
                return False
        return True

    def text(self) -> str:
        """As kubectl writes it: `app=web,tier in (a,b),!debug`."""
        parts = [f"{key}={value}" for key, value in self.labels]
        for key, operator, values in self.expressions:
            joined = ",".join(values)
            parts.append(
                {
                    "In": f"{key} in ({joined})",
                    "NotIn": f"{key} notin ({joined})",
                    "Exists": key,
                    "DoesNotExist": f"!{key}",
                }.get(operator, f"{key} {operator} ({joined})")
            )
        return ",".join(parts)


def _meta(obj: Obj) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _name(obj: Obj) -> str:
    return str(_meta(obj).get("name") or "")


def _labels(obj: Obj) -> dict[str, str]:
    labels = _meta(obj).get("labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, Mapping) else {}


def _section(obj: Obj, key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _conditions(obj: Obj) -> dict[str, str]:
    found = _section(obj, "status").get("conditions") or ()
    return {str(c.get("type")): str(c.get("status")) for c in found if isinstance(c, Mapping)}


def _pod_facts(pod: Obj) -> tuple[dict[str, Any], str]:
    status = _section(pod, "status")
    phase = str(status.get("phase") or "Pending")
    ready = _conditions(pod).get("Ready") == "True"
    waiting = ""
    restarts = 0
    for container in status.get("containerStatuses") or ():
        if not isinstance(container, Mapping):
            continue
        restarts += _int(container.get("restartCount"))
        state = container.get("state")
        if isinstance(state, Mapping) and isinstance(state.get("waiting"), Mapping):
            waiting = waiting or str(state["waiting"].get("reason") or "")
    deleting = bool(_meta(pod).get("deletionTimestamp"))
    facts = {"phase": phase, "ready": ready, "waiting": waiting, "restarts": restarts}
    if deleting:
        facts["deleting"] = True
        state = "deleting"
    elif phase == "Succeeded":
        state = "done"
    elif phase == "Failed" or waiting in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"):
        state = "failed"
    elif phase == "Running" and ready:
        state = "ok"
    elif phase == "Running":
        state = "progressing"
    else:
        state = "pending"
    return facts, state


def _replicas_state(desired: int, ready: int) -> str:
    return "ok" if ready >= desired else "progressing"


def _workload_facts(kind: str, obj: Obj) -> tuple[dict[str, Any], str]:
    spec, status = _section(obj, "spec"), _section(obj, "status")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        desired = _int(spec.get("replicas"), 1)
        ready = _int(status.get("readyReplicas"))
        return {"desired": desired, "ready": ready}, _replicas_state(desired, ready)
    if kind == "DaemonSet":
        desired = _int(status.get("desiredNumberScheduled"))
        ready = _int(status.get("numberReady"))
        return {"desired": desired, "ready": ready}, _replicas_state(desired, ready)
    facts: dict[str, Any]
    if kind == "Job":
        conditions = _conditions(obj)
        facts = {
            "completions": _int(spec.get("completions"), 1),
            "succeeded": _int(status.get("succeeded")),
            "failed": _int(status.get("failed")),
            "active": _int(status.get("active")),
        }
        if conditions.get("Complete") == "True":
            return facts, "done"
        if conditions.get("Failed") == "True":
            return facts, "failed"
        return facts, "progressing"
    if kind == "CronJob":
        active = status.get("active") or ()
        facts = {
            "schedule": str(spec.get("schedule") or ""),
            "active": len(active) if isinstance(active, list) else 0,
            "suspended": bool(spec.get("suspend")),
        }
        return facts, "ok"
    return {}, "ok"


def _service_facts(service: Obj) -> dict[str, Any]:
    spec = _section(service, "spec")
    ports = [
        f"{p.get('port')}/{p.get('protocol') or 'TCP'}"
        for p in spec.get("ports") or ()
        if isinstance(p, Mapping)
    ]
    return {"type": str(spec.get("type") or "ClusterIP"), "ports": ports}


def _config_maps_used(pod: Obj) -> list[str]:
    """Every ConfigMap the Pod names: volumes (also projected), envFrom, env valueFrom."""
    spec = _section(pod, "spec")
    names: list[str] = []
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, Mapping) or str(volume.get("name")).startswith(
            _API_ACCESS_VOLUME
        ):
            continue
        if isinstance(volume.get("configMap"), Mapping):
            names.append(str(volume["configMap"].get("name") or ""))
        projected = volume.get("projected")
        if isinstance(projected, Mapping):
            for source in projected.get("sources") or ():
                if isinstance(source, Mapping) and isinstance(source.get("configMap"), Mapping):
                    names.append(str(source["configMap"].get("name") or ""))
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    for container in containers:
        if not isinstance(container, Mapping):
            continue
        for source in container.get("envFrom") or ():
            if isinstance(source, Mapping) and isinstance(source.get("configMapRef"), Mapping):
                names.append(str(source["configMapRef"].get("name") or ""))
        for env in container.get("env") or ():
            value_from = env.get("valueFrom") if isinstance(env, Mapping) else None
            if isinstance(value_from, Mapping) and isinstance(
                value_from.get("configMapKeyRef"), Mapping
            ):
                names.append(str(value_from["configMapKeyRef"].get("name") or ""))
    return sorted({name for name in names if name})


def _ready_endpoints(slices: Iterable[Obj]) -> dict[str, dict[str, bool]]:
    """service name -> pod name -> ready, from the Services' EndpointSlices."""
    found: dict[str, dict[str, bool]] = {}
    for endpoint_slice in slices:
        service = _labels(endpoint_slice).get(_SERVICE_NAME_LABEL)
        if not service:
            continue
        pods = found.setdefault(service, {})
        for endpoint in endpoint_slice.get("endpoints") or ():
            if not isinstance(endpoint, Mapping):
                continue
            target = endpoint.get("targetRef")
            if not isinstance(target, Mapping) or target.get("kind") != "Pod":
                continue
            conditions = endpoint.get("conditions")
            # The API says: a missing `ready` means ready.
            ready = not isinstance(conditions, Mapping) or conditions.get("ready") is not False
            pods[str(target.get("name"))] = pods.get(str(target.get("name")), False) or ready
    return found


def _node_entry(node: Obj) -> dict[str, Any]:
    labels = {
        key: value for key, value in _labels(node).items() if not key.startswith(_NODE_LABEL_NOISE)
    }
    name = _name(node)
    return {
        "id": f"Node/{name}",
        "kind": "Node",
        "name": name,
        "labels": labels,
        "ready": _conditions(node).get("Ready") == "True",
    }


def picture_build(
    *,
    namespace: str,
    objects: Mapping[str, list[Obj]],
    nodes: list[Obj],
    revision: int,
) -> dict[str, Any]:
    """The picture of one namespace: `objects` by kind (PICTURE_KINDS; missing kinds are
    empty), the cluster's nodes, and the revision the reads are as of (pages drop an older
    picture that arrives after a newer one)."""
    entries: list[dict[str, Any]] = []
    selectors: dict[str, Selector] = {}
    for kind in DRAWN_KINDS:
        for obj in sorted(objects.get(kind) or (), key=_name):
            name = _name(obj)
            if kind == "ConfigMap" and name == _CLUSTER_CONFIG_MAP:
                continue
            entry: dict[str, Any] = {
                "id": f"{kind}/{name}",
                "kind": kind,
                "name": name,
                "labels": _labels(obj),
            }
            if kind == "Pod":
                entry["facts"], entry["state"] = _pod_facts(obj)
                entry["ready"] = bool(entry["facts"]["ready"])
                entry["node"] = str(_section(obj, "spec").get("nodeName") or "") or None
            elif kind == "Service":
                entry["facts"], entry["state"] = _service_facts(obj), "ok"
            elif kind == "ConfigMap":
                keys = len(obj.get("data") or {}) + len(obj.get("binaryData") or {})
                entry["facts"], entry["state"] = {"keys": keys}, "ok"
            else:
                entry["facts"], entry["state"] = _workload_facts(kind, obj)
            if kind != "ConfigMap" and kind != "Pod":
                raw = _section(obj, "spec").get("selector")
                selector = Selector.of(raw)
                entry["selector"] = selector.text() if selector else ""
                if selector is not None:
                    selectors[entry["id"]] = selector
            entry["_obj"] = obj
            entries.append(entry)

    truncated = len(entries) > MAX_OBJECTS
    # Owners before what they own, so a cut picture still shows the structure.
    kept = sorted(entries, key=lambda e: DRAWN_KINDS.index(e["kind"]))[:MAX_OBJECTS]
    kept_ids = {e["id"] for e in kept}
    node_entries = [_node_entry(n) for n in sorted(nodes, key=_name)[:MAX_NODES]]
    node_ids = {n["id"] for n in node_entries}
    endpoints = _ready_endpoints(objects.get("EndpointSlice") or ())
    config_maps = {e["name"] for e in entries if e["kind"] == "ConfigMap"}
    pods = [e for e in kept if e["kind"] == "Pod"]

    edges: list[dict[str, Any]] = []
    dangling: list[dict[str, Any]] = []
    for entry in kept:
        for owner in _meta(entry["_obj"]).get("ownerReferences") or ():
            if not isinstance(owner, Mapping):
                continue
            owner_id = f"{owner.get('kind')}/{owner.get('name')}"
            if owner_id in kept_ids:
                edges.append({"from": owner_id, "to": entry["id"], "kind": "owns"})
    for entry in kept:
        if entry["kind"] != "Service" or entry["id"] not in selectors:
            continue
        selected = [p for p in pods if selectors[entry["id"]].matches(p["labels"])]
        behind = endpoints.get(entry["name"])
        for pod in selected:
            ready = behind.get(pod["name"], False) if behind is not None else pod["ready"]
            edges.append({"from": entry["id"], "to": pod["id"], "kind": "selects", "ready": ready})
        if not selected:
            dangling.append({"from": entry["id"], "kind": "selects", "target": entry["selector"]})
    for pod in pods:
        node = pod.get("node")
        if node and f"Node/{node}" in node_ids:
            edges.append({"from": pod["id"], "to": f"Node/{node}", "kind": "runs-on"})
        for name in _config_maps_used(pod["_obj"]):
            if name in config_maps and f"ConfigMap/{name}" in kept_ids:
                edges.append({"from": pod["id"], "to": f"ConfigMap/{name}", "kind": "mounts"})
            elif name not in config_maps:
                dangling.append(
                    {"from": pod["id"], "kind": "mounts", "target": f"ConfigMap/{name}"}
                )
    for entry in kept:
        del entry["_obj"]
    return {
        "type": "picture",
        "namespace": namespace,
        "revision": revision,
        "truncated": truncated,
        "nodes": node_entries,
        "objects": kept,
        "edges": edges,
        "dangling": dangling,
    }


def revision_of(resource_versions: Iterable[str]) -> int:
    """The revision a picture is as of: the newest of its reads' resourceVersions (on etcd they
    are its revision numbers). The newest, not the oldest: a kind nobody changed keeps the
    version of its last event, and the page's first picture (lists, as of now) would otherwise
    outrank every picture the watcher sends after it. A cluster whose versions are not numbers
    gets 0: never dropped."""
    numbers: list[int] = []
    for version in resource_versions:
        if not str(version).isdigit():
            return 0
        numbers.append(int(version))
    return max(numbers) if numbers else 0
