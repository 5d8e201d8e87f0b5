"""Guests: one click makes a student account, claiming keeps it, the limits hold; the services
and the pages through Django's test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from accounts.roles import Role, RoleRefused, role_grant, user_has_role
from accounts.selectors import user_is_guest
from accounts.services import (
    GuestClaimError,
    GuestLimitReached,
    GuestsDisabled,
    guest_claim,
    guest_start,
    student_signup,
)
from kubelab.env import SettingError
from labs.models import Attempt
from sandbox.models import LearnerEnvironment

pytestmark = pytest.mark.django_db

GUEST_NAME = re.compile(r"^guest-[a-z0-9]{6}$")
CHAPTER = "/learn/pods/"


def _users() -> int:
    return int(get_user_model().objects.count())


# --- services ------------------------------------------------------------------------------


def test_a_guest_is_a_student_with_a_generated_name_and_no_password() -> None:
    guests = [guest_start(client_ip=f"192.0.2.{n}") for n in range(3)]
    assert len({g.username for g in guests}) == 3
    for guest in guests:
        assert GUEST_NAME.match(guest.username), guest.username
        assert not guest.has_usable_password()
        assert user_has_role(user=guest, role=Role.STUDENT)
        assert user_is_guest(user=guest)
        assert not user_has_role(user=guest, role=Role.INSTRUCTOR)


def test_a_guest_cannot_be_made_an_instructor() -> None:
    guest = guest_start(client_ip="192.0.2.1")
    with pytest.raises(RoleRefused):
        role_grant(user=guest, role=Role.INSTRUCTOR)
    # Put in the group by hand (the admin does not ask us): still teaches nothing.
    Group.objects.get(name=Role.INSTRUCTOR).user_set.add(guest)
    assert not user_has_role(user=guest, role=Role.INSTRUCTOR)


def test_claiming_keeps_the_same_account_its_attempts_and_its_environment() -> None:
    guest = guest_start(client_ip="192.0.2.1")
    Attempt.objects.create(user=guest, lab="pods", exercise="kuard-pod", status="passed")
    LearnerEnvironment.objects.create(
        user=guest, namespace="kl-claim-test", environment_id="e1", status="ready"
    )

    claimed = guest_claim(
        user=guest, username="lin", password="kube-learner-42", email="lin@example.org"
    )

    assert claimed.pk == guest.pk
    fresh = get_user_model().objects.get(pk=guest.pk)
    assert fresh.username == "lin" and fresh.email == "lin@example.org"
    assert fresh.check_password("kube-learner-42")
    assert not user_is_guest(user=fresh)
    assert user_has_role(user=fresh, role=Role.STUDENT)
    assert Attempt.objects.filter(user=fresh, status="passed").count() == 1
    assert LearnerEnvironment.objects.get(user=fresh).namespace == "kl-claim-test"
    assert Client().login(username="lin", password="kube-learner-42")


def test_claiming_refuses_a_taken_name_a_guest_name_and_a_second_claim() -> None:
    student_signup(username="mei", password="kube-learner-42")
    guest = guest_start(client_ip="192.0.2.1")
    with pytest.raises(GuestClaimError, match="already exists"):
        guest_claim(user=guest, username="MEI", password="kube-learner-42")
    with pytest.raises(GuestClaimError, match="kept for guests"):
        guest_claim(user=guest, username="guest-mine", password="kube-learner-42")
    guest.refresh_from_db()
    assert GUEST_NAME.match(guest.username) and not guest.has_usable_password()

    guest_claim(user=guest, username="lin", password="kube-learner-42")
    with pytest.raises(GuestClaimError, match="already signed up"):
        guest_claim(user=guest, username="lin2", password="kube-learner-42")


def test_five_guests_an_hour_per_client_then_nothing_is_created() -> None:
    for _ in range(5):
        guest_start(client_ip="198.51.100.7")
    before = _users()
    with pytest.raises(GuestLimitReached, match="Too many guest accounts"):
        guest_start(client_ip="198.51.100.7")
    assert _users() == before
    guest_start(client_ip="198.51.100.8")  # another client is not affected
    assert _users() == before + 1


def test_ipv6_clients_are_counted_by_their_64(settings: Any) -> None:
    settings.KUBELAB_GUEST_PER_IP_HOUR = 2
    guest_start(client_ip="2001:db8:1:2::1")
    guest_start(client_ip="2001:db8:1:2::ffff")
    with pytest.raises(GuestLimitReached):
        guest_start(client_ip="2001:db8:1:2:abcd::9")
    guest_start(client_ip="2001:db8:1:3::1")


def test_the_switch_turns_guests_off(settings: Any) -> None:
    settings.KUBELAB_GUEST_ACCESS = False
    with pytest.raises(GuestsDisabled):
        guest_start(client_ip="192.0.2.1")
    assert _users() == 0


def test_a_malformed_setting_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from accounts.conf import guest_config

    monkeypatch.setenv("KUBELAB_GUEST_PER_IP_HOUR", "lots")
    with pytest.raises(SettingError, match="KUBELAB_GUEST_PER_IP_HOUR"):
        guest_config()
    monkeypatch.setenv("KUBELAB_GUEST_PER_IP_HOUR", "3")
    monkeypatch.setenv("KUBELAB_GUEST_ACCESS", "maybe")
    with pytest.raises(SettingError, match="KUBELAB_GUEST_ACCESS"):
        guest_config()
    monkeypatch.setenv("KUBELAB_GUEST_ACCESS", "off")
    monkeypatch.setenv("KUBELAB_GUEST_DAYS", "30")
    config = guest_config()
    assert (config.enabled, config.per_ip_hour, config.days) == (False, 3, 30)


# --- pages ---------------------------------------------------------------------------------


def _csrf_client(**defaults: Any) -> tuple[Client, str]:
    """A browser-like client that enforces CSRF, and the token a page gave it."""
    client = Client(enforce_csrf_checks=True, **defaults)
    page = client.get(CHAPTER).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "the chapter page has no CSRF token"
    return client, token.group(1)


def test_try_it_now_on_a_chapter_logs_a_guest_in_and_comes_back() -> None:
    client, token = _csrf_client()
    page = client.get(CHAPTER).content.decode()
    assert "Try it now — no sign-up" in page
    assert 'action="/accounts/guest/"' in page

    response = client.post("/accounts/guest/", {"csrfmiddlewaretoken": token, "next": CHAPTER})
    assert response.status_code == 302 and response["Location"] == CHAPTER
    guest = get_user_model().objects.get()
    assert user_is_guest(user=guest)
    # No password to log in again with: the session outlives the site's default two weeks.
    assert client.session.get_expiry_age() > 300 * 24 * 3600
    page = client.get(CHAPTER).content.decode()
    assert guest.username in page  # the nav
    assert 'data-ws-path="/ws/terminal/"' in page  # the terminal panel connects
    assert "Try it now" not in page


def test_the_home_page_starts_guests_on_the_first_chapter() -> None:
    page = Client().get("/").content.decode()
    assert "Try it now — no sign-up" in page
    assert 'name="next" value="/learn/' in page


def test_starting_a_guest_needs_the_csrf_token() -> None:
    client, _token = _csrf_client()
    assert client.post("/accounts/guest/", {"next": CHAPTER}).status_code == 403
    assert _users() == 0
    assert Client().get("/accounts/guest/").status_code == 405


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/learn/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
def test_next_may_not_leave_the_site(target: str) -> None:
    client, token = _csrf_client()
    response = client.post("/accounts/guest/", {"csrfmiddlewaretoken": token, "next": target})
    assert response.status_code == 302
    assert response["Location"] == "/learn/"


def test_over_the_limit_is_a_429_with_a_sentence(settings: Any) -> None:
    settings.KUBELAB_GUEST_PER_IP_HOUR = 1
    assert Client(REMOTE_ADDR="203.0.113.9").post("/accounts/guest/").status_code == 302
    before = _users()
    response = Client(REMOTE_ADDR="203.0.113.9").post("/accounts/guest/", {"next": CHAPTER})
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many guest accounts were started from your network in the last hour." in body
    assert 'href="/accounts/signup/"' in body
    assert _users() == before
    assert Client(REMOTE_ADDR="203.0.113.10").post("/accounts/guest/").status_code == 302


def test_switched_off_hides_the_buttons_and_the_endpoint(settings: Any) -> None:
    settings.KUBELAB_GUEST_ACCESS = False
    client = Client()
    assert "Try it now" not in client.get("/").content.decode()
    assert "Try it now" not in client.get(CHAPTER).content.decode()
    assert client.post("/accounts/guest/").status_code == 404
    assert client.get("/accounts/guest/").status_code == 404
    assert _users() == 0


def test_the_banner_is_shown_to_guests_only(settings: Any) -> None:
    settings.KUBELAB_GUEST_DAYS = 9
    assert "data-guest-banner" not in Client().get("/").content.decode()
    student = Client()
    student.force_login(student_signup(username="mei", password="kube-learner-42"))
    assert "data-guest-banner" not in student.get(CHAPTER).content.decode()

    guest = Client()
    guest.post("/accounts/guest/")
    page = guest.get(CHAPTER).content.decode()
    assert "data-guest-banner" in page
    assert "your progress is kept for 9 days after your last visit" in page
    assert 'href="/accounts/claim/?next=/learn/pods/"' in page
    chinese = guest.get(CHAPTER, headers={"accept-language": "zh-hant"}).content.decode()
    assert "你正以訪客身分試用 kubelab；你的進度會在最後一次使用後保留 9 天。" in chinese  # noqa: RUF001


def test_claiming_through_the_page_keeps_the_session_and_the_progress(settings: Any) -> None:
    client = Client()
    client.post("/accounts/guest/")
    guest = get_user_model().objects.get()
    Attempt.objects.create(user=guest, lab="pods", exercise="kuard-pod", status="passed")
    assert client.get("/accounts/signup/")["Location"] == "/accounts/claim/"

    taken = client.post(
        "/accounts/claim/",
        {"username": "guest-me", "password1": "kube-learner-42", "password2": "kube-learner-42"},
    )
    assert taken.status_code == 200 and "kept for guests" in taken.content.decode()

    response = client.post(
        "/accounts/claim/",
        {
            "username": "lin",
            "email": "",
            "password1": "kube-learner-42",
            "password2": "kube-learner-42",
            "next": CHAPTER,
        },
    )
    assert response.status_code == 302 and response["Location"] == CHAPTER
    page = client.get(CHAPTER).content.decode()  # still logged in after the password change
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert "lin" in page and "data-guest-banner" not in page
    assert get_user_model().objects.get().pk == guest.pk
    assert Attempt.objects.filter(user_id=guest.pk).count() == 1
    assert client.get("/accounts/claim/")["Location"] == "/"  # nothing left to claim


def test_claim_is_for_logged_in_guests() -> None:
    assert Client().get("/accounts/claim/")["Location"].startswith("/accounts/login/")
