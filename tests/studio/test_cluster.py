"""The studio on the real cluster: "Test this lab" runs the content test on a real Celery worker
in throwaway learner namespaces, reports every step live, and opens publishing only when green;
a wrong lab fails; a test the cluster interrupts is inconclusive and never publishes; a published
version is what a class's student is graded on, and a newer version never rewrites that."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from accounts.roles import Role
from classes.services import class_lab_publish, classroom_create, classroom_join
from labs.library import lab_version_for
from labs.models import Attempt, AuthoredLab, GradingRun
from labs.services import attempt_check_request, attempt_get_or_create, attempt_grade
from studio.models import LabTest, LabTestStatus
from studio.services import (
    StudioError,
    authored_lab_create,
    draft_save,
    lab_test_request,
    version_publish,
)
from studio.testing import lab_test_run
from tests.fixtures.classes import person
from tests.fixtures.learners import Learner
from tests.fixtures.processes import WorkerProcess, free_port
from tests.sandbox.pods_live import pod_running

pytestmark = [pytest.mark.cluster, pytest.mark.django_db(transaction=True)]


def finished(test: LabTest, timeout: float = 240) -> LabTest:
    deadline = time.monotonic() + timeout
    while True:
        test.refresh_from_db()
        if test.status in (LabTestStatus.PASSED, LabTestStatus.FAILED, LabTestStatus.GAVE_UP):
            return test
        assert time.monotonic() < deadline, f"test {test.pk} still {test.status}: {test.report}"
        time.sleep(0.5)


@pytest.mark.worker
def test_a_starter_passes_its_test_on_a_worker_and_only_then_publishes(
    celery_worker_process: WorkerProcess,
) -> None:
    author = person("author", role=Role.INSTRUCTOR)
    lab = authored_lab_create(owner=author, slug="web-practice", starter="pod")
    with pytest.raises(StudioError, match="green test"):
        version_publish(lab=lab, by=author)
    test = finished(lab_test_request(lab=lab, by=author))
    assert test.status == LabTestStatus.PASSED, test.report
    assert test.done == test.total == 2  # one exercise, twice (flaky checks show up)
    steps = [step["name"] for entry in test.report for step in entry["steps"]]
    assert steps.count("fails first") == 2 and steps.count("solution passes") == 2
    assert steps.count("near miss wrong-image") == 2
    version = version_publish(lab=lab, by=author)
    assert version.number == 1 and version.tested_by == test.pk
    # Asking again while nothing changed returns the same finished test's verdict as current.
    again = lab_test_request(lab=lab, by=author)
    assert again.pk != test.pk or again.status == LabTestStatus.PASSED


@pytest.mark.worker
def test_a_lab_whose_solution_is_wrong_fails_and_stays_unpublishable(
    celery_worker_process: WorkerProcess,
) -> None:
    author = person("author", role=Role.INSTRUCTOR)
    lab = authored_lab_create(owner=author, slug="wrong-practice", starter="pod")
    # The solution applies the green image, which the image check refuses.
    files = {"web-pod.yaml": lab.draft_files["web-pod.yaml"].replace(":blue", ":green")}
    assert draft_save(lab=lab, by=author, spec=lab.draft_spec, files=files, base_digest=None).valid
    test = finished(lab_test_request(lab=lab, by=author))
    assert test.status == LabTestStatus.FAILED
    failing = [
        (step["name"], step["detail"])
        for entry in test.report
        for step in entry["steps"]
        if not step["ok"]
    ]
    assert failing and all(name == "solution passes" for name, _ in failing), failing
    assert "image=fail" in failing[0][1]
    with pytest.raises(StudioError, match="green test"):
        version_publish(lab=lab, by=author)


def test_a_test_the_cluster_interrupts_is_inconclusive_and_never_publishes(
    cluster: Any, settings: Any, tmp_path: Path
) -> None:
    author = person("author", role=Role.INSTRUCTOR)
    lab = authored_lab_create(owner=author, slug="cut-practice", starter="pod")
    test = LabTest.objects.create(
        lab=lab, digest=lab.draft_digest, spec=lab.draft_spec, files=lab.draft_files
    )
    kubeconfig = tmp_path / "platform.kubeconfig"
    document = yaml.safe_load(Path(cluster.kubeconfig).read_text())
    for entry in document["clusters"]:
        entry["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"  # a closed port
    kubeconfig.write_text(yaml.safe_dump(document))
    settings.KUBELAB_KUBECONFIG = str(kubeconfig)
    told: list[str] = []

    status = lab_test_run(test_id=test.pk, tell=lambda t, entry=None: told.append(t.status))

    assert status == "inconclusive"
    test.refresh_from_db()
    assert test.status == LabTestStatus.INCONCLUSIVE and test.finished_at is None
    assert all(entry["inconclusive"] for entry in test.report), test.report
    assert told[0] == "running" and told[-1] == "inconclusive"
    with pytest.raises(StudioError, match="green test"):
        version_publish(lab=lab, by=author)


def test_a_classs_student_is_graded_on_its_version_and_a_newer_one_never_rewrites_it(
    make_learner: Callable[..., Learner],
) -> None:
    author = person("author", role=Role.INSTRUCTOR)
    lab = authored_lab_create(owner=author, slug="versioned", starter="pod")
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec="", status=LabTestStatus.PASSED)
    version_publish(lab=lab, by=author)
    classroom = classroom_create(owner=author, name="Versions", labs=["pods"])
    class_lab_publish(classroom=classroom, slug=lab.slug, version=1, by=author)
    learner = make_learner()
    # Not in the class yet: the lab is not theirs to see or check.
    assert lab_version_for(user=learner.user, slug=lab.slug) is None
    classroom_join(user=learner.user, code=classroom.join_code)
    assert lab_version_for(user=learner.user, slug=lab.slug) == 1

    assert (
        learner.kubectl("apply", "-f", "-", input=lab.draft_files["web-pod.yaml"]).returncode == 0
    )
    pod_running(learner, "web")
    attempt = attempt_get_or_create(
        user=learner.user, lab_slug=lab.slug, exercise_id="web-pod", version=1
    )
    attempt_check_request(attempt=attempt, trigger="button", queued=False)
    assert attempt_grade(attempt_id=attempt.pk) == "passed"
    first = GradingRun.objects.get(attempt=attempt)
    assert first.lab_version == 1

    # Version 2 asks for the green image; the class moves to it.
    spec = lab.draft_spec.replace("equals: gcr.io/kuar-demo/kuard-amd64:blue",
                                  "equals: gcr.io/kuar-demo/kuard-amd64:green")  # fmt: skip
    draft_save(lab=lab, by=author, spec=spec, files=lab.draft_files, base_digest=None)
    lab.refresh_from_db()
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec="", status=LabTestStatus.PASSED)
    assert version_publish(lab=lab, by=author).number == 2
    first.refresh_from_db()
    assert first.lab_version == 1 and first.status == "passed"  # nothing regraded silently
    class_lab_publish(classroom=classroom, slug=lab.slug, version=2, by=author)
    assert lab_version_for(user=learner.user, slug=lab.slug) == 2
    attempt = attempt_get_or_create(
        user=learner.user, lab_slug=lab.slug, exercise_id="web-pod", version=2
    )
    attempt_check_request(attempt=attempt, trigger="button", queued=False)
    assert attempt_grade(attempt_id=attempt.pk) == "failed"
    runs = list(GradingRun.objects.filter(attempt=attempt).order_by("generation"))
    assert [(r.lab_version, r.status) for r in runs] == [(1, "passed"), (2, "failed")]
    # Completed stays completed: what version 1 graded is kept.
    assert Attempt.objects.get(pk=attempt.pk).completed_at is not None
    assert AuthoredLab.objects.get(pk=lab.pk).versions.count() == 2
