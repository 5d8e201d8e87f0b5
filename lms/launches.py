"""What a validated launch does in kubelab: the LMS user's account (made on their first launch,
no password), the course's class, the placed link's activity, and where the browser goes."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.translation import gettext as _
from lti_tool.models import LtiContext, LtiMembership, LtiRegistration, LtiResourceLink, LtiUser

from accounts.roles import Role, role_grant, user_has_role
from accounts.services import LMS_USERNAME_PREFIX
from classes.labs import class_lab_values
from classes.models import Classroom
from classes.services import ClassError, classroom_create, classroom_enrol, classroom_update
from labs.library import is_catalog_lab
from lms.models import CourseClass, LinkedActivity, PlatformSite
from lms.protocol import Launch
from lms.roles import teaches
from lms.targets import (
    CUSTOM_KEY,
    Target,
    TargetError,
    newest_version,
    target_check,
    target_parse,
    target_path,
)

logger = logging.getLogger(__name__)

AGS_ENDPOINT = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"


class LaunchNotUsable(Exception):
    """A valid launch kubelab cannot act on (a link that names no activity, a learner sent to
    place content); the message says what to do."""


@dataclass(frozen=True)
class Landing:
    user: Any
    path: str
    frame_origins: tuple[str, ...]
    deep_link: bool = False


def launch_accept(launch: Launch) -> Landing:
    lti_user = launch.library.user
    instructor = teaches(launch.claim("roles") or [])
    user = account_for(lti_user, instructor=instructor)
    classroom = _course_class(launch, user=user, instructor=instructor)
    origins = frame_origins(launch.registration)
    if launch.library.is_deep_link_launch:
        if not instructor:
            raise LaunchNotUsable(_("Only the course's instructors can add kubelab activities."))
        return Landing(user, reverse("lms:deep_link"), origins, deep_link=True)
    if not launch.library.is_resource_launch:
        raise LaunchNotUsable(_("kubelab answers resource-link and deep-linking launches only."))
    activity = activity_for(launch, classroom=classroom, by=user if instructor else None)
    target = target_parse(activity.target)
    if instructor and classroom is not None:
        _roster_refresh(classroom)
        return Landing(user, reverse("classes:detail", args=[classroom.pk]), origins)
    if target.graded:
        from lms.passback import passback_refresh

        # Work done before the link existed (or before the LMS was linked) is owed too.
        passback_refresh(activity=activity, lti_user=lti_user)
    return Landing(user, target_path(target, user=user), origins)


def _roster_refresh(classroom: Classroom) -> None:
    from lms.roster import roster_sync_due, roster_sync_queue

    course = CourseClass.objects.filter(classroom=classroom).first()
    if course is not None and roster_sync_due(course):
        transaction.on_commit(lambda: roster_sync_queue(course.pk), robust=True)


def username_for(lti_user: LtiUser) -> str:
    """Stable and opaque: the same LMS user is always the same account, and nothing about them
    (their LMS id, their name) is in it."""
    digest = hashlib.sha256(f"{lti_user.registration.uuid}\0{lti_user.sub}".encode()).hexdigest()
    return f"{LMS_USERNAME_PREFIX}{digest[:20]}"


def account_for(lti_user: LtiUser, *, instructor: bool) -> Any:
    """The kubelab account of an LMS user, made on first sight (no password: they come in
    through the LMS only). An instructor in any course becomes a kubelab instructor; a role is
    never taken away here (an instructor is a learner in someone else's course)."""
    users = get_user_model().objects
    user = lti_user.auth_user
    if user is None:
        username = username_for(lti_user)
        user = users.filter(username=username).first()
        if user is None:
            user = users.model(username=username)
            user.set_unusable_password()
            _names_copy(user, lti_user)
            try:
                with transaction.atomic():
                    user.save(force_insert=True)
                    role_grant(user=user, role=Role.STUDENT)
            except IntegrityError:  # a second tab's first launch made it a moment ago
                user = users.get(username=username)
        LtiUser.objects.filter(pk=lti_user.pk).update(auth_user=user)
        lti_user.auth_user = user
    elif _names_copy(user, lti_user):
        user.save(update_fields=["first_name", "last_name", "email"])
    if instructor and not user_has_role(user=user, role=Role.INSTRUCTOR):
        role_grant(user=user, role=Role.INSTRUCTOR)
    return user


def _names_copy(user: Any, lti_user: LtiUser) -> bool:
    first = (lti_user.given_name or lti_user.name or "")[:150]
    last = (lti_user.family_name or "")[:150]
    email = (lti_user.email or "")[:254]
    changed = (user.first_name, user.last_name, user.email) != (first, last, email)
    user.first_name, user.last_name, user.email = first, last, email
    return changed


def _course_class(launch: Launch, *, user: Any, instructor: bool) -> Classroom | None:
    context_claim = launch.claim("context") or {}
    if not context_claim.get("id"):
        return None
    context = LtiContext.objects.get(
        deployment=launch.library.deployment, id_on_platform=context_claim["id"]
    )
    return course_class_for(context, user=user, instructor=instructor)


def course_class_for(context: LtiContext, *, user: Any, instructor: bool) -> Classroom | None:
    """The class of an LMS course, made by its first instructor to come in; the user is put in
    it as what the course says they are. A learner who comes first waits in the course's
    membership and is enrolled when the class is made."""
    link = CourseClass.objects.filter(context=context).select_related("classroom").first()
    if link is None:
        if not instructor:
            return None
        name = (context.title or context.label or "LMS course")[:120]
        try:
            with transaction.atomic():
                classroom = classroom_create(owner=user, name=name, labs=[])
                link = CourseClass.objects.create(context=context, classroom=classroom)
        except IntegrityError:  # another instructor's launch made it a moment ago
            link = CourseClass.objects.select_related("classroom").get(context=context)
        else:
            members_enrol_known(link)
    classroom = link.classroom
    if instructor:
        classroom.instructors.add(user)
    else:
        classroom_enrol(classroom=classroom, user=user)
    return classroom


def members_enrol_known(course: CourseClass) -> int:
    """Enrol every learner of the course kubelab already has an account for."""
    enrolled = 0
    memberships = LtiMembership.objects.filter(
        context=course.context, is_active=True, user__auth_user__isnull=False
    ).select_related("user")
    for membership in memberships:
        user = membership.user.auth_user
        if membership.is_instructor or membership.is_administrator:
            course.classroom.instructors.add(user)
        else:
            enrolled += classroom_enrol(classroom=course.classroom, user=user)
    return enrolled


def activity_for(launch: Launch, *, classroom: Classroom | None, by: Any) -> LinkedActivity:
    """The activity of the launched link: what its custom parameter names, and its line item
    (from the launch's AGS claim). The class gets the lab, so its gradebook shows it."""
    claim = launch.claim("resource_link") or {}
    context_claim = launch.claim("context") or {}
    link = LtiResourceLink.objects.get(
        context__deployment=launch.library.deployment,
        context__id_on_platform=context_claim.get("id", ""),
        id_on_platform=claim.get("id", ""),
    )
    custom = launch.claim("custom") or {}
    existing = LinkedActivity.objects.filter(resource_link=link).first()
    text = str(custom.get(CUSTOM_KEY) or (existing.target if existing else ""))
    if not text:
        raise LaunchNotUsable(
            _(
                "This link does not say which kubelab activity it opens. Add it to the course "
                "again through kubelab's picker (deep linking), or give it the custom "
                "parameter kubelab_target=lab:<slug>."
            )
        )
    try:
        target = target_parse(text)
        target_check(target)  # the chapter, lab or exercise must exist
    except TargetError as exc:
        raise LaunchNotUsable(
            _("This link opens something kubelab does not have: %(what)s.") % {"what": exc}
        ) from None
    ags = launch.claims.get(AGS_ENDPOINT) or {}
    lineitem = str(ags.get("lineitem") or "")
    activity, _created = LinkedActivity.objects.update_or_create(
        resource_link=link,
        defaults={"target": str(target), **({"lineitem_url": lineitem} if lineitem else {})},
    )
    if classroom is not None and target.graded:
        class_lab_add(classroom, target, by=by)
    return activity


def class_lab_add(classroom: Classroom, target: Target, *, by: Any) -> None:
    """Put the target's lab in the class (a lab written in the studio: its newest published
    version), unless it is there. Only an instructor's launch adds one."""
    values = class_lab_values(classroom)
    if by is None or any(v.partition("@")[0] == target.slug for v in values):
        return
    worth_lab = target.slug
    if not is_catalog_lab(worth_lab):
        newest = newest_version(worth_lab)
        if newest is None:
            return
        worth_lab = f"{worth_lab}@{newest}"
    try:
        classroom_update(classroom=classroom, name=classroom.name, labs=[*values, worth_lab], by=by)
    except ClassError as exc:
        logger.warning("class %s cannot take %s: %s", classroom.pk, worth_lab, exc)


def frame_origins(registration: LtiRegistration) -> tuple[str, ...]:
    """Who may frame kubelab for this platform's users: the origins of its issuer and auth URL,
    and those an administrator added."""
    found: list[str] = []
    site = PlatformSite.objects.filter(registration=registration).first()
    extra = site.frame_origins.split() if site else []
    for url in (registration.issuer, registration.auth_url, *extra):
        origin = origin_of(url)
        if origin and origin not in found:
            found.append(origin)
    return tuple(found)


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    default = {"http": 80, "https": 443}[parts.scheme]
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}{port}"
