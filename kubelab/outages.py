"""A part kubelab stands on is down: the answer says which, with 503, never a 500 page.

The database (restarting, unreachable, or its disk full) and the broker that carries gradings
are the parts a request can find gone; `/healthz` names them too. The learner's work is never
half-written: every write is a transaction, and the failed one is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as BrokerError

    return (BrokerError,)


def outage_sentence(exc: BaseException) -> str | None:
    """What the person should read for an exception of a missing part, or None for any other."""
    if isinstance(exc, OperationalError) and "disk is full" in str(exc):
        return _(
            "The disk is full, so kubelab saves nothing now. Nothing was lost; try again later."
        )
    if isinstance(exc, (OperationalError, InterfaceError)) or type(exc) is DatabaseError:
        return _("kubelab's database is not answering. Nothing was lost; try again in a minute.")
    if isinstance(exc, _broker_errors()):
        return _("The grading queue is not answering right now; press Check again in a minute.")
    return None


class OutageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        sentence = outage_sentence(exc)
        if sentence is None:
            return None
        logger.error("%s %s: a part is down: %s: %s", request.method, request.path,
                     exc.__class__.__name__, exc)  # fmt: skip
        response: HttpResponse
        if "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse({"error": sentence}, status=503)
        else:
            try:
                response = render(request, "unavailable.html", {"reason": sentence}, status=503)
            except Exception:  # the page itself may need the database (the user, messages)
                response = HttpResponse(
                    sentence + "\n", status=503, content_type="text/plain; charset=utf-8"
                )
        response["Retry-After"] = "30"
        return response
