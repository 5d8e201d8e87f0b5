"""The namespace picture's object details (YAML and events), for the learner's own namespace:
the namespace comes from the learner's environment, never from the request."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

import k8s
from kubelab.limited import limited_response
from kubelab.ratelimit import RateLimited, rate_limit_take
from sandbox.pictures import picture_object_details
from sandbox.selectors import sandbox_get_for_user


def picture_object_response(
    request: HttpRequest, *, namespace: str, viewer_id: int
) -> HttpResponse:
    """The JSON of `?kind=&name=` in `namespace`, which the caller has checked `request.user`
    may see (the learner's own, or a student of an instructor's class)."""
    try:
        rate_limit_take(scope="picture", key=f"user:{viewer_id}")
    except RateLimited as exc:
        return limited_response(request, exc)
    kind, name = request.GET.get("kind", ""), request.GET.get("name", "")
    try:
        details = picture_object_details(namespace=namespace, kind=kind, name=name)
    except k8s.ClusterError as exc:
        return JsonResponse({"error": str(exc)}, status=503)
    if details is None:
        raise Http404("no such object")
    return JsonResponse(details)


@never_cache
@login_required
@require_GET
def picture_object(request: HttpRequest) -> HttpResponse:
    environment = sandbox_get_for_user(user=request.user)
    if environment is None or not environment.namespace:
        raise Http404("no environment")
    return picture_object_response(
        request, namespace=environment.namespace, viewer_id=int(request.user.pk or 0)
    )
