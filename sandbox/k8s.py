"""The one gateway to the Kubernetes API: every call kubelab makes to a cluster goes through here.

Errors leave this module as one of two kinds, so callers never see `kubernetes` exceptions:
`ClusterUnavailable` (temporary: network, timeouts, 5xx, 429; retry later) and `ClusterRejected`
(permanent: the API server refused the request; report it).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
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

    @property
    def api_message(self) -> str:
        """The API server's own sentence (e.g. an admission denial), for sandbox.explain."""
        return str(_status_of(self.body).get("message") or self)


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


def connection_key() -> str:
    """Names the cluster connection in use; changes when the kubeconfig file does."""
    path = _kubeconfig_path()
    try:
        return f"{path}@{Path(path).stat().st_mtime_ns}"
    except FileNotFoundError:
        return f"{path}@missing"


def _status_of(body: str) -> dict[str, Any]:
    """The API server's Status object from an error body, or {} if the body is not one."""
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def translate_error(exc: Exception, what: str) -> ClusterError:
    """Sort a client exception into temporary or permanent, keeping the API server's message."""
    if isinstance(exc, ApiException):
        status = int(exc.status or 0)
        if status == 0 or status in _TEMPORARY_STATUSES:
            return ClusterUnavailable(f"{what}: API server answered {status} {exc.reason}")
        body = str(exc.body or "")
        api_status = _status_of(body)
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


def _timeout() -> float:
    return float(settings.KUBELAB_API_TIMEOUT_SECONDS)


def cluster_version() -> dict[str, Any]:
    """The API server's version, proving it answers with our credentials."""
    try:
        info = client.VersionApi(api_client()).get_code(_request_timeout=_timeout())
    except Exception as exc:
        raise translate_error(exc, "get /version") from exc
    return {"git_version": info.git_version, "platform": info.platform}


# ---------------------------------------------------------------------------------------------
# Reads for grading (used by labs.snapshot and labs.watcher). Objects come back as plain dicts
# shaped exactly like `kubectl get -o json` (camelCase, with kind and apiVersion), so check
# authors can write the JSONPath they would give kubectl.

