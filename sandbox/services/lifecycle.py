"""A learner environment's life: provision (from the pool, else cold), reset, teardown, culling."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

import k8s
from kubelab.events import user_event_send_now
from sandbox import manifests as m
from sandbox.conf import SandboxConfig, sandbox_config
from sandbox.models import EnvironmentSnapshot, LearnerEnvironment
from sandbox.selectors import sandbox_status_view
from sandbox.services.build import (
    MAX_NAME_ATTEMPTS,
    REJECTED_SENTENCE,
    SUSPENDED_SENTENCES,
    UNAVAILABLE_SENTENCE,
    WIPE_TIMEOUT_SECONDS,
    NameTaken,
    Status,
    environment_build,
    environment_delete,
    environment_spec,
    learner_require,
    namespace_intact,
)
from sandbox.services.holds import (
    environment_held,
    environment_of,
    hold_give,
    hold_take,
)
from sandbox.services.pool import pool_claim
from sandbox.services.sleep import snapshot_restore, snapshot_save
from sandbox.slugs import learner_namespace_name
from sandbox.tasks import sandbox_pool_refill, sandbox_provision_retry

logger = logging.getLogger(__name__)


# --- Learner environments --------------------------------------------------------------------


def _notify(env: LearnerEnvironment) -> None:
    event = {"type": "sandbox.status", **sandbox_status_view(environment=env)}
    user_id = env.user_id

    def send() -> None:
        user_event_send_now(user_id=user_id, event=event)

    # robust: a Redis hiccup must not turn a provisioning into an error page.
    transaction.on_commit(send, robust=True)


def _queue_retry(env: LearnerEnvironment, config: SandboxConfig) -> None:
    env.retry_at = timezone.now() + timedelta(seconds=config.retry_seconds)
    user_id = env.user_id

    def enqueue() -> None:
        try:
            sandbox_provision_retry.apply_async(
                args=[user_id], countdown=config.retry_seconds, retry=False
            )
        except Exception:  # the next page visit after retry_at retries anyway
            logger.warning("could not queue a provisioning retry for user %s", user_id)

    transaction.on_commit(enqueue, robust=True)


def _mark_unavailable(
    env: LearnerEnvironment, exc: k8s.ClusterError, config: SandboxConfig
) -> None:
    if isinstance(exc, k8s.ClusterRejected):
        logger.error("cluster refused provisioning for user %s: %s", env.user_id, exc)
        sentence = REJECTED_SENTENCE
    else:
        logger.warning("cluster unavailable for user %s: %s", env.user_id, exc)
        sentence = UNAVAILABLE_SENTENCE
    env.status = Status.UNAVAILABLE
    env.detail = sentence.format(seconds=config.retry_seconds)
    _queue_retry(env, config)


def _cold_create(env: LearnerEnvironment, config: SandboxConfig) -> None:
    for _ in range(MAX_NAME_ATTEMPTS):
        env.namespace = learner_namespace_name(
            user_id=env.user_id, salt=config.salt, generation=env.generation
        )
        try:
            environment_build(environment_spec(env, config))
        except NameTaken:
            # Still terminating after a teardown, or another install's: move to the next name.
            env.generation += 1
            continue
        env.source = LearnerEnvironment.Source.COLD
        return
    env.namespace = None
    raise k8s.ClusterRejected(
        f"no free namespace name for user {env.user_id} after {MAX_NAME_ATTEMPTS} tries",
        status=409,
        reason="AlreadyExists",
    )


def _provision(env: LearnerEnvironment, config: SandboxConfig) -> None:
    """Give `env` a complete namespace: finish the assigned one, else claim, else create."""
    if env.namespace and env.source == LearnerEnvironment.Source.POOL:
        # Pool namespaces are complete when claimed; only check it is still there.
        if not namespace_intact(env, config):
            env.namespace = None
    elif env.namespace:
        try:
            environment_build(environment_spec(env, config))
        except NameTaken:
            env.namespace = None
    if env.namespace is None and not pool_claim(environment=env):
        _cold_create(env, config)
    now = timezone.now()
    env.status = Status.READY
    env.detail = ""
    env.ready_at = now
    env.retry_at = None
    env.provisionings += 1


def sandbox_provision(*, user: Any) -> LearnerEnvironment:
    """The learner's environment, ready if at all possible: the main entry point.

    Idempotent and cheap when the environment is ready (one GET proves the namespace is still
    there). A namespace deleted behind kubelab's back is replaced transparently. When the cluster
    cannot be reached the environment comes back `unavailable` with a sentence to show; nothing
    is raised for cluster trouble.
    """
    learner_require(user)
    config = sandbox_config()
    pk = environment_of(user).pk
    token = hold_take(pk)
    if token is None:
        # Another process is working on it (a retry, a reset): show where it stands.
        logger.warning("provisioning for user %s found the environment busy", user.pk)
        return LearnerEnvironment.objects.get(pk=pk)
    try:
        return _provision_held(LearnerEnvironment.objects.get(pk=pk), config)
    finally:
        hold_give(pk, token)


def _provision_held(env: LearnerEnvironment, config: SandboxConfig) -> LearnerEnvironment:
    before = (env.status, env.namespace)
    env.last_active_at = timezone.now()
    try:
        if env.status == Status.READY and env.namespace:
            if namespace_intact(env, config):
                env.save(update_fields=["last_active_at"])
                return env
            logger.warning(
                "namespace %s of user %s vanished; provisioning a fresh one",
                env.namespace,
                env.user_id,
            )
            env.namespace = None
        elif (
            env.status == Status.UNAVAILABLE
            and env.retry_at is not None
            and timezone.now() < env.retry_at
        ):
            env.save(update_fields=["last_active_at"])
            return env
        _provision(env, config)
        snapshot = EnvironmentSnapshot.objects.filter(environment=env).first()
        if snapshot is not None:
            env.detail = snapshot_restore(env, snapshot)
    except k8s.ClusterError as exc:
        _mark_unavailable(env, exc, config)
    env.save()
    if (env.status, env.namespace) != before:
        _notify(env)
    if env.source == LearnerEnvironment.Source.POOL and env.namespace != before[1]:
        # A slot was freed: refill it (once any transaction around this call commits).
        transaction.on_commit(_pool_refill_soon, robust=True)
    return env


def _pool_refill_soon() -> None:
    try:
        sandbox_pool_refill.apply_async(retry=False)
    except Exception:  # the beat schedule refills anyway
        logger.warning("could not queue a pool refill")


def sandbox_notice_take(*, user: Any) -> str | None:
    """The sentence a ready environment holds for its learner (what a wake restored), once.

    The terminal prints it above the first prompt; taking it clears it, so the next shell
    starts quietly. A ready environment's detail is empty otherwise."""
    found = (
        LearnerEnvironment.objects.filter(user_id=user.pk, status=Status.READY)
        .exclude(detail="")
        .values_list("pk", "detail")
        .first()
    )
    if found is None:
        return None
    pk, detail = found
    taken = LearnerEnvironment.objects.filter(pk=pk, detail=detail).update(detail="")
    return str(detail) if taken else None


