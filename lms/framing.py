"""kubelab inside an LMS's iframe, for those who came in through it.

Everywhere else the site may not be framed (X-Frame-Options DENY, frame-ancestors 'none'). A
session made by an LTI launch remembers which origins its platform frames from; its pages then
allow exactly those as frame-ancestors, and its cookies become SameSite=None; Secure;
Partitioned, so the browser sends them inside the frame (on HTTPS, and on http://localhost,
which browsers treat as secure). Partitioned (CHIPS) is what makes a frame work in browsers that
block third-party cookies (Chrome in incognito and with tracking protection, Debian's chromium
here): such a cookie is kept for this LMS's pages only, never shared with another site's. A
browser that blocks even those gets the pop-out page (templates/lms/cookie_check.html). CSRF
stays enforced: the token and the Origin check do not depend on SameSite."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http.cookies import Morsel

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from lms.protocol import secure_context

FRAME_ORIGINS = "lms_frame_origins"

# Python learns the Partitioned cookie attribute in 3.14; until then it is taught here, as
# pylti1p3 teaches it SameSite.
if "partitioned" not in Morsel._reserved:  # type: ignore[attr-defined]
    Morsel._reserved["partitioned"] = "Partitioned"  # type: ignore[attr-defined]
    Morsel._flags.add("partitioned")  # type: ignore[attr-defined]


def frame_allow(response: HttpResponse, origins: Iterable[str]) -> None:
    """Let ``origins`` (and this site) frame the response."""
    allowed = " ".join(["'self'", *origins])
    if "X-Frame-Options" in response:
        del response["X-Frame-Options"]
    response.xframe_options_exempt = True
    policy = response.get("Content-Security-Policy")
    if policy and "frame-ancestors 'none'" in policy:
        response["Content-Security-Policy"] = policy.replace(
            "frame-ancestors 'none'", f"frame-ancestors {allowed}"
        )
    elif policy is None:
        response["Content-Security-Policy"] = f"frame-ancestors {allowed}"


def _framed_cookie_names() -> tuple[str, ...]:
    return (
        settings.SESSION_COOKIE_NAME,
        settings.CSRF_COOKIE_NAME,
        settings.LANGUAGE_COOKIE_NAME,
        "messages",  # django.contrib.messages' cookie storage
    )


def cookies_for_frames(
    request: HttpRequest, response: HttpResponse, names: Iterable[str] | None = None
) -> None:
    """The response's cookies named ``names`` (the session's, by default), or all whose name
    starts with "lti1p3-" (the login's state), made usable inside the LMS's frame."""
    if not secure_context(request):
        return  # SameSite=None without Secure is refused by browsers: leave them as they are
    wanted = set(names if names is not None else _framed_cookie_names())
    for name, morsel in response.cookies.items():
        if name in wanted or (names is None and name.startswith("lti1p3-")):
            morsel["samesite"] = "None"
            morsel["secure"] = True
            morsel["partitioned"] = True


class FramedSessionMiddleware:
    """Above the session, CSRF, X-Frame-Options and CSP middleware, so it sees the cookies and
    headers they set. The admin's pages are never framed."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = getattr(request, "session", None)
        try:
            origins = session.get(FRAME_ORIGINS) if session is not None else None
        except DatabaseError:
            # The database is away (the answer is already the outage page): not framed.
            origins = None
        if origins and not request.path.startswith("/admin/"):
            frame_allow(response, origins)
            cookies_for_frames(request, response)
        return response
