"""Who is asking, in the one way every view, consumer and service checks it: nobody (anonymous),
a disabled account, or an active user. What an active user may then reach (their own
environment, session, class) each app decides with its own ownership query (pure)."""

from __future__ import annotations

from typing import Any, Literal

Standing = Literal["anonymous", "inactive", "active"]


def user_standing(user: Any) -> Standing:
    """Anonymous for None or a user that is not logged in; inactive for a disabled account."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous"
    if not getattr(user, "is_active", False):
        return "inactive"
    return "active"