def sandbox_touch(*, user: Any) -> None:
    """Record activity (terminal input, page visits) so the environment is not culled."""
    LearnerEnvironment.objects.filter(user_id=user.pk).update(last_active_at=timezone.now())


def _wipe_selector(kind: m.Kind) -> str | None:
    if kind.kind == "ConfigMap":
        return ",".join(f"metadata.name!={name}" for name in m.KEEP_CONFIGMAPS)
    return None


def _leftovers(namespace: str) -> dict[m.Kind, list[dict[str, Any]]]:
    found = {}
    for kind in m.WIPE_KINDS:
        if kind.kind == "Event":  # controllers keep reporting the deletions themselves
            continue
        items = k8s.objects_query(
            api_version=kind.api_version,
            kind=kind.kind,
            namespace=namespace,
            field_selector=_wipe_selector(kind),
        )
        if items:
            found[kind] = items
    return found


def _namespace_wipe(namespace: str) -> None:
    """Delete everything a learner can create, owners first, until nothing is left."""
    deadline = time.monotonic() + WIPE_TIMEOUT_SECONDS
    kinds = list(m.WIPE_KINDS)
    while True:
        for kind in kinds:
            k8s.objects_delete_collection(
                api_version=kind.api_version,
                kind=kind.kind,
                namespace=namespace,
                field_selector=_wipe_selector(kind),
                grace_period_seconds=0,
            )
        left = _leftovers(namespace)
        if not left:
            return
        if time.monotonic() > deadline:
            names = {kind.kind: len(items) for kind, items in left.items()}
            raise k8s.ClusterUnavailable(f"reset of {namespace}: objects remain: {names}")
        for kind, items in left.items():
            # Finalizers (e.g. Jobs' pod tracking) would hold deleted objects indefinitely.
            for item in items:
                if item["metadata"].get("finalizers"):
                    k8s.object_patch(
                        api_version=kind.api_version,
                        kind=kind.kind,
                        name=item["metadata"]["name"],
                        namespace=namespace,
                        patch={"metadata": {"finalizers": None}},
                    )
        kinds = [kind for kind in m.WIPE_KINDS if kind in left]
        time.sleep(0.05)


