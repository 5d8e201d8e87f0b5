"""labs.rows, the class grading's bulk writes: rows copied in come back exactly as Django's own
insert would store them (JSON shared between rows, Chinese text, SQL NULL against JSON null),
and the id-array filter finds the same rows as an IN list."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from labs.models import Attempt, CheckResult, GradingRun
from labs.rows import rows_copy, rows_insert, rows_with_ids
from tests.fixtures.grading import user_named

pytestmark = pytest.mark.django_db


def _run() -> GradingRun:
    attempt = Attempt.objects.create(user=user_named("rows"), lab="pods", exercise="kuard-pod")
    return GradingRun.objects.create(attempt=attempt, generation=1, status="failed", evidence={})


def _stored(run: GradingRun) -> list[tuple[Any, ...]]:
    return list(
        CheckResult.objects.filter(run=run)
        .order_by("position")
        .values_list("check_id", "position", "status", "message", "detail", "evidence")
    )


@pytest.mark.parametrize("vendor", ["postgresql", "other"])
def test_copied_rows_read_back_as_django_would_store_them(
    vendor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql" and vendor == "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    monkeypatch.setattr(connection, "vendor", vendor)
    shared = {"en": "There is no Pod named kuard.", "zh-hant": "沒有名為 kuard 的 Pod。"}
    other = {"en": 'quotes " and \\ and a tab\there', "zh-hant": "換行\n之後"}
    empty: list[Any] = []
    run = _run()
    rows = [
        (run.pk, "exists", 0, "fail", shared, "detail 1", empty),
        (run.pk, "image", 1, "fail", shared, "", empty),
        (run.pk, "port", 2, "pass", other, "", [{"kind": "Pod", "name": "kuard"}]),
    ]
    rows_copy(CheckResult, ("run", "check_id", "position", "status", "message", "detail",
                            "evidence"), rows)  # fmt: skip
    assert _stored(run) == [row[1:] for row in rows]

    # The same through the model path (with_ids: the run's pk from the sequence).
    copied = rows_insert(
        [GradingRun(attempt=run.attempt, generation=g, status="passed", evidence={"objects": {}})
         for g in (2, 3)],
        with_ids=True,
    )  # fmt: skip
    assert all(r.pk for r in copied)
    assert sorted(GradingRun.objects.filter(pk__in=[r.pk for r in copied]).values_list(
        "generation", "evidence")) == [(2, {"objects": {}}), (3, {"objects": {}})]  # fmt: skip


def test_the_id_array_filter_finds_what_an_in_list_finds() -> None:
    runs = [_run() for _ in range(3)]
    ids = [runs[0].pk, runs[2].pk, 10**9]
    found = rows_with_ids(GradingRun.objects.all(), ids).values_list("pk", flat=True)
    assert sorted(found) == sorted([runs[0].pk, runs[2].pk])
    by_attempt = rows_with_ids(
        GradingRun.objects.all(), [runs[1].attempt_id], column="attempt_id"
    ).values_list("pk", flat=True)
    assert list(by_attempt) == [runs[1].pk]
    assert list(rows_with_ids(GradingRun.objects.all(), [])) == []
