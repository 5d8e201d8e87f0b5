"""Grading records: one Attempt per learner and exercise, a GradingRun per graded generation, and
the CheckResults (with evidence) of each run; and the labs instructors write in the browser
(AuthoredLab, a draft, and its immutable published LabVersions), which grading reads like the
catalog's files (labs.library)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AttemptStatus(models.TextChoices):
    NOT_CHECKED = "not_checked", "Not checked yet"
    CHECKING = "checking", "Checking"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Not yet"
    INCONCLUSIVE = "inconclusive", "Could not check"


class Trigger(models.TextChoices):
    BUTTON = "button", "Check button"
    WATCH = "watch", "Change in the namespace"
    PAGE = "page", "Page opened"
    INSTRUCTOR = "instructor", "Instructor graded the class"
    DEADLINE = "deadline", "The deadline passed"
    REGRADE = "regrade", "Regraded from the kept evidence"


class Attempt(models.Model):
    """A learner's work on one exercise. Progress (completed_at, hints) outlives every run.

    Generations order grading requests: each trigger bumps ``requested_generation``; a task grades
    the latest requested generation and records it in ``graded_generation`` only when the result
    is conclusive, so duplicate or stale tasks can tell that their work is already done.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    lab = models.SlugField(max_length=63)
    exercise = models.SlugField(max_length=63)
    # Which version of an authored lab the learner works on (labs.library: 0 is the catalog's
    # file, or an author's own draft); set by every request a learner makes, so a class moved
    # to a newer version moves its learners' next gradings, never their past ones.
    lab_version = models.PositiveIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=AttemptStatus.choices, default=AttemptStatus.NOT_CHECKED
    )
    requested_generation = models.PositiveIntegerField(default=0)
    graded_generation = models.PositiveIntegerField(default=0)
    checks_requested = models.PositiveIntegerField(default=0)
    hints_revealed = models.PositiveSmallIntegerField(default=0)
    # The most points any conclusive grading earned (labs.scoring): all of them once completed,
    # else the partial credit of the best run, kept like completion is.
    best_points = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    # What asked for the newest generation, and when (a run copies both: latency, audit).
    last_trigger = models.CharField(max_length=16, choices=Trigger.choices, blank=True)
    requested_at = models.DateTimeField(null=True, blank=True)
    # The namespace watcher grades this attempt on every change until then (page open, button).
    auto_check_until = models.DateTimeField(null=True, blank=True, db_index=True)
    last_run = models.ForeignKey(
        "GradingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "lab", "exercise"], name="labs_attempt_one_per_exercise"
            )
        ]
        indexes = [models.Index(fields=["user", "lab"])]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.lab}/{self.exercise}"

    @property
    def exercise_key(self) -> str:
        return f"{self.lab}/{self.exercise}"


class GradingRun(models.Model):
    """One grading of one generation; retried inconclusive gradings update the same row."""

    attempt = models.ForeignKey(Attempt, on_delete=models.CASCADE, related_name="runs")
    generation = models.PositiveIntegerField()
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=AttemptStatus.choices)
    tries = models.PositiveSmallIntegerField(default=1)
    namespace = models.CharField(max_length=63)
    # The objects the checks looked at (managedFields stripped), kind -> [object]: enough to
    # explain or regrade the result after the namespace is gone.
    evidence = models.JSONField(default=dict)
    requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(auto_now=True)
    duration_ms = models.PositiveIntegerField(default=0)
    points = models.PositiveSmallIntegerField(default=0)  # what this grading earned
    lab_version = models.PositiveIntegerField(default=0)  # the version it graded against
    # A record someone relies on (a deadline's grade): never pruned with the old runs.
    kept = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["attempt", "generation"], name="labs_run_one_per_generation"
            )
        ]

    def __str__(self) -> str:
        return f"run {self.attempt_id}#{self.generation} {self.status}"


class CheckResult(models.Model):
    run = models.ForeignKey(GradingRun, on_delete=models.CASCADE, related_name="results")
    check_id = models.SlugField(max_length=63)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16)  # pass / fail / inconclusive
    message = models.JSONField(default=dict)  # language -> text, for the learner
    detail = models.TextField(blank=True)
    evidence = models.JSONField(default=list)  # references to the objects looked at

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "check_id"], name="labs_result_one_per_check")
        ]

    def __str__(self) -> str:
        return f"{self.check_id}: {self.status}"


class AuthoredLab(models.Model):
    """A lab an instructor writes in the studio: the draft as typed (valid or not), the last
    draft content that validated (what "try it as a learner" grades), and its authors."""

    slug = models.SlugField(max_length=63, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="labs_owned"
    )
    # Always includes the owner: one query answers "may this user edit it".
    authors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="labs_authored")
    draft_spec = models.TextField(blank=True)
    draft_files = models.JSONField(default=dict)  # file name -> text, the lab's files/ folder
    draft_digest = models.CharField(max_length=64, blank=True)
    valid_spec = models.TextField(blank=True)
    valid_files = models.JSONField(default=dict)
    valid_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class LabVersion(models.Model):
    """A published version of an authored lab: never changed once written. Classes choose one;
    every grading names the one it graded against."""

    lab = models.ForeignKey(AuthoredLab, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    spec = models.TextField()
    files = models.JSONField(default=dict)
    digest = models.CharField(max_length=64)
    chapter = models.SlugField(max_length=63)  # the chapter its checklist appears in
    title = models.JSONField(default=dict)  # language -> title, for lists and class settings
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(auto_now_add=True)
    # The content test that made it publishable (studio's LabTest id), for the record.
    tested_by = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["lab", "number"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "number"], name="labs_version_number_once")
        ]

    def __str__(self) -> str:
        return f"{self.lab_id} v{self.number}"
