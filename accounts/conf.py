"""Guest-access settings: Django settings if defined, else KUBELAB_GUEST_* variables.

Read at call time through kubelab.knobs, so tests and `make run` can change them without
re-importing anything; a malformed variable fails with one line naming it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubelab.knobs import setting_bool, setting_int


@dataclass(frozen=True)
class GuestConfig:
    # Off hides every "Try it now" button and makes /accounts/guest/ a 404.
    enabled: bool
    # Guest accounts one client address may start per hour (the rest get a 429).
    per_ip_hour: int
    # A guest nobody has used for this many days is deleted with its environment.
    days: int


def guest_config() -> GuestConfig:
    return GuestConfig(
        enabled=setting_bool("KUBELAB_GUEST_ACCESS", True),
        per_ip_hour=setting_int("KUBELAB_GUEST_PER_IP_HOUR", 5, minimum=0, maximum=10_000),
        days=setting_int("KUBELAB_GUEST_DAYS", 7, minimum=1, maximum=3650),
    )