# kind -> (API group/version prefix, plural resource name)
KIND_PATHS: dict[str, tuple[str, str]] = {
    "Pod": ("/api/v1", "pods"),
    "Service": ("/api/v1", "services"),
    "Endpoints": ("/api/v1", "endpoints"),
    "ConfigMap": ("/api/v1", "configmaps"),
    "Secret": ("/api/v1", "secrets"),
    "PersistentVolumeClaim": ("/api/v1", "persistentvolumeclaims"),
    "ServiceAccount": ("/api/v1", "serviceaccounts"),
    "EndpointSlice": ("/apis/discovery.k8s.io/v1", "endpointslices"),
    "ReplicaSet": ("/apis/apps/v1", "replicasets"),
    "Deployment": ("/apis/apps/v1", "deployments"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "Job": ("/apis/batch/v1", "jobs"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
    "HorizontalPodAutoscaler": ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
    "Ingress": ("/apis/networking.k8s.io/v1", "ingresses"),
}


class WatchExpired(ClusterUnavailable):
    """The watch's resourceVersion is too old (410 Gone): list again, then watch from there."""


def _raw_get(path: str, query: list[tuple[str, str]], *, timeout: Any) -> Any:
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


def _list(path: str, *, kind: str, api_version: str, what: str) -> tuple[list[dict[str, Any]], str]:
    try:
        response = _raw_get(path, [], timeout=_timeout())
        document = json.loads(response.read())
    except Exception as exc:
        raise translate_error(exc, what) from exc
    items = document.get("items") or []
    for item in items:
        # List responses leave kind/apiVersion off the items; kubectl puts them back, so do we.
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", api_version)
    return items, str((document.get("metadata") or {}).get("resourceVersion") or "")


def objects_list(
    *, namespace: str, kinds: list[str] | tuple[str, ...] | set[str] | frozenset[str]
) -> dict[str, list[dict[str, Any]]]:
    """Every object of each kind in one namespace: {"Pod": [...], "Service": [...]}."""
    result: dict[str, list[dict[str, Any]]] = {}
    for kind in sorted(kinds):
        prefix, plural = KIND_PATHS[kind]
        result[kind], _ = _list(
            f"{prefix}/namespaces/{namespace}/{plural}",
            kind=kind,
            api_version=prefix.removeprefix("/api/").removeprefix("/apis/"),
            what=f"list {plural} in {namespace}",
        )
    return result


def nodes_list() -> list[dict[str, Any]]:
    """Every node, with its labels and taints (pods_on_nodes checks need them)."""
    items, _ = _list("/api/v1/nodes", kind="Node", api_version="v1", what="list nodes")
    return items


def objects_list_all_namespaces(*, kind: str) -> tuple[list[dict[str, Any]], str]:
    """All objects of a kind in every namespace, and the list's resourceVersion to watch from."""
    prefix, plural = KIND_PATHS[kind]
    return _list(
        f"{prefix}/{plural}",
        kind=kind,
        api_version=prefix.removeprefix("/api/").removeprefix("/apis/"),
        what=f"list {plural}",
    )


def objects_watch(
    *, kind: str, resource_version: str, timeout_seconds: int = 240
) -> Iterator[dict[str, str]]:
    """Changes to a kind in every namespace, from resource_version on, as small dicts
    ``{"type", "namespace", "name", "resourceVersion"}`` (bookmarks included, so callers can
    resume). Ends after timeout_seconds; raises WatchExpired when the version is too old."""
    prefix, plural = KIND_PATHS[kind]
    query = [
        ("watch", "true"),
        ("allowWatchBookmarks", "true"),
        ("resourceVersion", resource_version),
        ("timeoutSeconds", str(timeout_seconds)),
    ]
    what = f"watch {plural}"
    try:
        response = _raw_get(f"{prefix}/{plural}", query, timeout=(_timeout(), timeout_seconds + 30))
    except Exception as exc:
        raise translate_error(exc, what) from exc
    buffer = b""
    try:
        for chunk in response.response.stream(4096, decode_content=True):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if not line.strip():
                    continue
                event = json.loads(line)
                kind_of_event = str(event.get("type", ""))
                obj = event.get("object") or {}
                if kind_of_event == "ERROR":
                    if obj.get("code") == 410:
                        raise WatchExpired(f"{what}: resourceVersion {resource_version} expired")
                    raise ClusterUnavailable(f"{what}: {obj.get('message', 'watch error')}")
                meta = obj.get("metadata") or {}
                yield {
                    "type": kind_of_event,
                    "namespace": str(meta.get("namespace") or ""),
                    "name": str(meta.get("name") or ""),
                    "resourceVersion": str(meta.get("resourceVersion") or ""),
                }
    except ClusterError:
        raise
    except Exception as exc:
        raise translate_error(exc, what) from exc
    finally:
        response.response.release_conn()


# --- Generic object access -------------------------------------------------------------------
# Objects go in and come out as plain dicts (the API's own JSON), so builders in
# sandbox.manifests and callers never meet the client's model classes.

Obj = dict[str, Any]
FIELD_MANAGER = "kubelab"

# (apiVersion, kind) -> (plural, namespaced): the kinds kubelab itself reads or writes.
_RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "Namespace"): ("namespaces", False),
    ("v1", "Node"): ("nodes", False),
    ("v1", "ServiceAccount"): ("serviceaccounts", True),
    ("v1", "Pod"): ("pods", True),
    ("v1", "Service"): ("services", True),
    ("v1", "ConfigMap"): ("configmaps", True),
    ("v1", "Secret"): ("secrets", True),
    ("v1", "PersistentVolumeClaim"): ("persistentvolumeclaims", True),
    ("v1", "Event"): ("events", True),
    ("v1", "Endpoints"): ("endpoints", True),
    ("v1", "ResourceQuota"): ("resourcequotas", True),
    ("v1", "LimitRange"): ("limitranges", True),
    ("apps/v1", "Deployment"): ("deployments", True),
    ("apps/v1", "ReplicaSet"): ("replicasets", True),
    ("apps/v1", "DaemonSet"): ("daemonsets", True),
    ("apps/v1", "StatefulSet"): ("statefulsets", True),
    ("batch/v1", "Job"): ("jobs", True),
    ("batch/v1", "CronJob"): ("cronjobs", True),
    ("networking.k8s.io/v1", "Ingress"): ("ingresses", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): ("horizontalpodautoscalers", True),
    ("networking.k8s.io/v1", "NetworkPolicy"): ("networkpolicies", True),
    ("rbac.authorization.k8s.io/v1", "Role"): ("roles", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): ("rolebindings", True),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): ("clusterroles", False),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): ("clusterrolebindings", False),
}


