"""`guest` in every template: may this visitor start a guest account, is this user a guest."""

from __future__ import annotations

from functools import cached_property

from django.http import HttpRequest

from accounts.conf import guest_config
from accounts.selectors import user_is_guest


class GuestContext:
    """Lazy: a page that never asks costs no query."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def can_start(self) -> bool:
        return not self._request.user.is_authenticated and guest_config().enabled

    @cached_property
    def is_guest(self) -> bool:
        return user_is_guest(user=self._request.user)

    @cached_property
    def days(self) -> int:
        return guest_config().days


def guest(request: HttpRequest) -> dict[str, GuestContext]:
    return {"guest": GuestContext(request)}


class RolesContext:
    """`roles.instructor` in templates (the navigation's Studio link); lazy like GuestContext."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def instructor(self) -> bool:
        from accounts.roles import Role, user_has_role

        user = self._request.user
        return bool(user.is_authenticated) and user_has_role(user=user, role=Role.INSTRUCTOR)


def roles(request: HttpRequest) -> dict[str, RolesContext]:
    return {"roles": RolesContext(request)}


class PreferencesContext:
    """`preferences.screen_reader` in templates (the terminal's mode); lazy like the others."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @cached_property
    def screen_reader(self) -> bool:
        from accounts.preferences import screen_reader_get

        return screen_reader_get(user=self._request.user)


def preferences(request: HttpRequest) -> dict[str, PreferencesContext]:
    return {"preferences": PreferencesContext(request)}
