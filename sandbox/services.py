"""Learner environments: provision (from the warm pool, else cold), reset, teardown, idle culling
with sleep and wake (the learner's objects saved, then created again), short-lived credentials,
and the warm pool itself.

Every function here is safe to call again: cluster objects are applied idempotently and database
rows are locked while their environment changes. Cluster trouble never escapes as an exception
from `sandbox_provision`/`sandbox_reset`: the environment is marked `unavailable` with a sentence
for the learner and a retry is queued.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from kubelab.events import user_event_send_now
from sandbox import hibernation, k8s
from sandbox import manifests as m
from sandbox.conf import SandboxConfig, sandbox_config
from sandbox.explain import explain_denial
from sandbox.models import EnvironmentSnapshot, LearnerEnvironment, PoolNamespace
from sandbox.selectors import sandbox_status_view
from sandbox.slugs import (
    install_label,
    learner_namespace_name,
    pool_namespace_name,
    scratch_namespace_name,
)

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


def _require_learner(user: Any) -> None:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        raise SandboxForbidden("only active, logged-in users have environments")


class _NameTaken(Exception):
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
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-k8s")


def _object_put(manifest: dict[str, Any], *, fresh: bool) -> None:
    # In a namespace we just created, a plain create is the cheapest request; anywhere else
    # server-side apply also repairs whatever drifted.
    if fresh:
        obj, _ = k8s.object_create(manifest=manifest)
    else:
        obj = k8s.object_apply(manifest=manifest)
    if manifest["kind"] == "ResourceQuota" and not (obj.get("status") or {}).get("hard"):
        k8s.quota_status_write(manifest=m.quota_status(obj))


def _environment_build(spec: m.Environment) -> dict[str, Any]:
    """Create (or complete, or repair) one environment's objects; returns the Namespace."""
    _platform_ensure()
    namespace, created = k8s.object_create(manifest=m.namespace(spec))
    if not created and not _is_ours(namespace, spec):
        raise _NameTaken(spec.namespace)
    objects = [
        *m.namespaced_objects(spec),
        *m.bindings_outside(spec.namespace, namespace["metadata"]["uid"]),
    ]
    futures = [_executor.submit(_object_put, manifest, fresh=created) for manifest in objects]
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


def _environment_delete(namespace: str) -> None:
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


def _spec(env: LearnerEnvironment, config: SandboxConfig) -> m.Environment:
    assert env.namespace
    return m.Environment(
        namespace=env.namespace,
        install=install_label(config.salt),
        environment_id=env.environment_id,
        learner_id=env.user_id,
    )


def _namespace_intact(env: LearnerEnvironment, config: SandboxConfig) -> bool:
    assert env.namespace
    found = k8s.object_get(api_version="v1", kind="Namespace", name=env.namespace)
    return found is not None and _is_ours(found, _spec(env, config))


def _new_id() -> str:
    return secrets.token_hex(8)


# --- The warm pool ---------------------------------------------------------------------------


def pool_claim(*, environment: LearnerEnvironment) -> bool:
    """Give `environment` a ready pool namespace; False if the pool is empty.

    The row is taken in a transaction of its own (locked, skipping rows other claimers hold,
    and deleted), so no namespace is ever given twice; the namespace is relabelled after that
    commit, never with a database lock held. A relabelling the cluster refuses or cannot answer
    puts the row back and raises, as before.
    """
    while True:
        with transaction.atomic():
            row = (
                PoolNamespace.objects.select_for_update(skip_locked=True)
                .filter(status=PoolNamespace.Status.READY)
                .order_by("id")
                .first()
            )
            if row is None or row.namespace is None:
                return False
            row.delete()
        try:
            patched = k8s.object_patch(
                api_version="v1",
                kind="Namespace",
                name=row.namespace,
                patch=m.namespace_claim_patch(learner_id=environment.user_id),
            )
        except k8s.ClusterError:
            PoolNamespace.objects.create(
                slot=row.slot,
                namespace=row.namespace,
                environment_id=row.environment_id,
                status=PoolNamespace.Status.READY,
            )
            raise
        meta = (patched or {}).get("metadata") or {}
        labels = meta.get("labels") or {}
        if (
            patched is None
            or meta.get("deletionTimestamp")
            or labels.get(m.ENVIRONMENT_LABEL) != row.environment_id
        ):
            logger.warning("pool namespace %s vanished or changed; skipping it", row.namespace)
            continue
        environment.namespace = row.namespace
        environment.environment_id = row.environment_id
        environment.source = LearnerEnvironment.Source.POOL
        return True


