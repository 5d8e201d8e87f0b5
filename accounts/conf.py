"""Guest-access settings: Django settings if defined, else KUBELAB_GUEST_* variables.

Read at call time (as sandbox.conf does), so tests and `make run` can change them without
re-importing anything; a malformed variable fails with one line naming it (kubelab.env).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from kubelab.env import env_bool, env_int


@dataclass(frozen=True)
class GuestConfig:
    # Off hides every "Try it now" button and makes /accounts/guest/ a 404.
    enabled: bool
    # Guest accounts one client address may start per hour (the rest get a 429).
    per_ip_hour: int
    # A guest nobody has used for this many days is deleted with its environment.
    days: int


def _setting(name: str) -> Any:
    return getattr(settings, name, None)


def guest_config() -> GuestConfig:
    enabled = _setting("KUBELAB_GUEST_ACCESS")
    per_ip_hour = _setting("KUBELAB_GUEST_PER_IP_HOUR")
    days = _setting("KUBELAB_GUEST_DAYS")
    return GuestConfig(
        enabled=env_bool("KUBELAB_GUEST_ACCESS", True) if enabled is None else bool(enabled),
        per_ip_hour=(
            env_int("KUBELAB_GUEST_PER_IP_HOUR", 5, minimum=0, maximum=10_000)
            if per_ip_hour is None
            else int(per_ip_hour)
        ),
        days=(
            env_int("KUBELAB_GUEST_DAYS", 7, minimum=1, maximum=3650) if days is None else int(days)
        ),
    )
