"""Scores reach the LMS from a class-wide grading (the batch path, on the real cluster), not
only from a learner's own Check: the instructor grades the class and the platform has each
learner's points."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lti_tool.models import LtiUser

from labs.batch import attempts_grade_batch, attempts_request
from lms.models import Passback, PassbackState
from lms.passback import passback_send
from tests.fixtures.grading import kuard_pod
from tests.fixtures.learners import Learner
from tests.lms.conftest import Lms
from tests.lms.platform import LEARNER
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def test_a_class_grading_sends_the_points_of_every_learner_from_the_lms(
    lms: Lms, make_learner: Callable[..., Learner]
) -> None:
    lms.platform.add_link(
        "link-kuard", "kuard", custom={"kubelab_target": "exercise:pods/kuard-pod"},
        line_item={"scoreMaximum": 1, "label": "kuard", "resourceId": "exercise:pods/kuard-pod"},
    )  # fmt: skip
    done, idle = make_learner(), make_learner()
    for n, learner in enumerate((done, idle), start=2):
        sub = f"student-{n}"
        lms.platform.add_member(sub, f"Student {n}", [LEARNER])
        LtiUser.objects.create(registration=lms.registration, sub=sub, auth_user=learner.user)
        assert lms.launch(sub, "link-kuard")[1].status_code == 302
    assert done.kubectl("apply", "-f", "-", input=kuard_pod()).returncode == 0
    pod_running(done, "kuard")

    asked = attempts_request(
        users=[done.user, idle.user], exercises=[("pods", "kuard-pod")], trigger="instructor"
    )
    attempts_grade_batch(attempt_ids=list(asked))
    # The learner with nothing done owes no score; the one who passed owes one point.
    row = Passback.objects.get()
    assert row.user_id == done.user.pk and row.score_given == 1
    assert passback_send(row.pk) == "sent"
    assert [(s["userId"], float(s["scoreGiven"])) for s in lms.platform.scores] == [
        ("student-2", 1.0)
    ]
    assert Passback.objects.get().state == PassbackState.SENT
