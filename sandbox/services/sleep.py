"""Sleep and wake: a culled environment's objects saved, then created again as the learner."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

import k8s
from sandbox import hibernation
from sandbox import manifests as m
from sandbox.conf import sandbox_config
from sandbox.explain import explain_denial
from sandbox.models import EnvironmentSnapshot, LearnerEnvironment, PoolNamespace
from sandbox.services.build import cluster_calls, environment_delete
from sandbox.slugs import install_label

logger = logging.getLogger(__name__)


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


def snapshot_save(env: LearnerEnvironment, namespace: str) -> str:
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


def snapshot_restore(env: LearnerEnvironment, snapshot: EnvironmentSnapshot) -> str:
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
        futures = [cluster_calls.submit(_restore_one, token, manifest) for manifest in manifests]
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
        environment_delete(name)
        deleted.append(name)
    return deleted