def pool_refill() -> int:
    """Fill every free pool slot with a ready namespace; returns how many became ready.

    Safe to run concurrently: slots are unique rows, and building a namespace is idempotent.
    """
    config = sandbox_config()
    made = 0
    for slot in range(config.pool_size):
        row, _ = PoolNamespace.objects.get_or_create(
            slot=slot, defaults={"environment_id": _new_id()}
        )
        if row.status == PoolNamespace.Status.READY:
            continue
        if row.namespace is None:
            row.namespace = pool_namespace_name(slot_id=row.pk, salt=config.salt)
            row.save(update_fields=["namespace"])
        spec = m.Environment(
            namespace=row.namespace,
            install=install_label(config.salt),
            environment_id=row.environment_id,
            pool=True,
        )
        try:
            _environment_build(spec)
        except _NameTaken:
            logger.warning("pool name %s is taken by something else; dropping slot row", spec)
            row.delete()
            continue
        updated = PoolNamespace.objects.filter(
            pk=row.pk, status=PoolNamespace.Status.PROVISIONING
        ).update(status=PoolNamespace.Status.READY, ready_at=timezone.now())
        made += updated
    surplus = PoolNamespace.objects.filter(slot__gte=config.pool_size)
    for row in surplus:
        if row.namespace:
            _environment_delete(row.namespace)
        row.delete()
    return made


def pool_drain() -> int:
    """Delete every pool namespace (they hold no learner data); returns how many."""
    drained = 0
    for row in PoolNamespace.objects.all():
        if row.namespace:
            _environment_delete(row.namespace)
        row.delete()
        drained += 1
    return drained


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
        from sandbox.tasks import sandbox_provision_retry

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
            _environment_build(_spec(env, config))
        except _NameTaken:
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
        if not _namespace_intact(env, config):
            env.namespace = None
    elif env.namespace:
        try:
            _environment_build(_spec(env, config))
        except _NameTaken:
            env.namespace = None
    if env.namespace is None and not pool_claim(environment=env):
        _cold_create(env, config)
    now = timezone.now()
    env.status = Status.READY
    env.detail = ""
    env.ready_at = now
    env.retry_at = None
    env.provisionings += 1


# Longer than any piece of work on one environment (each cluster call times out in seconds);
# a holder that died is overtaken after it. Waiting for another holder gives up after WAIT.
HOLD_SECONDS = 180
HOLD_WAIT_SECONDS = 120


class EnvironmentBusy(k8s.ClusterUnavailable):
    """Another process kept the environment longer than HOLD_WAIT_SECONDS."""