def sandbox_reset(*, user: Any) -> LearnerEnvironment:
    """Wipe the learner's namespace and restore its setup; progress records are untouched.

    The namespace (and so the learner's open terminal and kubeconfig) stays the same.
    """
    env = sandbox_provision(user=user)
    if env.status != Status.READY:
        return env
    config = sandbox_config()
    with environment_held(env.pk) as env:
        # A reset means "start fresh": nothing saved comes back after it.
        EnvironmentSnapshot.objects.filter(environment=env).delete()
        env.detail = ""
        try:
            if not env.namespace or not namespace_intact(env, config):
                env.namespace = None
                _provision(env, config)
            else:
                _namespace_wipe(env.namespace)
                environment_build(environment_spec(env, config))
            env.resets += 1
            env.last_active_at = timezone.now()
        except k8s.ClusterError as exc:
            _mark_unavailable(env, exc, config)
        except NameTaken:
            env.namespace = None
            env.status = Status.PROVISIONING
        env.save()
        _notify(env)
    return env


def _teardown_held(env: LearnerEnvironment, *, reason: str) -> str | None:
    """Delete the namespace; for "idle", save the learner's objects first (sleep).

    Raises ClusterError before deleting anything when the objects cannot be read: a learner's
    work is never lost silently.
    """
    namespace = env.namespace
    detail = SUSPENDED_SENTENCES.get(reason, SUSPENDED_SENTENCES["teardown"])
    if reason == "idle" and namespace:
        detail = snapshot_save(env, namespace)
    elif reason != "idle":
        # An explicit teardown means "start fresh": nothing saved comes back after it.
        EnvironmentSnapshot.objects.filter(environment=env).delete()
    if namespace:
        environment_delete(namespace)
    env.namespace = None
    env.status = Status.SUSPENDED
    env.detail = detail
    env.retry_at = None
    env.token_expires_at = None
    env.save()
    _notify(env)
    return namespace


def sandbox_teardown(*, user: Any, reason: str = "teardown") -> str | None:
    """Delete the learner's namespace (its tokens die with its ServiceAccount); returns it.

    Raises ClusterUnavailable if the cluster cannot be reached (nothing is changed then).
    """
    found = LearnerEnvironment.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    if found is None:
        return None
    with environment_held(found) as env:
        return _teardown_held(env, reason=reason)


def sandbox_cull_idle(*, now: datetime | None = None) -> list[str]:
    """Tear down every environment idle for longer than the limit; returns their namespaces."""
    config = sandbox_config()
    cutoff = (now or timezone.now()) - timedelta(seconds=config.idle_seconds)
    idle = LearnerEnvironment.objects.filter(
        namespace__isnull=False, last_active_at__lt=cutoff
    ).values_list("pk", flat=True)
    culled: list[str] = []
    for pk in list(idle):
        # No waiting: an environment someone is working on is not idle.
        token = hold_take(pk, wait_seconds=0)
        if token is None:
            continue
        try:
            env = LearnerEnvironment.objects.get(pk=pk)
            if env.namespace is None or env.last_active_at >= cutoff:
                continue  # came back in the meantime
            try:
                namespace = _teardown_held(env, reason="idle")
            except k8s.ClusterUnavailable as exc:
                logger.warning("culling stopped, cluster unavailable: %s", exc)
                break
            except k8s.ClusterRejected as exc:
                # Its objects could not be saved: keep the namespace rather than lose them.
                logger.error("not culling %s: %s", env.namespace, exc)
                continue
            if namespace:
                culled.append(namespace)
        finally:
            hold_give(pk, token)
    return culled
