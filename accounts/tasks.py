"""Celery tasks for accounts: thin, idempotent (safe to run twice)."""

from __future__ import annotations

from celery import shared_task

from accounts.services import guests_prune


@shared_task(name="accounts.guests_prune")
def guests_prune_task() -> dict[str, list[str]]:
    """Delete guests unused for KUBELAB_GUEST_DAYS; cluster trouble postpones, never fails."""
    pruned = guests_prune()
    return {"deleted": pruned.deleted, "skipped": pruned.skipped}
