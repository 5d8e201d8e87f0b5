"""The language of a websocket. LocaleMiddleware does not run on websockets, and Django's
get_language_from_request wants an HttpRequest, so the socket's own headers are read the way it
reads a page's: the language cookie, else Accept-Language, else LANGUAGE_CODE. Every socket
that speaks to a person (the terminal, the namespace picture) asks here."""

from __future__ import annotations

from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie

from django.conf import settings
from django.utils.translation.trans_real import (
    get_supported_language_variant,
    parse_accept_lang_header,
)


def language_from_headers(*, cookie: str, accept_language: str) -> str:
    """The site's language for a client sending these `Cookie` and `Accept-Language` values."""
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie)
    except CookieError:
        jar.clear()
    chosen = jar.get(settings.LANGUAGE_COOKIE_NAME)
    wanted = [chosen.value] if chosen is not None else []
    for code, _quality in parse_accept_lang_header(accept_language):
        if code == "*":
            break
        wanted.append(code)
    for code in wanted:
        try:
            return str(get_supported_language_variant(code))
        except LookupError:
            continue
    return str(settings.LANGUAGE_CODE)


def scope_language(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The language of a websocket, from its scope's `headers` (a header may come twice)."""
    cookies: list[str] = []
    accepted: list[str] = []
    for name, value in headers:
        key = name.decode("latin-1").lower()
        if key == "cookie":
            cookies.append(value.decode("latin-1"))
        elif key == "accept-language":
            accepted.append(value.decode("latin-1"))
    return language_from_headers(cookie="; ".join(cookies), accept_language=",".join(accepted))
