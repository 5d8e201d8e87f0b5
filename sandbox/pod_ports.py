"""Open a learner's Pod port in their browser: an HTTP GET through the API server's port-forward.

The book has you open kuard at http://localhost:8080 after `kubectl port-forward`. A browser tab
cannot reach the learner's terminal sandbox, so kubelab offers /sandbox/pods/<pod>/ports/<port>/
instead: each request is forwarded with the learner's own short-lived token (their RBAC decides,
and only their namespace is ever named), and the answer is handed back with links rewritten
under that prefix. Only GET and HEAD pass: a page cannot make the learner's browser change
anything else through it.
"""

from __future__ import annotations

import http.client
import io
import re
import threading
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from django.utils import timezone

import k8s
from kubelab.ratelimit import RateLimited, rate_limit_take
from sandbox.services import Credentials, sandbox_credentials

__all__ = ["PodPortAnswer", "PodPortError", "pod_port_fetch", "pod_port_prefix"]

POD_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
ANSWER_LIMIT = 4 * 1024 * 1024
TIMEOUT_SECONDS = 20.0
# What a page may ask the Pod for; nothing of the learner's (cookies, auth) is ever passed on.
FORWARDED_HEADERS = ("accept", "accept-language", "user-agent", "if-none-match")
_LINK = re.compile(rb'\b(href|action|src)="/(?!/)')
_POST_FORM = re.compile(rb'(<form\b[^>]*\bmethod=")post"', re.IGNORECASE)


# A page pulls several resources; a TokenRequest and a namespace check for each cost as much as
# the forward itself, so a learner's token is reused while it has this much life left.
TOKEN_REUSE_MARGIN = timedelta(seconds=60)
_tokens: dict[tuple[int, str], Credentials] = {}
_tokens_lock = threading.Lock()


def _credentials(user: Any, *, fresh: bool) -> tuple[Credentials, bool]:
    """The learner's credentials and whether they came from the cache (only this process's
    memory: a token never reaches the database, a log or the browser)."""
    now = timezone.now()
    # The sign-up time too: a database that hands out an id again must not inherit a token.
    key = (user.pk, str(getattr(user, "date_joined", "")))
    if not fresh:
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached is not None and cached.expires_at - now > TOKEN_REUSE_MARGIN:
            return cached, True
    credentials = sandbox_credentials(user=user)
    with _tokens_lock:
        # `stale`, never `key`: reusing the name stored this learner's token under the last
        # pruned learner's key, and served it to them (issue 14).
        for stale in [k for k, c in _tokens.items() if c.expires_at - now <= TOKEN_REUSE_MARGIN]:
            del _tokens[stale]
        _tokens[key] = credentials
    return credentials, False


class PodPortError(Exception):
    """Why a Pod port could not be shown; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PodPortAnswer:
    status: int
    content_type: str
    body: bytes
    location: str | None = None


def pod_port_prefix(*, pod: str, port: int) -> str:
    return f"/sandbox/pods/{pod}/ports/{port}"


def _request_bytes(*, port: int, method: str, target: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: localhost:{port}", "Connection: close"]
    for name in FORWARDED_HEADERS:
        value = headers.get(name)
        if value and "\r" not in value and "\n" not in value:
            lines.append(f"{name.title()}: {value[:512]}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


class _Raw(io.BytesIO):
    def makefile(self, *_args: Any, **_kwargs: Any) -> _Raw:
        return self


def _parse(raw: bytes, *, method: str) -> tuple[int, http.client.HTTPMessage, bytes]:
    response = http.client.HTTPResponse(_Raw(raw), method=method)  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read()
    except (http.client.HTTPException, ValueError) as exc:
        message = f"the Pod answered something that is not HTTP ({exc})"
        raise PodPortError(message, status=502) from exc
    return response.status, response.msg, body


def _rewrite(body: bytes, prefix: str) -> bytes:
    """Keep the page's own links inside the prefix; its forms submit with GET (all we pass)."""
    body = _LINK.sub(lambda m: m.group(1) + b'="' + prefix.encode() + b"/", body)
    return _POST_FORM.sub(rb'\1get"', body)


def _exchange(credentials: Credentials, *, pod: str, port: int, request: bytes) -> bytes:
    return k8s.pod_port_exchange(
        token=credentials.token,
        namespace=credentials.namespace,
        pod=pod,
        port=port,
        request=request,
        limit=ANSWER_LIMIT,
        timeout=TIMEOUT_SECONDS,
    )


def _rejected(exc: k8s.ClusterRejected) -> PodPortError:
    status = 404 if exc.status == 404 else 403 if exc.status == 403 else 502
    return PodPortError(exc.api_message, status=status)


def pod_port_fetch(
    *, user: Any, pod: str, port: int, path: str, query: str, method: str, headers: dict[str, str]
) -> PodPortAnswer:
    """What the learner's Pod `pod` answers on `port` for GET `path`?`query`."""
    if method not in ("GET", "HEAD"):
        raise PodPortError("only GET and HEAD reach a Pod from the browser", status=405)
    if not POD_NAME.match(pod):
        raise PodPortError(f"{pod!r} is not a Pod name", status=404)
    if not 1 <= port <= 65535:
        raise PodPortError(f"{port} is not a port number", status=404)
    target = quote("/" + path.lstrip("/"), safe="/-._~!$&'()*+,;=:@%")
    if query:
        target += "?" + quote(query, safe="=&%+-._~!$'()*,;:@/?")
    request = _request_bytes(port=port, method=method, target=target, headers=headers)
    credentials, cached = _credentials(user, fresh=False)
    try:
        raw = _exchange(credentials, pod=pod, port=port, request=request)
    except k8s.ClusterRejected as exc:
        if not cached:
            raise _rejected(exc) from exc
        # A reused token may be stale (namespace replaced, ServiceAccount recreated): ask anew,
        # but not for every request to a Pod that does not exist (each costs a TokenRequest).
        try:
            rate_limit_take(scope="pod-token", key=f"user:{user.pk}")
        except RateLimited as limited:
            raise PodPortError(str(limited), status=429) from exc
        credentials, _ = _credentials(user, fresh=True)
        try:
            raw = _exchange(credentials, pod=pod, port=port, request=request)
        except k8s.ClusterRejected as again:
            raise _rejected(again) from again
    status, message, body = _parse(raw, method=method)
    content_type = message.get("Content-Type", "application/octet-stream")
    prefix = pod_port_prefix(pod=pod, port=port)
    if content_type.startswith("text/html"):
        body = _rewrite(body, prefix)
    location = message.get("Location")
    if location and location.startswith("/") and not location.startswith("//"):
        location = prefix + location
    elif location:
        location = None  # never send the browser somewhere else
    return PodPortAnswer(status=status, content_type=content_type, body=body, location=location)
