"""Site-wide pages: the landing page and the health report."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kubelab.health import health_ok_cached, health_report
from tutorials.selectors import course_chapters


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    # "Try it now" lands on the first chapter: the lesson and a terminal, one click from here.
    chapters = course_chapters()
    start = reverse("tutorials:chapter", args=[chapters[0].slug]) if chapters else "/learn/"
    return render(request, "home.html", {"start_path": start})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """ok or not for anyone (cached, cheap); every part's details for staff and for the holder
    of KUBELAB_HEALTH_TOKEN (`Authorization: Bearer <token>`), since they name internals."""
    if health_details_allowed(request):
        report = health_report()
        return JsonResponse(report, status=200 if report["ok"] else 503)
    ok = health_ok_cached()
    return JsonResponse({"ok": ok}, status=200 if ok else 503)


def health_details_allowed(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_active and user.is_staff:
        return True
    token = getattr(settings, "KUBELAB_HEALTH_TOKEN", "")
    given = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
