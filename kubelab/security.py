"""The site's Content Security Policy: only this site's scripts, no inline script, no framing."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

# Styles may be inline: xterm.js writes its theme into a <style>. Scripts never: every page
# script is a file under /static/. connect-src 'self' covers this origin's websockets (CSP 3).
SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class ContentSecurityPolicyMiddleware:
    """SITE_POLICY on every answer that does not bring its own (a Pod's page has a stricter one;
    the admin's pages keep Django's inline scripts working with theirs)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response and not request.path.startswith("/admin/"):
            response["Content-Security-Policy"] = SITE_POLICY
        return response
