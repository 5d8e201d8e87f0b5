"""Account actions: sign-up as a student, guests (start, claim, prune), and the admin account the
run command guarantees."""

from __future__ import annotations

import logging
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.conf import guest_config
from accounts.roles import Role, role_grant, role_revoke
from accounts.selectors import guests_inactive, user_is_guest
from k8s import ClusterRejected, ClusterUnavailable
from kubelab.ratelimit import RateLimited, client_network, rate_limit_take
from kubelab.rates import Limit
from sandbox.services import sandbox_teardown

logger = logging.getLogger(__name__)

# Only guests are called this; sign-up and claiming refuse it, so a name never passes for one.
GUEST_USERNAME_PREFIX = "guest-"
# Accounts of people who come in through an LMS (lms.launches): nobody signs up as one, so a
# name can never be taken before its LMS user arrives.
LMS_USERNAME_PREFIX = "lti-"
_GUEST_NAME_ALPHABET = string.ascii_lowercase + string.digits
_GUEST_NAME_LENGTH = 6
_RATE_WINDOW_SECONDS = 3600
# A teardown takes a few API calls; this keeps one beat run well inside Celery's time limit.
PRUNE_BATCH = 200


def student_signup(*, username: str, password: str, email: str = "") -> User:
    # Hashing a password takes a deliberate fraction of a second of CPU: done before the write
    # transaction, not inside it. On SQLite a transaction holds the database's one write lock,
    # and a class signing up together queued every hash behind it ("database is locked",
    # bench/soak).
    users = get_user_model().objects
    # What create_user does, with the hash made beforehand: one INSERT, not an INSERT and an
    # UPDATE of the password.
    user: User = users.model(
        username=users.model.normalize_username(username),
        email=users.normalize_email(email),
        password=make_password(password),
    )
    with transaction.atomic():
        user.save(force_insert=True)
        role_grant(user=user, role=Role.STUDENT)
    return user


def username_is_reserved(username: str) -> bool:
    return username.strip().lower().startswith((GUEST_USERNAME_PREFIX, LMS_USERNAME_PREFIX))


# --- Guests ----------------------------------------------------------------------------------


class GuestsDisabled(Exception):
    """Guest access is switched off (KUBELAB_GUEST_ACCESS)."""


class GuestLimitReached(Exception):
    """This client started too many guest accounts in the last hour; nothing was created."""


class GuestClaimError(ValueError):
    """The guest account cannot be claimed as asked; the message says why, for the learner."""


def _guest_username() -> str:
    suffix = "".join(secrets.choice(_GUEST_NAME_ALPHABET) for _ in range(_GUEST_NAME_LENGTH))
    return f"{GUEST_USERNAME_PREFIX}{suffix}"


def guest_start(*, client_ip: str) -> User:
    """A new guest: a student with a generated name and no usable password.

    Raises GuestsDisabled when switched off and GuestLimitReached when this client has started
    its hourly share (client_ip is REMOTE_ADDR: the server trusts forwarded headers only from
    127.0.0.1, see kubelab/serve.py).
    """
    config = guest_config()
    if not config.enabled:
        raise GuestsDisabled("guest access is switched off")
    # Counted in the cache every web process shares (kubelab.ratelimit), by the client's network.
    try:
        rate_limit_take(
            scope="guest",
            key=client_network(client_ip),
            limit=Limit("guest", config.per_ip_hour, _RATE_WINDOW_SECONDS),
        )
    except RateLimited as exc:
        raise GuestLimitReached(
            _(
                "Too many guest accounts were started from your network in the last hour. "
                "Try again later, or sign up or log in."
            )
        ) from exc
    users = get_user_model().objects
    # 36**6 names: a clash is rare, but the unique index decides, not hope.
    for _attempt in range(5):
        try:
            with transaction.atomic():
                user: User = users.create_user(username=_guest_username(), password=None)
                role_grant(user=user, role=Role.STUDENT)
                role_grant(user=user, role=Role.GUEST)
                return user
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free guest name")


