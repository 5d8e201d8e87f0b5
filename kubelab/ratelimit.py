"""Rate limits shared by every web process: fixed windows counted in Django's cache (Redis).

A limit is a scope ("signup", "check"...), a count and a window. `rate_limit_take` counts one
more use for a key (a client's network, a user, a username) and raises RateLimited, which says in
the learner's language what was limited and when it is allowed again, once the window's count is
used up. The cache is Redis (settings.CACHES), so every web process shares one count; add + incr
are atomic there. A cache that cannot be reached lets the request through and logs it: an outage
of Redis must not lock everyone out of logging in.

The limits are settings: KUBELAB_RATE_LIMITS="signup=10/h,check=30/m" changes those two, the
rest keep their defaults (see README, Settings).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kubelab.rates import DEFAULT_LIMITS, Limit, client_network, parse_rate

__all__ = ["RateLimited", "client_network", "limit_for", "rate_limit_take"]

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """Over a limit; the message is for the person who hit it."""

    def __init__(self, message: str, *, scope: str, retry_after: int) -> None:
        super().__init__(message)
        self.scope = scope
        self.retry_after = retry_after


def limit_for(scope: str) -> Limit:
    configured: dict[str, str] = getattr(settings, "KUBELAB_RATE_LIMITS", {})
    count, seconds = parse_rate(configured.get(scope) or DEFAULT_LIMITS[scope])
    return Limit(scope=scope, count=count, seconds=seconds)


def rate_limit_take(
    *, scope: str, key: str, limit: Limit | None = None, now: float | None = None
) -> None:
    """Count one use of `scope` by `key`; RateLimited once the window's share is used up.
    `limit` replaces the configured one (a scope with its own setting, like guests)."""
    limit = limit or limit_for(scope)
    if limit.count == 0:
        raise RateLimited(_("This is switched off on this site."), scope=scope, retry_after=3600)
    moment = time.time() if now is None else now
    window = int(moment // limit.seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    name = f"kubelab:rate:{scope}:{digest}:{window}"
    try:
        cache.add(name, 0, timeout=limit.seconds + 5)
        try:
            count = cache.incr(name)
        except ValueError:  # the window's key expired between add and incr
            cache.set(name, 1, timeout=limit.seconds + 5)
            count = 1
    except Exception:
        log.warning("rate limit %s not counted: the cache is unreachable", scope, exc_info=True)
        return
    if count > limit.count:
        retry_after = max(1, math.ceil((window + 1) * limit.seconds - moment))
        raise RateLimited(_message(limit, retry_after), scope=scope, retry_after=retry_after)


def _message(limit: Limit, retry_after: int) -> str:
    minutes = max(1, math.ceil(retry_after / 60))
    wait = (
        ngettext("in %(n)d second", "in %(n)d seconds", retry_after) % {"n": retry_after}
        if retry_after < 120
        else ngettext("in %(n)d minute", "in %(n)d minutes", minutes) % {"n": minutes}
    )
    what = {
        "signup": _("Too many accounts were signed up from your network."),
        "signup-all": _("Too many accounts were signed up on this site just now."),
        "login": _("Too many login attempts from your network."),
        "login-user": _("Too many login attempts for this username."),
        "guest": _("Too many guest accounts were started from your network."),
        "check": _("You pressed Check very often."),
        "hint": _("You asked for hints very often."),
        "help": _("You asked for help very often."),
        "auto-check": _("Auto-check was switched on very often."),
        "pod-page": _("Your Pod's page was asked for very often."),
        "pod-token": _("Your Pod's page asked for new credentials very often."),
        "reset": _("You reset your environment very often."),
        "denials": _("Your environment's notices were asked for very often."),
        "picture": _("The namespace picture or its objects were opened very often."),
        "studio": _("Your lab draft was saved very often."),
        "studio-test": _("You started many lab tests."),
    }.get(limit.scope, _("Too many requests."))
    return _("%(what)s Please try again %(wait)s.") % {"what": what, "wait": wait}
