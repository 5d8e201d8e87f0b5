"""Learner environments (one namespace per learner) and the warm pool of ready namespaces."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class LearnerEnvironment(models.Model):
    """A learner's namespace on the cluster. Progress records live elsewhere and outlive it."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "provisioning"
        READY = "ready", "ready"
        # Torn down (idle, or by an admin); provisioned again, transparently, on the next visit.
        SUSPENDED = "suspended", "suspended"
        # The cluster could not be reached or refused us; a retry is scheduled.
        UNAVAILABLE = "unavailable", "unavailable"

    class Source(models.TextChoices):
        COLD = "cold", "created on demand"
        POOL = "pool", "claimed from the warm pool"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learner_environment"
    )
    # Set while a namespace is assigned; None once it is torn down.
    namespace = models.CharField(max_length=63, unique=True, null=True, blank=True)
    # Bumped when the deterministic name is taken by something that is not this environment.
    generation = models.PositiveIntegerField(default=0)
    # Random; written as a label on the namespace so kubelab only ever adopts its own namespace.
    environment_id = models.CharField(max_length=32)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.COLD)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    # One sentence for the learner when the status is not `ready`.
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    last_active_at = models.DateTimeField(default=timezone.now, db_index=True)
    token_expires_at = models.DateTimeField(null=True, blank=True)
    # While unavailable: the cluster is not asked again before this time (a retry is queued).
    retry_at = models.DateTimeField(null=True, blank=True)
    resets = models.PositiveIntegerField(default=0)
    provisionings = models.PositiveIntegerField(default=0)
    # Who is working on the environment (provisioning, resetting, tearing down) and until when:
    # a hold taken and given back in transactions of their own, so no database lock is kept
    # while the cluster answers (sandbox.services.holds). A holder that died is
    # overtaken once held_until has passed.
    held_until = models.DateTimeField(null=True, blank=True)
    held_by = models.CharField(max_length=16, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.namespace or '(none)'} for user {self.user_id} ({self.status})"


class PoolNamespace(models.Model):
    """A pre-provisioned namespace waiting for a learner; deleted from here once claimed."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "provisioning"
        READY = "ready", "ready"

    # The pool has `pool_size` slots; a slot is free again once its namespace is claimed.
    slot = models.PositiveIntegerField(unique=True)
    namespace = models.CharField(max_length=63, unique=True, null=True, blank=True)
    environment_id = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PROVISIONING, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pool slot {self.slot}: {self.namespace or '(unnamed)'} ({self.status})"


class EnvironmentSnapshot(models.Model):
    """What a learner made in their namespace, saved when it was put to sleep for idleness and
    created again (then deleted) when they return. At most one per environment."""

    environment = models.OneToOneField(
        LearnerEnvironment, on_delete=models.CASCADE, related_name="snapshot"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    # The idle limit in force when it was taken, for the "slept after 2 h" sentence.
    idle_seconds = models.PositiveIntegerField()
    # Cleaned manifests in restore order (sandbox.hibernation), without namespaces.
    manifests = models.JSONField(default=list)
    count = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.count} objects of {self.environment} ({self.taken_at:%Y-%m-%d %H:%M})"
