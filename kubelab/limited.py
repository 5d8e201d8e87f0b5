"""The answer to a request over a rate limit: 429 with a sentence and Retry-After."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from kubelab.ratelimit import RateLimited


def limited_response(request: HttpRequest, error: RateLimited) -> HttpResponse:
    """JSON for the page's fetches (they show `error` where the result would be), a page else."""
    response: HttpResponse
    if "application/json" in request.headers.get("Accept", ""):
        response = JsonResponse({"error": str(error), "retry_after": error.retry_after}, status=429)
    else:
        response = render(request, "ratelimited.html", {"reason": str(error)}, status=429)
    response["Retry-After"] = str(error.retry_after)
    return response