def _hold_take(env_pk: int, *, wait_seconds: float | None = None) -> str | None:
    """Hold the environment against every other holder; the hold's token, or None if busy.

    Work on an environment talks to the cluster for up to seconds. A row lock held that long
    is, on SQLite, a lock on the whole database: every other writer waited, and a class
    arriving together met "database is locked" (bench/soak). So the hold is taken and given
    back by single UPDATEs that commit at once, and the work inside saves in short
    transactions of its own. A holder that died is overtaken once its hold runs out.
    """
    token = secrets.token_hex(8)
    deadline = time.monotonic() + (HOLD_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    pause = 0.02
    while True:
        now = timezone.now()
        taken = (
            LearnerEnvironment.objects.filter(pk=env_pk)
            .filter(Q(held_until__isnull=True) | Q(held_until__lt=now))
            .update(held_until=now + timedelta(seconds=HOLD_SECONDS), held_by=token)
        )
        if taken:
            return token
        if time.monotonic() + pause > deadline:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def _hold_give(env_pk: int, token: str) -> None:
    LearnerEnvironment.objects.filter(pk=env_pk, held_by=token).update(held_until=None, held_by="")


@contextlib.contextmanager
def _environment_held(env_pk: int) -> Iterator[LearnerEnvironment]:
    """The environment, held for the work inside; raises EnvironmentBusy if it cannot be had."""
    token = _hold_take(env_pk)
    if token is None:
        raise EnvironmentBusy(f"environment {env_pk} is busy (held longer than expected)")
    try:
        yield LearnerEnvironment.objects.get(pk=env_pk)
    finally:
        _hold_give(env_pk, token)


def _environment_of(user: Any) -> LearnerEnvironment:
    env, _ = LearnerEnvironment.objects.get_or_create(
        user_id=user.pk, defaults={"environment_id": _new_id()}
    )
    return env


def sandbox_provision(*, user: Any) -> LearnerEnvironment:
    """The learner's environment, ready if at all possible: the main entry point.

    Idempotent and cheap when the environment is ready (one GET proves the namespace is still
    there). A namespace deleted behind kubelab's back is replaced transparently. When the cluster
    cannot be reached the environment comes back `unavailable` with a sentence to show; nothing
    is raised for cluster trouble.
    """
    _require_learner(user)
    config = sandbox_config()
    pk = _environment_of(user).pk
    token = _hold_take(pk)
    if token is None:
        # Another process is working on it (a retry, a reset): show where it stands.
        logger.warning("provisioning for user %s found the environment busy", user.pk)
        return LearnerEnvironment.objects.get(pk=pk)
    try:
        return _provision_held(LearnerEnvironment.objects.get(pk=pk), config)
    finally:
        _hold_give(pk, token)


def _provision_held(env: LearnerEnvironment, config: SandboxConfig) -> LearnerEnvironment:
    before = (env.status, env.namespace)
    env.last_active_at = timezone.now()
    try:
        if env.status == Status.READY and env.namespace:
            if _namespace_intact(env, config):
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
            env.detail = _snapshot_restore(env, snapshot)
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
    from sandbox.tasks import sandbox_pool_refill

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
    with _environment_held(env.pk) as env:
        # A reset means "start fresh": nothing saved comes back after it.
        EnvironmentSnapshot.objects.filter(environment=env).delete()
        env.detail = ""
        try:
            if not env.namespace or not _namespace_intact(env, config):
                env.namespace = None
                _provision(env, config)
            else:
                _namespace_wipe(env.namespace)
                _environment_build(_spec(env, config))
            env.resets += 1
            env.last_active_at = timezone.now()
        except k8s.ClusterError as exc:
            _mark_unavailable(env, exc, config)
        except _NameTaken:
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
        detail = _snapshot_save(env, namespace)
    elif reason != "idle":
        # An explicit teardown means "start fresh": nothing saved comes back after it.
        EnvironmentSnapshot.objects.filter(environment=env).delete()
    if namespace:
        _environment_delete(namespace)
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
    with _environment_held(found) as env:
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
        token = _hold_take(pk, wait_seconds=0)
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
            _hold_give(pk, token)
    return culled


# --- Sleep and wake ----------------------------------------------------------------------------


def _learner_objects(namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Everything of the saved kinds in the namespace, read with platform credentials."""
    found: dict[str, list[dict[str, Any]]] = {}
    for kind in hibernation.SAVED_KIND_NAMES:
        try:
            found.update(k8s.objects_list(namespace=namespace, kinds=[kind]))
        except k8s.ClusterRejected as exc:
            if exc.status != 404:
                raise
            # This cluster does not serve the kind at all, so nothing of it can exist.
    return found


def _snapshot_save(env: LearnerEnvironment, namespace: str) -> str:
    """Save the learner's objects before their namespace goes; the sentence to show them."""
    config = sandbox_config()
    taken = hibernation.snapshot_build(_learner_objects(namespace))
    pending = EnvironmentSnapshot.objects.filter(environment=env).first()
    if pending is not None and not taken.too_large:
        # Slept again before a wake could finish restoring: keep what the earlier sleep saved
        # (unless both together pass the cap; then the newer, complete picture wins).
        merged = hibernation.snapshot_merge(pending.manifests, taken.objects)
        if merged.size_bytes <= hibernation.MAX_SNAPSHOT_BYTES:
            taken = merged
    if taken.objects:
        EnvironmentSnapshot.objects.update_or_create(
            environment=env,
            defaults={
                "taken_at": timezone.now(),
                "idle_seconds": config.idle_seconds,
                "manifests": taken.objects,
                "count": taken.count,
                "size_bytes": taken.size_bytes,
            },
        )
    elif taken.too_large:
        logger.warning(
            "not saving %s of user %s: %s bytes", namespace, env.user_id, taken.size_bytes
        )
        EnvironmentSnapshot.objects.filter(environment=env).delete()
    return hibernation.sleep_sentence(
        taken, idle_seconds=config.idle_seconds, max_bytes=hibernation.MAX_SNAPSHOT_BYTES
    )


def _restore_one(token: str, manifest: dict[str, Any]) -> str | None:
    """Create one saved object as the learner; None, or why the API server refused it."""
    try:
        k8s.object_create_as(token=token, manifest=manifest)
    except k8s.ClusterRejected as exc:
        explained = explain_denial(exc.api_message)
        return explained.sentence if explained else exc.api_message
    return None


def _snapshot_restore(env: LearnerEnvironment, snapshot: EnvironmentSnapshot) -> str:
    """Create the saved objects in the learner's (new) namespace, as the learner; the sentence.

    Runs inline, under the environment's row lock: a restore of about ten objects is a token
    and a few round trips (tiers go one after another, a tier's objects side by side), and the
    learner's terminal must not open on an empty namespace they might start filling by hand.
    Refusals are collected; a cluster that stops answering raises ClusterUnavailable with the
    snapshot kept, and the retry creates again (409 counts as restored).
    """
    assert env.namespace
    token = k8s.service_account_token_create(
        namespace=env.namespace,
        name=m.LEARNER_SERVICE_ACCOUNT,
        expiration_seconds=600,  # TokenRequest's minimum; it only lives for this restore
    ).token
    restored: list[str] = []
    failed: list[tuple[str, str]] = []
    for tier in hibernation.restore_tiers(snapshot.manifests):
        manifests = [hibernation.placed(obj, namespace=env.namespace) for obj in tier]
        futures = [_executor.submit(_restore_one, token, manifest) for manifest in manifests]
        for manifest, future in zip(manifests, futures, strict=True):
            refusal = future.result()  # ClusterUnavailable propagates: retry the whole restore
            if refusal is None:
                restored.append(hibernation.describe(manifest))
            else:
                failed.append((hibernation.describe(manifest), refusal))
    if failed:
        logger.info("restore for user %s: %d refused: %s", env.user_id, len(failed), failed)
    snapshot.delete()
    return hibernation.wake_sentence(
        restored=restored, failed=failed, idle_seconds=snapshot.idle_seconds
    )


def sandbox_orphans_delete(*, min_age_seconds: int = 600) -> list[str]:
    """Delete this install's learner and pool namespaces that no database row points at.

    They appear when a user is deleted (their row goes with them), or when a process dies
    between creating a namespace and committing its row. Young namespaces are left alone: their
    row may simply not be committed yet. Returns the namespaces deleted.
    """
    config = sandbox_config()
    selector = f"{m.MANAGED_BY_LABEL}={m.MANAGED_BY},{m.INSTALL_LABEL}={install_label(config.salt)}"
    known = set(
        LearnerEnvironment.objects.exclude(namespace=None).values_list("namespace", flat=True)
    ) | set(PoolNamespace.objects.exclude(namespace=None).values_list("namespace", flat=True))
    cutoff = timezone.now() - timedelta(seconds=min_age_seconds)
    deleted = []
    for namespace in k8s.objects_query(api_version="v1", kind="Namespace", label_selector=selector):
        meta = namespace.get("metadata") or {}
        labels = meta.get("labels") or {}
        name = str(meta.get("name", ""))
        if name in known or meta.get("deletionTimestamp"):
            continue
        if m.LEARNER_LABEL not in labels and m.POOL_LABEL not in labels:
            continue  # scratch environments belong to whoever made them
        created = datetime.fromisoformat(str(meta["creationTimestamp"]).replace("Z", "+00:00"))
        if created > cutoff:
            continue
        logger.warning("deleting orphaned namespace %s", name)
        _environment_delete(name)
        deleted.append(name)
    return deleted


# --- Credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    namespace: str
    token: str
    expires_at: datetime
    kubeconfig: str


def sandbox_credentials(*, user: Any) -> Credentials:
    """A fresh short-lived token for the learner's ServiceAccount and a kubeconfig around it.

    Raises SandboxNotReady (a ClusterUnavailable) with the sentence to show when the
    environment cannot be made ready. Call again before `expires_at` to refresh.
    """
    env = sandbox_provision(user=user)
    if env.status != Status.READY or not env.namespace:
        raise SandboxNotReady(env.detail or "your environment is not ready yet")
    config = sandbox_config()
    namespace = env.namespace
    try:
        token = k8s.service_account_token_create(
            namespace=namespace,
            name=m.LEARNER_SERVICE_ACCOUNT,
            expiration_seconds=config.token_seconds,
        )
    except k8s.ClusterRejected as exc:
        if exc.status != 404:
            raise
        # The ServiceAccount was deleted behind our back: restore the setup and ask again.
        _environment_build(_spec(env, config))
        token = k8s.service_account_token_create(
            namespace=namespace,
            name=m.LEARNER_SERVICE_ACCOUNT,
            expiration_seconds=config.token_seconds,
        )
    LearnerEnvironment.objects.filter(pk=env.pk).update(token_expires_at=token.expires_at)
    endpoint = k8s.cluster_endpoint()
    kubeconfig = m.learner_kubeconfig(
        server=endpoint.server,
        namespace=namespace,
        token=token.token,
        certificate_authority_data=endpoint.certificate_authority_data,
        insecure_skip_tls_verify=endpoint.insecure_skip_tls_verify,
    )
    return Credentials(
        namespace=namespace,
        token=token.token,
        expires_at=token.expires_at,
        kubeconfig=yaml.safe_dump(kubeconfig, sort_keys=False),
    )


def sandbox_kubeconfig(*, user: Any) -> str:
    """Kubeconfig YAML for the learner's shell: API server, CA, a fresh token, their namespace."""
    return sandbox_credentials(user=user).kubeconfig


# --- Throwaway environments for content tests -------------------------------------------------


@dataclass(frozen=True)
class ScratchEnvironment:
    namespace: str
    kubeconfig: str


def sandbox_scratch_create() -> ScratchEnvironment:
    """A learner-identical environment owned by nobody (labs content tests); delete it after."""
    config = sandbox_config()
    spec = m.Environment(
        namespace=scratch_namespace_name(nonce=secrets.token_hex(5)),
        install=install_label(config.salt),
        environment_id=_new_id(),
    )
    _environment_build(spec)
    token = k8s.service_account_token_create(
        namespace=spec.namespace,
        name=m.LEARNER_SERVICE_ACCOUNT,
        expiration_seconds=config.token_seconds,
    )
    endpoint = k8s.cluster_endpoint()
    kubeconfig = m.learner_kubeconfig(
        server=endpoint.server,
        namespace=spec.namespace,
        token=token.token,
        certificate_authority_data=endpoint.certificate_authority_data,
        insecure_skip_tls_verify=endpoint.insecure_skip_tls_verify,
    )
    return ScratchEnvironment(
        namespace=spec.namespace, kubeconfig=yaml.safe_dump(kubeconfig, sort_keys=False)
    )


def sandbox_scratch_delete(*, namespace: str) -> None:
    _environment_delete(namespace)
