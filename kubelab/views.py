"""Site-wide pages: the landing page and the health report."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from kubelab.health import health_report
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
    report = health_report()
    return JsonResponse(report, status=200 if report["ok"] else 503)
