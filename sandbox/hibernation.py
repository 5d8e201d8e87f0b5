"""Sleep and wake as data: which of a namespace's objects are the learner's, how to clean them
into manifests that can be created again, in which order, and the sentences the learner reads.

Pure: plain dicts in (shaped like `kubectl get -o json`), plain dicts and strings out.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from k8s.kinds import SAVED
from sandbox.manifests import KEEP_CONFIGMAPS, MANAGED_BY, MANAGED_BY_LABEL

Obj = dict[str, Any]

# Over this, nothing is saved: half an exercise restored is worse than a clear "too big".
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class SavedKind:
    api_version: str
    kind: str
    # Restored tier by tier: a tier's objects only refer to objects of earlier tiers.
    tier: int


# What the course uses, and nothing else: never RBAC, ServiceAccounts, quotas or policies, and
# never Secrets: a learner may not read them (their RBAC has none), and a snapshot is a database
# row in plain JSON, so one there would outlive the cluster's protection of it.
# Tiers: data and volumes first (pods mount them, env vars read them); Services before workloads
# (pods get the *_SERVICE_HOST variables of Services that exist when they start); bare Pods
# before controllers, so a ReplicaSet adopts the learner's matching pods as it did before
# instead of starting extra ones; what points at workloads (Ingress, HPA) last.
SAVED_KINDS: tuple[SavedKind, ...] = tuple(
    SavedKind(info.api_version, info.kind, info.saved_tier or 0) for info in SAVED
)
_BY_KIND = {saved.kind: saved for saved in SAVED_KINDS}
SAVED_KIND_NAMES: tuple[str, ...] = tuple(saved.kind for saved in SAVED_KINDS)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Server-assigned identity and bookkeeping: sending them back is refused or meaningless.
_DROPPED_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "namespace",
    "ownerReferences",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
# Written by controllers about the old object; they write them again for the new one.
_DROPPED_ANNOTATIONS = frozenset(
    {
        "deployment.kubernetes.io/revision",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "batch.kubernetes.io/job-tracking",
        "batch.kubernetes.io/cronjob-scheduled-timestamp",
        "endpoints.kubernetes.io/last-change-trigger-time",
        "pv.kubernetes.io/bind-completed",
        "pv.kubernetes.io/bound-by-controller",
        "volume.beta.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/storage-provisioner",
        "volume.kubernetes.io/selected-node",
    }
)
# Labels controllers stamp with the old object's uid or hash: they would tie the new object to
# an owner that no longer exists (a Job refuses a selector naming another uid).
_DROPPED_LABELS = frozenset(
    {
        "pod-template-hash",
        "controller-uid",
        "batch.kubernetes.io/controller-uid",
        "job-name",
        "batch.kubernetes.io/job-name",
    }
)
# The ServiceAccount admission plugin mounts this volume into every pod; it is added again,
# with a fresh name, when the pod is created.
_SERVICE_ACCOUNT_VOLUME_PREFIX = "kube-api-access-"


def kind_tier(kind: str) -> int:
    return _BY_KIND[kind].tier


def describe(obj: Mapping[str, Any]) -> str:
    """`Pod kuard`: how the learner's sentences name an object."""
    return f"{obj.get('kind', '?')} {(obj.get('metadata') or {}).get('name', '?')}"


def skip_reason(obj: Mapping[str, Any]) -> str | None:
    """Why this object is not the learner's to save, or None if it is."""
    kind = str(obj.get("kind", ""))
    meta = obj.get("metadata") or {}
    if kind not in _BY_KIND:
        return "kind not saved"
    if meta.get("ownerReferences"):
        # A Deployment's ReplicaSets and pods, a Job's pods: their owner makes them again.
        return "owned by another object"
    if meta.get("deletionTimestamp"):
        return "being deleted"
    if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY:
        return "kubelab's own setup"
    if kind == "ConfigMap" and meta.get("name") in KEEP_CONFIGMAPS:
        return "made by Kubernetes in every namespace"
    return None


def _without(mapping: Any, names: Iterable[str]) -> Any:
    if not isinstance(mapping, dict):
        return mapping
    return {key: value for key, value in mapping.items() if key not in set(names)}


def _clean_metadata(meta: Obj, *, labels_too: bool = True) -> Obj:
    cleaned = _without(meta, _DROPPED_METADATA)
    annotations = _without(cleaned.get("annotations"), _DROPPED_ANNOTATIONS)
    if annotations:
        cleaned["annotations"] = annotations
    else:
        cleaned.pop("annotations", None)
    if labels_too:
        labels = _without(cleaned.get("labels"), _DROPPED_LABELS)
        if labels:
            cleaned["labels"] = labels
        else:
            cleaned.pop("labels", None)
    finalizers = [f for f in cleaned.get("finalizers") or [] if "kubernetes.io/" not in f]
    if finalizers:
        cleaned["finalizers"] = finalizers
    else:
        cleaned.pop("finalizers", None)
    return cleaned


