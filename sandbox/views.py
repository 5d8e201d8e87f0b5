"""JSON endpoints for the pages: the learner's environment status, and reset. Thin by design."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

import k8s
from kubelab.access import user_standing
from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, rate_limit_take
from sandbox.pod_ports import PodPortError, pod_port_fetch
from sandbox.selectors import sandbox_denials, sandbox_get_for_user, sandbox_status_view
from sandbox.services import sandbox_provision, sandbox_reset

logger = logging.getLogger(__name__)


def _refused(request: HttpRequest) -> JsonResponse | None:
    standing = user_standing(request.user)
    if standing == "anonymous":
        return JsonResponse(
            {"status": "none", "message": "Log in to get an environment."}, status=401
        )
    if standing == "inactive":
        return JsonResponse({"status": "none", "message": "This account is disabled."}, status=403)
    return None


def _body(request: HttpRequest) -> dict[str, Any]:
    environment = sandbox_get_for_user(user=request.user)
    body = sandbox_status_view(environment=environment)
    try:
        body["denials"] = sandbox_denials(environment=environment)
    except k8s.ClusterError as exc:  # the status itself is what matters; denials are extra
        logger.warning("denials unavailable: %s", exc)
        body["denials"] = []
    return body


@never_cache
@require_GET
def status(request: HttpRequest) -> JsonResponse:
    """The learner's environment, provisioned (or repaired) on the way: never an error page."""
    refused = _refused(request)
    if refused:
        return refused
    sandbox_provision(user=request.user)
    return JsonResponse(_body(request))


@never_cache
@require_POST
def reset(request: HttpRequest) -> HttpResponse:
    """Empty the learner's namespace and restore its setup; progress is kept."""
    refused = _refused(request)
    if refused:
        return refused
    try:
        rate_limit_take(scope="reset", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    sandbox_reset(user=request.user)
    return JsonResponse(_body(request))


@never_cache
@require_GET
def denials(request: HttpRequest) -> HttpResponse:
    """What the cluster refused the learner's controllers, explained (the terminal panel's
    notices on load; live ones come as ``sandbox.denials`` events). Reads only."""
    refused = _refused(request)
    if refused:
        return refused
    try:
        rate_limit_take(scope="denials", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return limited_response(request, exc)
    environment = sandbox_get_for_user(user=request.user)
    try:
        found = sandbox_denials(environment=environment)
    except k8s.ClusterError as exc:
        return JsonResponse({"denials": [], "error": str(exc)}, status=503)
    return JsonResponse({"denials": found})


# What a Pod's page may do in the learner's browser: show itself and submit its own forms (as
# GET, back through this view). No scripts, no plugins, no framing by other sites.
POD_PAGE_POLICY = (
    "sandbox allow-forms allow-same-origin; default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)


@never_cache
def pod_port(request: HttpRequest, pod: str, port: int, rest: str = "") -> HttpResponse:
    """A learner's Pod port in the browser (see sandbox.pod_ports)."""
    refused = _refused(request)
    if refused:
        return refused
    # A link on another site must not drive the learner's Pod (kuard's /healthy/fail flips a
    # probe on a GET): only this site's pages, or the learner's own typing, reach it.
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return HttpResponse(
            _("Open your Pod's page from kubelab: a link from another site may not reach it.")
            + "\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    try:
        rate_limit_take(scope="pod-page", key=f"user:{request.user.pk}")
    except RateLimited as exc:
        return HttpResponse(f"{exc}\n", status=429, content_type="text/plain; charset=utf-8")
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        answer = pod_port_fetch(
            user=request.user,
            pod=pod,
            port=port,
            path=rest,
            query=request.META.get("QUERY_STRING", ""),
            method=request.method or "GET",
            headers=headers,
        )
    except PodPortError as exc:
        response = HttpResponse(f"{exc}\n", status=exc.status, content_type="text/plain")
    except k8s.ClusterUnavailable as exc:
        response = HttpResponse(
            f"The cluster did not answer ({exc}). Try again in a moment.\n",
            status=503,
            content_type="text/plain",
        )
    else:
        response = HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)
        if answer.location:
            response["Location"] = answer.location
    response["Content-Security-Policy"] = POD_PAGE_POLICY
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "same-origin"
    return response
