"""The roles of kubelab, kept as Django groups so the admin can see and assign them."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group, User


class Role(StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"
    # A guest is a student who has not signed up yet (accounts.guests). It is a group, not a
    # model, because it is a kind of account exactly like the other two: durable across
    # sessions and restarts, visible and removable in /admin/, and leaving it (claiming the
    # account) is one row. The account's age and activity are already on the user and its
    # environment, so a model would hold nothing else.
    GUEST = "guest"


class RoleRefused(ValueError):
    """The role cannot be given to this account; the message says why."""


def role_grant(*, user: User, role: Role) -> None:
    if role is Role.INSTRUCTOR and _in_group(user, Role.GUEST):
        raise RoleRefused("a guest account cannot be an instructor; it has to sign up first")
    group, _ = Group.objects.get_or_create(name=role.value)
    group.user_set.add(user)


def role_revoke(*, user: User, role: Role) -> None:
    user.groups.remove(*Group.objects.filter(name=role.value))


def _in_group(user: User, role: Role) -> bool:
    return user.groups.filter(name=role.value).exists()


def user_has_role(*, user: User | AnonymousUser, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if role is Role.INSTRUCTOR and getattr(user, "is_superuser", False):
        return True
    if role is Role.INSTRUCTOR:
        # One query: a guest put in the instructor group by hand in /admin/ still teaches
        # nothing, since nobody would know who is grading their class.
        names = set(
            user.groups.filter(name__in=[Role.INSTRUCTOR, Role.GUEST]).values_list(
                "name", flat=True
            )
        )
        return Role.INSTRUCTOR in names and Role.GUEST not in names
    return user.groups.filter(name=role.value).exists()
