"""The check engine's messages in Traditional Chinese: every message id has a translation with the
same placeholders, and a failing check reaches a zh-hant learner in Chinese (stored in both
languages, rendered by the page in the request's language)."""

from __future__ import annotations

import re
import string
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from labs import services
from labs.checks import Snapshot, check_evaluate
from labs.learners import LearnerEnvironment
from labs.messages import Msg, MsgList
from labs.models import Attempt, CheckResult
from labs.services import attempt_get_or_create, attempt_grade
from labs.spec import Exercise
from labs.translation import check_message

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"


def engine_message_ids() -> list[str]:
    """What makemessages extracts from the engine (xgettext's default keywords include `_`)."""
    pot = subprocess.run(
        ["xgettext", "--language=Python", "--from-code=UTF-8", "--no-wrap", "-o", "-",
         *sorted(str(path) for path in (ROOT / "labs" / "checks").glob("*.py"))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [m for m in (eval(s) for s in re.findall(r'^msgid (".*")$', pot, re.M)) if m]  # noqa: S307


def placeholders(text: str) -> list[str]:
    return sorted(field for _, field, _, _ in string.Formatter().parse(text) if field)


def test_every_engine_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    ids = engine_message_ids()
    assert len(ids) > 50, ids
    with translation.override("zh-hant"):
        for message_id in ids:
            translated = translation.gettext(message_id)
            assert translated != message_id, f"no zh-Hant translation for {message_id!r}"
            assert placeholders(translated) == placeholders(message_id), message_id


def test_messages_render_nested_parameters_in_one_language() -> None:
    wanted = Msg.of("at least {count}", count=2)
    problem = MsgList(
        (Msg.of("Your namespace has {count} {scope}; it should have {wanted}.",
                count=0, scope=Msg.of("{kind}s", kind="Pod"), wanted=wanted),)
    )  # fmt: skip
    assert problem.render() == "Your namespace has 0 Pods; it should have at least 2."
    with translation.override("zh-hant"):
        chinese = problem.render(translation.gettext)
    assert chinese == "你的命名空間有 0 個Pod；應該要有至少 2 個。"  # noqa: RUF001


def test_a_broken_translation_falls_back_to_english() -> None:
    message = Msg.of("There is no {kind} named {name}.", kind="Pod", name="kuard")
    assert message.render(lambda _: "沒有 {kind} {missing}") == "There is no Pod named kuard."


def exercise_with(*checks: dict[str, Any]) -> Exercise:
    listed = [{"id": "c" if i == 0 else f"c{i}", **check} for i, check in enumerate(checks)]
    return Exercise.model_validate({
        "id": "e", "title": "t", "instructions": "i", "checks": listed,
        "solution": {"commands": ["true"]},
        "near_misses": [{"id": "m", "description": "d", "commands": ["true"], "fails": ["c"]}],
    })  # fmt: skip


def test_check_results_are_stored_in_every_language_and_authors_text_is_kept() -> None:
    generated = exercise_with({"type": "exists", "kind": "Pod", "name": "kuard"})
    outcome = check_evaluate(generated.checks[0], Snapshot("kl-ada"))
    assert check_message(outcome) == {
        "en": "There is no Pod named kuard in your namespace kl-ada.",
        "zh-hant": "你的命名空間 kl-ada 中沒有名為 kuard 的 Pod。",
    }
    authored = exercise_with(
        {"type": "exists", "kind": "Pod", "name": "kuard",
         "message": {"en": "Create kuard.", "zh-hant": "建立 kuard。"}}
    )  # fmt: skip
    outcome = check_evaluate(authored.checks[0], Snapshot("kl-ada"))
    assert check_message(outcome) == {"en": "Create kuard.", "zh-hant": "建立 kuard。"}


@pytest.mark.django_db
def test_a_failing_check_renders_in_chinese_for_a_zh_hant_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user = get_user_model().objects.create_user(username="mei", password="x" * 12)
    monkeypatch.setattr(
        services,
        "learner_environment",
        lambda user: LearnerEnvironment(namespace="kl-mei", kubeconfig=lambda: None),
    )
    monkeypatch.setattr(
        services, "snapshot_take", lambda **kwargs: Snapshot(kwargs["namespace"], objects={})
    )
    attempt = attempt_get_or_create(user=user, lab_slug="pods", exercise_id="kuard-pod")
    Attempt.objects.filter(pk=attempt.pk).update(requested_generation=1)
    assert attempt_grade(attempt_id=attempt.pk) == "failed"
    stored = CheckResult.objects.filter(run__attempt=attempt, status="fail").first()
    assert stored is not None
    assert set(stored.message) == {"en", "zh-hant"}, stored.message

    client = Client()
    client.force_login(user)
    chinese = client.get("/learn/pods/", HTTP_ACCEPT_LANGUAGE="zh-hant").content.decode()
    english = client.get("/learn/pods/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # No Pod kuard: every check on it fails for that one reason, and says what the first
    # (the author's "exists" message) said, so the checklist shows it once.
    results = {r.check_id: r.message for r in CheckResult.objects.filter(run__attempt=attempt)}
    first = results["exists"]
    assert results["running"] == results["image"] == first
    # (backticks become <code>: compare the text before the first one)
    zh, en = (escape(first[code].split("`")[0]) for code in ("zh-hant", "en"))
    assert zh in chinese and en not in chinese
    assert en in english
    assert chinese.count(zh) == 1, "the same sentence is listed once"


POD_PORT_80 = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "kuard", "namespace": "kl-ada"},
    "spec": {"containers": [{"name": "kuard", "ports": [{"containerPort": 80, "name": "http"}]}]},
}
PORT_CHECK = {
    "type": "field",
    "kind": "Pod",
    "name": "kuard",
    "path": ".spec.containers[0].ports[0].containerPort",
    "equals": 8080,
    "message": {"en": "kuard listens on 8080.", "zh-hant": "kuard 監聽 8080。"},
}


def test_an_authors_message_is_followed_by_what_was_found_in_each_language() -> None:
    """Issue 24: "must declare containerPort 8080" alone did not say the Pod declares 80."""
    exercise = exercise_with(PORT_CHECK)
    snapshot = Snapshot("kl-ada", objects={"Pod": [POD_PORT_80]})
    outcome = check_evaluate(exercise.checks[0], snapshot)
    said = check_message(outcome)
    assert said["en"].startswith("kuard listens on 8080. Found: Pod kuard:")
    assert "but it is 80" in said["en"], said
    assert said["zh-hant"].startswith("kuard 監聽 8080。 目前的狀態：")  # noqa: RUF001
    assert "80" in said["zh-hant"].split("：", 1)[1]  # noqa: RUF001


def test_with_no_object_its_checks_say_the_first_ones_sentence() -> None:
    from labs.checks import exercise_evaluate

    exercise = exercise_with(
        {"type": "exists", "kind": "Pod", "name": "kuard",
         "message": {"en": "Create kuard.", "zh-hant": "建立 kuard。"}},
        PORT_CHECK,
        {"type": "ready", "kind": "Pod", "name": "kuard"},
        {"type": "exists", "kind": "Service", "name": "web"},
    )  # fmt: skip
    outcome = exercise_evaluate(exercise, Snapshot("kl-ada", objects={"Pod": [], "Service": []}))
    messages = [check_message(c) for c in outcome.checks]
    assert messages[0] == {"en": "Create kuard.", "zh-hant": "建立 kuard。"}
    assert messages[1] == messages[2] == messages[0]
    assert messages[3]["en"] == "There is no Service named web in your namespace kl-ada."
    assert outcome.failing() == [
        "c",
        "c1",
        "c2",
        "c3",
    ]  # each still fails: only the words are shared
