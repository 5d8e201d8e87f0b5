"""Roster sync (Names and Role Provisioning Services): the LMS course's members become the
class's students and instructors, with kubelab accounts made for those who never launched."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from lti_tool.models import LtiUser

from classes.services import classroom_enrol
from lms.launches import account_for
from lms.models import CourseClass
from lms.protocol import LmsRefused, LmsUnavailable, members_fetch
from lms.roles import teaches


@dataclass(frozen=True)
class RosterSynced:
    members: int = 0
    enrolled: int = 0
    error: str = ""

    @property
    def summary(self) -> str:
        if self.error:
            return f"roster not synced: {self.error}"
        return f"{self.members} members, {self.enrolled} newly enrolled"


def roster_sync(*, course_id: int) -> RosterSynced:
    course = (
        CourseClass.objects.select_related("context__deployment__registration", "classroom")
        .filter(pk=course_id)
        .first()
    )
    if course is None:
        return RosterSynced(error="the course is no longer linked")
    context = course.context
    if not context.memberships_url:
        error = "the LMS offers no roster for this course (no Names and Roles service)"
        CourseClass.objects.filter(pk=course.pk).update(roster_error=error)
        return RosterSynced(error=error)
    registration = context.deployment.registration
    try:
        members = members_fetch(registration=registration, memberships_url=context.memberships_url)
    except (LmsUnavailable, LmsRefused) as exc:
        CourseClass.objects.filter(pk=course.pk).update(roster_error=str(exc)[:1000])
        return RosterSynced(error=str(exc))
    # django-lti keeps the memberships (and marks the inactive); kubelab accounts follow them.
    context.update_memberships(members)
    active = {str(m.get("user_id")): m for m in members if m.get("status", "Active") == "Active"}
    enrolled = 0
    classroom = course.classroom
    for lti_user in LtiUser.objects.filter(registration=registration, sub__in=list(active)):
        instructor = teaches(active[lti_user.sub].get("roles") or [])
        user = account_for(lti_user, instructor=instructor)
        if instructor:
            classroom.instructors.add(user)
        else:
            enrolled += classroom_enrol(classroom=classroom, user=user)
    CourseClass.objects.filter(pk=course.pk).update(
        roster_synced_at=timezone.now(), roster_error=""
    )
    return RosterSynced(members=len(members), enrolled=enrolled)


def roster_sync_queue(course_id: int) -> None:
    from labs.services import grading_queue
    from lms.tasks import roster_sync_task

    roster_sync_task.apply_async(args=(course_id,), queue=grading_queue())


def roster_sync_due(course: CourseClass, *, every_seconds: int = 600) -> bool:
    """An instructor's launch syncs the roster, at most every ten minutes."""
    synced = course.roster_synced_at
    return synced is None or (timezone.now() - synced).total_seconds() > every_seconds
