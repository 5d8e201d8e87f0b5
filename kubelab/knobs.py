"""Reading a setting that tests and `make run` may change at call time: the Django setting if
one is defined (tests set it with the `settings` fixture), else the KUBELAB_* variable (read by
kubelab.env, so a malformed one fails with one line naming it), else the default.

The one way kubelab's apps read such settings (accounts.conf, sandbox.conf); settings fixed at
start-up are read once in kubelab/settings.py, with kubelab.env as well."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from kubelab.env import env_bool, env_int, env_str


def _defined(name: str) -> Any:
    return getattr(settings, name, None)


def setting_int(name: str, default: int, *, minimum: int = 0, maximum: int = 2**31) -> int:
    value = _defined(name)
    if value is None:
        return env_int(name, default, minimum=minimum, maximum=maximum)
    return int(value)


def setting_bool(name: str, default: bool) -> bool:
    value = _defined(name)
    return env_bool(name, default) if value is None else bool(value)


def setting_str(name: str, default: str) -> str:
    value = _defined(name)
    return env_str(name, default) if not value else str(value)
