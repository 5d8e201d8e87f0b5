"""Throwaway environments for content tests (`manage.py labs test`)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import yaml

import k8s
from sandbox import manifests as m
from sandbox.conf import sandbox_config
from sandbox.services.build import environment_build, environment_delete, environment_id_new
from sandbox.slugs import (
    install_label,
    scratch_namespace_name,
)

logger = logging.getLogger(__name__)


# --- Throwaway environments for content tests -------------------------------------------------


@dataclass(frozen=True)
class ScratchEnvironment:
    namespace: str
    kubeconfig: str


def sandbox_scratch_create() -> ScratchEnvironment:
    """A learner-identical environment owned by nobody (labs content tests); delete it after."""
    config = sandbox_config()
    spec = m.Environment(
        namespace=scratch_namespace_name(nonce=secrets.token_hex(5)),
        install=install_label(config.salt),
        platform_namespace=config.platform_namespace,
        environment_id=environment_id_new(),
    )
    environment_build(spec)
    token = k8s.service_account_token_create(
        namespace=spec.namespace,
        name=m.LEARNER_SERVICE_ACCOUNT,
        expiration_seconds=config.token_seconds,
    )
    endpoint = k8s.cluster_endpoint()
    kubeconfig = m.learner_kubeconfig(
        server=endpoint.server,
        namespace=spec.namespace,
        token=token.token,
        certificate_authority_data=endpoint.certificate_authority_data,
        insecure_skip_tls_verify=endpoint.insecure_skip_tls_verify,
    )
    return ScratchEnvironment(
        namespace=spec.namespace, kubeconfig=yaml.safe_dump(kubeconfig, sort_keys=False)
    )


def sandbox_scratch_delete(*, namespace: str) -> None:
    environment_delete(namespace)