def resource_path(
    *, api_version: str, kind: str, namespace: str | None = None, name: str | None = None
) -> str:
    """The REST path of a kind (collection) or of one object."""
    try:
        plural, namespaced = _RESOURCES[(api_version, kind)]
    except KeyError:
        raise ValueError(f"sandbox.k8s does not know {kind} ({api_version})") from None
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced:
        if not namespace:
            raise ValueError(f"{kind} is namespaced: give a namespace")
        base += f"/namespaces/{namespace}"
    path = f"{base}/{plural}"
    return f"{path}/{name}" if name else path


def _manifest_path(manifest: Obj, *, with_name: bool = True) -> str:
    meta = manifest.get("metadata", {})
    return resource_path(
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        namespace=meta.get("namespace"),
        name=meta["name"] if with_name else None,
    )


def _request(
    method: str,
    path: str,
    *,
    what: str,
    body: Any = None,
    query: list[tuple[str, str]] | None = None,
    content_type: str = "application/json",
    api: client.ApiClient | None = None,
) -> Obj:
    """One API request with the configured timeout; the parsed JSON answer, or a ClusterError.

    `api` defaults to the platform's client; `_bearer_client` gives a learner's instead."""
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
        response = api.call_api(*request, _request_timeout=_timeout())
        data = response.read()
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
    except Exception as exc:
        raise translate_error(exc, what) from exc
    parsed = json.loads(data) if data else {}
    return parsed if isinstance(parsed, dict) else {}


def _describe(manifest: Obj) -> str:
    meta = manifest.get("metadata", {})
    where = f" in {meta['namespace']}" if meta.get("namespace") else ""
    return f"{manifest['kind']} {meta.get('name', '')}{where}"


def object_apply(*, manifest: Obj) -> Obj:
    """Server-side apply: creates the object or brings it back to `manifest`; idempotent."""
    return _request(
        "PATCH",
        _manifest_path(manifest),
        what=f"apply {_describe(manifest)}",
        body=manifest,
        query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        content_type="application/apply-patch+yaml",
    )


def object_create(*, manifest: Obj) -> tuple[Obj, bool]:
    """Create; if it already exists, return the existing object. The flag says which happened."""
    try:
        created = _request(
            "POST",
            _manifest_path(manifest, with_name=False),
            what=f"create {_describe(manifest)}",
            body=manifest,
        )
    except ClusterRejected as exc:
        if exc.status != 409:
            raise
        meta = manifest["metadata"]
        existing = object_get(
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            name=meta["name"],
            namespace=meta.get("namespace"),
        )
        if existing is None:  # deleted between the two calls; the caller may simply retry
            raise ClusterUnavailable(f"create {_describe(manifest)}: it vanished mid-way") from exc
        return existing, False
    return created, True


def _bearer_client(token: str) -> client.ApiClient:
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


def object_create_as(*, token: str, manifest: Obj) -> tuple[Obj, bool]:
    """Create as the holder of `token` (a learner's ServiceAccount token), so RBAC, quotas and
    admission decide exactly as for the learner's own `kubectl create`. 409 means it is already
    there, which counts as success (the flag says which); the learner may not be allowed to read
    it back, so nothing is fetched then."""
    with _clients_lock:
        api = _bearer_clients.get(token)
    if api is None:
        api = _bearer_client(token)  # outside the lock: api_client() takes it too
        with _clients_lock:
            if len(_bearer_clients) >= 8:  # tokens are short-lived; keep only recent clients
                _bearer_clients.clear()
            api = _bearer_clients.setdefault(token, api)
    try:
        created = _request(
            "POST",
            _manifest_path(manifest, with_name=False),
            what=f"create {_describe(manifest)}",
            body=manifest,
            api=api,
        )
    except ClusterRejected as exc:
        if exc.status == 409 and exc.reason == "AlreadyExists":
            return {}, False
        raise
    return created, True


def object_get(
    *, api_version: str, kind: str, name: str, namespace: str | None = None
) -> Obj | None:
    """The object, or None if it does not exist."""
    path = resource_path(api_version=api_version, kind=kind, namespace=namespace, name=name)
    try:
        return _request("GET", path, what=f"get {kind} {name}")
    except ClusterRejected as exc:
        if exc.status == 404:
            return None
        raise


