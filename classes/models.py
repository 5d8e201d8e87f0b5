"""Classes: who teaches them, who joined, which labs they do, and class-wide grading runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Classroom(models.Model):
    """A class an instructor runs. ``instructors`` always includes ``owner`` (one access query)."""

    name = models.CharField(max_length=120)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="classrooms_owned"
    )
    instructors = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="classrooms_taught")
    # Ordered lab slugs (the catalog's, and labs written in the studio), validated on every write.
    labs = models.JSONField(default=list)
    # slug -> published version, for each lab written in the studio (classes.labs).
    lab_versions = models.JSONField(default=dict)
    # Normalised (see classes.codes); unique, so a code names at most one class.
    join_code = models.CharField(max_length=16, unique=True)
    join_open = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="enrollments")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments"
    )
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["classroom", "student"], name="classes_enrollment_once")
        ]

    def __str__(self) -> str:
        return f"{self.student_id} in {self.classroom_id}"


class ClassGradingRun(models.Model):
    """One press of "grade the class now": what was requested, and when it all came back."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="runs")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    requested = models.PositiveIntegerField(default=0)
    # Students without a ready environment, not graded (user ids).
    skipped = models.JSONField(default=list)
    # A regrade of what the last gradings kept (labs.evidence), not a read of the cluster;
    # limited to one lab when ``lab`` is set.
    from_evidence = models.BooleanField(default=False)
    lab = models.SlugField(max_length=63, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["classroom", "finished_at"])]

    def __str__(self) -> str:
        return f"class {self.classroom_id} grading at {self.started_at:%Y-%m-%d %H:%M}"


class ClassGradingRequest(models.Model):
    """One attempt the run asked to grade, and the generation that answers it."""

    run = models.ForeignKey(ClassGradingRun, on_delete=models.CASCADE, related_name="requests")
    attempt = models.ForeignKey("labs.Attempt", on_delete=models.CASCADE, related_name="+")
    generation = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "attempt"], name="classes_request_once")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id}: attempt {self.attempt_id}#{self.generation}"


class Deadline(models.Model):
    """When a lab of a class is due, for every student; an Extension moves it for one."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="deadlines")
    lab = models.SlugField(max_length=63)
    due_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["classroom", "lab"], name="classes_deadline_once")
        ]

    def __str__(self) -> str:
        return f"{self.lab} of class {self.classroom_id} due {self.due_at:%Y-%m-%d %H:%M}"


class Extension(models.Model):
    """One student's own, later deadline for a lab of a class."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="extensions")
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extensions"
    )
    lab = models.SlugField(max_length=63)
    due_at = models.DateTimeField()
    granted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "student", "lab"], name="classes_extension_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.lab} for {self.student_id} due {self.due_at:%Y-%m-%d %H:%M}"


class DeadlineGrade(models.Model):
    """A student's grade on one exercise as of their deadline: the grading asked for when the
    deadline passed (labs.Trigger.DEADLINE), or for an environment asleep then, the last grading
    before it. Its run is kept (never pruned), evidence and all, so the grade can be explained
    and regraded later. Written by classes.deadline_grades."""

    classroom = models.ForeignKey(
        Classroom, on_delete=models.CASCADE, related_name="deadline_grades"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    attempt = models.ForeignKey("labs.Attempt", on_delete=models.CASCADE, related_name="+")
    lab = models.SlugField(max_length=63)
    exercise = models.SlugField(max_length=63)
    due_at = models.DateTimeField()
    # The generation asked for at the deadline; None when the environment was asleep.
    generation = models.PositiveIntegerField(null=True)
    run = models.ForeignKey(
        "labs.GradingRun", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, default="checking")
    points = models.PositiveSmallIntegerField(default=0)
    taken_at = models.DateTimeField(auto_now_add=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "student", "lab", "exercise", "due_at"],
                name="classes_deadline_grade_once",
            )
        ]
        indexes = [models.Index(fields=["classroom", "lab", "due_at"])]

    def __str__(self) -> str:
        return f"{self.lab}/{self.exercise} of {self.student_id} at {self.due_at:%Y-%m-%d %H:%M}"


class HelpRequest(models.Model):
    """A learner's "Ask for help" on one exercise: open (``closed_at`` null) until they cancel
    it or an instructor of a class of theirs marks it helped. Written by classes.help."""

    class Reason(models.TextChoices):
        CANCELLED = "cancelled"  # by the student
        HELPED = "helped"  # by an instructor
        PASSED = "passed"  # the exercise passed: whatever was asked is answered

    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="help_requests"
    )
    lab = models.SlugField(max_length=63)
    exercise = models.SlugField(max_length=63)
    asked_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    closed_reason = models.CharField(max_length=16, blank=True, choices=Reason.choices)

    class Meta:
        constraints = [
            # Closed ones stay as history; a second press while one is open is the same request.
            models.UniqueConstraint(
                fields=["student", "lab", "exercise"],
                condition=models.Q(closed_at__isnull=True),
                name="classes_help_open_once",
            )
        ]

    def __str__(self) -> str:
        state = "open" if self.closed_at is None else self.closed_reason
        return f"{self.lab}/{self.exercise} of {self.student_id}: help {state}"
