"""What a learner's kubeconfig is made of: a short-lived ServiceAccount token (TokenRequest;
nothing is stored) and where the API server is and how to trust it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from k8s import client
from k8s.client import translate_error
from k8s.kinds import resource_path


@dataclass(frozen=True)
class Token:
    token: str
    expires_at: datetime


def service_account_token_create(*, namespace: str, name: str, expiration_seconds: int) -> Token:
    """A fresh, time-bound token for a ServiceAccount (TokenRequest API; nothing is stored)."""
    answer = client.request(
        "POST",
        resource_path(api_version="v1", kind="ServiceAccount", namespace=namespace, name=name)
        + "/token",
        what=f"request a token for {namespace}/{name}",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": expiration_seconds},
        },
    )
    status = answer.get("status") or {}
    expires = str(status.get("expirationTimestamp", "")).replace("Z", "+00:00")
    return Token(token=str(status.get("token", "")), expires_at=datetime.fromisoformat(expires))


@dataclass(frozen=True)
class Endpoint:
    """Where the API server is and how to trust it, for kubeconfigs handed to learners."""

    server: str
    certificate_authority_data: str | None
    insecure_skip_tls_verify: bool


def cluster_endpoint() -> Endpoint:
    configuration = client.endpoint_configuration()
    ca_data = None
    if configuration.ssl_ca_cert:
        try:
            ca_data = base64.b64encode(Path(configuration.ssl_ca_cert).read_bytes()).decode()
        except OSError as exc:
            raise translate_error(exc, "read the cluster's CA certificate") from exc
    return Endpoint(
        server=str(configuration.host),
        certificate_authority_data=ca_data,
        insecure_skip_tls_verify=not configuration.verify_ssl,
    )
