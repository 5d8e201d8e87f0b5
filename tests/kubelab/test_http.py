"""Pages and /healthz over real HTTP from the web server, with a real Celery worker behind it."""

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory, override_settings
from django.utils import translation
from django.views.defaults import server_error

from tests.fixtures.processes import WebServer, WorkerProcess

TOKEN = "health-token-for-tests"


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.django_db(transaction=True)
def test_home_page_renders_over_http(web_server: WebServer) -> None:
    status, body = fetch(web_server.url + "/")
    assert status == 200
    assert "Learn Kubernetes by doing it." in body
    assert 'href="/static/css/kubelab.css"' in body


@pytest.mark.django_db(transaction=True)
def test_static_files_are_served(web_server: WebServer) -> None:
    status, body = fetch(web_server.url + "/static/css/kubelab.css")
    assert status == 200
    assert "--accent" in body


@pytest.mark.django_db(transaction=True)
def test_the_icon_is_linked_and_favicon_ico_finds_it(web_server: WebServer) -> None:
    """Every page logged a 404 for /favicon.ico (issue 24)."""
    _status, page = fetch(web_server.url + "/")
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    with urllib.request.urlopen(web_server.url + "/favicon.ico", timeout=15) as response:
        assert response.status == 200  # after the redirect
        assert response.url.endswith("/static/favicon.svg")
        assert response.read().startswith(b"<svg")


@pytest.mark.django_db(transaction=True)
def test_home_page_in_traditional_chinese(web_server: WebServer) -> None:
    request = urllib.request.Request(web_server.url + "/", headers={"Accept-Language": "zh-Hant"})
    with urllib.request.urlopen(request, timeout=15) as response:
        body = response.read().decode()
    assert '<html lang="zh-hant">' in body


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_healthz_reports_every_part(
    web_server: WebServer, celery_worker_process: WorkerProcess
) -> None:
    token = os.environ["KUBELAB_HEALTH_TOKEN"]
    status, body = fetch(web_server.url + "/healthz", {"Authorization": f"Bearer {token}"})
    report = json.loads(body)
    assert set(report["checks"]) == {"database", "redis", "celery", "kubernetes"}
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["redis"]["ok"] is True
    assert report["checks"]["celery"]["ok"] is True
    assert celery_worker_process.name in report["checks"]["celery"]["workers"]
    assert status == (200 if report["ok"] else 503)
    # Without the token: whether it is ok, and nothing about what is inside.
    public_status, public = fetch(web_server.url + "/healthz")
    assert json.loads(public) == {"ok": public_status == 200}


@pytest.mark.django_db
def test_healthz_with_redis_down_is_503_not_500() -> None:
    with override_settings(
        REDIS_URL="redis://127.0.0.1:1/0",
        CELERY_BROKER_URL="redis://127.0.0.1:1/0",
        KUBELAB_HEALTH_TOKEN=TOKEN,
    ):
        response = Client().get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 503
    report = response.json()
    assert report["checks"]["redis"]["ok"] is False
    assert "Connection" in report["checks"]["redis"]["error"]
    assert report["checks"]["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_names_missing_kubeconfig(tmp_path: Path) -> None:
    with override_settings(
        KUBELAB_KUBECONFIG=str(tmp_path / "nope.kubeconfig"), KUBELAB_HEALTH_TOKEN=TOKEN
    ):
        report = Client().get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
    assert report["checks"]["kubernetes"]["ok"] is False
    assert "no kubeconfig at" in report["checks"]["kubernetes"]["error"]


@pytest.mark.django_db
def test_public_healthz_says_only_ok_and_is_cheap(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubelab import health

    calls: list[int] = []

    def celery_check() -> dict[str, Any]:
        calls.append(1)
        return {"workers": ["w"]}

    monkeypatch.setattr(health, "_public", None)
    monkeypatch.setitem(health.CHECKS, "celery", celery_check)
    with override_settings(KUBELAB_HEALTH_TOKEN=TOKEN):
        for _ in range(5):
            body = Client().get("/healthz").json()
            assert set(body) == {"ok"}
        assert len(calls) == 1  # one report for five anonymous hits within the cache window
        wrong = Client().get("/healthz", HTTP_AUTHORIZATION="Bearer guess").json()
        assert set(wrong) == {"ok"}
        detailed = Client().get("/healthz", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").json()
        assert "checks" in detailed and len(calls) == 2


@pytest.mark.django_db
def test_staff_see_the_details(django_user_model: Any) -> None:
    staff = django_user_model.objects.create_user("ops", password="x" * 12, is_staff=True)
    client = Client()
    client.force_login(staff)
    assert "checks" in client.get("/healthz").json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading"), [("en", "Page not found"), ("zh-hant", "找不到這個頁面")]
)
def test_a_missing_page_is_kubelabs_own_in_the_readers_language(
    language: str, heading: str
) -> None:
    client = Client(headers={"Accept-Language": language})
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert f"<h1>{heading}</h1>" in body
    assert "The requested resource was not found on this server" not in body
    assert 'href="/learn/"' in body  # a way back into the course


@pytest.mark.django_db
def test_a_form_sent_without_its_token_says_it_expired_and_saved_nothing() -> None:
    client = Client(enforce_csrf_checks=True, headers={"Accept-Language": "zh-hant"})
    response = client.post("/accounts/signup/", {"username": "nobody", "password1": "x"})
    assert response.status_code == 403
    assert "這份表單已經過期" in response.content.decode()
    assert "CSRF verification failed" not in response.content.decode()
    assert not get_user_model().objects.filter(username="nobody").exists()


def test_the_error_page_needs_no_database_and_speaks_the_language() -> None:
    with translation.override("zh-hant"):
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert "出了點問題" in response.content.decode()
