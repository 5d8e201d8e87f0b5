"""Where a learner works: the seam between grading and the sandbox app (issue #4).

Grading needs three facts: a learner's namespace, their kubeconfig (only for script checks),
and, for the namespace watcher, which learner owns a namespace; class gradebooks also need each
learner's environment state. They all come from the sandbox app's selectors/services and
models; this module is the only place labs (and classes, through labs) asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from kubelab.access import user_standing
from sandbox.models import LearnerEnvironment as EnvironmentRow
from sandbox.selectors import sandbox_get_for_user, sandbox_namespaces
from sandbox.services import sandbox_kubeconfig

# An environment this new is still settling (its namespace, role and quota just made, the API
# server busy with them): a read that times out then means "starting", not "could not check".
SETTLING_SECONDS = 60


@dataclass(frozen=True)
class LearnerEnvironment:
    namespace: str
    # Called only when a script check needs the learner's credentials (it may mint a token).
    kubeconfig: Callable[[], str | None]
    settling: bool = False


def _settling(ready_at: Any) -> bool:
    return ready_at is not None and timezone.now() - ready_at < timedelta(seconds=SETTLING_SECONDS)


def learner_environment(*, user: Any) -> LearnerEnvironment | None:
    """The learner's namespace, or None while they have no environment yet."""
    sandbox = sandbox_get_for_user(user=user)
    if sandbox is None or not getattr(sandbox, "namespace", None):
        return None
    # Only a ready namespace is graded: one still being built has no role binding or quota yet,
    # and an asleep or unavailable one is gone until the next visit brings it back, so an
    # empty namespace would fail every exercise. The learner reads "starting" meanwhile.
    if getattr(sandbox, "status", None) != "ready":
        return None

    def kubeconfig() -> str | None:
        text = sandbox_kubeconfig(user=user)
        return str(text) if text else None

    return LearnerEnvironment(
        namespace=str(sandbox.namespace),
        kubeconfig=kubeconfig,
        settling=_settling(getattr(sandbox, "ready_at", None)),
    )


def learner_environments(*, users: Iterable[Any]) -> dict[int, LearnerEnvironment | None]:
    """Each learner's ready environment, in one query (class grading): None for anyone whose
    environment is missing, still being built, asleep, or whose account is not active."""
    people = {int(u.pk): u for u in users}
    rows = EnvironmentRow.objects.filter(
        user_id__in=list(people), status="ready", namespace__isnull=False
    ).values_list("user_id", "namespace", "ready_at")
    found: dict[int, LearnerEnvironment | None] = {pk: None for pk in people}
    for user_id, namespace, ready_at in rows:
        user = people[int(user_id)]
        if not namespace or user_standing(user) != "active":
            continue

        def kubeconfig(user: Any = user) -> str | None:
            text = sandbox_kubeconfig(user=user)
            return str(text) if text else None

        found[int(user_id)] = LearnerEnvironment(
            namespace=str(namespace), kubeconfig=kubeconfig, settling=_settling(ready_at)
        )
    return found


def learner_namespaces() -> dict[str, int]:
    """Every learner namespace and its owner's user id (for the namespace watcher)."""
    return dict(sandbox_namespaces())


@dataclass(frozen=True)
class LearnerState:
    """What a class gradebook needs to know about a learner's environment."""

    status: str  # "ready", "provisioning", "suspended", "unavailable", or "none"
    last_active_at: Any  # datetime | None

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def learner_states(*, user_ids: Iterable[int]) -> dict[int, LearnerState]:
    """Environment state of each learner, in one query; learners without one are "none"."""
    ids = list(user_ids)
    rows = EnvironmentRow.objects.filter(user_id__in=ids).values_list(
        "user_id", "status", "namespace", "last_active_at"
    )
    states = {uid: LearnerState(status="none", last_active_at=None) for uid in ids}
    for user_id, status, namespace, last_active_at in rows:
        # A ready row without a namespace cannot be graded either.
        shown = status if namespace or status != "ready" else "none"
        states[int(user_id)] = LearnerState(status=str(shown), last_active_at=last_active_at)
    return states
