"""Short-lived credentials: a learner's token and the kubeconfig around it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

import k8s
from sandbox import manifests as m
from sandbox.conf import sandbox_config
from sandbox.models import LearnerEnvironment
from sandbox.services.build import SandboxNotReady, Status, environment_build, environment_spec
from sandbox.services.lifecycle import sandbox_provision

logger = logging.getLogger(__name__)


# --- Credentials -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    namespace: str
    token: str
    expires_at: datetime
    kubeconfig: str


def sandbox_credentials(*, user: Any) -> Credentials:
    """A fresh short-lived token for the learner's ServiceAccount and a kubeconfig around it.

    Raises SandboxNotReady (a ClusterUnavailable) with the sentence to show when the
    environment cannot be made ready. Call again before `expires_at` to refresh.
    """
    env = sandbox_provision(user=user)
    if env.status != Status.READY or not env.namespace:
        raise SandboxNotReady(env.detail or "your environment is not ready yet")
    config = sandbox_config()
    namespace = env.namespace
    try:
        token = k8s.service_account_token_create(
            namespace=namespace,
            name=m.LEARNER_SERVICE_ACCOUNT,
            expiration_seconds=config.token_seconds,
        )
    except k8s.ClusterRejected as exc:
        if exc.status != 404:
            raise
        # The ServiceAccount was deleted behind our back: restore the setup and ask again.
        environment_build(environment_spec(env, config))
        token = k8s.service_account_token_create(
            namespace=namespace,
            name=m.LEARNER_SERVICE_ACCOUNT,
            expiration_seconds=config.token_seconds,
        )
    LearnerEnvironment.objects.filter(pk=env.pk).update(token_expires_at=token.expires_at)
    endpoint = k8s.cluster_endpoint()
    kubeconfig = m.learner_kubeconfig(
        server=endpoint.server,
        namespace=namespace,
        token=token.token,
        certificate_authority_data=endpoint.certificate_authority_data,
        insecure_skip_tls_verify=endpoint.insecure_skip_tls_verify,
    )
    return Credentials(
        namespace=namespace,
        token=token.token,
        expires_at=token.expires_at,
        kubeconfig=yaml.safe_dump(kubeconfig, sort_keys=False),
    )


def sandbox_kubeconfig(*, user: Any) -> str:
    """Kubeconfig YAML for the learner's shell: API server, CA, a fresh token, their namespace."""
    return sandbox_credentials(user=user).kubeconfig