def guest_claim(*, user: Any, username: str, password: str, email: str = "") -> User:
    """Turn the guest into an ordinary student account: the same row (so every Attempt,
    environment and terminal stays theirs) with the chosen name, email and password.

    The password must already have passed the validators (accounts.forms.SignupForm).
    """
    hashed = make_password(password)  # outside the transaction: see student_signup
    with transaction.atomic():
        return _guest_claim_locked(user=user, username=username, hashed=hashed, email=email)


def _guest_claim_locked(*, user: Any, username: str, hashed: str, email: str) -> User:
    locked: User = get_user_model().objects.select_for_update().get(pk=user.pk)
    if not user_is_guest(user=locked):
        raise GuestClaimError(_("This account is already signed up."))
    username = username.strip()
    if username_is_reserved(username):
        raise GuestClaimError(
            _(
                "Names starting with “guest-” or “lti-” are kept for guests and for "
                "learners from an LMS; choose another."
            )
        )
    taken = get_user_model().objects.filter(username__iexact=username).exclude(pk=locked.pk)
    if taken.exists():
        raise GuestClaimError(_("A user with that username already exists."))
    locked.username = username
    locked.email = email
    locked.password = hashed
    try:
        with transaction.atomic():
            locked.save(update_fields=["username", "email", "password"])
    except IntegrityError:  # someone took the name a moment ago
        raise GuestClaimError(_("A user with that username already exists.")) from None
    role_revoke(user=locked, role=Role.GUEST)
    role_grant(user=locked, role=Role.STUDENT)
    return locked


@dataclass
class GuestsPruned:
    deleted: list[str] = field(default_factory=list)
    # Kept for the next run: the environment or the account could not be removed (see the log).
    skipped: list[str] = field(default_factory=list)


def guests_prune(
    *, now: datetime | None = None, dry_run: bool = False, limit: int | None = PRUNE_BATCH
) -> GuestsPruned:
    """Delete guests unused for KUBELAB_GUEST_DAYS: their environment first, then the account
    (Attempts and the environment record go with it). Claimed accounts are not guests, so they
    are never touched. Safe to run twice or side by side; cluster trouble never escapes: that
    guest is kept for the next run.
    """
    before = (now or timezone.now()) - timedelta(days=guest_config().days)
    candidates = list(guests_inactive(before=before).values_list("pk", "username")[:limit])
    result = GuestsPruned()
    if dry_run:
        result.deleted = [username for _pk, username in candidates]
        return result
    for pk, username in candidates:
        try:
            if _guest_prune_one(pk=pk, before=before):
                result.deleted.append(username)
        except ClusterUnavailable as exc:
            # The rest would wait on the same dead cluster; the next run picks them all up.
            logger.warning("guest pruning postponed, cluster unavailable: %s", exc)
            result.skipped.append(username)
            break
        except (ClusterRejected, ProtectedError) as exc:
            logger.error("guest %s not pruned: %s", username, exc)
            result.skipped.append(username)
    return result


def _guest_prune_one(*, pk: int, before: datetime) -> bool:
    user = get_user_model().objects.filter(pk=pk).first()
    if user is None or not guests_inactive(before=before).filter(pk=pk).exists():
        return False
    # The namespace goes first, outside any transaction: its API calls take seconds, and a
    # transaction open that long holds SQLite's one write lock. A guest who comes back at this
    # very moment finds a fresh environment; the account is kept for them by the check below.
    sandbox_teardown(user=user)
    with transaction.atomic():
        # The lock serialises with guest_claim; the check under it sees a claim or a return.
        locked = get_user_model().objects.select_for_update().filter(pk=pk).first()
        if locked is None or not guests_inactive(before=before).filter(pk=pk).exists():
            return False
        locked.delete()
    return True


# --- The admin -------------------------------------------------------------------------------


def admin_ensure(*, username: str, password: str | None) -> str | None:
    """Create the admin if missing and return the password to print once; None if it existed.

    A password given (from the environment) is always applied, so rotating it is one restart.
    """
    users = get_user_model().objects
    user = users.filter(username=username).first()
    if user is not None and password is None:
        return None
    chosen = password or secrets.token_urlsafe(12)
    if user is None:
        user = users.create_superuser(username=username, password=chosen, email="")
    else:
        user.set_password(chosen)
        user.save(update_fields=["password"])
    role_grant(user=user, role=Role.INSTRUCTOR)
    return chosen if password is None else None
