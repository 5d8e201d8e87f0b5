"""Learner-environment settings: Django settings if defined, else KUBELAB_SANDBOX_* variables.

Read at call time through kubelab.knobs, so tests and `make run` can change them without
re-importing anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings

from kubelab.knobs import setting_int, setting_str


@dataclass(frozen=True)
class SandboxConfig:
    # Keys namespace names and labels to this install, so installs sharing a cluster never
    # collide or touch each other's namespaces (see sandbox.slugs).
    salt: str
    # An environment nobody has used for this long is torn down (its records stay).
    idle_seconds: int
    # Lifetime of the learner's API tokens (TokenRequest's minimum is 600 s).
    token_seconds: int
    # Pre-provisioned namespaces kept ready for new learners.
    pool_size: int
    # How soon a provisioning that met an unreachable cluster is tried again.
    retry_seconds: int
    # The namespace kubelab itself runs in on Kubernetes: learner pods may never reach it.
    platform_namespace: str = "kubelab"


def _default_salt() -> str:
    # Different databases (dev, tests, another install) get different names by default.
    database = settings.DATABASES["default"]
    source = f"{settings.SECRET_KEY}|{database.get('ENGINE')}|{database.get('NAME')}"
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def sandbox_config() -> SandboxConfig:
    salt = setting_str("KUBELAB_SANDBOX_SALT", _default_salt())
    return SandboxConfig(
        salt=str(salt),
        idle_seconds=setting_int("KUBELAB_SANDBOX_IDLE_SECONDS", 7200, minimum=60),
        token_seconds=setting_int(
            "KUBELAB_SANDBOX_TOKEN_SECONDS", 3600, minimum=600, maximum=86400
        ),
        pool_size=setting_int("KUBELAB_SANDBOX_POOL_SIZE", 3, minimum=0, maximum=1000),
        retry_seconds=setting_int("KUBELAB_SANDBOX_RETRY_SECONDS", 15, minimum=1),
        platform_namespace=str(setting_str("KUBELAB_PLATFORM_NAMESPACE", "kubelab")),
    )
