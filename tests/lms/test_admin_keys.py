"""The administrator's side: the registration page shows what to enter in the LMS and never a
private key; keys rotate with the old one published for a while; the sweep finds scores whose
task was lost; the picker opens only with a deep-linking launch in the session."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from lti_tool.models import (
    Key,
    LtiContext,
    LtiDeployment,
    LtiRegistration,
    LtiResourceLink,
    LtiUser,
)

from accounts.roles import Role
from lms.models import LinkedActivity, Passback, PassbackState
from lms.passback import passbacks_due
from lms.protocol import keys_rotate, tool_jwks
from tests.fixtures.classes import person

pytestmark = [pytest.mark.django_db]

PLATFORM = {
    "issuer": "https://lms.test",
    "client_id": "c",
    "auth_url": "https://lms.test/a",
    "token_url": "https://lms.test/t",
    "keyset_url": "https://lms.test/k",
}


def test_the_registration_page_shows_the_tool_urls_and_public_keys_only(
    admin_client: Client,
) -> None:
    page = html.unescape(admin_client.get("/admin/lti_tool/ltiregistration/add/").content.decode())
    for path in ("/lms/login/", "/lms/launch/", "/lms/jwks.json"):
        assert f"http://testserver{path}" in page
    assert '"kty": "RSA"' in page
    assert "PRIVATE KEY" not in page


def test_registration_pages_are_the_administrators_only() -> None:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    client = Client()
    client.force_login(teacher)
    response = client.get("/admin/lti_tool/ltiregistration/add/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_rotating_keys_publishes_the_new_one_and_retires_old_ones() -> None:
    first = tool_jwks()["keys"]
    assert len(first) == 1
    assert keys_rotate() == 0  # the first key is young: still published
    assert {k["kid"] for k in tool_jwks()["keys"]} >= {first[0]["kid"]}
    assert len(tool_jwks()["keys"]) == 2
    Key.objects.update(datetime_created=timezone.now() - timedelta(days=8))
    assert keys_rotate() == 2
    keys = tool_jwks()["keys"]
    assert len(keys) == 1 and keys[0]["kid"] != first[0]["kid"]
    # kubelab signs with the newest key.
    registration = LtiRegistration(**PLATFORM)
    newest = Key.objects.active().latest()
    assert registration.to_registration().get_tool_private_key() == newest.private_key


def _passback(**fields: Any) -> Passback:
    registration = LtiRegistration.objects.create(name="x", **PLATFORM)
    deployment = LtiDeployment.objects.create(registration=registration, deployment_id="d")
    context = LtiContext.objects.create(deployment=deployment, id_on_platform="course")
    link = LtiResourceLink.objects.create(context=context, id_on_platform="link")
    activity = LinkedActivity.objects.create(resource_link=link, target="exercise:pods/kuard-pod")
    user = person("learner")
    lti_user = LtiUser.objects.create(registration=registration, sub="s", auth_user=user)
    return Passback.objects.create(
        activity=activity, lti_user=lti_user, user=user, timestamp=timezone.now(), **fields
    )


def test_the_sweep_finds_scores_whose_task_was_lost_or_whose_retry_is_due() -> None:
    row = _passback(state=PassbackState.PENDING)
    now = timezone.now()
    assert passbacks_due(now=now) == []  # just queued: its task is on its way
    assert passbacks_due(now=now + timedelta(minutes=2)) == [row.pk]
    Passback.objects.filter(pk=row.pk).update(
        state=PassbackState.RETRYING, next_try_at=now + timedelta(minutes=5)
    )
    assert passbacks_due(now=now + timedelta(minutes=2)) == []
    assert passbacks_due(now=now + timedelta(minutes=6)) == [row.pk]
    Passback.objects.filter(pk=row.pk).update(state=PassbackState.SENT)
    assert passbacks_due(now=now + timedelta(hours=2)) == []
    Passback.objects.filter(pk=row.pk).update(state=PassbackState.REFUSED)
    assert passbacks_due(now=now + timedelta(hours=2)) == []  # only "Send again" retries it


def test_the_picker_needs_a_deep_linking_launch_in_the_session() -> None:
    teacher = person("teacher", role=Role.INSTRUCTOR)
    client = Client()
    client.force_login(teacher)
    response = client.get("/lms/deep-link/")
    assert response.status_code == 400
    assert "There is nothing to place" in response.content.decode()
    assert Client().get("/lms/deep-link/").status_code == 302  # to the log-in page


def test_the_picker_offers_an_instructor_their_own_published_labs_and_no_one_elses() -> None:
    from lms.deeplinking import PlacementError, placements_answer
    from lms.targets import catalog_choices
    from studio.models import LabTest, LabTestStatus
    from studio.services import authored_lab_create, version_publish

    author = person("author", role=Role.INSTRUCTOR)
    other = person("other", role=Role.INSTRUCTOR)
    lab = authored_lab_create(owner=author, slug="my-own-pods", starter="pod")
    LabTest.objects.create(lab=lab, digest=lab.draft_digest, spec="", status=LabTestStatus.PASSED)
    version_publish(lab=lab, by=author)

    def offered(user: Any) -> set[str]:
        found = set()
        for chapter in catalog_choices(user=user, language="en"):
            for lab_choice, exercises in chapter.labs:
                found |= {str(lab_choice.target), *(str(e.target) for e in exercises)}
        return found

    assert "lab:my-own-pods" in offered(author) and "lab:pods" in offered(author)
    assert "lab:my-own-pods" not in offered(other)
    with pytest.raises(PlacementError, match="not in the catalog"):
        placements_answer(
            user=other, pending={}, chosen=["lab:my-own-pods"], language="en",
            launch_url="http://testserver/lms/launch/",
        )  # fmt: skip


@pytest.mark.parametrize(
    ("locale", "language"),
    [("zh-TW", "zh-hant"), ("zh-Hant-HK", "zh-hant"), ("zh_tw", "zh-hant"), ("en-GB", "en"),
     ("en", "en"), ("zh-CN", ""), ("zh", ""), ("fr-FR", ""), ("", "")],
)  # fmt: skip
def test_the_launch_locale_picks_kubelabs_language(locale: str, language: str) -> None:
    from lms.roles import language_for_locale

    assert language_for_locale(locale) == language


def test_nobody_signs_up_under_a_name_kept_for_lms_learners() -> None:
    from accounts.forms import SignupForm

    form = SignupForm(
        data={"username": "lti-0123456789abcdef0123", "password1": "a-Long-pass-9876",
              "password2": "a-Long-pass-9876"}
    )  # fmt: skip
    assert not form.is_valid()
    assert "kept for guests and for learners from an LMS" in str(form.errors["username"])
