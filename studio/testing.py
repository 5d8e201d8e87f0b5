"""Test this lab: what `manage.py labs test` proves, for the content of one LabTest, on the
cluster, with a report after every exercise run (labs.contenttest does the work: setup, the checks
fail, the solution passes and stays passing, each near miss fails exactly the checks it names;
all of it twice, to expose flaky checks), each in a throwaway learner-identical namespace.

Sorted at the end: passed; failed (the lab is wrong: publishing stays closed); inconclusive
(every failure was the cluster not answering: run again, never publish on it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kubelab.events import user_event_send
from labs.contenttest import ExerciseReport, catalog_test
from labs.library import lab_from_content
from labs.spec import SpecError
from studio.models import LabTest, LabTestStatus

REPEAT = 2
WORKERS = 3


def report_entry(report: ExerciseReport) -> dict[str, Any]:
    return {
        "exercise": report.key,
        "repeat": report.repeat,
        "ok": report.ok,
        "inconclusive": report.inconclusive,
        "steps": [
            {
                "name": step.name,
                "ok": step.ok,
                "detail": step.detail[-2000:],
                "seconds": round(step.seconds, 2),
                "inconclusive": step.inconclusive,
            }
            for step in report.steps
        ],
    }


def lab_test_event(test: LabTest, entry: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "studio.test",
        "lab": test.lab.slug,
        "test": test.pk,
        "status": test.status,
        "done": test.done,
        "total": test.total,
        "digest": test.digest,
        "entry": entry,
    }


def _tell_authors(test: LabTest, entry: dict[str, Any] | None = None) -> None:
    event = lab_test_event(test, entry)
    for author_id in test.lab.authors.values_list("pk", flat=True):
        user_event_send(user_id=int(author_id), event=event)


def lab_test_run(
    *, test_id: int, environments: Any = None, tell: Callable[..., None] = _tell_authors
) -> str:
    """Run the test; returns its status. Safe to run again: a retry starts the report over."""
    test = LabTest.objects.select_related("lab").get(pk=test_id)
    if test.status in (LabTestStatus.PASSED, LabTestStatus.FAILED):
        return str(test.status)
    try:
        lab = lab_from_content(test.lab.slug, test.spec, test.files, test.digest)
    except SpecError as exc:
        test.status = LabTestStatus.FAILED
        test.report = [{"exercise": "", "ok": False, "steps": [], "problems": str(exc)}]
        test.finished_at = timezone.now()
        test.save(update_fields=["status", "report", "finished_at"])
        tell(test)
        return str(test.status)
    test.status = LabTestStatus.RUNNING
    test.total = len(lab.exercises) * REPEAT
    test.done = 0
    test.tries = F("tries") + 1
    test.report = []
    test.save(update_fields=["status", "total", "done", "tries", "report"])
    test.refresh_from_db(fields=["tries"])
    tell(test)

    def progress(report: ExerciseReport) -> None:
        entry = report_entry(report)
        with transaction.atomic():
            row = LabTest.objects.select_for_update().get(pk=test.pk)
            row.report = [*row.report, entry]
            row.done = len(row.report)
            row.save(update_fields=["report", "done"])
        test.done = row.done
        tell(test, entry)

    result = catalog_test([lab], repeat=REPEAT, workers=WORKERS, environments=environments,
                          progress=progress)  # fmt: skip
    if result.ok:
        status = LabTestStatus.PASSED
    elif all(report.inconclusive for report in result.failed()):
        status = LabTestStatus.INCONCLUSIVE
    else:
        status = LabTestStatus.FAILED
    LabTest.objects.filter(pk=test.pk).update(
        status=status, finished_at=timezone.now() if status != LabTestStatus.INCONCLUSIVE else None
    )
    test.refresh_from_db()
    tell(test)
    return str(status)