def object_patch(
    *, api_version: str, kind: str, name: str, patch: Obj, namespace: str | None = None
) -> Obj | None:
    """JSON merge patch (null deletes a key); None if the object does not exist."""
    path = resource_path(api_version=api_version, kind=kind, namespace=namespace, name=name)
    try:
        return _request(
            "PATCH",
            path,
            what=f"patch {kind} {name}",
            body=patch,
            content_type="application/merge-patch+json",
        )
    except ClusterRejected as exc:
        if exc.status == 404:
            return None
        raise


def object_delete(
    *,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    grace_period_seconds: int | None = None,
) -> bool:
    """Delete (in the background); False if it was already gone, which counts as success."""
    path = resource_path(api_version=api_version, kind=kind, namespace=namespace, name=name)
    options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
    if grace_period_seconds is not None:
        options["gracePeriodSeconds"] = grace_period_seconds
    try:
        _request("DELETE", path, what=f"delete {kind} {name}", body=options)
    except ClusterRejected as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _selectors(label_selector: str | None, field_selector: str | None) -> list[tuple[str, str]]:
    query = []
    if label_selector:
        query.append(("labelSelector", label_selector))
    if field_selector:
        query.append(("fieldSelector", field_selector))
    return query


def objects_query(
    *,
    api_version: str,
    kind: str,
    namespace: str | None = None,
    label_selector: str | None = None,
    field_selector: str | None = None,
) -> list[Obj]:
    path = resource_path(api_version=api_version, kind=kind, namespace=namespace)
    answer = _request(
        "GET", path, what=f"list {kind}", query=_selectors(label_selector, field_selector)
    )
    return list(answer.get("items") or [])


def objects_delete_collection(
    *,
    api_version: str,
    kind: str,
    namespace: str,
    field_selector: str | None = None,
    grace_period_seconds: int | None = None,
) -> None:
    """Delete every object of a kind in a namespace (optionally filtered); idempotent."""
    path = resource_path(api_version=api_version, kind=kind, namespace=namespace)
    query = [*_selectors(None, field_selector), ("propagationPolicy", "Background")]
    if grace_period_seconds is not None:
        query.append(("gracePeriodSeconds", str(grace_period_seconds)))
    _request("DELETE", path, what=f"delete all {kind} in {namespace}", query=query)


def quota_status_write(*, manifest: Obj) -> bool:
    """Write a ResourceQuota's status; False if the quota controller got there first (409)."""
    try:
        _request(
            "PUT",
            _manifest_path(manifest) + "/status",
            what=f"write status of {_describe(manifest)}",
            body=manifest,
        )
    except ClusterRejected as exc:
        if exc.status == 409:
            return False
        raise
    return True


@dataclass(frozen=True)
class Token:
    token: str
    expires_at: datetime


def service_account_token_create(*, namespace: str, name: str, expiration_seconds: int) -> Token:
    """A fresh, time-bound token for a ServiceAccount (TokenRequest API; nothing is stored)."""
    answer = _request(
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
    configuration = api_client().configuration
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
        api_status = _status_of(body)
        message = str(api_status.get("message") or message)
        reason = str(api_status.get("reason") or "")
    if status in _TEMPORARY_STATUSES:
        return ClusterUnavailable(f"{what}: API server answered {status}")
    return ClusterRejected(f"{what}: {status} {message}", status=status, reason=reason, body=body)


def pod_port_exchange(
    *, token: str, namespace: str, pod: str, port: int, request: bytes, limit: int, timeout: float
) -> bytes:
    """Send `request` to a pod's port through the API server's port-forward, authenticated as
    the holder of `token` (so the learner's own RBAC decides), and return what the pod answers
    until it closes the connection, at most `limit` bytes."""
    from kubernetes.stream import portforward

    what = f"forward to port {port} of pod {namespace}/{pod}"
    api = client.CoreV1Api(_bearer_client(token))
    try:
        forward = portforward(
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
    answer = bytearray()
    broken: OSError | None = None
    try:
        sock = forward.socket(port)
        sock.settimeout(timeout)
        sock.sendall(request)
        while len(answer) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except OSError as exc:
        broken = exc
    finally:
        forward.close()
    # The kubelet's refusal (nothing listens, no such port) arrives on the error channel and
    # then closes the stream, so a send may find the pipe broken: the refusal is the answer.
    if not answer and forward.error(port):
        raise ClusterRejected(f"{what}: {forward.error(port)}", status=502, reason="PortForward")
    if broken is not None:
        raise ClusterUnavailable(f"{what}: {broken.__class__.__name__}") from broken
    return bytes(answer[:limit])
