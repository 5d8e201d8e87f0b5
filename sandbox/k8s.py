"""The one gateway to the Kubernetes API: every call kubelab makes to a cluster goes through here.

Errors leave this module as one of two kinds, so callers never see `kubernetes` exceptions:
`ClusterUnavailable` (temporary: network, timeouts, 5xx, 429; retry later) and `ClusterRejected`
(permanent: the API server refused the request; report it).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException


class ClusterError(Exception):
    """Base for errors from the cluster gateway."""


class ClusterUnavailable(ClusterError):
    """The cluster could not be reached or is overloaded; the same call may succeed later."""


class ClusterRejected(ClusterError):
    """The API server answered and refused; retrying the same call will not help."""

    def __init__(self, message: str, *, status: int, reason: str = "", body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = body


_TEMPORARY_STATUSES = {429, 500, 502, 503, 504}
_clients: dict[tuple[str, float], client.ApiClient] = {}
_clients_lock = threading.Lock()


def _kubeconfig_path() -> str:
    return str(settings.KUBELAB_KUBECONFIG)


def api_client() -> client.ApiClient:
    """A shared ApiClient for the configured kubeconfig, rebuilt when the file changes."""
    path = _kubeconfig_path()
    try:
        mtime = Path(path).stat().st_mtime
    except FileNotFoundError:
        raise ClusterUnavailable(
            f"no kubeconfig at {path}: start the embedded cluster (cluster/ctl start) "
            "or set KUBELAB_KUBECONFIG"
        ) from None
    key = (path, mtime)
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None:
            return cached
        configuration = client.Configuration()
        try:
            config.load_kube_config(config_file=path, client_configuration=configuration)
        except (ConfigException, OSError, ValueError) as exc:
            raise ClusterRejected(
                f"kubeconfig {path} is not usable: {exc}", status=0, reason="BadKubeconfig"
            ) from exc
        configuration.retries = False
        api = client.ApiClient(configuration)
        _clients.clear()
        _clients[key] = api
        return api


def translate_error(exc: Exception, what: str) -> ClusterError:
    """Sort a client exception into temporary or permanent."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        if status == 0 or status in _TEMPORARY_STATUSES:
            return ClusterUnavailable(f"{what}: API server answered {status} {exc.reason}")
        return ClusterRejected(
            f"{what}: {status} {exc.reason}",
            status=status,
            reason=str(exc.reason or ""),
            body=str(exc.body or ""),
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return ClusterUnavailable(f"{what}: cluster unreachable ({exc.__class__.__name__})")
    if isinstance(exc, ClusterError):
        return exc
    return ClusterUnavailable(f"{what}: {exc.__class__.__name__}: {exc}")


def _timeout() -> float:
    return float(settings.KUBELAB_API_TIMEOUT_SECONDS)


def cluster_version() -> dict[str, Any]:
    """The API server's version, proving it answers with our credentials."""
    try:
        info = client.VersionApi(api_client()).get_code(_request_timeout=_timeout())
    except Exception as exc:
        raise translate_error(exc, "get /version") from exc
    return {"git_version": info.git_version, "platform": info.platform}
