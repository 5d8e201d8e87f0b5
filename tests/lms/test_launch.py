"""LTI 1.3 launches from a real platform on loopback (tests/lms/platform.py): OIDC login, the
signed launch, accounts and the class made from it, framing, and launches that must be refused
(a foreign signature, another audience, expired, replayed, an unregistered deployment)."""

from __future__ import annotations

import html
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from lti_tool.models import LtiDeployment, LtiUser

from accounts.roles import Role, user_has_role
from classes.models import Enrollment
from lms.launches import username_for
from lms.models import CourseClass, LinkedActivity
from tests.lms.conftest import Lms, cookie_header
from tests.lms.platform import LEARNER, as_browser

pytestmark = [pytest.mark.django_db(transaction=True)]

KUARD = "exercise:pods/kuard-pod"


def _link(lms: Lms, link_id: str = "link-kuard", target: str = KUARD) -> str:
    lms.platform.add_link(link_id, "Run kuard", custom={"kubelab_target": target})
    return link_id


def test_instructor_then_learner_launch_make_accounts_a_class_and_land_on_the_exercise(
    lms: Lms,
) -> None:
    link = _link(lms)
    _, response = lms.launch("teacher-1", link)
    assert response.status_code == 302, response.text[:500]
    course = CourseClass.objects.get()
    assert response.headers["Location"] == f"/classes/{course.classroom_id}/"
    teacher = LtiUser.objects.get(sub="teacher-1").auth_user
    assert teacher is not None and teacher.username == username_for(
        LtiUser.objects.get(sub="teacher-1")
    )
    assert user_has_role(user=teacher, role=Role.INSTRUCTOR)
    assert not teacher.has_usable_password()
    assert course.classroom.name == lms.platform.context_title
    assert course.classroom.labs == ["pods"]  # the launched link's lab, for the gradebook

    session, response = lms.launch("student-1", link)
    assert response.status_code == 302, response.text[:500]
    assert response.headers["Location"] == "/labs/pods/kuard-pod/"
    student = LtiUser.objects.get(sub="student-1").auth_user
    assert student is not None and student.first_name == "Sam Student"
    assert user_has_role(user=student, role=Role.STUDENT)
    assert not user_has_role(user=student, role=Role.INSTRUCTOR)
    assert Enrollment.objects.filter(classroom=course.classroom, student=student).exists()
    assert LinkedActivity.objects.get().target == KUARD

    # In the LMS's frame: the session cookie crosses sites, the page lets the LMS frame it.
    session_cookie = cookie_header(response, "sessionid")
    assert "SameSite=None" in session_cookie and "Secure" in session_cookie
    page = session.get(lms.site.url + "/labs/pods/kuard-pod/", timeout=30)
    assert page.status_code == 200 and 'data-labs-exercise="pods/kuard-pod"' in page.text
    assert "X-Frame-Options" not in page.headers
    assert f"frame-ancestors 'self' {lms.platform.url}" in page.headers["Content-Security-Policy"]

    # The same person launching again is the same account.
    lms.launch("student-1", link)
    assert get_user_model().objects.filter(username__startswith="lti-").count() == 2


def test_a_site_session_without_a_launch_still_may_not_be_framed(lms: Lms) -> None:
    page = requests.get(lms.site.url + "/learn/", timeout=30)
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_a_learner_first_is_enrolled_when_the_instructor_makes_the_class(lms: Lms) -> None:
    link = _link(lms)
    _, response = lms.launch("student-1", link)
    assert response.status_code == 302
    assert not CourseClass.objects.exists()
    lms.launch("teacher-1", link)
    student = LtiUser.objects.get(sub="student-1").auth_user
    assert Enrollment.objects.filter(student=student).count() == 1


def test_a_link_that_names_no_activity_says_what_to_do(lms: Lms) -> None:
    lms.platform.add_link("bare", "A bare link")
    _, response = lms.launch("student-1", "bare")
    assert response.status_code == 400
    assert "does not say which kubelab activity" in response.text
    _link(lms, "gone", "lab:no-such-lab")
    _, response = lms.launch("student-1", "gone")
    assert response.status_code == 400 and "no-such-lab" in response.text
    _link(lms, "no-chapter", "chapter:no-such-chapter")
    _, response = lms.launch("student-1", "no-chapter")
    assert response.status_code == 400 and "no-such-chapter" in response.text


