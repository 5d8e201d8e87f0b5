"""The one module that talks to the `kubernetes` client library: the shared API client, raw
requests, the translation of the library's errors into the gateway's two kinds, and the
port-forward stream. The rest of the gateway (objects, tokens, port-forward exchanges) is
written against the plain functions here, so an import contract can say that nothing else in
kubelab imports `kubernetes`.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from k8s.errors import (
    TEMPORARY_STATUSES,
    ClusterError,
    ClusterRejected,
    ClusterUnavailable,
    status_of,
)

_clients: dict[tuple[str, float], client.ApiClient] = {}
_clients_lock = threading.Lock()


def _kubeconfig_path() -> str:
    return str(settings.KUBELAB_KUBECONFIG)


IN_CLUSTER = "in-cluster"
# Where Kubernetes puts a pod's ServiceAccount token (rotated in place by the kubelet).
IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def api_client() -> client.ApiClient:
    """A shared ApiClient for the configured kubeconfig (or, with KUBELAB_KUBECONFIG=in-cluster,
    the pod's own ServiceAccount), rebuilt when the file or the rotated token changes."""
    path = _kubeconfig_path()
    watched = IN_CLUSTER_TOKEN if path == IN_CLUSTER else Path(path)
    try:
        mtime = watched.stat().st_mtime
    except FileNotFoundError:
        raise ClusterUnavailable(
            f"no kubeconfig at {watched}: start the embedded cluster (cluster/ctl start) "
            "or set KUBELAB_KUBECONFIG"
        ) from None
    key = (path, mtime)
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None:
            return cached
        configuration = client.Configuration()
        try:
            if path == IN_CLUSTER:
                config.load_incluster_config(client_configuration=configuration)
            else:
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


def connection_key() -> str:
    """Names the cluster connection in use; changes when the kubeconfig file does."""
    path = _kubeconfig_path()
    if path == IN_CLUSTER:
        return IN_CLUSTER  # the same cluster for the pod's life, whatever its token
    try:
        return f"{path}@{Path(path).stat().st_mtime_ns}"
    except FileNotFoundError:
        return f"{path}@missing"


def translate_error(exc: Exception, what: str) -> ClusterError:
    """Sort a client exception into temporary or permanent, keeping the API server's message."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        if status == 0 or status in TEMPORARY_STATUSES:
            return ClusterUnavailable(f"{what}: API server answered {status} {exc.reason}")
        body = str(exc.body or "")
        api_status = status_of(body)
        message = str(api_status.get("message") or exc.reason or "")
        return ClusterRejected(
            f"{what}: {status} {message}",
            status=status,
            reason=str(api_status.get("reason") or exc.reason or ""),
            body=body,
        )
    if isinstance(exc, urllib3.exceptions.HTTPError | OSError | TimeoutError):
        return ClusterUnavailable(f"{what}: cluster unreachable ({exc.__class__.__name__})")
    if isinstance(exc, ClusterError):
        return exc
    return ClusterUnavailable(f"{what}: {exc.__class__.__name__}: {exc}")


def timeout() -> float:
    return float(settings.KUBELAB_API_TIMEOUT_SECONDS)


def cluster_version() -> dict[str, Any]:
    """The API server's version, proving it answers with our credentials."""
    try:
        info = client.VersionApi(api_client()).get_code(_request_timeout=timeout())
    except Exception as exc:
        raise translate_error(exc, "get /version") from exc
    return {"git_version": info.git_version, "platform": info.platform}


def raw_get(path: str, query: list[tuple[str, str]], *, timeout: Any) -> Any:
    api = api_client()
    method, url, headers, _body, _post = api.param_serialize(
        "GET",
        path,
        query_params=query,
        header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"],
    )
    response = api.call_api(method, url, header_params=headers, _request_timeout=timeout)
    if not 200 <= int(response.status) < 300:
        body = response.read()
        raise ApiException(status=response.status, reason=response.reason, body=body)
    return response


def request(
    method: str,
    path: str,
    *,
    what: str,
    body: Any = None,
    query: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
    api: client.ApiClient | None = None,
) -> dict[str, Any]:
    """One API request with the configured timeout; the parsed JSON answer, or a ClusterError.

    `api` defaults to the platform's client; `bearer_client` gives a learner's instead."""
    try:
        api = api or api_client()
        request = api.param_serialize(
            method=method,
            resource_path=path,
            query_params=query or [],
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        response = api.call_api(*request, _request_timeout=timeout())
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
    except Exception as exc:
        raise translate_error(exc, what) from exc
    parsed = json.loads(data) if data else {}
    return parsed if isinstance(parsed, dict) else {}


def _bearer_client_new(token: str) -> client.ApiClient:
    """A client that authenticates with `token` alone (see pod_port_exchange for why)."""
    base = api_client().configuration
    configuration = client.Configuration()
    configuration.host = base.host
    configuration.ssl_ca_cert = base.ssl_ca_cert
    configuration.verify_ssl = base.verify_ssl
    configuration.retries = False
    # A bearer token and nothing else: the admin's client certificate must not come along.
    configuration.api_key = {"BearerToken": f"Bearer {token}"}
    return client.ApiClient(configuration)


_bearer_clients: dict[str, client.ApiClient] = {}


def bearer_client(token: str) -> client.ApiClient:
    """A client for the holder of `token` (a learner's ServiceAccount token), kept for reuse."""
    with _clients_lock:
        api = _bearer_clients.get(token)
    if api is None:
        api = _bearer_client_new(token)  # outside the lock: api_client() takes it too
        with _clients_lock:
            if len(_bearer_clients) >= 8:  # tokens are short-lived; keep only recent clients
                _bearer_clients.clear()
            api = _bearer_clients.setdefault(token, api)
    return api


_HANDSHAKE = re.compile(r"Handshake status (\d{3})")


def _handshake_error(exc: ApiException, what: str) -> ClusterError:
    """The websocket client reports an HTTP refusal as status 0 and "Handshake status 403 ...";
    recover the real status and the API server's message."""
    text = str(exc.reason or exc)
    found = _HANDSHAKE.search(text)
    if not found:
        return translate_error(exc, what)
    status = int(found.group(1))
    message, reason, body = text, "", ""
    start = text.find('{"kind":"Status"')
    if start >= 0:
        body = text[start:].splitlines()[0]
        api_status = status_of(body)
        message = str(api_status.get("message") or message)
        reason = str(api_status.get("reason") or "")
    if status in TEMPORARY_STATUSES:
        return ClusterUnavailable(f"{what}: API server answered {status}")
    return ClusterRejected(f"{what}: {status} {message}", status=status, reason=reason, body=body)


def portforward_open(
    *, token: str, namespace: str, pod: str, port: int, timeout: float, what: str
) -> Any:
    """The API server's port-forward stream to one pod port, as the holder of `token`: an
    object with ``socket(port)``, ``error(port)`` and ``close()``."""
    from kubernetes.stream import portforward

    api = client.CoreV1Api(bearer_client(token))
    try:
        return portforward(
            api.connect_get_namespaced_pod_portforward,
            pod,
            namespace,
            ports=str(port),
            _request_timeout=timeout,
        )
    except ApiException as exc:
        raise _handshake_error(exc, what) from exc
    except Exception as exc:
        raise translate_error(exc, what) from exc


def endpoint_configuration() -> Any:
    """The platform client's configuration: its host, CA file and TLS verification."""
    return api_client().configuration
