"""The two kinds of trouble the gateway reports, so callers never meet the client's exceptions
(pure): `ClusterUnavailable` (temporary: network, timeouts, 5xx, 429; retry later) and
`ClusterRejected` (permanent: the API server refused the request; report it)."""

from __future__ import annotations

import json
from typing import Any

# Answers that mean "the cluster is busy or restarting", not "no".
TEMPORARY_STATUSES = frozenset({429, 500, 502, 503, 504})


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
        return str(status_of(self.body).get("message") or self)


class WatchExpired(ClusterUnavailable):
    """The watch's resourceVersion is too old (410 Gone): list again, then watch from there."""


def status_of(body: str) -> dict[str, Any]:
    """The API server's Status object from an error body, or {} if the body is not one."""
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}
