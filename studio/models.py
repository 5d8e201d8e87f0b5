"""The studio's own records: the content tests of a draft (a lab's drafts and versions live in
labs, which grades them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class LabTestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    # The cluster did not answer during the test: it runs again, and nothing is publishable.
    INCONCLUSIVE = "inconclusive", "Inconclusive, retrying"
    GAVE_UP = "gave-up", "Inconclusive"


class LabTest(models.Model):
    """One "Test this lab" run: exactly the content it tested (so a draft edited during the test
    is not the one it vouches for), its progress and its report, step by step."""

    lab = models.ForeignKey("labs.AuthoredLab", on_delete=models.CASCADE, related_name="tests")
    digest = models.CharField(max_length=64)
    spec = models.TextField()
    files = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=16, choices=LabTestStatus.choices, default=LabTestStatus.QUEUED
    )
    done = models.PositiveIntegerField(default=0)  # exercise runs finished
    total = models.PositiveIntegerField(default=0)
    tries = models.PositiveSmallIntegerField(default=0)
    # [{"exercise", "repeat", "ok", "inconclusive", "steps": [{"name", "ok", "detail", ...}]}]
    report = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["lab", "digest", "status"])]

    def __str__(self) -> str:
        return f"test {self.pk} of {self.lab_id}: {self.status}"