def test_login_from_an_unknown_platform_is_refused(lms: Lms) -> None:
    url = lms.platform.login_initiation_url("student-1", _link(lms))
    forged = url.replace("iss=", "iss=https%3A%2F%2Fevil.example%2F&x=")
    response = requests.get(forged, allow_redirects=False, timeout=30)
    assert response.status_code == 400
    assert "no active registration" in response.text


def test_a_login_goes_back_only_to_kubelabs_own_launch_url(lms: Lms) -> None:
    url = lms.platform.login_initiation_url("student-1", _link(lms))
    url = url.replace("target_link_uri=", "target_link_uri=https%3A%2F%2Fevil.example%2F&y=")
    response = requests.get(url + "&lti1p3_new_window=1", allow_redirects=False, timeout=30)
    assert response.status_code == 302
    redirect_uri = parse_qs(urlsplit(response.headers["Location"]).query)["redirect_uri"][0]
    assert redirect_uri == lms.site.url + "/lms/launch/"


def _state_and_nonce(lms: Lms, link: str) -> tuple[requests.Session, str, str]:
    """The first half of a real login: kubelab's state cookie in the session, and the state and
    nonce it asked the platform to sign."""
    session = as_browser(requests.Session())
    url = lms.platform.login_initiation_url("student-1", link) + "&lti1p3_new_window=1"
    response = session.get(url, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:300]
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    return session, query["state"][0], query["nonce"][0]


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"sign_with_foreign_key": True}, ""),
        ({"aud": "someone-else"}, ""),
        ({"issued_at": time.time() - 7200, "expires_in": 60}, ""),
    ],
    ids=["foreign-signature", "wrong-audience", "expired"],
)
def test_a_tampered_launch_is_refused_and_makes_no_account(
    lms: Lms, tamper: dict[str, object], reason: str
) -> None:
    link = _link(lms)
    session, state, nonce = _state_and_nonce(lms, link)
    token = lms.platform.id_token(user_id="student-1", nonce=nonce, link_id=link, **tamper)  # type: ignore[arg-type]
    response = session.post(
        lms.site.url + "/lms/launch/", data={"id_token": token, "state": state},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert response.status_code == 403, response.text[:300]
    assert "This launch was refused" in response.text
    assert not LtiUser.objects.filter(sub="student-1").exists()
    assert not get_user_model().objects.filter(username__startswith="lti-").exists()


def test_the_untampered_token_of_the_same_login_is_accepted(lms: Lms) -> None:
    """The tamper tests above fail for their tampering, not for how they post."""
    link = _link(lms)
    session, state, nonce = _state_and_nonce(lms, link)
    token = lms.platform.id_token(user_id="student-1", nonce=nonce, link_id=link)
    response = session.post(
        lms.site.url + "/lms/launch/", data={"id_token": token, "state": state},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert response.status_code == 302, response.text[:300]


def test_a_replayed_launch_is_refused(lms: Lms) -> None:
    link = _link(lms)
    session, response = lms.launch("student-1", link)
    assert response.status_code == 302
    form = lms.platform.last_auth_form()
    again = session.post(
        form["action"], data={"id_token": form["id_token"], "state": form["state"]},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert again.status_code == 403
    assert "already used" in again.text
    # Posted from another browser (no state cookie) it fails too.
    stranger = requests.post(
        form["action"], data={"id_token": form["id_token"], "state": form["state"]},
        allow_redirects=False, timeout=30,
    )  # fmt: skip
    assert stranger.status_code == 403


def test_a_deployment_not_enabled_in_kubelab_is_refused(lms: Lms) -> None:
    LtiDeployment.objects.update(is_active=False)
    _, response = lms.launch("student-1", _link(lms))
    assert response.status_code == 403
    assert "is not enabled in kubelab" in response.text


def test_learners_cannot_place_content(lms: Lms) -> None:
    lms.platform.add_member("student-2", "Pat", [LEARNER])
    _, response = lms.launch("student-2", deep_link=True)
    assert response.status_code == 400
    assert "Only the course's instructors" in html.unescape(response.text)


def test_jwks_publishes_the_signing_key(lms: Lms) -> None:
    keys = requests.get(lms.site.url + "/lms/jwks.json", timeout=30).json()["keys"]
    assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["kid"] for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)  # public halves only


def test_a_claim_too_long_to_keep_is_a_refusal_not_a_crash(lms: Lms) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps a string of any length")
    lms.platform.add_member("student-long", "N" * 600, [LEARNER])
    _, response = lms.launch("student-long", _link(lms))
    assert response.status_code == 403
    assert "cannot keep" in response.text
