"""Sign up, log in, log out, roles, and the admin the run command guarantees."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.roles import Role, user_has_role
from accounts.services import admin_ensure


@pytest.mark.django_db
def test_signup_makes_a_logged_in_student() -> None:
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {"username": "lin", "password1": "kube-learner-42", "password2": "kube-learner-42"},
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="lin")
    assert user_has_role(user=user, role=Role.STUDENT)
    assert not user_has_role(user=user, role=Role.INSTRUCTOR)
    assert "lin" in client.get("/").content.decode()


@pytest.mark.django_db
def test_signup_errors_are_shown_and_nothing_is_created() -> None:
    response = Client().post(
        "/accounts/signup/", {"username": "lin", "password1": "abc", "password2": "abd"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not get_user_model().objects.filter(username="lin").exists()


@pytest.mark.django_db
def test_login_and_logout() -> None:
    get_user_model().objects.create_user(username="mei", password="kube-learner-42")
    client = Client()
    response = client.post("/accounts/login/", {"username": "mei", "password": "kube-learner-42"})
    assert response.status_code == 302
    assert "mei" in client.get("/").content.decode()
    assert client.post("/accounts/logout/").status_code == 302
    assert "mei" not in client.get("/").content.decode()


@pytest.mark.django_db
def test_wrong_password_is_refused() -> None:
    get_user_model().objects.create_user(username="mei", password="kube-learner-42")
    response = Client().post("/accounts/login/", {"username": "mei", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in Client().session


@pytest.mark.django_db
def test_roles_exist_as_groups() -> None:
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {"student", "instructor"}


@pytest.mark.django_db
def test_admin_password_printed_once_then_kept(capsys: pytest.CaptureFixture[str]) -> None:
    first = admin_ensure(username="admin", password=None)
    assert first and len(first) >= 12
    assert admin_ensure(username="admin", password=None) is None
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(first)
    assert user_has_role(user=admin, role=Role.INSTRUCTOR)


@pytest.mark.django_db
def test_admin_password_from_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBELAB_ADMIN_PASSWORD", "from-the-env-123")
    call_command("admin_ensure")
    out = capsys.readouterr().out
    assert "from-the-env-123" not in out
    assert get_user_model().objects.get(username="admin").check_password("from-the-env-123")
