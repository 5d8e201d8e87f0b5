"""The shipped catalog: valid, complete, and in step with the lessons that link to it."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from labs.management.commands.labs import tutorial_links_problems
from labs.spec import ScriptCheck, catalog_load
from tutorials.content_loader import chapters_load

CHAPTERS = [
    "verify-cluster",
    "everyday-kubectl",
    "pods",
    "labels-annotations",
    "service-discovery",
    "replicasets",
    "daemonsets",
    "jobs",
]


def test_every_chapter_has_a_lab_with_at_least_three_exercises() -> None:
    catalog = catalog_load()
    assert [lab.chapter for lab in catalog.ordered()] == CHAPTERS
    for lab in catalog.ordered():
        assert len(lab.exercises) >= 3, lab.slug
        assert lab.slug == lab.chapter
    assert len(catalog.exercise_ids()) >= 24


def test_every_exercise_is_proven_by_near_misses_and_has_hints() -> None:
    for lab in catalog_load().ordered():
        for exercise in lab.exercises:
            assert exercise.near_misses, f"{lab.slug}/{exercise.id}"
            assert exercise.hints, f"{lab.slug}/{exercise.id}"
            assert "zh-hant" in exercise.title and "zh-hant" in exercise.instructions


def test_lessons_link_only_to_exercises_that_exist() -> None:
    assert tutorial_links_problems(catalog_load()) == []
    chapters = {chapter.slug for chapter in chapters_load()}
    labs = {lab.chapter for lab in catalog_load().ordered()}
    assert chapters <= labs, f"chapters without a lab: {sorted(chapters - labs)}"


def test_script_checks_stay_the_exception() -> None:
    checks = [c for lab in catalog_load().ordered() for e in lab.exercises for c in e.checks]
    scripts = [c for c in checks if isinstance(c, ScriptCheck)]
    assert len(scripts) <= len(checks) // 10


def test_validate_command() -> None:
    out = StringIO()
    call_command("labs", "validate", stdout=out)
    assert "8 labs, " in out.getvalue() and out.getvalue().strip().endswith("valid")


def test_validate_command_reports_a_broken_catalog(tmp_path: pytest.TempPathFactory) -> None:
    broken = tmp_path / "catalog" / "pods"  # type: ignore[operator]
    broken.mkdir(parents=True)
    (broken / "lab.yaml").write_text("title: x\nchapter: pods\norder: 1\nexercises: []\n")
    with pytest.raises(CommandError) as caught:
        call_command("labs", "validate", "--catalog", str(broken.parent), "--no-lessons")
    assert "lab.yaml:4: exercises: needs at least 1 item" in str(caught.value)
    assert "Fix: add at least one item" in str(caught.value)
