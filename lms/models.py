"""What kubelab keeps about LMSes beyond django-lti's own tables (lti_tool: registrations,
deployments, keys, LTI users, contexts, memberships, resource links): which origins may frame
kubelab for a platform, which kubelab class an LMS course is, what a placed link opens, and every
score owed to an LMS until it has it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from lti_tool.models import LtiContext, LtiRegistration, LtiResourceLink, LtiUser


class PlatformSite(models.Model):
    """kubelab's settings for one registered platform (an LMS)."""

    registration = models.OneToOneField(
        LtiRegistration, on_delete=models.CASCADE, related_name="kubelab_site"
    )
    # Origins allowed to frame kubelab for this platform's users, besides the origins of its
    # issuer and auth URL (Canvas: the school's own domain). Space-separated.
    frame_origins = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"frame origins of {self.registration}"


class CourseClass(models.Model):
    """An LMS course (an LTI context) is one kubelab class."""

    context = models.OneToOneField(LtiContext, on_delete=models.CASCADE, related_name="kubelab")
    classroom = models.OneToOneField(
        "classes.Classroom", on_delete=models.CASCADE, related_name="lms_course"
    )
    roster_synced_at = models.DateTimeField(null=True, blank=True)
    roster_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.context} is class {self.classroom_id}"


class LinkedActivity(models.Model):
    """What a link placed in the LMS opens (lms.targets: a chapter, a lab or one exercise),
    and the gradebook column (line item) its scores go to."""

    resource_link = models.OneToOneField(
        LtiResourceLink, on_delete=models.CASCADE, related_name="kubelab"
    )
    target = models.CharField(max_length=200)  # "lab:pods", "exercise:pods/create-pod", ...
    lineitem_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "linked activities"

    def __str__(self) -> str:
        return f"{self.resource_link} opens {self.target}"


class PassbackState(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENT = "sent", _("in the LMS")
    RETRYING = "retrying", _("the LMS did not answer; retrying")
    REFUSED = "refused", _("the LMS refused it")


class Passback(models.Model):
    """The score one learner has on one linked activity, and whether the LMS has it.

    A new score bumps ``version`` and takes a new ``timestamp``; a send records the version it
    delivered, so a slow send never marks a newer score delivered, and every retry of a score
    carries its first timestamp (platforms drop scores older than the one they hold)."""

    activity = models.ForeignKey(LinkedActivity, on_delete=models.CASCADE, related_name="passbacks")
    lti_user = models.ForeignKey(LtiUser, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score_given = models.FloatField(default=0)
    score_maximum = models.FloatField(default=1)
    completed = models.BooleanField(default=False)
    timestamp = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)
    sent_version = models.PositiveIntegerField(default=0)
    state = models.CharField(
        max_length=16, choices=PassbackState.choices, default=PassbackState.PENDING
    )
    tries = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["activity", "lti_user"], name="lms_passback_once")
        ]
        indexes = [models.Index(fields=["state", "next_try_at"])]

    def __str__(self) -> str:
        return f"{self.score_given}/{self.score_maximum} for {self.lti_user_id}: {self.state}"
