"""Where grading finds a learner's environment: none while it is being built, "settling" in its
first minute, and the same answers for one learner and for a whole class at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from labs.learners import SETTLING_SECONDS, learner_environment, learner_environments
from sandbox.models import LearnerEnvironment as EnvironmentRow

pytestmark = pytest.mark.django_db


def learner(name: str, *, status: str, ready_seconds_ago: float | None, active: bool = True):
    user = get_user_model().objects.create_user(username=name, password="x" * 12)
    user.is_active = active
    user.save()
    ready_at = None
    if ready_seconds_ago is not None:
        ready_at = timezone.now() - timedelta(seconds=ready_seconds_ago)
    EnvironmentRow.objects.create(
        user=user, namespace=f"kl-{name}", environment_id=name, status=status, ready_at=ready_at
    )
    return user


def test_one_learner_and_a_class_get_the_same_environments() -> None:
    building = learner("building", status="provisioning", ready_seconds_ago=None)
    new = learner("new", status="ready", ready_seconds_ago=5)
    settled = learner("settled", status="ready", ready_seconds_ago=SETTLING_SECONDS + 30)
    asleep = learner("asleep", status="suspended", ready_seconds_ago=3600)
    disabled = learner("disabled", status="ready", ready_seconds_ago=3600, active=False)
    nobody = get_user_model().objects.create_user(username="nobody", password="x" * 12)

    people = [building, new, settled, asleep, disabled, nobody]
    batch = learner_environments(users=people)
    for person in people:
        one = learner_environment(user=person)
        many = batch[person.pk]
        assert (one is None) == (many is None), person.username
        if one is not None and many is not None:
            assert (one.namespace, one.settling) == (many.namespace, many.settling)
    assert batch[building.pk] is None  # no role binding or quota yet: "starting"
    fresh, older = batch[new.pk], batch[settled.pk]
    assert fresh is not None and fresh.settling
    assert older is not None and not older.settling
    assert batch[asleep.pk] is None and batch[disabled.pk] is None and batch[nobody.pk] is None
