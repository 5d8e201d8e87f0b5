"""Building a learner environment from its manifests: the platform objects, a namespace that is
ours, and the pieces every other part of the services shares (the errors, the sentences)."""

from __future__ import annotations

import logging
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import k8s
from kubelab.access import user_standing
from sandbox import manifests as m
from sandbox.conf import SandboxConfig
from sandbox.models import LearnerEnvironment
from sandbox.slugs import install_label

logger = logging.getLogger(__name__)


Status = LearnerEnvironment.Status
MAX_NAME_ATTEMPTS = 20
WIPE_TIMEOUT_SECONDS = 20.0

UNAVAILABLE_SENTENCE = (
    "The Kubernetes cluster is unavailable right now; kubelab is retrying every {seconds} s. "
    "Your progress is saved."
)
REJECTED_SENTENCE = (
    "The cluster refused to set up your environment; kubelab is retrying every {seconds} s "
    "and the administrators have been told. Your progress is saved."
)
# "idle" is the fallback only: a culled environment gets hibernation.sleep_sentence, which says
# what was saved ("… What you made in it (3 objects: …) is saved and comes back …").
SUSPENDED_SENTENCES = {
    "idle": "Your environment was put to sleep after a period of inactivity; what you made in it "
    "is saved and comes back as soon as you return.",
    "teardown": "Your environment was removed; a fresh, empty one is made when you return.",
}


class SandboxNotReady(k8s.ClusterUnavailable):
    """The learner's environment is not ready (yet); the message is the sentence to show."""


class SandboxForbidden(Exception):
    """Only active, logged-in users have environments."""


def learner_require(user: Any) -> None:
    if user_standing(user) != "active":
        raise SandboxForbidden("only active, logged-in users have environments")


class NameTaken(Exception):
    """The namespace name exists but is not (or no longer) this environment's."""


# --- Building environments ------------------------------------------------------------------

_platform_lock = threading.Lock()
_platform_applied: set[str] = set()


def _platform_ensure() -> None:
    """Apply the shared roles once per process and cluster connection."""
    key = k8s.connection_key()
    if key in _platform_applied:
        return
    with _platform_lock:
        if key in _platform_applied:
            return
        for manifest in m.platform_objects():
            k8s.object_apply(manifest=manifest)
        _platform_applied.add(key)


def _is_ours(namespace: dict[str, Any], spec: m.Environment) -> bool:
    meta = namespace.get("metadata") or {}
    labels = meta.get("labels") or {}
    return (
        not meta.get("deletionTimestamp")
        and labels.get(m.INSTALL_LABEL) == spec.install
        and labels.get(m.ENVIRONMENT_LABEL) == spec.environment_id
    )


# Objects of one environment are sent side by side: the API server answers each in a few
# milliseconds, so the round trips, not the work, are what a learner would wait for.
cluster_calls = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-k8s")


def _object_put(manifest: dict[str, Any], *, fresh: bool) -> None:
    # In a namespace we just created, a plain create is the cheapest request; anywhere else
    # server-side apply also repairs whatever drifted.
    if fresh:
        obj, _ = k8s.object_create(manifest=manifest)
    else:
        obj = k8s.object_apply(manifest=manifest)
    if manifest["kind"] == "ResourceQuota" and not (obj.get("status") or {}).get("hard"):
        k8s.quota_status_write(manifest=m.quota_status(obj))


def environment_build(spec: m.Environment) -> dict[str, Any]:
    """Create (or complete, or repair) one environment's objects; returns the Namespace."""
    _platform_ensure()
    namespace, created = k8s.object_create(manifest=m.namespace(spec))
    if not created and not _is_ours(namespace, spec):
        raise NameTaken(spec.namespace)
    objects = [
        *m.namespaced_objects(spec),
        *m.bindings_outside(spec.namespace, namespace["metadata"]["uid"]),
    ]
    # Bindings after the roles they name: an account that is not cluster-admin (kubelab's own
    # ServiceAccount on Kubernetes) may bind a role only once the API server can read the role
    # and see that the account holds every right in it.
    bindings = [o for o in objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")]
    for wave in ([o for o in objects if o not in bindings], bindings):
        futures = [cluster_calls.submit(_object_put, manifest, fresh=created) for manifest in wave]
        errors = []
        for future in futures:
            try:
                future.result()
            except k8s.ClusterError as exc:
                errors.append(exc)
        if errors:
            # A refusal says more than a timeout that may be its consequence.
            raise next((e for e in errors if isinstance(e, k8s.ClusterRejected)), errors[0])
    return namespace


def environment_delete(namespace: str) -> None:
    """Delete a namespace and its grants outside it (the garbage collector would, later)."""
    rbac = "rbac.authorization.k8s.io/v1"
    k8s.object_delete(api_version="v1", kind="Namespace", name=namespace)
    k8s.object_delete(api_version=rbac, kind="ClusterRoleBinding", name=m.binding_name(namespace))
    k8s.object_delete(
        api_version=rbac,
        kind="RoleBinding",
        name=m.binding_name(namespace),
        namespace=m.KUBE_SYSTEM,
    )


def environment_spec(env: LearnerEnvironment, config: SandboxConfig) -> m.Environment:
    assert env.namespace
    return m.Environment(
        namespace=env.namespace,
        install=install_label(config.salt),
        platform_namespace=config.platform_namespace,
        environment_id=env.environment_id,
        learner_id=env.user_id,
    )


def namespace_intact(env: LearnerEnvironment, config: SandboxConfig) -> bool:
    """The namespace is still ours; its learner Role is brought up to today's rules if it was
    built before they changed (one apply and one patch, only then)."""
    assert env.namespace
    found = k8s.object_get(api_version="v1", kind="Namespace", name=env.namespace)
    if found is None or not _is_ours(found, environment_spec(env, config)):
        return False
    annotations = (found.get("metadata") or {}).get("annotations") or {}
    if annotations.get(m.RIGHTS_ANNOTATION) != m.learner_rights_version():
        k8s.object_apply(manifest=m.learner_role(env.namespace))
        k8s.object_patch(
            api_version="v1", kind="Namespace", name=env.namespace,
            patch=m.namespace_rights_patch(),
        )  # fmt: skip
    return True


def environment_id_new() -> str:
    return secrets.token_hex(8)
