"""The two roles of kubelab, kept as Django groups so the admin can assign them."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group, User


class Role(StrEnum):
    STUDENT = "student"
    INSTRUCTOR = "instructor"


def role_grant(*, user: User, role: Role) -> None:
    group, _ = Group.objects.get_or_create(name=role.value)
    group.user_set.add(user)


def user_has_role(*, user: User | AnonymousUser, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if role is Role.INSTRUCTOR and getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name=role.value).exists()