def _clean_pod_spec(spec: Obj) -> Obj:
    spec = dict(spec)
    # Let the scheduler place it again (the old node may be gone or full); the Priority
    # admission plugin recomputes the number from the class name.
    for key in ("nodeName", "priority", "ephemeralContainers"):
        spec.pop(key, None)
    volumes = [
        v
        for v in spec.get("volumes") or []
        if not str(v.get("name", "")).startswith(_SERVICE_ACCOUNT_VOLUME_PREFIX)
    ]
    if volumes:
        spec["volumes"] = volumes
    else:
        spec.pop("volumes", None)
    for group in ("initContainers", "containers"):
        if group not in spec:
            continue
        containers = []
        for container in spec[group]:
            container = dict(container)
            mounts = [
                mount
                for mount in container.get("volumeMounts") or []
                if not str(mount.get("name", "")).startswith(_SERVICE_ACCOUNT_VOLUME_PREFIX)
            ]
            if mounts:
                container["volumeMounts"] = mounts
            else:
                container.pop("volumeMounts", None)
            containers.append(container)
        spec[group] = containers
    return spec


def _clean_template(template: Obj) -> Obj:
    template = dict(template)
    if "metadata" in template:
        template["metadata"] = _clean_metadata(template["metadata"])
        template["metadata"].pop("name", None)
    if "spec" in template:
        template["spec"] = _clean_pod_spec(template["spec"])
    return template


def _clean_service_spec(spec: Obj) -> Obj:
    spec = dict(spec)
    # Addresses are the cluster's to hand out; a headless Service ("None") asks for none.
    if spec.get("clusterIP") != "None":
        spec.pop("clusterIP", None)
        spec.pop("clusterIPs", None)
    # NodePorts are drawn from one range shared by every learner: while this one slept another
    # may have taken the old number, and asking for it back would lose the whole Service to
    # "provided port is already allocated". A fresh port from the range is what the course
    # needs (its checks ask for a port in range, never a number).
    spec.pop("healthCheckNodePort", None)
    if "ports" in spec:
        spec["ports"] = [_without(port, ("nodePort",)) for port in spec["ports"]]
    return spec


def clean(obj: Mapping[str, Any]) -> Obj:
    """A manifest that creates the same object again in another namespace."""
    kind = str(obj["kind"])
    cleaned: Obj = {
        key: copy.deepcopy(value) for key, value in obj.items() if key not in ("status",)
    }
    cleaned["metadata"] = _clean_metadata(cleaned.get("metadata") or {})
    spec = cleaned.get("spec")
    if not isinstance(spec, dict):
        return cleaned
    if kind == "Pod":
        cleaned["spec"] = _clean_pod_spec(spec)
    elif kind == "Service":
        cleaned["spec"] = _clean_service_spec(spec)
    elif kind == "PersistentVolumeClaim":
        # The old volume went with the namespace; the claim binds to a new one.
        cleaned["spec"] = _without(spec, ("volumeName",))
    elif kind in ("ReplicaSet", "Deployment", "DaemonSet", "StatefulSet"):
        spec = dict(spec)
        spec["template"] = _clean_template(spec.get("template") or {})
        cleaned["spec"] = spec
    elif kind == "Job":
        cleaned["spec"] = _clean_job_spec(spec)
    elif kind == "CronJob":
        spec = dict(spec)
        job_template = dict(spec.get("jobTemplate") or {})
        job_template["spec"] = _clean_job_spec(job_template.get("spec") or {})
        spec["jobTemplate"] = job_template
        cleaned["spec"] = spec
    return cleaned


def _clean_job_spec(spec: Obj) -> Obj:
    spec = dict(spec)
    if not spec.get("manualSelector"):
        # Generated from the old Job's uid; the API generates one for the new Job.
        spec.pop("selector", None)
    spec["template"] = _clean_template(spec.get("template") or {})
    return spec


@dataclass(frozen=True)
class Snapshot:
    """What was saved (cleaned manifests in restore order) and how big it is."""

    objects: list[Obj]
    size_bytes: int
    too_large: bool = False
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.objects)


def restore_sorted(objects: Iterable[Obj]) -> list[Obj]:
    """Tier by tier, then kind and name, so the order is the same every time."""
    return sorted(
        objects,
        key=lambda o: (
            kind_tier(str(o["kind"])),
            SAVED_KIND_NAMES.index(str(o["kind"])),
            str((o.get("metadata") or {}).get("name", "")),
        ),
    )


def restore_tiers(objects: Iterable[Obj]) -> list[list[Obj]]:
    """Objects grouped by tier, in order: a tier may be created all at once."""
    tiers: dict[int, list[Obj]] = {}
    for obj in restore_sorted(objects):
        tiers.setdefault(kind_tier(str(obj["kind"])), []).append(obj)
    return [tiers[tier] for tier in sorted(tiers)]


