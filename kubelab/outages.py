"""A part kubelab stands on is down: the answer says which, with 503, never a 500 page.

The database (restarting, unreachable, or its disk full) and the broker that carries gradings
are the parts a request can find gone; `/healthz` names them too. The learner's work is never
half-written: every write is a transaction, and the failed one is rolled back.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)


def _broker_errors() -> tuple[type[BaseException], ...]:
    from kombu.exceptions import OperationalError as BrokerError

    return (BrokerError,)


# PostgreSQL says ENOSPC in words; SQLite says "database or disk is full", but when the disk
# fills while its shared-memory index or a temporary file grows it says only "disk I/O error"
# or "unable to open database file": then the free space decides.
_FULL_DISK_WORDS = ("disk is full", "no space left on device", "could not extend file")
_VAGUE_WORDS = ("disk i/o error", "unable to open database file")
_NEARLY_NOTHING_FREE = 256 * 1024


def _sqlite_file() -> str | None:
    from django.db import connection

    return str(connection.settings_dict["NAME"]) if connection.vendor == "sqlite" else None


def _nearly_nothing_free(path: str) -> bool:
    try:
        stats = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < _NEARLY_NOTHING_FREE


def disk_is_full(exc: BaseException, *, sqlite_file: str | None = None) -> bool:
    """Whether a database error comes from a full disk, whichever words the engine chose;
    `sqlite_file` is the database whose disk to look at (default: Django's, if SQLite)."""
    if not isinstance(exc, OperationalError):
        return False
    words = str(exc).lower()
    if any(marker in words for marker in _FULL_DISK_WORDS):
        return True
    if not any(vague in words for vague in _VAGUE_WORDS):
        return False
    path = sqlite_file or _sqlite_file()
    return path is not None and _nearly_nothing_free(path)


def outage_sentence(exc: BaseException) -> str | None:
    """What the person should read for an exception of a missing part, or None for any other."""
    if disk_is_full(exc):
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
