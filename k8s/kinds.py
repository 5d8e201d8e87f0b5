"""The Kubernetes kinds kubelab knows, in one table: where each lives in the API and what
kubelab does with it (pure: no Django, no client).

Every other list of kinds derives from this one: the gateway's REST paths, the kinds a check
may read (`GRADED`: labs.spec's validation), the kinds the watcher follows (`WATCHED`:
labs.watcher), what a reset wipes (`WIPED`: sandbox.manifests) and what a sleep saves
(`SAVED`: sandbox.hibernation). To let learners use a new kind, add it here, then grant it in
the learner's RBAC (sandbox.manifests.LEARNER_RULES: a reviewed policy, written out by hand;
a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KindInfo:
    kind: str
    api_version: str  # "v1", "apps/v1", ...
    plural: str
    namespaced: bool = True
    # A lab's checks may read it (a LIST per graded namespace, or the watcher's cache).
    graded: bool = False
    # The watcher follows it in learner namespaces (a change regrades that learner).
    watched: bool = False
    # A learner can make it, so a reset wipes it, in this order: owners before what they own,
    # so controllers stop re-creating (sandbox.manifests.WIPE_KINDS).
    wipe_order: int | None = None
    # Saved when an idle environment sleeps, and restored tier by tier: a tier's objects refer
    # only to earlier tiers' (sandbox.hibernation.SAVED_KINDS). Never Secrets or RBAC.
    saved_tier: int | None = None

    @property
    def group(self) -> str:
        """The API group ("" for the core group), as RBAC rules name it."""
        return self.api_version.rpartition("/")[0]

    @property
    def prefix(self) -> str:
        """The REST prefix of its group/version: /api/v1 or /apis/<group>/<version>."""
        return (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )


KINDS: tuple[KindInfo, ...] = (
    KindInfo("Namespace", "v1", "namespaces", namespaced=False),
    KindInfo("Node", "v1", "nodes", namespaced=False),
    KindInfo("Pod", "v1", "pods", graded=True, watched=True, wipe_order=5, saved_tier=2),
    KindInfo("Service", "v1", "services", graded=True, watched=True, wipe_order=6, saved_tier=1),
    KindInfo("Endpoints", "v1", "endpoints", graded=True),
    KindInfo(
        "ConfigMap", "v1", "configmaps", graded=True, watched=True, wipe_order=7, saved_tier=0
    ),
    KindInfo("Secret", "v1", "secrets", graded=True),
    KindInfo("PersistentVolumeClaim", "v1", "persistentvolumeclaims", graded=True, saved_tier=0),
    KindInfo("ServiceAccount", "v1", "serviceaccounts", graded=True),
    KindInfo("Event", "v1", "events", wipe_order=8),
    KindInfo("ResourceQuota", "v1", "resourcequotas"),
    KindInfo("LimitRange", "v1", "limitranges"),
    KindInfo("EndpointSlice", "discovery.k8s.io/v1", "endpointslices", graded=True),
    KindInfo(
        "ReplicaSet", "apps/v1", "replicasets", graded=True, watched=True, wipe_order=4,
        saved_tier=3,
    ),
    KindInfo(
        "Deployment", "apps/v1", "deployments", graded=True, watched=True, wipe_order=1,
        saved_tier=3,
    ),
    KindInfo(
        "DaemonSet", "apps/v1", "daemonsets", graded=True, watched=True, wipe_order=2,
        saved_tier=3,
    ),
    KindInfo("StatefulSet", "apps/v1", "statefulsets", graded=True, watched=True, saved_tier=3),
    KindInfo("Job", "batch/v1", "jobs", graded=True, watched=True, wipe_order=3, saved_tier=3),
    KindInfo("CronJob", "batch/v1", "cronjobs", graded=True, watched=True, saved_tier=3),
    KindInfo(
        "HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers", graded=True,
        watched=True, wipe_order=0, saved_tier=4,
    ),
    KindInfo("Ingress", "networking.k8s.io/v1", "ingresses", graded=True, saved_tier=4),
    KindInfo("NetworkPolicy", "networking.k8s.io/v1", "networkpolicies"),
    KindInfo("Role", "rbac.authorization.k8s.io/v1", "roles"),
    KindInfo("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings"),
    KindInfo("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", namespaced=False),
    KindInfo(
        "ClusterRoleBinding", "rbac.authorization.k8s.io/v1", "clusterrolebindings",
        namespaced=False,
    ),
)  # fmt: skip

_BY_KIND = {info.kind: info for info in KINDS}
_BY_VERSION_KIND = {(info.api_version, info.kind): info for info in KINDS}
assert len(_BY_KIND) == len(KINDS), "a kind is listed twice"

# The kinds a lab's checks may read, by name (labs.spec refuses others, naming these).
GRADED: frozenset[str] = frozenset(info.kind for info in KINDS if info.graded)
WATCHED: tuple[str, ...] = tuple(info.kind for info in KINDS if info.watched)
# Wiped on reset, in order.
WIPED: tuple[KindInfo, ...] = tuple(
    sorted((i for i in KINDS if i.wipe_order is not None), key=lambda i: i.wipe_order or 0)
)
# Saved on sleep, tier by tier (the order within a tier only makes it the same every time).
SAVED: tuple[KindInfo, ...] = tuple(
    sorted((i for i in KINDS if i.saved_tier is not None), key=lambda i: i.saved_tier or 0)
)


def kind_get(kind: str, api_version: str | None = None) -> KindInfo:
    """The kind's entry; ValueError naming it when kubelab does not know it (or not in that
    group/version)."""
    found = _BY_KIND.get(kind) if api_version is None else _BY_VERSION_KIND.get((api_version, kind))
    if found is None:
        where = f" ({api_version})" if api_version else ""
        raise ValueError(f"k8s does not know {kind}{where}")
    return found


def resource_path(
    *, api_version: str, kind: str, namespace: str | None = None, name: str | None = None
) -> str:
    """The REST path of a kind (collection) or of one object."""
    info = kind_get(kind, api_version)
    base = info.prefix
    if info.namespaced:
        if not namespace:
            raise ValueError(f"{kind} is namespaced: give a namespace")
        base += f"/namespaces/{namespace}"
    path = f"{base}/{info.plural}"
    return f"{path}/{name}" if name else path