def snapshot_build(
    objects_by_kind: Mapping[str, Iterable[Mapping[str, Any]]],
    *,
    max_bytes: int = MAX_SNAPSHOT_BYTES,
) -> Snapshot:
    """The learner's objects among everything listed, cleaned and ordered; nothing if too big."""
    kept: list[Obj] = []
    skipped: dict[str, int] = {}
    for items in objects_by_kind.values():
        for obj in items:
            reason = skip_reason(obj)
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            kept.append(clean(obj))
    kept = restore_sorted(kept)
    size = len(json.dumps(kept, separators=(",", ":")).encode())
    if size > max_bytes:
        return Snapshot(objects=[], size_bytes=size, too_large=True, skipped=skipped)
    return Snapshot(objects=kept, size_bytes=size, skipped=skipped)


# --- Sentences ---------------------------------------------------------------------------------

_NAMED = 6


def duration_text(seconds: int) -> str:
    """`2 h`, `90 min`, `45 s`: the idle limit as the learner reads it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds} s"


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MiB"
    return f"{max(1, round(size / 1024))} KiB"


def _objects_phrase(count: int) -> str:
    return "1 object" if count == 1 else f"{count} objects"


def names_phrase(names: list[str]) -> str:
    """`Pod kuard, Service web` and, past six, `… and 3 more`."""
    shown = ", ".join(names[:_NAMED])
    more = len(names) - _NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def sleep_sentence(snapshot: Snapshot, *, idle_seconds: int, max_bytes: int) -> str:
    idle = duration_text(idle_seconds)
    if snapshot.too_large:
        return (
            f"Your environment was put to sleep after {idle} without activity. What you made in "
            f"it ({size_text(snapshot.size_bytes)}) was too large to save (the limit is "
            f"{size_text(max_bytes)}), so it comes back empty when you return."
        )
    if not snapshot.objects:
        return (
            f"Your environment was put to sleep after {idle} without activity; it held nothing "
            "of yours, and comes back as soon as you return."
        )
    names = names_phrase([describe(obj) for obj in snapshot.objects])
    return (
        f"Your environment was put to sleep after {idle} without activity. What you made in it "
        f"({_objects_phrase(snapshot.count)}: {names}) is saved and comes back as soon as you "
        "return."
    )


def wake_sentence(*, restored: list[str], failed: list[tuple[str, str]], idle_seconds: int) -> str:
    """`Welcome back. Your environment slept after 2 h without activity; 7 objects were
    restored (Pod kuard, …); 1 could not be: Deployment x: <the API server's message>.`"""
    idle = duration_text(idle_seconds)
    sentence = f"Welcome back. Your environment slept after {idle} without activity; "
    if restored:
        verb = "was" if len(restored) == 1 else "were"
        sentence += f"{_objects_phrase(len(restored))} {verb} restored ({names_phrase(restored)})"
    else:
        sentence += "nothing could be restored"
    if failed:
        reasons = "; ".join(f"{name}: {message}" for name, message in failed[:_NAMED])
        more = len(failed) - _NAMED
        if more > 0:
            reasons += f"; and {more} more"
        sentence += f"; {len(failed)} could not be: {reasons}"
    # Explanations and API messages may end a sentence themselves.
    return sentence if sentence.endswith(".") else sentence + "."


def snapshot_merge(older: Iterable[Obj], newer: Iterable[Obj]) -> Snapshot:
    """One snapshot from two: the newer copy of an object wins, nothing of the older is lost."""
    merged: dict[tuple[str, str], Obj] = {}
    for obj in [*older, *newer]:
        merged[(str(obj["kind"]), str((obj.get("metadata") or {}).get("name", "")))] = obj
    objects = restore_sorted(merged.values())
    return Snapshot(objects=objects, size_bytes=len(json.dumps(objects, separators=(",", ":"))))


def placed(obj: Mapping[str, Any], *, namespace: str) -> Obj:
    """A saved manifest, put into `namespace` for creating."""
    manifest = copy.deepcopy(dict(obj))
    meta = manifest.setdefault("metadata", {})
    meta["namespace"] = namespace
    annotations = meta.get("annotations") or {}
    last_applied = annotations.get(LAST_APPLIED)
    if last_applied:
        # kubectl wrote the old namespace into it; left alone, the next `kubectl apply` would
        # see a change the learner never made.
        annotations[LAST_APPLIED] = _last_applied_moved(last_applied, namespace)
    return manifest


def _last_applied_moved(text: str, namespace: str) -> str:
    try:
        applied = json.loads(text)
    except ValueError:
        return text
    applied_meta = applied.get("metadata") if isinstance(applied, dict) else None
    if not isinstance(applied_meta, dict) or "namespace" not in applied_meta:
        return text
    applied_meta["namespace"] = namespace
    # kubectl writes it compactly, with a trailing newline; keep that shape.
    return json.dumps(applied, separators=(",", ":")) + ("\n" if text.endswith("\n") else "")
