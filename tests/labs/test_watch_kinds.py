"""A change the watcher sees regrades only the exercises that read what changed (issue 16): a
ConfigMap edited does not regrade the learner's Pod exercises, while an exercise with a script
check, or one reading a kind no watch follows, is regraded on any change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import k8s
from labs.models import Attempt
from labs.services import namespace_changed
from labs.watcher import ChangedKinds
from tests.fixtures.grading import user_named

pytestmark = pytest.mark.django_db

OPEN = [
    ("pods", "kuard-pod"),  # Pod
    ("jobs", "oneshot"),  # Job
    ("labels-annotations", "canary"),  # Deployment
    ("labels-annotations", "selectors"),  # ConfigMap, and script checks
    ("replicasets", "autoscale"),  # HorizontalPodAutoscaler
]


def _asked(kinds: frozenset[str] | None) -> set[str]:
    user = user_named("watched")
    until = timezone.now() + timedelta(minutes=30)
    for lab, exercise in OPEN:
        Attempt.objects.create(user=user, lab=lab, exercise=exercise, auto_check_until=until)
    done = Attempt.objects.create(user=user, lab="pods", exercise="volume", auto_check_until=until)
    Attempt.objects.filter(pk=done.pk).update(completed_at=timezone.now())
    namespace_changed(namespace="kl-x", user_id=user.pk, kinds=kinds)
    return {a.exercise_key for a in Attempt.objects.filter(user=user, requested_generation__gt=0)}


def test_a_change_regrades_the_exercises_that_read_its_kind_and_those_that_may() -> None:
    always = {"labels-annotations/selectors"}  # script checks may read anything
    if "HorizontalPodAutoscaler" not in k8s.kinds.WATCHED:
        always.add("replicasets/autoscale")  # nothing else would ever cue it
    assert _asked(frozenset({"Pod"})) == {"pods/kuard-pod"} | always
    # autoscale is graded on the ReplicaSet the autoscaler raised to its minimum, too.
    workloads = {"labels-annotations/canary", "replicasets/autoscale"}
    assert _asked(frozenset({"Deployment", "ReplicaSet"})) == workloads | always
    assert _asked(frozenset({"Job"})) == {"jobs/oneshot"} | always
    # Without kinds (a relist after an outage, say): every open, unfinished exercise.
    assert _asked(None) == {f"{lab}/{ex}" for lab, ex in OPEN}


def test_changed_kinds_are_taken_once_and_a_trailing_take_reuses_the_last() -> None:
    kinds = ChangedKinds()
    assert kinds.take("a") == frozenset()  # nothing seen yet: the caller grades everything
    kinds.add("a", "Pod")
    kinds.add("a", "Service")
    kinds.add("b", "Job")
    assert kinds.take("a") == {"Pod", "Service"}
    # The trailing edge of a burst the leading request already took: the same kinds again.
    assert kinds.take("a") == {"Pod", "Service"}
    kinds.add("a", "ConfigMap")
    assert kinds.take("a") == {"ConfigMap"}
    assert kinds.take("b") == {"Job"}
