"""The warm pool: ready namespaces built ahead, claimed atomically by new learners."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

import k8s
from sandbox import manifests as m
from sandbox.conf import sandbox_config
from sandbox.models import LearnerEnvironment, PoolNamespace
from sandbox.services.build import (
    NameTaken,
    environment_build,
    environment_delete,
    environment_id_new,
)
from sandbox.slugs import (
    install_label,
    pool_namespace_name,
)

logger = logging.getLogger(__name__)


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
            slot=slot, defaults={"environment_id": environment_id_new()}
        )
        if row.status == PoolNamespace.Status.READY:
            continue
        if row.namespace is None:
            row.namespace = pool_namespace_name(slot_id=row.pk, salt=config.salt)
            row.save(update_fields=["namespace"])
        spec = m.Environment(
            namespace=row.namespace,
            install=install_label(config.salt),
            platform_namespace=config.platform_namespace,
            environment_id=row.environment_id,
            pool=True,
        )
        try:
            environment_build(spec)
        except NameTaken:
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
            environment_delete(row.namespace)
        row.delete()
    return made


def pool_drain() -> int:
    """Delete every pool namespace (they hold no learner data); returns how many."""
    drained = 0
    for row in PoolNamespace.objects.all():
        if row.namespace:
            environment_delete(row.namespace)
        row.delete()
        drained += 1
    return drained
